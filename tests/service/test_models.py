"""Models: training jobs for every synthesizer, parameter validation, versions, activate,
rollback, delete."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from .conftest import auth, csv_bytes, upload, wait_job


def _dataset(env, frame, filename="t.csv") -> str:
    response = upload(env.client, env.writer, csv_bytes(frame), filename)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _train(env, dataset_id, synthesizer, parameters=None):
    return env.client.post("/v1/models", headers=auth(env.writer), json={
        "dataset_id": dataset_id, "synthesizer": synthesizer, "parameters": parameters or {}})


def test_training_returns_202_then_the_job_succeeds_and_activates_v1(env, diamonds):
    created = _train(env, _dataset(env, diamonds.head(300)), "gaussian_copula")
    assert created.status_code == 202
    body = created.json()
    assert body["id"].startswith("mdl_") and body["job_id"].startswith("job_")
    assert body["version"] == 1 and body["active_version"] is None
    job = wait_job(env.client, env.writer, body["job_id"])
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    model = env.client.get(f"/v1/models/{body['id']}", headers=auth(env.reader)).json()
    assert model["active_version"] == 1
    assert model["versions"][0]["status"] == "ready" and model["versions"][0]["size_bytes"] > 0


@pytest.mark.parametrize("parameters, fragment", [
    ({"epochs": 5}, "epochs"),
    ({"default_distribution": "cauchy"}, "default_distribution"),
    ({"enforce_rounding": "maybe"}, "enforce_rounding"),
])
def test_gaussian_copula_parameters_are_validated(env, diamonds, parameters, fragment):
    response = _train(env, _dataset(env, diamonds.head(50)), "gaussian_copula", parameters)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_parameters"
    assert fragment in response.json()["detail"]
    assert env.client.get("/v1/models", headers=auth(env.reader)).json() == []


def test_ctgan_batch_size_must_suit_pac(env, diamonds):
    response = _train(env, _dataset(env, diamonds.head(50)), "ctgan",
                      {"batch_size": 105, "pac": 10})
    assert response.status_code == 422 and "pac" in response.json()["detail"]


def test_unknown_and_disabled_synthesizers_are_refused(env, diamonds, tmp_path):
    dataset_id = _dataset(env, diamonds.head(50))
    unknown = _train(env, dataset_id, "deep_magic")
    assert unknown.status_code == 422 and unknown.json()["code"] == "synthesizer_not_allowed"
    from .conftest import Env, make_settings

    limited = Env(make_settings(tmp_path / "limited", synthesizers=("gaussian_copula",)))
    try:
        ds = _dataset(limited, diamonds.head(50))
        refused = _train(limited, ds, "ctgan")
        assert refused.status_code == 422
        assert "gaussian_copula" in refused.json()["detail"]
        offered = limited.client.get("/v1/synthesizers", headers=auth(limited.reader)).json()
        assert [s["name"] for s in offered] == ["gaussian_copula"]
    finally:
        limited.close()


def test_training_on_a_missing_dataset_is_404(env):
    response = _train(env, "ds_missing", "gaussian_copula")
    assert response.status_code == 404 and response.json()["code"] == "dataset_not_found"


def test_parameters_naming_unknown_columns_fail_the_job_with_a_clear_error(env, diamonds):
    created = _train(env, _dataset(env, diamonds.head(50)), "gaussian_copula",
                     {"primary_key": "no_such_column"}).json()
    job = wait_job(env.client, env.writer, created["job_id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "invalid_parameters"
    assert "no_such_column" in job["error"]["message"]
    version = env.client.get(f"/v1/models/{created['id']}/versions/1",
                             headers=auth(env.reader)).json()
    assert version["status"] == "failed"
    assert env.service.storage.list_keys(f"models/{created['id']}") == []


def test_versions_activate_rollback_and_delete(env, diamonds):
    model = env.train(csv_bytes(diamonds.head(200)), parameters={"default_distribution": "norm"})
    model_id = model["id"]
    retrain = env.client.post(f"/v1/models/{model_id}/versions", headers=auth(env.writer),
                              json={"parameters": {"default_distribution": "uniform"}})
    assert retrain.status_code == 202
    assert wait_job(env.client, env.writer, retrain.json()["id"])["status"] == "succeeded"
    got = env.client.get(f"/v1/models/{model_id}", headers=auth(env.reader)).json()
    assert got["active_version"] == 2 and got["latest_version"] == 2
    assert got["versions"][1]["parameters"]["default_distribution"] == "uniform"

    versions = env.client.get(f"/v1/models/{model_id}/versions", headers=auth(env.reader)).json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "ready"), (2, "ready")]
    listed = env.client.get("/v1/models", headers=auth(env.reader)).json()
    assert [m["id"] for m in listed] == [model_id]

    rolled = env.client.post(f"/v1/models/{model_id}/rollback", headers=auth(env.writer))
    assert rolled.status_code == 200 and rolled.json()["active_version"] == 1
    nothing = env.client.post(f"/v1/models/{model_id}/rollback", headers=auth(env.writer))
    assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_to_roll_back"
    activated = env.client.post(f"/v1/models/{model_id}/versions/2/activate",
                                headers=auth(env.writer))
    assert activated.json()["active_version"] == 2
    missing = env.client.post(f"/v1/models/{model_id}/versions/9/activate",
                              headers=auth(env.writer))
    assert missing.status_code == 404 and missing.json()["code"] == "version_not_found"

    sample = env.client.post(f"/v1/models/{model_id}/samples", headers=auth(env.reader),
                             json={"num_rows": 5, "version": 1})
    assert sample.status_code == 200 and sample.json()["version"] == 1

    assert env.client.delete(f"/v1/models/{model_id}", headers=auth(env.writer)).status_code == 204
    assert env.client.get(f"/v1/models/{model_id}", headers=auth(env.reader)).status_code == 404
    assert env.service.storage.list_keys(f"models/{model_id}") == []
    actions = [e["action"] for e in env.client.get(
        "/v1/audit", headers=auth(env.admin), params={"target_id": model_id}).json()]
    assert {"model.create", "model.retrain", "model.rollback", "model.activate",
            "model.delete"} <= set(actions)


def test_a_model_of_another_owner_is_invisible(env, diamonds):
    model = env.train(csv_bytes(diamonds.head(100)), parameters={"default_distribution": "norm"})
    other = env.client.post("/v1/keys", headers=auth(env.admin),
                            json={"scope": "write", "owner": "team-b"}).json()["key"]
    assert env.client.get("/v1/models", headers=auth(other)).json() == []
    for call in (lambda: env.client.get(f"/v1/models/{model['id']}", headers=auth(other)),
                 lambda: env.client.post(f"/v1/models/{model['id']}/samples",
                                         headers=auth(other), json={"num_rows": 3}),
                 lambda: env.client.get(f"/v1/jobs/{model['job_id']}", headers=auth(other)),
                 lambda: env.client.delete(f"/v1/models/{model['id']}", headers=auth(other))):
        assert call().status_code == 404


@pytest.mark.slow
@pytest.mark.parametrize("synthesizer", ["ctgan", "tvae", "copula_gan"])
def test_neural_synthesizers_train_and_sample(env, diamonds, synthesizer):
    model = env.train(csv_bytes(diamonds.head(300)), synthesizer,
                      {"epochs": 1, "batch_size": 100})
    response = env.client.post(f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                               json={"num_rows": 20, "seed": 4})
    assert response.status_code == 200
    assert len(response.json()["rows"]) == 20
    assert set(response.json()["columns"]) == set(diamonds.columns)


@pytest.mark.slow
def test_hma_trains_on_related_tables_and_samples_all_of_them(env):
    rng = np.random.default_rng(1)
    users = pd.DataFrame({"user_id": range(25), "tier": rng.choice(list("abc"), 25),
                          "age": rng.integers(18, 80, 25)})
    orders = pd.DataFrame({"order_id": range(80), "user_id": rng.integers(0, 25, 80),
                           "amount": rng.gamma(2, 20, 80).round(2)})
    dataset = env.client.post("/v1/datasets", headers=auth(env.writer), files=[
        ("file", ("users.csv", csv_bytes(users), "text/csv")),
        ("file", ("orders.csv", csv_bytes(orders), "text/csv"))]).json()
    created = _train(env, dataset["id"], "hma").json()
    assert wait_job(env.client, env.writer, created["job_id"])["status"] == "succeeded"
    response = env.client.post(f"/v1/models/{created['id']}/samples", headers=auth(env.reader),
                               json={"num_rows": 8, "seed": 2})
    tables = response.json()["tables"]
    assert len(tables["users"]) == 8
    parents = {row["user_id"] for row in tables["users"]}
    assert {row["user_id"] for row in tables["orders"]} <= parents
    one = env.client.post(f"/v1/models/{created['id']}/samples", headers=auth(env.reader),
                          json={"num_rows": 8, "seed": 2, "format": "csv", "table": "orders"})
    assert one.status_code == 200 and one.text.startswith("order_id,")
    need_table = env.client.post(f"/v1/models/{created['id']}/samples",
                                 headers=auth(env.reader), json={"num_rows": 8, "format": "csv"})
    assert need_table.status_code == 422 and need_table.json()["code"] == "table_required"


def test_hma_on_a_single_table_fails_with_a_clear_error(env, diamonds):
    created = _train(env, _dataset(env, diamonds.head(30)), "hma").json()
    job = wait_job(env.client, env.writer, created["job_id"])
    assert job["status"] == "failed" and job["error"]["code"] == "wrong_table_count"


@pytest.mark.slow
def test_par_trains_on_sequences_and_samples_whole_sequences(env):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"entity": np.repeat(range(12), 5), "step": np.tile(range(5), 12),
                          "value": rng.normal(size=60).round(3)})
    created = _train(env, _dataset(env, frame, "series.csv"), "par",
                     {"sequence_key": "entity", "sequence_index": "step", "epochs": 1}).json()
    assert wait_job(env.client, env.writer, created["job_id"])["status"] == "succeeded"
    first = env.client.post(f"/v1/models/{created['id']}/samples", headers=auth(env.reader),
                            json={"num_rows": 3, "seed": 9, "sequence_length": 4}).json()
    entities = {row["entity"] for row in first["rows"]}
    assert len(entities) == 3 and len(first["rows"]) == 12
    again = env.client.post(f"/v1/models/{created['id']}/samples", headers=auth(env.reader),
                            json={"num_rows": 3, "seed": 9, "sequence_length": 4}).json()
    assert again["rows"] == first["rows"]


def test_par_requires_a_sequence_key(env):
    frame = pd.DataFrame({"entity": [1, 1, 2, 2], "value": [1.0, 2.0, 3.0, 4.0]})
    response = _train(env, _dataset(env, frame), "par", {})
    assert response.status_code == 422 and "sequence_key" in response.json()["detail"]
