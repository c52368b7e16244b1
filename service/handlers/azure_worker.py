"""The Azure job worker: what one Container Apps Job execution runs (same image as the API).

    python -m synthdata_service.handlers.azure_worker

The job's KEDA `azure-queue` rule starts one execution per queued message. The execution
builds the service from the runtime contract's environment (`SYNTH_JOBS_URL` is the
`azqueue://` queue), takes one message, and:

* runs its job with heartbeats, keeping the message invisible while it runs, then deletes
  it - a job already claimed by a live worker or already finished is acknowledged
  without work (the rules of `synthdata_service.jobs.aws.process_message`);
* if the message was delivered more than `max_attempts` times (the workers before died:
  out of memory, replica timeout), ends the job `failed` with the reason and deletes it;
* with no message (another execution took it), exits at once.

Exit status: 0 when the message was handled (whatever the job's outcome), 2 when the
worker itself crashed: the message then reappears and the next execution retries it.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from ..jobs.aws import fail_dead_letter, process_message
from ..jobs.azure import AzureQueueJobRunner
from ..settings import Settings

__all__ = ["handle_one", "main"]

_log = logging.getLogger("synthdata_service.worker")


def handle_one(service: Any) -> str:
    """Take and handle one message of the service's queue; return what happened."""
    from .aws_worker import job_id_of

    runner = service.runner
    if not isinstance(runner, AzureQueueJobRunner):
        raise ValueError(f"SYNTH_JOBS_URL must be an azqueue:// queue for this worker, not "
                         f"{service.settings.jobs_url!r}")
    message = runner.receive()
    if message is None:
        return "empty"
    try:
        job_id = job_id_of(message.content)
    except ValueError:
        _log.error("dropping message %s: it holds no job id", message.id)
        runner.acknowledge(message)
        return "dropped"
    if message.dequeue_count > runner.max_attempts:
        fail_dead_letter(service, job_id, receive_count=message.dequeue_count)
        runner.acknowledge(message)
        return "dead-lettered"
    outcome = process_message(service, job_id, receive_count=message.dequeue_count,
                              run=lambda job: runner.run_here(job, message))
    runner.acknowledge(message)
    _log.info("job %s: %s", job_id, outcome)
    return outcome


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    from ..core import Service

    service = Service(Settings.from_env(os.environ, allow_streaming=False), start_runner=False)
    try:
        handle_one(service)
    except Exception:  # noqa: BLE001 - the message reappears; the next execution retries
        _log.exception("the worker crashed; the message will be delivered again")
        return 2
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
