"""The `k8s://` job runner against the loopback API server: training as Kubernetes Jobs
from the platform's template, progress and completion through the metadata store, an API
pod restarting mid-job, pods killed for memory, cancellation, lost submissions."""

from __future__ import annotations

import threading
import time

import pytest

from synthdata_service._util import new_id, utcnow_iso
from synthdata_service.backends.metadata import JobRecord
from synthdata_service.jobs.kubernetes import KubernetesJobRunner, run_job

from .conftest import NAMESPACE, STALE_SECONDS, ApiPod, api_settings, auth, template_for

pytestmark = pytest.mark.slow


def _wait_status(api: ApiPod, job_id: str, status: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while (job := api.job(job_id))["status"] != status:
        assert time.monotonic() < deadline, f"job never became {status}: {job}"
        time.sleep(0.1)
    return job


@pytest.mark.parametrize("pod_runtime", ["process"])  # the Job's command, as a process
def test_training_runs_as_a_job_made_from_the_platform_template(cluster, api):
    created = api.train()
    job = api.wait(created["job_id"])
    assert job["status"] == "succeeded" and job["progress"] == 1.0 and job["attempts"] == 1
    [k8s_job] = cluster.server.jobs(NAMESPACE, f"synthdata.io/job-id={created['job_id']}")
    template = template_for(cluster.contract)
    pod, original = k8s_job["spec"]["template"]["spec"], template["spec"]["template"]["spec"]
    container, original_container = pod["containers"][0], original["containers"][0]
    assert container["args"] == ["run-job", created["job_id"]]
    assert container["command"] == original_container["command"]
    # What the platform decided is what ran: identity, limits, retries, security.
    assert pod["serviceAccountName"] == original["serviceAccountName"]
    assert container["resources"] == original_container["resources"]
    assert container["securityContext"] == original_container["securityContext"]
    assert k8s_job["spec"]["backoffLimit"] == template["spec"]["backoffLimit"]
    assert k8s_job["spec"]["ttlSecondsAfterFinished"] == template["spec"]["ttlSecondsAfterFinished"]
    assert k8s_job["metadata"]["labels"]["synthdata.io/job-role"] == "run"


def test_a_job_survives_the_api_pod_restarting_mid_job(cluster):
    first = ApiPod(api_settings(cluster))
    created = first.train(rows=2000, parameters={})  # beta marginals: a few seconds
    _wait_status(first, created["job_id"], "running")
    key = first.key
    first.close()  # the API pod goes away while its job trains in its own pod
    second = ApiPod(api_settings(cluster), key=key)
    try:
        job = second.wait(created["job_id"])
        assert job["status"] == "succeeded", job
        jobs = cluster.server.jobs(NAMESPACE, f"synthdata.io/job-id={created['job_id']}")
        assert len(jobs) == 1  # the new replica followed the Job; it did not start another
        model = second.client.get(f"/v1/models/{created['id']}", headers=auth(key)).json()
        assert model["active_version"] == 1
    finally:
        second.close()


def test_a_pod_killed_for_memory_fails_its_job_with_the_reason(cluster, api):
    faults = [("OOMKilled", 137)] * 3  # every attempt the template allows
    original_submit = api.service.runner.submit

    def submit_with_faults(job_id: str) -> None:
        cluster.kubelet.faults[job_id] = list(faults)
        original_submit(job_id)

    api.service.runner.submit = submit_with_faults
    created = api.train()
    job = api.wait(created["job_id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "worker_failed" and job["error"]["resumable"] is True
    assert "BackoffLimitExceeded" in job["error"]["message"]
    assert "OOMKilled (exit 137)" in job["error"]["message"]
    version = api.client.get(f"/v1/models/{created['id']}/versions/1",
                             headers=auth(api.key)).json()
    assert version["status"] == "failed"


@pytest.mark.parametrize("pod_runtime", ["process"])  # deleting the Job kills its pod
def test_cancelling_a_running_job_stops_its_kubernetes_job(cluster, api):
    created = api.train(rows=500, synthesizer="ctgan",
                        parameters={"epochs": 300, "batch_size": 100})
    _wait_status(api, created["job_id"], "running")
    response = api.client.post(f"/v1/jobs/{created['job_id']}/cancel", headers=auth(api.key))
    assert response.status_code == 200, response.text
    job = api.wait(created["job_id"], timeout=60)
    assert job["status"] == "cancelled"
    cluster.kubelet.wait_for(lambda: not cluster.server.jobs(
        NAMESPACE, f"synthdata.io/job-id={created['job_id']}"), timeout=30)


def test_a_job_the_api_server_refuses_is_a_503_that_leaves_nothing_behind(cluster, api):
    # The same on every cloud: the request that could not hand its job on is undone and
    # answered 503 with Retry-After; asking again works once the API server answers.
    cluster.server.fail_next.append(("POST", 500))
    refused = api.train(expect=503)
    assert refused["code"] == "backend_unavailable" and "retry-after" in refused["headers"]
    assert "Kubernetes API" in refused["detail"]
    assert api.service.store.query(JobRecord) == []
    created = api.train()
    assert api.wait(created["job_id"])["status"] == "succeeded"


def test_a_queued_job_the_api_server_refuses_later_fails_as_resumable(cluster, api):
    # No request waits for a job found queued after a restart: the job itself says why.
    service = api.service
    job = JobRecord(id=new_id("job"), owner="default", kind="report", model_id=None,
                    payload={"artifact_id": "missing"}, message="queued",
                    created_at=utcnow_iso(-120))
    service.store.insert(job)
    runner = KubernetesJobRunner.from_url(cluster.jobs_url(reconcile=0),
                                          execute=service.executor.run, store=service.store)
    cluster.server.fail_next.append(("POST", 500))
    assert runner.reconcile()["created"] == 0
    failed = service.store.get(JobRecord, job.id)
    assert failed.status == "failed" and failed.error["code"] == "job_dispatch_failed"
    assert failed.error["resumable"] is True and "/retry" in failed.error["message"]


def test_a_queued_job_whose_kubernetes_job_was_never_created_is_started(cluster, api):
    service = api.service
    job = JobRecord(id=new_id("job"), owner="default", kind="report", model_id=None,
                    payload={"artifact_id": "missing"}, message="queued",
                    created_at=utcnow_iso(-120))  # an API pod died before submitting it
    service.store.insert(job)
    runner = KubernetesJobRunner.from_url(cluster.jobs_url(reconcile=0),
                                          execute=service.executor.run, store=service.store)
    assert runner.reconcile()["created"] == 1
    [k8s_job] = cluster.server.jobs(NAMESPACE, f"synthdata.io/job-id={job.id}")
    assert k8s_job["spec"]["template"]["spec"]["containers"][0]["args"] == ["run-job", job.id]
    assert runner.reconcile()["created"] == 0  # it exists now


def test_a_restarted_pod_takes_the_job_back_once_the_dead_pods_heartbeat_is_stale(api):
    service = api.service
    # The job as a pod that died mid-run left it: running, its heartbeat no longer moving.
    job = JobRecord(id=new_id("job"), owner="default", kind="report", model_id=None,
                    payload={"artifact_id": "missing"}, status="running", attempts=1,
                    created_at=utcnow_iso(), started_at=utcnow_iso(),
                    heartbeat_at=utcnow_iso())
    service.store.insert(job)
    outcome: list[int] = []
    started = time.monotonic()
    thread = threading.Thread(target=lambda: outcome.append(run_job(job.id, service)))
    thread.start()
    thread.join(timeout=6 * STALE_SECONDS)
    assert outcome, "the pod never took the job back"
    assert time.monotonic() - started >= STALE_SECONDS - 1  # it waited for staleness
    record = service.store.get(JobRecord, job.id)
    assert record.attempts == 2  # taken back and run once more (failing: no such sample)
    assert record.status == "failed" and outcome == [3]
