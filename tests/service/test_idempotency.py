"""`Idempotency-Key`: a client that retries a POST that creates work gets the first answer,
not a second dataset, training job or sample file."""

from __future__ import annotations

import io

from synthdata_service.backends.metadata import DatasetRecord, JobRecord, ModelRecord

from .conftest import auth, upload, wait_job

CSV = b"a,b\n1,x\n2,y\n3,z\n4,x\n5,y\n"


def _train(env, dataset_id: str, key: str | None, **parameters):
    headers = {**auth(env.writer), **({"Idempotency-Key": key} if key else {})}
    return env.client.post("/v1/models", headers=headers, json={
        "dataset_id": dataset_id, "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm", **parameters}})


def test_a_retried_training_request_gets_the_first_answer_and_one_job(env):
    dataset = upload(env.client, env.writer, CSV).json()
    first = _train(env, dataset["id"], "train-1")
    again = _train(env, dataset["id"], "train-1")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(env.service.store.query(ModelRecord)) == 1
    assert len(env.service.store.query(JobRecord)) == 1
    wait_job(env.client, env.writer, first.json()["job_id"])


def test_without_a_key_a_retry_is_a_second_job(env):
    dataset = upload(env.client, env.writer, CSV).json()
    _train(env, dataset["id"], None)
    _train(env, dataset["id"], None)
    assert len(env.service.store.query(JobRecord)) == 2
    env.service.runner.wait_idle(60)


def test_the_same_key_for_another_request_is_422(env):
    dataset = upload(env.client, env.writer, CSV).json()
    assert _train(env, dataset["id"], "k").status_code == 202
    reused = _train(env, dataset["id"], "k", enforce_rounding=False)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    env.service.runner.wait_idle(60)


def test_a_retried_upload_stores_one_dataset_whatever_the_multipart_boundary(env):
    headers = {**auth(env.writer), "Idempotency-Key": "upload-1"}
    answers = [env.client.post("/v1/datasets", headers=headers,
                               files={"file": ("t.csv", io.BytesIO(CSV), "text/csv")})
               for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert len(env.service.store.query(DatasetRecord)) == 1
    other = env.client.post("/v1/datasets", headers=headers,
                            files={"file": ("t.csv", io.BytesIO(CSV + b"6,z\n"), "text/csv")})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_keys_belong_to_an_owner(env):
    other = env.service.keys.issue(scope="write", owner="team-b").secret
    headers = {"Idempotency-Key": "shared-name"}
    mine = env.client.post("/v1/datasets", headers={**auth(env.writer), **headers},
                           files={"file": ("t.csv", CSV, "text/csv")})
    theirs = env.client.post("/v1/datasets", headers={**auth(other), **headers},
                             files={"file": ("t.csv", CSV, "text/csv")})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_failed_request_releases_its_key(env):
    headers = {**auth(env.writer), "Idempotency-Key": "after-a-404"}
    body = {"dataset_id": "ds_missing", "synthesizer": "gaussian_copula"}
    assert env.client.post("/v1/models", headers=headers, json=body).status_code == 404
    assert env.client.post("/v1/models", headers=headers, json=body).status_code == 404


def test_a_request_still_running_with_the_key_is_409(env):
    env.client.get("/readyz")
    env.service.idempotency.begin("default", "busy2", method="POST", path="/v1/models",
                                  digest=_digest_for(env, "/v1/models", {
                                      "dataset_id": "d", "synthesizer": "gaussian_copula"}))
    busy = env.client.post("/v1/models", headers={**auth(env.writer),
                                                  "Idempotency-Key": "busy2"},
                           json={"dataset_id": "d", "synthesizer": "gaussian_copula"})
    assert busy.status_code == 409 and busy.json()["code"] == "idempotency_in_progress"
    assert busy.headers["retry-after"]


def _digest_for(env, path: str, body: dict) -> str:
    from synthdata_service.idempotency import fingerprint
    from synthdata_service.schemas import ModelCreate

    return fingerprint("POST", path, ModelCreate(**body).model_dump(mode="json"))


def test_a_retried_inline_sample_without_a_seed_returns_the_same_rows(trained):
    env, model = trained
    headers = {**auth(env.reader), "Idempotency-Key": "rows-1"}
    body = {"num_rows": 20, "format": "csv"}
    first = env.client.post(f"/v1/models/{model['id']}/samples", headers=headers, json=body)
    again = env.client.post(f"/v1/models/{model['id']}/samples", headers=headers, json=body)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert first.headers["x-synth-seed"] == again.headers["x-synth-seed"]


def test_a_retried_linked_sample_is_one_stored_file(trained):
    env, model = trained
    headers = {**auth(env.reader), "Idempotency-Key": "link-1"}
    body = {"num_rows": 30, "seed": 3, "delivery": "link"}
    first = env.client.post(f"/v1/models/{model['id']}/samples", headers=headers, json=body)
    again = env.client.post(f"/v1/models/{model['id']}/samples", headers=headers, json=body)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    wait_job(env.client, env.reader, first.json()["job_id"])
