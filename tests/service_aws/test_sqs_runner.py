"""`sqs://` job runner: short jobs become SQS messages, jobs beyond the worker Lambda's
timeout start an ECS Fargate task, and nothing runs inside the API request."""

from __future__ import annotations

import json

import pytest

from synthdata_service._util import new_id, utcnow_iso
from synthdata_service.backends.metadata import (
    ArtifactRecord,
    DatasetRecord,
    JobRecord,
    ModelRecord,
    ModelVersionRecord,
)
from synthdata_service.core import Service
from synthdata_service.jobs.aws import SqsJobRunner, estimate_seconds

from .conftest import contract_env, make_queues, settings_for


def _train_job(store, *, synthesizer: str, rows: int, columns: int, parameters=None,
               kind: str = "train", sample_rows: int = 0) -> JobRecord:
    dataset = DatasetRecord(id=new_id("ds"), n_rows=rows, n_columns=columns)
    model = ModelRecord(id=new_id("mdl"), dataset_id=dataset.id, synthesizer=synthesizer)
    version = ModelVersionRecord(id=new_id("ver"), model_id=model.id, version=1,
                                 dataset_id=dataset.id, parameters=parameters or {})
    artifact = ArtifactRecord(id=new_id("smp"), kind="sample", model_id=model.id, version=1,
                              num_rows=sample_rows)
    for record in (dataset, model, version, artifact):
        store.insert(record)
    payload = ({"version_id": version.id, "model_id": model.id} if kind == "train"
               else {"artifact_id": artifact.id})
    job = JobRecord(id=new_id("job"), kind=kind, model_id=model.id, payload=payload,
                    created_at=utcnow_iso())
    store.insert(job)
    return job


