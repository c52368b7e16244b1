"""The bad-input corpus: every malformed upload is a 4xx problem and nothing is stored."""

from __future__ import annotations

import gzip
import io
import zipfile

import pandas as pd
import pytest

from synthdata_service.backends.metadata import DatasetRecord

from .conftest import auth, upload


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.csv", b"0" * (50 * 1024 * 1024))  # 50 MB -> ~50 kB
    return buffer.getvalue()


def _parquet() -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame({"a": range(1000), "b": ["x"] * 1000}).to_parquet(buffer, index=False)
    return buffer.getvalue()


def _wide(columns: int) -> bytes:
    header = ",".join(f"c{i}" for i in range(columns))
    row = ",".join("1" for _ in range(columns))
    return f"{header}\n{row}\n".encode()


CORPUS = {
    "empty file": (b"", "text/csv", 422, "empty_file"),
    "header only": (b"a,b,c\n", "text/csv", 422, "no_rows"),
    "one column": (b"a\n1\n2\n3\n", "text/csv", 422, "too_few_columns"),
    "all-null column": (b"a,b\n1,\n2,\n3,\n", "text/csv", 422, "all_null_column"),
    "10,000 columns": (_wide(10_000), "text/csv", 422, "too_many_columns"),
    "invalid UTF-8": (b"a,b\n\xff\xfe\xfa,1\n\xc3\x28,2\n", "text/csv", 422,
                      "encoding_undetected"),
    "zip bomb named .csv": (_zip_bomb(), "text/csv", 415, "compressed_upload"),
    "gzip named .csv": (gzip.compress(b"a,b\n1,2\n" * 1000), "text/csv", 415,
                        "compressed_upload"),
    "mixed types in one column": (b"a,b\n1,x\n2,y\nthree,z\n4,w\n", "text/csv", 422,
                                  "mixed_types"),
    "duplicate column names": (b"a,b,a\n1,2,3\n4,5,6\n", "text/csv", 422, "duplicate_columns"),
    "formula cells": (b"name,note\nann,=cmd|' /C calc'!A0\nbob,ok\n", "text/csv", 422,
                      "formula_cells"),
    "wrong content type": (b"a,b\n1,2\n", "image/png", 415, "unsupported_content_type"),
    "PNG disguised as CSV": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "text/csv", 415,
                             "unsupported_content"),
    "truncated Parquet": (_parquet()[:-200], "application/vnd.apache.parquet", 422,
                          "invalid_parquet"),
    "nested JSON": (b'[{"a": {"x": 1}, "b": 2}]', "application/json", 422, "nested_values"),
    "JSON duplicate keys": (b'[{"a": 1, "a": 2, "b": 3}]', "application/json", 422,
                            "duplicate_columns"),
    "JSON that is not rows": (b'{"hello": "world"}', "application/json", 422, "invalid_json"),
    "binary with NUL bytes": (b"a,b\n1,\x00\x00\x00\n", "text/csv", 415, "unsupported_content"),
}


def _assert_nothing_stored(env) -> None:
    assert env.client.get("/v1/datasets", headers=auth(env.admin)).json() == []
    assert env.service.store.query(DatasetRecord) == []
    assert env.service.storage.list_keys("datasets") == []


@pytest.mark.parametrize("case", list(CORPUS), ids=list(CORPUS))
def test_bad_upload_is_refused_with_a_problem_and_stores_nothing(env, case):
    data, content_type, status, code = CORPUS[case]
    response = upload(env.client, env.writer, data, "data.csv", content_type)
    assert response.status_code == status, response.text
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["code"] == code and body["detail"] and body["request_id"]
    _assert_nothing_stored(env)


def test_a_100_mb_single_cell_is_refused(env):
    data = b"a,b\n1," + b"x" * 100_000_000 + b"\n"
    response = upload(env.client, env.writer, data)
    assert response.status_code == 422
    assert response.json()["code"] == "cell_too_long"
    _assert_nothing_stored(env)


def test_a_body_over_the_upload_limit_is_413_before_it_is_read(tmp_path):
    from .conftest import Env, make_settings

    small = Env(make_settings(tmp_path, max_upload_mb=1))
    try:
        response = upload(small.client, small.writer, b"a,b\n" + b"1,2\n" * 800_000)
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        # Just over the file limit (inside the multipart allowance): refused on size too.
        response = upload(small.client, small.writer, b"a,b\n" + b"1,2\n" * 300_000)
        assert response.status_code == 413
        assert response.json()["code"] == "upload_too_large"
        _assert_nothing_stored(small)
    finally:
        small.close()


def test_formula_cells_may_be_kept_as_text_when_asked(env):
    data = b"name,note\nann,=SUM(A1:A2)\nbob,ok\n"
    response = upload(env.client, env.writer, data, allow_formulas="true")
    assert response.status_code == 201


def test_a_multipart_body_without_a_file_part_is_422(env):
    response = env.client.post("/v1/datasets", headers=auth(env.writer),
                               files={"other": ("x.csv", b"a,b\n1,2\n", "text/csv")})
    assert response.status_code == 422 and response.json()["code"] == "missing_file"
    _assert_nothing_stored(env)


def test_a_failure_while_storing_leaves_nothing_behind(env, monkeypatch):
    env.client.get("/readyz")

    def fail_insert(record):
        raise RuntimeError("metadata store went away")

    monkeypatch.setattr(env.service.store, "insert", fail_insert)
    response = upload(env.client, env.writer, b"a,b\n1,2\n3,4\n")
    assert response.status_code == 500
    monkeypatch.undo()
    _assert_nothing_stored(env)
