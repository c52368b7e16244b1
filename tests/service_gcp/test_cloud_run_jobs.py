"""Background jobs on Cloud Run Jobs (`cloudrun://`), against a loopback server that speaks
the Cloud Run Admin API v2 (`cloud_run_api.py`: there is no Cloud Run emulator) and runs
each execution's task for real: `python -m synthdata_service.handlers.gcp_jobs <job id>`
in its own process, with Cloud Run's task variables and retries."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from synthdata_service.backends.metadata import JobRecord
from synthdata_service.jobs.gcp import WAITING, CloudRunJobRunner, CloudRunJobs
from synthdata_service.settings import Settings
from tests.service.conftest import Env, auth, csv_bytes, upload, wait_job

from .cloud_run_api import CloudRunAdminApi, JobDefinition
from .conftest import BUCKET, REPO

LOCATION = "projects/synth-test/locations/europe-west1"
WORKER, LONG = f"{LOCATION}/jobs/worker", f"{LOCATION}/jobs/long"
TASK = [sys.executable, "-m", "synthdata_service.handlers.gcp_jobs"]
NOTHING = [sys.executable, "-c", "pass"]


def jobs_url(api: CloudRunAdminApi, **query) -> str:
    params = {"long_job": "long", "worker_timeout": 900, "max_concurrent": 2,
              "max_attempts": 2, "endpoint": api.url, **query}
    return (f"cloudrun://{WORKER}?" + "&".join(f"{k}={v}" for k, v in params.items()))


def contract_env(data_dir: Path, jobs: str, **extra: str) -> dict[str, str]:
    """The runtime contract one deployment gives the API and its job tasks alike."""
    return {"SYNTH_DATA_DIR": str(data_dir), "SYNTH_JOBS_URL": jobs,
            "SYNTH_SYNTHESIZERS": "gaussian_copula,ctgan",
            "SYNTH_RATE_LIMIT_PER_SECOND": "1000", "SYNTH_RATE_LIMIT_BURST": "1000",
            "SYNTH_JOB_STALE_SECONDS": "30", "SYNTH_INLINE_MAX_ROWS": "100", **extra}


def deploy(api: CloudRunAdminApi, env: dict[str, str], command=TASK, retries: int = 1) -> Env:
    """Both Cloud Run Jobs run `command` with the deployment's environment; the API runs
    here on the same contract."""
    for name in (WORKER, LONG):
        api.jobs[name] = JobDefinition(command=list(command), env=env, max_retries=retries,
                                       cwd=str(REPO))
    return Env(Settings.from_env(env))


@pytest.fixture
def api(tmp_path):
    with CloudRunAdminApi({}, log_dir=str(tmp_path)) as server:
        yield server


def train(service: Env, rows: bytes, synthesizer="gaussian_copula", parameters=None,
          expect: int = 202) -> Any:
    dataset = upload(service.client, service.writer, rows, filename="diamonds.csv")
    assert dataset.status_code == 201, dataset.text
    created = service.client.post("/v1/models", headers=auth(service.writer), json={
        "dataset_id": dataset.json()["id"], "synthesizer": synthesizer,
        "parameters": parameters or {"default_distribution": "norm"}})
    assert created.status_code == expect, created.text
    return created.json() if expect == 202 else created


# -- the URL and the API calls ------------------------------------------------------------


def test_the_jobs_url_names_both_jobs_and_the_limits():
    target = CloudRunJobs.from_url(
        "cloudrun://projects/p1/locations/us-east4/jobs/w?long_job=l&worker_timeout=600"
        "&max_concurrent=3&max_attempts=4")
    assert (target.project, target.region, target.worker, target.long) == \
        ("p1", "us-east4", "w", "l")
    assert (target.worker_timeout, target.max_concurrent, target.max_attempts) == (600, 3, 4)
    assert target.endpoint == "https://run.googleapis.com"
    with pytest.raises(ValueError, match="cloudrun://projects/<project>/locations"):
        CloudRunJobs.from_url("cloudrun://my-job")


def test_a_submission_starts_one_execution_with_the_job_id_as_argument(api):
    api.jobs[WORKER] = JobDefinition(command=NOTHING)
    runner = CloudRunJobRunner.from_url(jobs_url(api), execute=lambda job_id: None)
    runner.submit("job_abc")
    assert api.wait()
    (execution,) = api.executions
    assert execution.name.startswith(f"{WORKER}/executions/worker-")
    assert execution.args == ["job_abc"] and execution.attempts == [0]
    method, path, _ = next(r for r in api.requests if r[0] == "POST")
    assert (method, path) == ("POST", f"/v2/{WORKER}:run")


def test_calls_carry_the_runtime_identitys_oauth_token(api):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    credentials = service_account.Credentials.from_service_account_info({
        "type": "service_account", "project_id": "p", "private_key_id": "k1",
        "private_key": key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": "synth-api@p.iam.gserviceaccount.com",
        "token_uri": f"{api.url}/token"}, scopes=["https://www.googleapis.com/auth/cloud-platform"])
    api.jobs[WORKER] = JobDefinition(command=NOTHING)
    runner = CloudRunJobRunner.from_url(jobs_url(api), execute=lambda job_id: None,
                                        credentials=credentials)
    runner.submit("job_abc")
    assert "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" in \
        api.token_requests[0]
    run = next(r for r in api.requests if r[1].endswith(":run"))
    assert run[2]["authorization"] == f"Bearer {api.token}"


def test_a_job_that_cannot_be_started_is_a_503_saying_what_to_fix(api, tmp_path):
    # As on every cloud: the request is undone and answered 503 with Retry-After, and the
    # message names the fix.
    service = deploy(api, contract_env(tmp_path / "data", jobs_url(api)), command=NOTHING)
    try:
        del api.jobs[WORKER]  # the deployed job is not where SYNTH_JOBS_URL says
        refused = train(service, b"a,b\n1,2\n3,4\n5,6\n", expect=503)
        assert refused.json()["code"] == "backend_unavailable"
        assert "Retry-After" in refused.headers
        assert "does not exist" in refused.json()["detail"]
        assert service.service.store.query(JobRecord) == []
    finally:
        service.close()


# -- routing and the worker limit -----------------------------------------------------------


def test_a_job_too_long_for_the_worker_goes_to_the_long_job(api, tmp_path, diamonds):
    service = deploy(api, contract_env(tmp_path / "data", jobs_url(api)), command=NOTHING)
    try:
        rows = csv_bytes(diamonds)  # 5,000 rows x 10 columns
        short = train(service, rows)  # GaussianCopula: seconds
        long = train(service, rows, "ctgan", {"epochs": 3000})  # about 17 min: over 900 s
        assert api.wait()
        by_job = {e.args[0]: e.job for e in api.executions}
        assert by_job == {short["job_id"]: "worker", long["job_id"]: "long"}
        message = service.service.store.get(JobRecord, long["job_id"]).message
        assert message.startswith("queued: Cloud Run Job execution long-")
    finally:
        service.close()


@pytest.mark.slow
def test_at_the_worker_limit_a_job_waits_and_a_finished_task_starts_it(api, tmp_path,
                                                                       diamonds):
    env = contract_env(tmp_path / "data", jobs_url(api, max_concurrent=1))
    service = deploy(api, env)
    try:
        rows = csv_bytes(diamonds.head(300))
        first, second = train(service, rows), train(service, rows)
        waiting = service.service.store.get(JobRecord, second["job_id"])
        assert waiting.status == "queued" and waiting.message.startswith(WAITING)
        assert wait_job(service.client, service.writer, first["job_id"])["status"] == \
            "succeeded"
        assert wait_job(service.client, service.writer, second["job_id"])["status"] == \
            "succeeded"
        assert api.wait()
        assert [e.args for e in api.executions] == [[first["job_id"]], [second["job_id"]]]
    finally:
        service.close()


@pytest.mark.slow
def test_a_task_that_dies_is_retried_and_the_next_attempt_takes_its_job_back(api, tmp_path,
                                                                           diamonds):
    env = contract_env(tmp_path / "data", jobs_url(api))
    service = deploy(api, env)
    store = service.service.store

    def kill_first_attempt_once_running(execution, attempt, process):
        if attempt:
            return
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            job = store.get(JobRecord, execution.args[0])
            if job is not None and job.status == "running":
                os.kill(process.pid, signal.SIGKILL)  # out of memory, as Cloud Run sees it
                return
            time.sleep(0.05)

    api.on_attempt = kill_first_attempt_once_running
    try:
        created = train(service, csv_bytes(diamonds.head(300)))
        # The API runs on the killed task's host here, so its sweeper may show the job
        # failed (`job_interrupted`, resumable) until the next attempt takes it back.
        assert api.wait()
        job = wait_job(service.client, service.writer, created["job_id"])
        assert job["status"] == "succeeded", job
        (execution,) = api.executions
        assert execution.attempts == [-signal.SIGKILL, 0]
        assert store.get(JobRecord, created["job_id"]).attempts == 2
    finally:
        service.close()


# -- the whole round trip on the GCP backends ---------------------------------------------


@pytest.mark.extended
def test_train_and_a_sample_job_run_as_cloud_run_executions_on_gcs_and_firestore(
        api, tmp_path, diamonds, gcs_emulator, firestore_emulator):
    import uuid

    env = contract_env(
        tmp_path / "data", jobs_url(api),
        SYNTH_STORAGE_URL=f"gs://{BUCKET}/jobs-{uuid.uuid4().hex[:8]}",
        SYNTH_METADATA_URL=f"firestore://jobs-{uuid.uuid4().hex[:8]}",
        STORAGE_EMULATOR_HOST=gcs_emulator, FIRESTORE_EMULATOR_HOST=firestore_emulator,
        GOOGLE_CLOUD_PROJECT="synth-test")
    service = deploy(api, env)
    try:
        created = train(service, csv_bytes(diamonds.head(300)))
        assert wait_job(service.client, service.writer, created["job_id"])["status"] == \
            "succeeded"
        sample = service.client.post(f"/v1/models/{created['id']}/samples",
                                     headers=auth(service.writer),
                                     json={"num_rows": 500, "seed": 3, "format": "csv"})
        assert sample.status_code == 202, sample.text  # above the inline limit: a job
        job = wait_job(service.client, service.writer, sample.json()["job_id"])
        assert job["status"] == "succeeded", job
        assert api.wait()
        assert [e.args[0] for e in api.executions] == [created["job_id"],
                                                        sample.json()["job_id"]]
        assert all(e.attempts == [0] for e in api.executions)
    finally:
        service.close()
