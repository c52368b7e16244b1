"""Jobs: status and progress, cancel, survival across a restart (failed + resumable), retry."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from synthdata_service.app import create_app
from synthdata_service.backends.metadata import JobRecord, ModelVersionRecord

from .conftest import Env, auth, csv_bytes, make_settings, upload, wait_job

_LONG_CTGAN = {"epochs": 5000, "batch_size": 20, "pac": 10}


def _start_long_training(env, diamonds) -> dict:
    dataset = upload(env.client, env.writer, csv_bytes(diamonds.head(100))).json()
    return env.client.post("/v1/models", headers=auth(env.writer), json={
        "dataset_id": dataset["id"], "synthesizer": "ctgan", "parameters": _LONG_CTGAN}).json()


def _wait_for(env, job_id, predicate, timeout=60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = env.client.get(f"/v1/jobs/{job_id}", headers=auth(env.reader)).json()
        if predicate(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job never matched: {job}")


def test_running_job_reports_progress_and_can_be_cancelled(env, diamonds):
    created = _start_long_training(env, diamonds)
    running = _wait_for(env, created["job_id"],
                        lambda j: j["status"] == "running" and j["progress"] > 0.1)
    assert 0 < running["progress"] < 1 and running["message"] == "training"
    cancel = env.client.post(f"/v1/jobs/{created['job_id']}/cancel", headers=auth(env.writer))
    assert cancel.status_code == 200
    job = wait_job(env.client, env.reader, created["job_id"], timeout=60)
    assert job["status"] == "cancelled"
    version = env.client.get(f"/v1/models/{created['id']}/versions/1",
                             headers=auth(env.reader)).json()
    assert version["status"] == "cancelled"
    assert env.service.storage.list_keys(f"models/{created['id']}") == []
    again = env.client.post(f"/v1/jobs/{created['job_id']}/cancel", headers=auth(env.writer))
    assert again.status_code == 409 and again.json()["code"] == "job_finished"


def test_jobs_can_be_listed_by_status(env, diamonds):
    model = env.train(csv_bytes(diamonds.head(100)), parameters={"default_distribution": "norm"})
    listed = env.client.get("/v1/jobs", headers=auth(env.reader),
                            params={"status": "succeeded"}).json()
    assert [j["id"] for j in listed] == [model["job_id"]]
    assert env.client.get("/v1/jobs/job_missing", headers=auth(env.reader)).status_code == 404


def test_a_restart_turns_an_interrupted_job_into_a_failed_resumable_one(tmp_path, diamonds):
    settings = make_settings(tmp_path, job_stale_seconds=2)
    first = Env(settings)
    dataset = upload(first.client, first.writer, csv_bytes(diamonds.head(150))).json()
    created = first.client.post("/v1/models", headers=auth(first.writer), json={
        "dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}}).json()
    wait_job(first.client, first.writer, created["job_id"])
    # Simulate a crash mid-training: the record says running, the worker is gone.
    stale = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    store = first.service.store
    store.update(JobRecord, created["job_id"], {"status": "running", "progress": 0.4,
                                                "heartbeat_at": stale, "finished_at": None})
    version = store.version(created["id"], 1)
    store.update(ModelVersionRecord, version.id, {"status": "training"})
    first.close()

    second = Env(settings)  # a new process on the same data directory
    try:
        job = second.client.get(f"/v1/jobs/{created['job_id']}", headers=auth(second.reader)).json()
        assert job["status"] == "failed"
        assert job["error"]["code"] == "job_interrupted" and job["error"]["resumable"] is True
        retried = second.client.post(f"/v1/jobs/{created['job_id']}/retry",
                                     headers=auth(second.writer))
        assert retried.status_code == 202
        done = wait_job(second.client, second.reader, created["job_id"])
        assert done["status"] == "succeeded" and done["attempts"] == 2
        sample = second.client.post(f"/v1/models/{created['id']}/samples",
                                    headers=auth(second.reader), json={"num_rows": 3})
        assert sample.status_code == 200
    finally:
        second.close()


def test_queued_jobs_are_run_after_a_restart(tmp_path, diamonds):
    settings = make_settings(tmp_path)
    first = Env(settings)
    dataset = upload(first.client, first.writer, csv_bytes(diamonds.head(100))).json()
    created = first.client.post("/v1/models", headers=auth(first.writer), json={
        "dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}}).json()
    wait_job(first.client, first.writer, created["job_id"])
    store = first.service.store
    store.update(JobRecord, created["job_id"], {"status": "queued", "progress": 0.0})
    store.update(ModelVersionRecord, store.version(created["id"], 1).id, {"status": "queued"})
    first.close()
    second = Env(settings)
    try:
        second.client.get("/readyz")  # builds the service, which recovers jobs
        job = wait_job(second.client, second.reader, created["job_id"])
        assert job["status"] == "succeeded"
    finally:
        second.close()


def test_only_finished_jobs_can_be_retried(trained):
    env, model = trained
    response = env.client.post(f"/v1/jobs/{model['job_id']}/retry", headers=auth(env.writer))
    assert response.status_code == 409 and response.json()["code"] == "job_not_retryable"


def test_the_heartbeat_keeps_a_long_job_alive(tmp_path, diamonds):
    env = Env(make_settings(tmp_path, job_stale_seconds=1))
    try:
        created = _start_long_training(env, diamonds)
        _wait_for(env, created["job_id"], lambda j: j["status"] == "running")
        time.sleep(2.5)  # longer than the stale limit: only heartbeats keep it running
        job = env.client.get(f"/v1/jobs/{created['job_id']}", headers=auth(env.reader)).json()
        assert job["status"] == "running"
        env.client.post(f"/v1/jobs/{created['job_id']}/cancel", headers=auth(env.writer))
        wait_job(env.client, env.reader, created["job_id"])
    finally:
        env.close()


def test_create_app_without_settings_reads_the_environment(tmp_path, monkeypatch):
    from constructs_lib import contract

    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "envdir"))
    monkeypatch.setenv(contract.MAX_ROWS, "1234")
    monkeypatch.setenv(contract.SYNTHESIZERS, "gaussian_copula,ctgan")
    app = create_app()
    assert app.state.settings.max_rows == 1234
    assert app.state.settings.synthesizers == ("gaussian_copula", "ctgan")
    assert app.state.settings.metadata_url.startswith(f"sqlite:///{tmp_path / 'envdir'}")


def test_a_synchronous_inline_runner_finishes_jobs_within_the_request(tmp_path, diamonds):
    env = Env(make_settings(tmp_path, jobs_url="inline://?sync=1"))
    try:
        dataset = upload(env.client, env.writer, csv_bytes(diamonds.head(100))).json()
        created = env.client.post("/v1/models", headers=auth(env.writer), json={
            "dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
            "parameters": {"default_distribution": "norm"}})
        assert created.status_code == 202
        job = env.client.get(f"/v1/jobs/{created.json()['job_id']}", headers=auth(env.reader))
        assert job.json()["status"] == "succeeded"
    finally:
        env.close()
