"""AWS worker entry points, in the same image as the API function:

* `synthdata_service.handlers.aws_worker.handler` - the SQS event source (batch size 1, with
  `ReportBatchItemFailures`): runs each job id it receives. A job that is already claimed
  or finished is acknowledged without work, so a message delivered twice trains once.
* `synthdata_service.handlers.aws_worker.dead_letter_handler` - consumes the dead-letter queue: the
  job whose message SQS gave up on is marked `failed` with a reason ("worker crashed 3
  times; last error ..."), so a crash or a timeout never leaves it `running`.
* `synthdata_service.handlers.aws_worker.task_stopped_handler` - optional, for an EventBridge
  rule on "ECS Task State Change" (`lastStatus` STOPPED): a Fargate task that stopped before its
  job ended (out of memory, image pull failure, killed) marks the job `failed`.

The service is built once per container from the runtime contract, like the API's.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

from ..jobs.aws import fail_crashed, fail_dead_letter, process_message
from ..settings import Settings

__all__ = ["dead_letter_handler", "handler", "job_id_of", "task_stopped_handler"]

_log = logging.getLogger("synthdata_service.worker")
_service: Any = None
_lock = threading.Lock()


def _get_service():
    global _service
    if _service is None:
        with _lock:
            if _service is None:
                from ..core import Service

                overrides: dict[str, Any] = {"allow_streaming": False}
                if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and \
                        "SYNTH_DATA_DIR" not in os.environ:
                    overrides["data_dir"] = "/tmp/.synth-data"
                _service = Service(Settings.from_env(os.environ, **overrides),
                                   start_runner=False)
    return _service


def reset() -> None:
    """Forget the cached service (tests; a new environment)."""
    global _service
    with _lock:
        if _service is not None:
            _service.close()
        _service = None


def job_id_of(body: str) -> str:
    """The job id in a message body: `{"job_id": "..."}` (a bare id is accepted too)."""
    text = (body or "").strip()
    if text.startswith("{"):
        value = json.loads(text).get("job_id")
    else:
        value = text
    if not isinstance(value, str) or not value:
        raise ValueError(f"no job id in message body {text[:100]!r}")
    return value


def _receive_count(record: dict) -> int:
    return int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))


def _each_job(event: dict, act, failure_log: str) -> dict:
    """Call `act(job_id, receive_count)` per SQS record; report the records that raised.

    A record without a job id is dropped (redelivering it could never succeed)."""
    failures = []
    for record in event.get("Records", []):
        try:
            job_id = job_id_of(record.get("body", ""))
        except ValueError:
            _log.error("dropping message %s: it holds no job id", record.get("messageId"))
            continue
        try:
            act(job_id, _receive_count(record))
        except Exception:
            _log.exception(failure_log, job_id)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _sweep(service) -> None:
    """Every worker invocation also ends orphaned jobs (at most once per heartbeat
    interval per container), so a job whose worker died is not left `running` while no
    one reads it."""
    try:
        service.sweep_jobs(throttle=True)
    except Exception:  # noqa: BLE001 - the job at hand still runs
        _log.warning("job sweep failed", exc_info=True)


def handler(event: dict, context: Any = None, *, service: Any = None) -> dict:
    """SQS event -> run each job; the failed ones are retried by SQS."""
    service = service or _get_service()
    _sweep(service)

    def run(job_id: str, receive_count: int) -> None:
        outcome = process_message(service, job_id, receive_count=receive_count)
        _log.info("job %s: %s", job_id, outcome)

    return _each_job(event, run, "job %s crashed; SQS will redeliver it")


def dead_letter_handler(event: dict, context: Any = None, *, service: Any = None) -> dict:
    """DLQ event -> the jobs whose retries ran out end `failed` with the reason."""
    service = service or _get_service()
    _sweep(service)

    def fail(job_id: str, receive_count: int) -> None:
        if fail_dead_letter(service, job_id, receive_count=receive_count):
            _log.warning("job %s failed after its retries ran out", job_id)

    return _each_job(event, fail, "could not fail dead-lettered job %s")


def task_stopped_handler(event: dict, context: Any = None, *, service: Any = None) -> dict:
    """EventBridge "ECS Task State Change" -> fail the job of a task that stopped early."""
    detail = event.get("detail") or {}
    job_id = str(detail.get("startedBy") or "")
    if detail.get("lastStatus") != "STOPPED" or not job_id.startswith("job_"):
        return {"job_id": None, "failed": False}
    exits = [c.get("exitCode") for c in detail.get("containers", []) if "exitCode" in c]
    if 0 in exits:  # the worker ended normally: its job finished, or another worker has it
        return {"job_id": job_id, "failed": False}
    service = service or _get_service()
    reason = (f"the ECS worker task stopped before the job ended: "
              f"{detail.get('stoppedReason') or detail.get('stopCode') or 'no reason given'}"
              f"{f' (exit code {exits[0]})' if exits else ''}. POST /v1/jobs/{job_id}/retry "
              "to run it again")
    failed = fail_crashed(service, job_id, reason, "worker_stopped")
    return {"job_id": job_id, "failed": failed}
