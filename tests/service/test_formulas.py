"""One formula rule for uploads and CSV output: headers and category columns included,
phone numbers left alone."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from synthdata_service.errors import InvalidInput
from synthdata_service.formulas import is_formula, neutralise_frame
from synthdata_service.ingest import IngestLimits, read_table
from synthdata_service.output import encode

from .conftest import auth, csv_bytes, upload, wait_job

VALUES = ["+1 (555) 010-0000", "+44 20 7946 0958", "-12.5", "-1e-05", "-", "+15550100000",
          "plain", "=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "+1-555-0100",
          '=HYPERLINK("http://x")', "\rsecret", "\uff1d1+1"]


def _refused_on_upload(value: str, tmp_path: Path) -> bool:
    path = tmp_path / "upload.csv"
    frame = pd.DataFrame({"v": [value], "n": [1]})
    path.write_bytes(frame.to_csv(index=False, quoting=csv.QUOTE_ALL).encode())
    try:
        read_table(path, filename="t.csv", content_type="text/csv", limits=IngestLimits())
    except InvalidInput as exc:
        assert exc.code == "formula_cells"
        return True
    return False


@pytest.mark.parametrize("value", VALUES)
def test_upload_and_output_apply_the_same_rule(value, tmp_path):
    neutralised = neutralise_frame(pd.DataFrame({"v": [value]}))["v"][0]
    assert _refused_on_upload(value, tmp_path) == is_formula(value) == (neutralised != value)
    if is_formula(value):
        assert neutralised == "'" + value


def test_phone_numbers_are_not_formulas():
    assert not is_formula("+1 (555) 010-0000")


def test_csv_output_neutralises_headers_and_category_columns():
    frame = pd.DataFrame({'=HYPERLINK("http://x")': [1, 2],
                          "c": pd.Categorical(['=HYPERLINK("http://x")', "ok"])})
    text = b"".join(encode("csv", iter([frame]))).decode()
    header, first, _second = text.splitlines()
    assert header.startswith("\"'=HYPERLINK") and "'=HYPERLINK" in first
    assert frame.columns[0].startswith("=")  # the caller's frame is left alone


def test_a_formula_column_name_does_not_come_back_as_the_first_line_of_a_csv(env, diamonds):
    frame = diamonds.head(100)[["carat", "price"]].rename(
        columns={"price": '=HYPERLINK("http://x")'})
    dataset = upload(env.client, env.writer, csv_bytes(frame), allow_formulas="true").json()
    created = env.client.post("/v1/models", headers=auth(env.writer), json={
        "dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}}).json()
    assert wait_job(env.client, env.writer, created["job_id"])["status"] == "succeeded"
    text = env.client.post(f"/v1/models/{created['id']}/samples", headers=auth(env.reader),
                           json={"num_rows": 5, "seed": 1, "format": "csv"}).text
    assert text.splitlines()[0] == "carat,\"'=HYPERLINK(\"\"http://x\"\")\""
    assert len(pd.read_csv(io.StringIO(text))) == 5
