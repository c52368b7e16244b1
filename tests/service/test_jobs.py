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


# Honest job states: orphaned jobs end without anyone reading them, cancel stops work.


def _dead_worker() -> str:
    """The identity of a process on this host that has exited."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c",
                              "from synthdata_service.jobs.identity import worker_identity;"
                              "print(worker_identity())"], stdout=subprocess.PIPE, text=True)
    identity = child.communicate(timeout=60)[0].strip()
    assert identity.count(":") == 2
    return identity


def _running_job(store, *, worker: str, heartbeat_age: float, cancel: bool = False,
                 model_id: str | None = None) -> str:
    from synthdata_service._util import new_id

    beat = (datetime.now(UTC) - timedelta(seconds=heartbeat_age)).isoformat()
    job_id = new_id("job")
    store.insert(JobRecord(id=job_id, kind="report", status="running", started_at=beat,
                           heartbeat_at=beat, worker=worker, cancel_requested=cancel,
                           model_id=model_id, payload={"artifact_id": "none"},
                           created_at=beat))
    return job_id


def test_a_job_whose_process_died_on_this_host_fails_at_restart_without_waiting(tmp_path):
    settings = make_settings(tmp_path, job_stale_seconds=3600)
    first = Env(settings)
    first.client.get("/readyz")
    job_id = _running_job(first.service.store, worker=_dead_worker(), heartbeat_age=1)
    first.close()
    second = Env(settings)
    try:
        listed = second.client.get("/v1/jobs", headers=auth(second.reader)).json()
        assert [(j["id"], j["status"]) for j in listed] == [(job_id, "failed")]
        assert listed[0]["error"]["code"] == "job_interrupted"
    finally:
        second.close()


def test_the_sweeper_fails_an_orphaned_job_that_nobody_reads(tmp_path):
    env = Env(make_settings(tmp_path, job_stale_seconds=2))
    try:
        env.client.get("/readyz")  # starts the service and its sweeper
        store = env.service.store
        job_id = _running_job(store, worker="another-host:1:1", heartbeat_age=10)
        deadline = time.monotonic() + 30
        while store.get(JobRecord, job_id).status == "running":
            assert time.monotonic() < deadline, "the sweeper never ended the orphaned job"
            time.sleep(0.1)
        job = store.get(JobRecord, job_id)
        assert job.status == "failed" and job.error["resumable"] is True
    finally:
        env.close()


def test_a_live_job_on_another_host_is_left_alone(env):
    env.client.get("/readyz")
    job_id = _running_job(env.service.store, worker="another-host:1:1", heartbeat_age=1)
    assert env.service.sweep_jobs() == 0
    assert env.client.get(f"/v1/jobs/{job_id}", headers=auth(env.reader)).json()["status"] \
        == "running"


def test_cancelling_an_orphaned_job_cancels_it_at_once(env):
    env.client.get("/readyz")
    job_id = _running_job(env.service.store, worker="another-host:1:1", heartbeat_age=1)
    env.service.store.update(JobRecord, job_id, {"heartbeat_at": "2000-01-01T00:00:00+00:00"})
    response = env.client.post(f"/v1/jobs/{job_id}/cancel", headers=auth(env.writer))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_a_model_whose_only_job_is_orphaned_can_be_deleted(env, diamonds):
    model = env.train(csv_bytes(diamonds.head(100)), parameters={"default_distribution": "norm"})
    _running_job(env.service.store, worker=_dead_worker(), heartbeat_age=1, model_id=model["id"])
    response = env.client.delete(f"/v1/models/{model['id']}", headers=auth(env.writer))
    assert response.status_code == 204


def test_cancel_stops_a_fit_that_reports_no_steps_before_anything_is_stored(env, diamonds,
                                                                         monkeypatch):
    """GaussianCopula fits in one step: a cancel that arrives meanwhile must still win."""
    import threading

    from synthdata_service.engines import engine_for

    engine, _info = engine_for("gaussian_copula")
    original = engine.fit
    fitting, release = threading.Event(), threading.Event()

    def slow_fit(*args, **kwargs):
        fitting.set()
        release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(type(engine), "fit", lambda self, *a, **k: slow_fit(*a, **k))
    dataset = upload(env.client, env.writer, csv_bytes(diamonds.head(100))).json()
    created = env.client.post("/v1/models", headers=auth(env.writer), json={
        "dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}}).json()
    assert fitting.wait(30)
    cancel = env.client.post(f"/v1/jobs/{created['job_id']}/cancel", headers=auth(env.writer))
    assert cancel.status_code == 200 and cancel.json()["cancel_requested"] is True
    release.set()
    job = wait_job(env.client, env.reader, created["job_id"])
    assert job["status"] == "cancelled"
    version = env.service.store.version(created["id"], 1)
    assert version.status == "cancelled" and version.storage_key is None
    assert env.service.storage.list_keys(f"models/{created['id']}") == []


def test_cancel_stops_a_linked_sample_and_removes_its_file(trained, monkeypatch):
    import threading

    env, model = trained
    service = env.service
    original = service.sample_frames
    started, release = threading.Event(), threading.Event()

    def slow_frames(*args, **kwargs):
        for index, frame in enumerate(original(*args, **{**kwargs, "chunk_rows": 500})):
            if index == 1:
                started.set()
                release.wait(30)
            yield frame

    monkeypatch.setattr(service, "sample_frames", slow_frames)
    created = env.client.post(f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                              json={"num_rows": 4000, "seed": 2, "delivery": "link",
                                    "format": "csv"}).json()
    assert started.wait(60)
    env.client.post(f"/v1/jobs/{created['job_id']}/cancel", headers=auth(env.writer))
    release.set()
    job = wait_job(env.client, env.reader, created["job_id"])
    assert job["status"] == "cancelled"
    sample = env.client.get(f"/v1/samples/{created['id']}", headers=auth(env.reader)).json()
    assert sample["status"] == "cancelled" and sample["download_url"] is None
    assert service.storage.list_keys(f"samples/{model['id']}") == [] or all(
        created["id"] not in key for key in service.storage.list_keys(f"samples/{model['id']}"))
