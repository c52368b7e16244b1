"""`azqueue://` jobs on Azurite's queue: what the API submits, and what one Container Apps
Job execution (`synthdata_service.handlers.azure_worker`) does with each delivery."""

from __future__ import annotations

import json
import threading
import time

import pytest

from synthdata_service.backends import open_job_runner, open_metadata
from synthdata_service.backends.metadata import JobRecord
from synthdata_service.handlers import azure_worker
from synthdata_service.jobs.azure import AzureQueueJobRunner


class FakeService:
    """The parts of `Service` the worker uses, around a real store and runner."""

    def __init__(self, store, queue_url, execute, settings_stale=30):
        self.store = store
        self.ran: list[str] = []
        self.settings = type("S", (), {"job_stale_seconds": settings_stale,
                                       "jobs_url": queue_url})()
        self.executor = type("E", (), {"prepare_retry": lambda s, job: None,
                                       "cleanup": lambda s, job, status, error: None,
                                       "run": lambda s, job_id: execute(job_id)})()
        self.runner = open_job_runner(queue_url, execute=execute, store=store,
                                      heartbeat=lambda ids: None, heartbeat_seconds=0.2)


@pytest.fixture
def store(cosmos_url):
    backend = open_metadata(cosmos_url)
    backend.migrate()
    yield backend
    backend.close()


def _claiming(store, ran, *, fail=False):
    def execute(job_id):
        assert store.update(JobRecord, job_id, {"status": "running"}, expect={"status": "queued"})
        ran.append(job_id)
        if fail:
            raise RuntimeError("out of memory")
        store.update(JobRecord, job_id, {"status": "succeeded"})
    return execute


def test_urls_carry_queue_and_retry_limits(queue_url):
    runner = open_job_runner(queue_url, execute=lambda job_id: None)
    assert isinstance(runner, AzureQueueJobRunner)
    assert runner.max_attempts == 3 and runner.visibility_seconds == 30
    for bad in ("azqueue://account", "azqueue://a/q?max_attempts=0", "azqueue://a/q?retries=2"):
        with pytest.raises(ValueError):
            open_job_runner(bad, execute=lambda job_id: None)


def test_submit_sends_the_job_id_and_notes_it_on_the_job(queue_url, store):
    store.insert(JobRecord(id="job_1", status="queued"))
    runner = open_job_runner(queue_url, execute=lambda job_id: None, store=store)
    runner.submit("job_1")
    message = runner.receive()
    assert json.loads(message.content) == {"job_id": "job_1"} and message.dequeue_count == 1
    assert "Container Apps" in store.get(JobRecord, "job_1").message


def test_one_execution_runs_one_job_and_deletes_its_message(queue_url, store):
    ran: list[str] = []
    service = FakeService(store, queue_url, _claiming(store, ran))
    store.insert(JobRecord(id="job_1", status="queued"))
    service.runner.submit("job_1")
    assert azure_worker.handle_one(service) == "ran"
    assert ran == ["job_1"] and store.get(JobRecord, "job_1").status == "succeeded"
    assert azure_worker.handle_one(service) == "empty"  # deleted, not just hidden


def test_a_second_delivery_of_a_finished_job_does_no_work(queue_url, store):
    ran: list[str] = []
    service = FakeService(store, queue_url, _claiming(store, ran))
    store.insert(JobRecord(id="job_1", status="succeeded"))
    service.runner.send("job_1")
    assert azure_worker.handle_one(service) == "finished" and ran == []


def test_a_crashing_job_is_requeued_and_its_message_comes_back(queue_url, store):
    ran: list[str] = []
    service = FakeService(store, queue_url, _claiming(store, ran, fail=True))
    service.runner.visibility_seconds = 1  # Azurite honours short timeouts
    store.insert(JobRecord(id="job_1", status="queued"))
    service.runner.submit("job_1")
    with pytest.raises(RuntimeError):
        azure_worker.handle_one(service)
    job = store.get(JobRecord, "job_1")
    assert job.status == "queued" and job.error["code"] == "worker_crashed"
    time.sleep(1.5)
    message = service.runner.receive()
    assert message is not None and message.dequeue_count == 2


def test_a_message_past_its_attempts_fails_the_job_with_the_reason(queue_url, store):
    service = FakeService(store, queue_url, _claiming(store, []))
    service.runner.visibility_seconds = 1
    store.insert(JobRecord(id="job_1", status="queued", attempts=3,
                           error={"code": "worker_crashed", "message": "MemoryError"}))
    service.runner.send("job_1")
    for _ in range(3):  # three workers took it and died without a word
        assert service.runner.receive() is not None
        time.sleep(1.2)
    assert azure_worker.handle_one(service) == "dead-lettered"
    job = store.get(JobRecord, "job_1")
    assert job.status == "failed" and "MemoryError" in job.error["message"]
    assert azure_worker.handle_one(service) == "empty"


def test_a_running_job_keeps_its_message_invisible(queue_url, store):
    release = threading.Event()
    service = FakeService(store, queue_url, lambda job_id: release.wait(10))
    service.runner.visibility_seconds = 1
    service.runner.send("job_1")
    message = service.runner.receive()
    worker = threading.Thread(target=service.runner.run_here, args=("job_1", message))
    worker.start()
    time.sleep(2.5)  # well past the first visibility timeout
    assert service.runner.receive() is None
    release.set()
    worker.join()
    service.runner.acknowledge(message)


def test_a_message_without_a_job_id_is_dropped(queue_url, store):
    service = FakeService(store, queue_url, lambda job_id: None)
    service.runner.client.send_message(json.dumps({"something": "else"}))
    assert azure_worker.handle_one(service) == "dropped"
    assert azure_worker.handle_one(service) == "empty"
