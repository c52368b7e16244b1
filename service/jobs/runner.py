"""The job runner interface. A runner only decides *where* a job runs; *what* it does is
`execute(job_id)`, which reads everything it needs from the metadata store. So an SQS
queue feeding ECS tasks, a Cloud Run Job or a Kubernetes Job is a new runner module
registered by scheme (`synthdata_service.backends.registry.register_job_runner`), and its worker
process calls `synthdata_service.jobs.worker.run_job(job_id)`."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

__all__ = ["Execute", "JobRunner", "dispatch_failed", "dispatch_refused", "failure_reason"]

Execute = Callable[[str], None]


def failure_reason(exc: BaseException) -> str:
    """`Type: message` of an exception, short enough for a job record."""
    text = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {text}"[:400]


def dispatch_refused(where: str, exc: BaseException, *, backend: str) -> Exception:
    """What every runner's `submit` raises when it cannot hand a job on while the request
    that made the job waits: the request undoes the job and answers 503 with Retry-After
    (nothing was started), the same on every cloud."""
    from ..errors import BackendUnavailable

    return BackendUnavailable(f"the job could not be handed to {where} "
                              f"({failure_reason(exc)}); nothing was started, retry",
                              backend=backend)


def dispatch_failed(store: Any, job_id: str, where: str, exc: BaseException) -> None:
    """A job its runner could not hand on later, with no request waiting (a job that
    waited for a worker slot, or one found queued after a restart): failed, resumable with
    a retry, saying why."""
    from .._util import utcnow_iso
    from ..backends.metadata import JobRecord

    store.update(JobRecord, job_id, {
        "status": "failed", "finished_at": utcnow_iso(), "message": "could not be dispatched",
        "error": {"code": "job_dispatch_failed", "resumable": True,
                  "message": f"the job could not be handed to {where} ({failure_reason(exc)})"
                             f"; POST /v1/jobs/{job_id}/retry to try again"}},
        expect={"status": "queued"})


class JobRunner(abc.ABC):
    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str, *, execute: Execute, heartbeat: Callable[[set[str]], None]
                 | None = None, heartbeat_seconds: float = 30.0,
                 store: Any = None) -> JobRunner:
        """`store` is the service's metadata store, for runners that route jobs by their
        records (the SQS/ECS runner estimates run time from the model and dataset)."""

    @abc.abstractmethod
    def submit(self, job_id: str) -> None:
        """Start the job eventually; must return quickly (unless the runner is synchronous)."""

    @abc.abstractmethod
    def active(self) -> set[str]:
        """Ids of jobs this process is running now."""

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs here (tests, shutdown); True if idle."""
        return True

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Stop accepting jobs; running ones are left to finish or be recovered."""
