"""The worker entry points: the SQS handler (idempotent, partial batch failures), the
dead-letter handler (a crashing job ends `failed` with a reason after its retries), the
ECS task-stopped handler, and `python -m synthdata_service.worker run-job`."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta

import pytest

from synthdata_service._util import utcnow
from synthdata_service.backends.metadata import JobRecord, ModelVersionRecord
from synthdata_service.handlers import aws_worker
from synthdata_service.jobs.aws import process_message
from synthdata_service.jobs.tasks import JobExecutor
from synthdata_service.worker import main as worker_main
from synthdata_service.worker import run_job

from .conftest import AwsApp, auth, contract_env, make_queues


class SimulatedCrash(BaseException):
    """Stands in for what kills a worker mid-job (not an ordinary, handled exception)."""


def _queue_training(app: AwsApp, diamonds, rows: int = 300) -> dict:
    data = diamonds.head(rows).to_csv(index=False).encode()
    dataset = app.client.post("/v1/datasets", headers=auth(app.writer),
                              files={"file": ("diamonds.csv", io.BytesIO(data), "text/csv")})
    assert dataset.status_code == 201, dataset.text
    created = app.client.post("/v1/models", headers=auth(app.writer), json={
        "dataset_id": dataset.json()["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}})
    assert created.status_code == 202, created.text
    return created.json()


def _job(app: AwsApp, job_id: str) -> dict:
    response = app.client.get(f"/v1/jobs/{job_id}", headers=auth(app.writer))
    assert response.status_code == 200, response.text
    return response.json()


def _event(local_aws, queue_url: str) -> dict:
    [message] = local_aws.client("sqs").receive_message(
        QueueUrl=queue_url, AttributeNames=["All"])["Messages"]
    return {"Records": [{"messageId": message["MessageId"], "body": message["Body"],
                         "receiptHandle": message["ReceiptHandle"],
                         "attributes": message["Attributes"], "eventSource": "aws:sqs"}]}


@pytest.fixture
def train_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    original = JobExecutor._train

    def counting(self, job, progress):
        calls.append(job.id)
        return original(self, job, progress)

    monkeypatch.setattr(JobExecutor, "_train", counting)
    return calls


def test_a_message_delivered_twice_trains_once(aws_app, diamonds, train_calls, local_aws):
    created = _queue_training(aws_app, diamonds)
    event = _event(local_aws, aws_app.queues.url)
    first = aws_worker.handler(event, None, service=aws_app.worker)
    second = aws_worker.handler(event, None, service=aws_app.worker)
    assert first == second == {"batchItemFailures": []}
    assert train_calls == [created["job_id"]]
    job = _job(aws_app, created["job_id"])
    assert job["status"] == "succeeded" and job["attempts"] == 1


def test_concurrent_deliveries_claim_the_job_once(aws_app, diamonds, train_calls):
    created = _queue_training(aws_app, diamonds)
    barrier = threading.Barrier(2)

    def deliver():
        barrier.wait()
        process_message(aws_app.worker, created["job_id"])

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert train_calls == [created["job_id"]]
    assert _job(aws_app, created["job_id"])["status"] == "succeeded"


def test_a_crashing_job_is_retried_then_failed_with_a_reason(aws_app, diamonds, monkeypatch):
    created = _queue_training(aws_app, diamonds)
    original = JobExecutor._train

    def crash(self, job, progress):
        raise SimulatedCrash("out of memory while fitting")

    monkeypatch.setattr(JobExecutor, "_train", crash)
    assert aws_app.pump() == 3  # the redrive policy's maxReceiveCount
    queued_again = _job(aws_app, created["job_id"])
    assert queued_again["status"] == "queued"  # between retries, never stuck `running`
    assert aws_app.pump(dlq=True) == 1
    job = _job(aws_app, created["job_id"])
    assert job["status"] == "failed" and job["attempts"] == 3
    assert job["error"]["code"] == "worker_crashed"
    assert job["error"]["message"].startswith(
        "worker crashed 3 times; last error: SimulatedCrash: out of memory while fitting")
    version = aws_app.worker.store.get(ModelVersionRecord,
                                       aws_app.worker.store.query(
                                           ModelVersionRecord,
                                           {"model_id": created["id"]})[0].id)
    assert version.status == "failed" and version.storage_key is None
    # Once failed, the job can be retried through the API like any other.
    monkeypatch.setattr(JobExecutor, "_train", original)
    retried = aws_app.client.post(f"/v1/jobs/{created['job_id']}/retry",
                                  headers=auth(aws_app.writer))
    assert retried.status_code == 202, retried.text
    aws_app.pump()
    assert _job(aws_app, created["job_id"])["status"] == "succeeded"


def test_a_dead_letter_for_a_finished_job_changes_nothing(aws_app, diamonds):
    created = _queue_training(aws_app, diamonds)
    aws_app.pump()
    body = json.dumps({"job_id": created["job_id"]})
    result = aws_worker.dead_letter_handler(
        {"Records": [{"messageId": "m1", "body": body, "attributes": {
            "ApproximateReceiveCount": "3"}}]}, None, service=aws_app.worker)
    assert result == {"batchItemFailures": []}
    assert _job(aws_app, created["job_id"])["status"] == "succeeded"


def test_a_job_whose_lambda_died_moves_to_fargate_on_redelivery(aws_app, diamonds, local_aws):
    created = _queue_training(aws_app, diamonds)
    long_ago = (utcnow() - timedelta(minutes=20)).isoformat()
    aws_app.worker.store.update(JobRecord, created["job_id"], {
        "status": "running", "attempts": 1, "started_at": long_ago, "heartbeat_at": long_ago})
    aws_app.pump()  # the redelivery after the visibility timeout
    job = _job(aws_app, created["job_id"])
    assert job["status"] == "queued" and "ECS Fargate task" in job["message"]
    ecs = local_aws.client("ecs")
    tasks = ecs.describe_tasks(cluster=local_aws.cluster_arn, tasks=ecs.list_tasks(
        cluster=local_aws.cluster_arn)["taskArns"])["tasks"]
    assert any(t.get("startedBy") == created["job_id"] for t in tasks)


def test_an_interrupted_job_runs_again_on_redelivery(local_aws, prefix, tmp_path, diamonds):
    queues = make_queues(local_aws, ecs=False)
    app = AwsApp(local_aws, queues, contract_env(local_aws, queues, prefix), tmp_path)
    try:
        created = _queue_training(app, diamonds)
        long_ago = (utcnow() - timedelta(minutes=20)).isoformat()
        app.worker.store.update(JobRecord, created["job_id"], {
            "status": "running", "attempts": 1, "started_at": long_ago,
            "heartbeat_at": long_ago})
        assert _job(app, created["job_id"])["error"]["code"] == "job_interrupted"
        app.pump()
        job = _job(app, created["job_id"])
        assert job["status"] == "succeeded" and job["attempts"] == 2
    finally:
        app.close()


def test_a_cancelled_job_whose_lambda_died_is_cancelled_not_run_again(aws_app, diamonds,
                                                                      train_calls):
    created = _queue_training(aws_app, diamonds)
    long_ago = (utcnow() - timedelta(minutes=20)).isoformat()
    aws_app.worker.store.update(JobRecord, created["job_id"], {
        "status": "running", "attempts": 1, "started_at": long_ago, "heartbeat_at": long_ago,
        "cancel_requested": True})
    assert process_message(aws_app.worker, created["job_id"]) == "cancelled"
    job = _job(aws_app, created["job_id"])
    assert job["status"] == "cancelled" and train_calls == []
    assert aws_app.pump() == 1 and _job(aws_app, created["job_id"])["status"] == "cancelled"


def test_each_worker_invocation_sweeps_orphaned_jobs(aws_app, diamonds):
    created = _queue_training(aws_app, diamonds)
    orphan = aws_app.worker.store.get(JobRecord, created["job_id"])
    long_ago = (utcnow() - timedelta(minutes=20)).isoformat()
    aws_app.worker.store.update(JobRecord, orphan.id, {
        "status": "running", "started_at": long_ago, "heartbeat_at": long_ago})
    aws_app.worker._last_sweep = 0.0
    aws_worker.handler({"Records": []}, service=aws_app.worker)
    stored = aws_app.worker.store.get(JobRecord, orphan.id)
    assert stored.status == "failed" and stored.error["code"] == "job_interrupted"


def test_a_malformed_message_is_dropped_not_retried(aws_app):
    event = {"Records": [{"messageId": "m1", "body": "{\"nope\": 1}", "attributes": {}}]}
    assert aws_worker.handler(event, None, service=aws_app.worker) == {"batchItemFailures": []}


def test_an_error_reaching_the_store_returns_the_message(aws_app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("store down")

    monkeypatch.setattr(aws_app.worker.store, "get", broken)
    event = {"Records": [{"messageId": "m1", "body": "{\"job_id\": \"job_x\"}"}]}
    assert aws_worker.handler(event, None, service=aws_app.worker) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]}


def _stopped(job_id: str, exit_code: int) -> dict:
    return {"detail-type": "ECS Task State Change", "detail": {
        "lastStatus": "STOPPED", "startedBy": job_id, "stoppedReason": "OutOfMemoryError",
        "containers": [{"name": "worker", "exitCode": exit_code}]}}


def test_a_fargate_task_that_died_fails_its_job(aws_app, diamonds):
    created = _queue_training(aws_app, diamonds)
    assert aws_worker.task_stopped_handler(_stopped(created["job_id"], 0), None,
                                           service=aws_app.worker)["failed"] is False
    result = aws_worker.task_stopped_handler(_stopped(created["job_id"], 137), None,
                                             service=aws_app.worker)
    assert result == {"job_id": created["job_id"], "failed": True}
    job = _job(aws_app, created["job_id"])
    assert job["status"] == "failed" and "OutOfMemoryError (exit code 137)" in \
        job["error"]["message"]


def test_the_ecs_command_runs_one_job(aws_app, diamonds, monkeypatch, tmp_path):
    created = _queue_training(aws_app, diamonds)
    assert run_job(created["job_id"], service=aws_app.worker) == 0
    assert _job(aws_app, created["job_id"])["status"] == "succeeded"
    assert run_job(created["job_id"], service=aws_app.worker) == 0  # already done: no-op


def test_python_m_service_worker_builds_the_service_from_the_contract(
        aws_app, env, diamonds, monkeypatch, tmp_path):
    created = _queue_training(aws_app, diamonds)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "ecs"))
    assert worker_main(["run-job", created["job_id"]]) == 0
    assert _job(aws_app, created["job_id"])["status"] == "succeeded"
    # The same command behind `python -m synthdata_service.worker`'s entry point:
    command = ["python", "-m", "synthdata_service.worker", "run-job", created["job_id"]]
    assert worker_main(command) == 0
