"""Datasets: upload in each format and transport, profile, list/get/delete, isolation."""

from __future__ import annotations

import io
import json

import pandas as pd

from .conftest import auth, csv_bytes, upload


def test_csv_upload_returns_201_with_id_and_profile(env, diamonds):
    response = upload(env.client, env.writer, csv_bytes(diamonds.head(300)), "diamonds.csv")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("ds_") and body["n_rows"] == 300 and body["n_columns"] == 10
    columns = {c["name"]: c for c in body["profile"]["columns"]}
    assert columns["carat"]["type"] == "numerical"
    assert columns["carat"]["min"] == diamonds.head(300)["carat"].min()
    assert columns["cut"]["type"] == "categorical"
    assert columns["cut"]["top_values"][0]["count"] >= columns["cut"]["top_values"][1]["count"]
    assert body["tables"][0]["name"] == "diamonds"


def test_profile_flags_candidate_keys_nulls_and_personal_data(env):
    frame = pd.DataFrame({
        "customer_id": range(50),
        "email": [f"person{i}@example.com" for i in range(50)],
        "score": [None if i % 5 == 0 else i * 1.5 for i in range(50)],
        "segment": ["a", "b"] * 25,
    })
    body = upload(env.client, env.writer, csv_bytes(frame)).json()
    profile = body["profile"]
    assert profile["candidate_keys"] == ["customer_id", "email"]
    assert "email" in profile["pii_columns"]
    score = next(c for c in profile["columns"] if c["name"] == "score")
    assert score["nulls"] == 10 and score["null_fraction"] == 0.2


def test_json_records_and_json_lines_upload(env):
    rows = [{"a": i, "b": f"x{i % 3}"} for i in range(20)]
    as_json = upload(env.client, env.writer, json.dumps(rows).encode(), "t.json",
                     "application/json")
    assert as_json.status_code == 201 and as_json.json()["format"] == "json"
    lines = "\n".join(json.dumps(r) for r in rows).encode()
    as_lines = upload(env.client, env.writer, lines, "t.jsonl", "application/x-ndjson")
    assert as_lines.status_code == 201 and as_lines.json()["n_rows"] == 20


def test_parquet_upload_is_sniffed_whatever_the_file_is_called(env, diamonds):
    buffer = io.BytesIO()
    diamonds.head(100).to_parquet(buffer, index=False)
    response = upload(env.client, env.writer, buffer.getvalue(), "misnamed.csv",
                      "application/octet-stream")
    assert response.status_code == 201
    assert response.json()["format"] == "parquet" and response.json()["n_rows"] == 100


def test_raw_body_upload_streams_without_multipart(env, diamonds):
    response = env.client.post("/v1/datasets", headers={**auth(env.writer),
                               "Content-Type": "text/csv", "X-Filename": "raw.csv"},
                               content=csv_bytes(diamonds.head(50)))
    assert response.status_code == 201
    assert response.json()["tables"][0]["name"] == "raw"


def test_latin1_file_needs_its_encoding_named(env):
    data = "name,city\nJosé,Málaga\nZoë,Köln\n".encode("latin-1")
    refused = upload(env.client, env.writer, data)
    assert refused.status_code == 422
    assert refused.json()["code"] == "encoding_undetected"
    accepted = upload(env.client, env.writer, data, encoding="latin-1")
    assert accepted.status_code == 201
    top = accepted.json()["profile"]["columns"][0]["top_values"]
    assert {t["value"] for t in top} == {"José", "Zoë"}


def test_several_files_make_one_multi_table_dataset(env):
    parents = pd.DataFrame({"user_id": range(5), "tier": list("abcab")})
    children = pd.DataFrame({"order_id": range(10), "user_id": [i % 5 for i in range(10)],
                             "amount": range(10)})
    response = env.client.post("/v1/datasets", headers=auth(env.writer), files=[
        ("file", ("users.csv", csv_bytes(parents), "text/csv")),
        ("file", ("orders.csv", csv_bytes(children), "text/csv"))])
    assert response.status_code == 201
    assert [t["name"] for t in response.json()["tables"]] == ["users", "orders"]
    assert set(response.json()["profile"]) == {"users", "orders"}


def test_list_get_delete(env, diamonds):
    created = upload(env.client, env.writer, csv_bytes(diamonds.head(20))).json()
    listed = env.client.get("/v1/datasets", headers=auth(env.reader)).json()
    assert [d["id"] for d in listed] == [created["id"]]
    got = env.client.get(f"/v1/datasets/{created['id']}", headers=auth(env.reader)).json()
    assert got["profile"] == created["profile"]
    assert "storage_key" not in got["tables"][0]
    assert env.client.delete(f"/v1/datasets/{created['id']}",
                             headers=auth(env.writer)).status_code == 204
    missing = env.client.get(f"/v1/datasets/{created['id']}", headers=auth(env.reader))
    assert missing.status_code == 404 and missing.json()["code"] == "dataset_not_found"
    assert env.service.storage.list_keys("datasets") == []


def test_another_owners_dataset_is_invisible(env, diamonds):
    created = upload(env.client, env.writer, csv_bytes(diamonds.head(20))).json()
    other = env.client.post("/v1/keys", headers=auth(env.admin),
                            json={"scope": "write", "owner": "team-b"}).json()["key"]
    assert env.client.get("/v1/datasets", headers=auth(other)).json() == []
    for method in ("get", "delete"):
        response = getattr(env.client, method)(f"/v1/datasets/{created['id']}",
                                                headers=auth(other))
        assert response.status_code == 404
    admin_view = env.client.get(f"/v1/datasets/{created['id']}", headers=auth(env.admin))
    assert admin_view.status_code == 200


def test_a_dataset_with_models_cannot_be_deleted(env, diamonds):
    model = env.train(csv_bytes(diamonds.head(200)), parameters={"default_distribution": "norm"})
    response = env.client.delete(f"/v1/datasets/{model['dataset_id']}", headers=auth(env.writer))
    assert response.status_code == 409 and response.json()["code"] == "dataset_in_use"


def test_uploads_past_the_per_replica_limit_are_told_to_come_back(tmp_path):
    from .conftest import Env, make_settings

    env = Env(make_settings(tmp_path, max_concurrent_uploads=1))
    try:
        with env.app.state.upload_slots.take():  # another upload is being read
            busy = upload(env.client, env.writer, b"a,b\n1,2\n")
        assert busy.status_code == 503 and busy.json()["code"] == "upload_capacity"
        assert int(busy.headers["retry-after"]) >= 1
        assert upload(env.client, env.writer, b"a,b\n1,2\n").status_code == 201
    finally:
        env.close()


def test_dataset_lists_stay_small_whatever_the_cells_hold(env):
    cell = "x" * 9_000
    data = ("a,b\n" + "".join(f"{cell}{i},{i}\n" for i in range(5))).encode()
    assert upload(env.client, env.writer, data).status_code == 201
    listed = env.client.get("/v1/datasets", headers=auth(env.reader))
    assert len(listed.content) < 10_000
