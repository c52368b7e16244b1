"""The hostile-input corpus: CSV, JSON, Parquet, raw bodies, multipart, headers, path and
query parameters. Every case ends in a documented 4xx whose problem document names the
fix, or in an exact round trip (the stored table equals what a careful reader of the file
gets); after a refusal nothing new is stored."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthdata_service.backends.metadata import DatasetRecord

from .conftest import REPO, Env, auth, make_settings

DOCS = (REPO / "docs" / "service.md").read_text()


@dataclass
class Case:
    """One hostile request: an upload (`data`), or any request (`method`, `path`)."""

    data: bytes | None = None
    content_type: str = "text/csv"
    filename: str = "data.csv"
    params: dict = field(default_factory=dict)
    raw: bool = False
    headers: dict = field(default_factory=dict)
    method: str = "POST"
    path: str = "/v1/datasets"
    json_body: Any = None
    key: str = "writer"
    files: list | None = None
    raw_body: bytes | None = None
    refuse: tuple[int, str] | None = None
    expect: pd.DataFrame | None = None


def _parquet(frame: pd.DataFrame | pa.Table, **kwargs) -> bytes:
    buffer = io.BytesIO()
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, **kwargs)
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.csv", data)
    return buffer.getvalue()


def _frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


_LONG_HEADER = ",".join(f"column_{i:05d}" for i in range(900)) + ",column_00001"
_ROWS_8K = b"".join(b"%d,x\n" % i for i in range(2000))
_DEEP = 100_000

CASES: dict[str, Case] = {
    # CSV refused.
    "empty file": Case(b"", refuse=(422, "empty_file")),
    "header without rows": Case(b"a,b,c\n", refuse=(422, "no_rows")),
    "one column": Case(b"a\n1\n2\n", refuse=(422, "too_few_columns")),
    "a column with no values": Case(b"a,b\n1,\n2,\n", refuse=(422, "all_null_column")),
    "1,001 columns": Case((",".join(f"c{i}" for i in range(1001)) + "\n" +
                           ",".join("1" * 1001) + "\n").encode(),
                          refuse=(422, "too_many_columns")),
    "extra leading field (once an index)": Case(b"a,b\n1,2,3\n", refuse=(422, "ragged_rows")),
    "extra field in a later row": Case(b"a,b\n1,2\n3,4\n5,6,7\n", refuse=(422, "ragged_rows")),
    "missing field": Case(b"a,b,c\n1,2,3\n4,5\n", refuse=(422, "ragged_rows")),
    "unclosed quote": Case(b'a,b\n"1,x\n2,y\n', refuse=(422, "ragged_rows")),
    "duplicate column names": Case(b"a,b,a\n1,2,3\n", refuse=(422, "duplicate_columns")),
    "duplicate column name after 64 KB": Case(
        (",".join(f"{'c' * 120}{i:04d}" for i in range(600)) + f",{'c' * 120}0000\n"
         + ",".join(["1"] * 601) + "\n").encode(), refuse=(422, "duplicate_columns")),
    "duplicate column name late in a long header": Case(
        (_LONG_HEADER + "\n" + ",".join(["1"] * 901) + "\n").encode(),
        refuse=(422, "duplicate_columns")),
    "blank column name": Case(b"a,,c\n1,2,3\n", refuse=(422, "empty_column_name")),
    "column name over 256 characters": Case(("a" * 300 + ",b\n1,2\n").encode(),
                                            refuse=(422, "column_name_too_long")),
    "1.5 MB column name": Case(b"a" * 1_500_000 + b",b\n1,2\n",
                               refuse=(422, "column_name_too_long")),
    "cell over 10,000 characters": Case(b"a,b\n1," + b"x" * 10_001 + b"\n",
                                        refuse=(422, "cell_too_long")),
    "numbers mixed with text": Case(b"a,b\n1,x\n2,y\nthree,z\n4,w\n",
                                    refuse=(422, "mixed_types")),
    "integer beyond 64 bits": Case(b"a,b\n18446744073709551616,x\n1,y\n",
                                   refuse=(422, "integer_out_of_range")),
    "formula cell": Case(b"name,note\nann,=cmd|' /C calc'!A0\n", refuse=(422, "formula_cells")),
    "plus-command cell": Case(b"name,note\nann,+cmd|calc\n", refuse=(422, "formula_cells")),
    "at-sign cell": Case(b"name,note\nann,@SUM(1+1)\n", refuse=(422, "formula_cells")),
    "arithmetic cell": Case(b"name,note\nann,-2+3+x\n", refuse=(422, "formula_cells")),
    "formula column name": Case(b'=HYPERLINK("http://x"),b\n1,2\n', refuse=(422, "formula_cells")),
    "NUL byte after the first 8 KB": Case(b"a,b\n" + _ROWS_8K + b"1,\x00\n",
                                          refuse=(415, "unsupported_content")),
    "NUL byte in the first line": Case(b"a,b\n1,\x00\x00\n", refuse=(415, "unsupported_content")),
    "invalid UTF-8": Case(b"a,b\n\xff\xfe\xfa,1\n\xc3\x28,2\n",
                          refuse=(422, "encoding_undetected")),
    "latin-1 declared as UTF-8": Case("a,b\ncafé,1\n".encode("latin-1"),
                                      params={"encoding": "utf-8"},
                                      refuse=(422, "encoding_mismatch")),
    "encoding=%00": Case(b"a,b\n1,2\n", params={"encoding": "\x00"},
                         refuse=(422, "unknown_encoding")),
    "unknown encoding": Case(b"a,b\n1,2\n", params={"encoding": "klingon"},
                             refuse=(422, "unknown_encoding")),
    "unknown charset in the content type": Case(b"a,b\n1,2\n",
                                                content_type="text/csv; charset=klingon",
                                                refuse=(422, "unknown_encoding")),
    "zip named .csv": Case(_zip(b"a,b\n1,2\n" * 1000), refuse=(415, "compressed_upload")),
    "gzip named .csv": Case(gzip.compress(b"a,b\n1,2\n"), refuse=(415, "compressed_upload")),
    "bzip2 named .csv": Case(bz2.compress(b"a,b\n1,2\n"), refuse=(415, "compressed_upload")),
    "zstd magic": Case(b"\x28\xb5\x2f\xfd" + b"\x00" * 64, refuse=(415, "compressed_upload")),
    "PNG disguised as CSV": Case(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
                                 refuse=(415, "unsupported_content")),
    "PDF": Case(b"%PDF-1.7\n" + b"x" * 64, refuse=(415, "unsupported_content")),
    "executable": Case(b"\x7fELF" + b"\x00" * 64, refuse=(415, "unsupported_content")),
    "image content type": Case(b"a,b\n1,2\n", content_type="image/png",
                               refuse=(415, "unsupported_content_type")),
    # JSON refused.
    "nested object": Case(b'[{"a": {"x": 1}, "b": 2}]', "application/json", "t.json",
                          refuse=(422, "nested_values")),
    "nested value after row 1,000": Case(json.dumps(
        [{"a": i, "b": 1} for i in range(1500)] + [{"a": [1], "b": 2}]).encode(),
        "application/json", "t.json", refuse=(422, "nested_values")),
    "100k-deep nesting": Case(b"[" * _DEEP + b"]" * _DEEP, "application/json", "t.json",
                              refuse=(422, "nested_values")),
    "100k-deep nesting inside a row": Case(
        b'[{"a": ' + b"[" * _DEEP + b"]" * _DEEP + b', "b": 1}]', "application/json", "t.json",
        refuse=(422, "nested_values")),
    "duplicate JSON keys": Case(b'[{"a": 1, "a": 2, "b": 3}]', "application/json", "t.json",
                                refuse=(422, "duplicate_columns")),
    "one object that is not rows": Case(b'{"hello": "world"}', "application/json", "t.json",
                                        refuse=(422, "invalid_json")),
    "rows that are not objects": Case(b"[1, 2, 3]", "application/json", "t.json",
                                      refuse=(422, "invalid_json")),
    "truncated JSON": Case(b'[{"a": 1, "b": 2}, {"a": 3', "application/json", "t.json",
                           refuse=(422, "invalid_json")),
    "broken JSON line": Case(b'{"a": 1, "b": 2}\n{"a": oops}\n', "application/json", "t.json",
                             refuse=(422, "invalid_json")),
    "empty JSON list": Case(b"[]", "application/json", "t.json", refuse=(422, "no_rows")),
    "ints mixed with strings": Case(b'[{"a": 1, "b": 1}, {"a": "x", "b": 2}]',
                                    "application/json", "t.json", refuse=(422, "mixed_types")),
    "bools mixed with strings": Case(b'[{"a": true, "b": 1}, {"a": "x", "b": 2}]',
                                     "application/json", "t.json", refuse=(422, "mixed_types")),
    "bools mixed with ints": Case(b'[{"a": true, "b": 1}, {"a": 3, "b": 2}]',
                                  "application/json", "t.json", refuse=(422, "mixed_types")),
    "integer past 2^63": Case(b'[{"a": 9223372036854775808, "b": 1}]', "application/json",
                              "t.json", refuse=(422, "integer_out_of_range")),
    "all-null JSON column": Case(b'[{"a": null, "b": 1}, {"a": null, "b": 2}]',
                                 "application/json", "t.json", refuse=(422, "all_null_column")),
    "JSON formula cell": Case(b'[{"a": "=1+1", "b": 1}]', "application/json", "t.json",
                              refuse=(422, "formula_cells")),
    # Parquet refused.
    "truncated Parquet": Case(_parquet(_frame(a=list(range(100)), b=["x"] * 100))[:-200],
                              "application/vnd.apache.parquet", "t.parquet",
                              refuse=(422, "invalid_parquet")),
    "garbage between Parquet magics": Case(b"PAR1" + b"\x07" * 100 + b"PAR1",
                                           "application/vnd.apache.parquet", "t.parquet",
                                           refuse=(422, "invalid_parquet")),
    "nested Parquet column": Case(_parquet(pa.table({"a": [[1, 2]], "b": [1]})),
                                  "application/vnd.apache.parquet", "t.parquet",
                                  refuse=(422, "nested_values")),
    "formula in a Parquet category column": Case(
        _parquet(_frame(a=pd.Categorical(['=HYPERLINK("http://x")', "ok"]), b=[1, 2])),
        "application/vnd.apache.parquet", "t.parquet", refuse=(422, "formula_cells")),
    "formula Parquet column name": Case(_parquet(pa.table({"@x": [1], "b": [2]})),
                                        "application/vnd.apache.parquet", "t.parquet",
                                        refuse=(422, "formula_cells")),
    "duplicate Parquet column names": Case(
        _parquet(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])),
        "application/vnd.apache.parquet", "t.parquet", refuse=(422, "duplicate_columns")),
    "one-column Parquet": Case(_parquet(pa.table({"a": [1, 2]})),
                               "application/vnd.apache.parquet", "t.parquet",
                               refuse=(422, "too_few_columns")),
    # Raw bodies, multipart and headers.
    "raw body declared as an image": Case(b"a,b\n1,2\n", "image/gif", raw=True,
                                          refuse=(415, "unsupported_content_type")),
    "form-urlencoded body": Case(b"a=1&b=2", "application/x-www-form-urlencoded", raw=True,
                                 refuse=(415, "unsupported_content_type")),
    "multipart without a file part": Case(files=[("other", ("x.csv", b"a,b\n1,2\n", "text/csv"))],
                                          refuse=(422, "missing_file")),
    "malformed multipart": Case(b"--nope\r\ngarbage", "multipart/form-data; boundary=zzz",
                                raw=True, refuse=(422, "invalid_multipart")),
    "more than five files": Case(files=[("file", (f"t{i}.csv", b"a,b\n1,2\n", "text/csv"))
                                        for i in range(6)], refuse=(422, "invalid_multipart")),
    "two files, one table name": Case(files=[("file", ("t.csv", b"a,b\n1,2\n", "text/csv")),
                                             ("file", ("t.json", b'[{"a":1,"b":2}]',
                                                       "application/json"))],
                                      refuse=(422, "duplicate_tables")),
    "body over the upload limit": Case(b"a,b\n" + b"1,2\n" * 800_000,
                                       refuse=(413, "payload_too_large")),
    "file over the limit inside the multipart allowance": Case(
        b"a,b\n" + b"1,2\n" * 540_000, refuse=(413, "upload_too_large")),
    "overlong Idempotency-Key": Case(b"a,b\n1,2\n", headers={"Idempotency-Key": "k" * 300},
                                     refuse=(422, "invalid_request")),
    "no API key": Case(b"a,b\n1,2\n", key="", refuse=(401, "missing_api_key")),
    "forged API key": Case(b"a,b\n1,2\n", key="forged", refuse=(401, "invalid_api_key")),
    "read key uploading": Case(b"a,b\n1,2\n", key="reader", refuse=(403, "insufficient_scope")),
    "name over 200 characters": Case(b"a,b\n1,2\n", params={"name": "n" * 201},
                                     refuse=(422, "invalid_request")),
    "allow_formulas=maybe": Case(b"a,b\n1,2\n", params={"allow_formulas": "maybe"},
                                 refuse=(422, "invalid_request")),
    # Path and query parameters.
    "traversal in a dataset id": Case(method="GET", path="/v1/datasets/..%2F..%2Fetc%2Fpasswd",
                                      key="reader", refuse=(404, "route_not_found")),
    "NUL in a dataset id": Case(method="GET", path="/v1/datasets/%00", key="reader",
                                refuse=(404, "dataset_not_found")),
    "5,000-character model id": Case(method="GET", path="/v1/models/" + "m" * 5000,
                                     key="reader", refuse=(404, "model_not_found")),
    "version past 2^63": Case(method="GET", path="/v1/models/mdl_x/versions/" + "9" * 25,
                              key="reader", refuse=(422, "invalid_request")),
    "negative version": Case(method="GET", path="/v1/models/mdl_x/versions/-1", key="reader",
                             refuse=(422, "invalid_request")),
    "limit=0": Case(method="GET", path="/v1/datasets", params={"limit": 0}, key="reader",
                    refuse=(422, "invalid_request")),
    "limit=abc": Case(method="GET", path="/v1/jobs", params={"limit": "abc"}, key="reader",
                      refuse=(422, "invalid_request")),
    "unknown job status": Case(method="GET", path="/v1/jobs", params={"status": "bogus"},
                               key="reader", refuse=(422, "invalid_request")),
    "seed of 2^32": Case(path="/v1/models/mdl_x/samples", key="reader",
                         json_body={"num_rows": 5, "seed": 2**32},
                         refuse=(422, "invalid_request")),
    "zero rows": Case(path="/v1/models/mdl_x/samples", key="reader", json_body={"num_rows": 0},
                      refuse=(422, "invalid_request")),
    "unknown body field": Case(path="/v1/models", json_body={
        "dataset_id": "ds_x", "synthesizer": "ctgan", "surprise": 1},
        refuse=(422, "invalid_request")),
    "owner outside the key pattern": Case(path="/v1/keys", key="admin", json_body={
        "scope": "read", "owner": "Not Valid!"}, refuse=(422, "invalid_request")),
    "non-ASCII download signature": Case(method="GET", path="/v1/samples/smp_x/download",
                                         params={"expires": 2070, "signature": "\u00ee"},
                                         key="", refuse=(403, "invalid_signature")),
    "JSON body that is not JSON": Case(path="/v1/models", content_type="application/json",
                                       raw_body=b"\x16\xff\xfe{", refuse=(422,
                                                                          "invalid_request")),
    "method not allowed": Case(method="PATCH", path="/v1/datasets", key="reader",
                               refuse=(405, "method_not_allowed")),
    # Accepted: the stored table is exactly what the file says.
    "plain CSV": Case(b"a,b\n1,x\n2,y\n", expect=_frame(a=[1, 2], b=["x", "y"])),
    "quoted delimiters and newlines": Case(b'a,b\n"x\ny",1\n"q,r",2\n',
                                           expect=_frame(a=["x\ny", "q,r"], b=[1, 2])),
    "semicolons": Case(b"a;b\n1;2\n3;4\n", expect=_frame(a=[1, 3], b=[2, 4])),
    "tabs": Case(b"a\tb\n1\tx\n", expect=_frame(a=[1], b=["x"])),
    "phone numbers stay text": Case(b"name,phone\nann,+1 (555) 010-0000\nbob,+44 20 7946 0958\n",
                                    expect=_frame(name=["ann", "bob"],
                                                  phone=["+1 (555) 010-0000",
                                                         "+44 20 7946 0958"])),
    "signed and scientific numbers": Case(b"a,b\n-1.5e3,1\n+2,-3\n",
                                          expect=_frame(a=[-1500.0, 2.0], b=[1, -3])),
    "missing values": Case(b"a,b\n1,\nNA,x\n", expect=_frame(a=[1.0, np.nan], b=[None, "x"])),
    "booleans": Case(b"a,b\ntrue,1\nFalse,2\n", expect=_frame(a=[True, False], b=[1, 2])),
    "dates stay text": Case(b"a,b\n2024-01-01,1\n2024-02-29,2\n",
                            expect=_frame(a=["2024-01-01", "2024-02-29"], b=[1, 2])),
    "64-bit extremes": Case(b"a,b\n9223372036854775807,1\n-9223372036854775808,2\n",
                            expect=_frame(a=[2**63 - 1, -2**63], b=[1, 2])),
    "latin-1 with encoding=latin-1": Case("a,b\ncafé,1\n".encode("latin-1"),
                                          params={"encoding": "latin-1"},
                                          expect=_frame(a=["café"], b=[1])),
    "UTF-8 with a BOM": Case("\ufeffa,b\n1,2\n".encode(), expect=_frame(a=[1], b=[2])),
    "UTF-16": Case("a,b\né,1\n".encode("utf-16"), expect=_frame(a=["é"], b=[1])),
    "unicode column names": Case("prénom,ß\nx,1\n".encode(),
                                 expect=_frame(**{"prénom": ["x"], "ß": [1]})),
    "formulas kept when asked": Case(b"a,b\n=1+1,1\n", params={"allow_formulas": "true"},
                                     expect=_frame(a=["=1+1"], b=[1])),
    "raw body with X-Filename": Case(b"a,b\n1,2\n", raw=True, headers={"X-Filename": "raw.csv"},
                                     expect=_frame(a=[1], b=[2])),
    "JSON list of rows": Case(b'[{"a": 1, "b": 1.5}, {"a": 2, "b": 2}]', "application/json",
                              "t.json", expect=_frame(a=[1, 2], b=[1.5, 2.0])),
    "JSON Lines": Case(b'{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n', "application/json",
                       "t.json", expect=_frame(a=[1, 2], b=["x", "y"])),
    "rows inside a wrapper": Case(b'{"rows": [{"a": 1, "b": true}], "meta": {"v": 1}}',
                                  "application/json", "t.json",
                                  expect=_frame(a=[1], b=[True])),
    "JSON rows with missing keys": Case(b'[{"a": 1, "b": "x"}, {"a": 2}, {"b": "z", "c": 3}]',
                                        "application/json", "t.json",
                                        expect=_frame(a=[1.0, 2.0, np.nan],
                                                      b=["x", None, "z"],
                                                      c=[np.nan, np.nan, 3.0])),
    "Parquet category column": Case(
        _parquet(_frame(a=pd.Categorical(["x", "y", "x"]), b=[1, 2, 3])),
        "application/vnd.apache.parquet", "t.parquet",
        expect=_frame(a=pd.Categorical(["x", "y", "x"]), b=[1, 2, 3])),
    "Parquet written with a pandas index": Case(
        _parquet(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=[10, 20])),
        "application/vnd.apache.parquet", "t.parquet", expect=_frame(a=[1, 2], b=["x", "y"])),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    environment = Env(make_settings(tmp_path_factory.mktemp("hostile"), max_upload_mb=2))
    yield environment
    environment.close()


def _keys(env) -> dict[str, str]:
    return {"writer": env.writer, "reader": env.reader, "admin": env.admin,
            "forged": "sk_key_" + "0" * 20 + "_" + "A" * 43}


def _send(env, case: Case):
    headers = dict(case.headers)
    key = _keys(env).get(case.key)
    if key:
        headers.update(auth(key))
    if case.raw_body is not None:
        return env.client.request(case.method, case.path, content=case.raw_body,
                                  headers={**headers, "Content-Type": case.content_type})
    if case.data is None and case.files is None:
        return env.client.request(case.method, case.path, headers=headers, params=case.params,
                                  json=case.json_body)
    if case.raw:
        return env.client.post("/v1/datasets", headers={**headers,
                                                        "Content-Type": case.content_type},
                               params=case.params, content=case.data)
    files = case.files or [("file", (case.filename, case.data, case.content_type))]
    return env.client.post("/v1/datasets", headers=headers, params=case.params, files=files)


def _stored(env) -> tuple[int, list[str]]:
    return (len(env.service.store.query(DatasetRecord)),
            env.service.storage.list_keys("datasets"))


def test_the_corpus_has_at_least_sixty_cases_of_every_kind():
    assert len(CASES) >= 60
    refused = [c for c in CASES.values() if c.refuse]
    kinds = {c.content_type.split(";")[0] for c in refused if c.data is not None}
    assert {"text/csv", "application/json", "application/vnd.apache.parquet"} <= kinds
    assert any(c.raw for c in refused) and any(c.files for c in refused)
    assert any(c.headers for c in refused) and any(c.params for c in refused)
    assert any(c.data is None and "/v1/" in c.path and c.method == "GET" for c in refused)


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_hostile_input_is_refused_clearly_or_stored_exactly(env, name):
    case = CASES[name]
    before = _stored(env)
    response = _send(env, case)
    if case.refuse:
        status, code = case.refuse
        assert response.status_code == status, response.text[:500]
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == code and len(body["detail"]) > 15 and body["request_id"]
        assert _stored(env) == before, "a refused request stored something"
        return
    assert response.status_code == 201, response.text[:500]
    record = env.service.store.get(DatasetRecord, response.json()["id"])
    stored = next(iter(env.service.load_tables(record).values()))
    pd.testing.assert_frame_equal(stored, case.expect)


def test_every_refusal_code_is_documented():
    codes = {c.refuse[1] for c in CASES.values() if c.refuse}
    documented = set(re.findall(r"`([a-z_]+)`", DOCS))
    assert codes - documented == set()