def _messages(local_aws, queue_url) -> list[dict]:
    answer = local_aws.client("sqs").receive_message(QueueUrl=queue_url,
                                                     MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def _tasks_for(local_aws, job_id: str) -> list[dict]:
    ecs = local_aws.client("ecs")
    arns = ecs.list_tasks(cluster=local_aws.cluster_arn)["taskArns"]
    tasks = ecs.describe_tasks(cluster=local_aws.cluster_arn, tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t.get("startedBy") == job_id]


def test_the_contract_url_configures_queue_and_fargate(service, local_aws):
    runner = service.runner
    assert isinstance(runner, SqsJobRunner)
    assert runner.queue_url.startswith("https://sqs.eu-west-1.amazonaws.com/123456789012/")
    assert runner.worker_timeout == 900
    assert runner.ecs.cluster == local_aws.cluster_arn
    assert runner.ecs.task_definition == local_aws.task_definition_arn
    assert runner.ecs.subnets == tuple(local_aws.subnets)


def test_estimates_follow_the_measured_rates(service):
    store = service.store
    ctgan = _train_job(store, synthesizer="ctgan", rows=30_000, columns=18)
    # 24 s preprocessing + 300 epochs x 3.7 s + startup: about 19 minutes
    assert 1100 < estimate_seconds(store, ctgan) < 1200
    copula = _train_job(store, synthesizer="gaussian_copula", rows=30_000, columns=18)
    assert estimate_seconds(store, copula) < 30
    short_ctgan = _train_job(store, synthesizer="ctgan", rows=2_000, columns=10,
                             parameters={"epochs": 10})
    assert estimate_seconds(store, short_ctgan) < 60


def test_a_short_job_becomes_one_sqs_message(service, queues, local_aws):
    job = _train_job(service.store, synthesizer="gaussian_copula", rows=5_000, columns=10)
    service.runner.submit(job.id)
    assert _messages(local_aws, queues.url) == [{"job_id": job.id}]
    assert _tasks_for(local_aws, job.id) == []
    stored = service.store.get(JobRecord, job.id)
    assert stored.status == "queued" and "queued for a worker" in stored.message


def test_a_ctgan_job_beyond_the_lambda_timeout_starts_a_fargate_task(service, queues,
                                                                       local_aws):
    job = _train_job(service.store, synthesizer="ctgan", rows=30_000, columns=18)
    service.runner.submit(job.id)
    assert _messages(local_aws, queues.url) == []
    [task] = _tasks_for(local_aws, job.id)
    assert task["launchType"] == "FARGATE"
    assert task["taskDefinitionArn"] == local_aws.task_definition_arn
    [override] = task["overrides"]["containerOverrides"]
    assert override == {"name": "worker",
                        "command": ["python", "-m", "synthdata_service.worker", "run-job", job.id]}
    stored = service.store.get(JobRecord, job.id)
    assert stored.status == "queued" and "ECS Fargate task" in stored.message


def test_a_large_sample_with_a_slow_synthesizer_goes_to_fargate(service, queues, local_aws):
    job = _train_job(service.store, synthesizer="hma", rows=1000, columns=18, kind="sample",
                     sample_rows=1_000_000)
    assert service.runner.route(service.store.get(JobRecord, job.id))[0] == "ecs"


def test_without_ecs_parameters_everything_goes_to_the_queue(local_aws, prefix, tmp_path):
    queues = make_queues(local_aws, ecs=False)
    service = Service(settings_for(contract_env(local_aws, queues, prefix), tmp_path),
                      start_runner=False)
    try:
        job = _train_job(service.store, synthesizer="ctgan", rows=30_000, columns=18)
        service.runner.submit(job.id)
        assert _messages(local_aws, queues.url) == [{"job_id": job.id}]
    finally:
        service.close()


def test_a_job_that_cannot_be_dispatched_is_a_503_for_the_request_that_made_it(
        local_aws, prefix, tmp_path):
    from synthdata_service.errors import BackendUnavailable

    queues = make_queues(local_aws, ecs=False)
    local_aws.client("sqs").delete_queue(QueueUrl=queues.url)
    service = Service(settings_for(contract_env(local_aws, queues, prefix), tmp_path),
                      start_runner=False)
    try:
        job = _train_job(service.store, synthesizer="gaussian_copula", rows=10, columns=2)
        with pytest.raises(BackendUnavailable) as refused:
            service.runner.submit(job.id)
        assert refused.value.status == 503 and refused.value.headers["Retry-After"]
        assert service.store.get(JobRecord, job.id).status == "queued"  # the caller undoes it
    finally:
        service.close()


@pytest.mark.parametrize("url, message", [
    ("sqs://", "SYNTH_JOBS_URL must be"),
])
def test_a_malformed_jobs_url_names_the_expected_form(url, message):
    with pytest.raises(ValueError, match=message):
        SqsJobRunner.from_url(url, execute=lambda job_id: None)


def _recorded_network(local_aws, task_arn: str) -> dict:
    """The network configuration the emulator recorded for a started task (its API does
    not return it; the server runs in this process)."""
    from moto.ecs.models import ecs_backends

    from .conftest import ACCOUNT, REGION

    for tasks in ecs_backends[ACCOUNT][REGION].tasks.values():
        for task in tasks.values():
            if task.task_arn == task_arn:
                return task.network_configuration["awsvpcConfiguration"]
    raise AssertionError(f"no task {task_arn}")


@pytest.mark.parametrize("flag,assigned", [("", "DISABLED"), ("&ecs_public_ip=true",
                                                               "ENABLED")])
def test_tasks_get_a_public_ip_only_when_the_jobs_url_says_their_subnets_are_public(
        service, queues, local_aws, flag, assigned):
    runner = SqsJobRunner.from_url(queues.contract_url + flag, execute=lambda job_id: None,
                                   store=service.store)
    job = _train_job(service.store, synthesizer="ctgan", rows=30_000, columns=18)
    network = _recorded_network(local_aws, runner.start_task(job.id))
    assert network["assignPublicIp"] == assigned
    assert network["subnets"] == local_aws.subnets
