"""The job runner interface. A runner only decides *where* a job runs; *what* it does is
`execute(job_id)`, which reads everything it needs from the metadata store. So an SQS
queue feeding ECS tasks, a Cloud Run Job or a Kubernetes Job is a new runner module
registered by scheme (`synthdata_service.backends.registry.register_job_runner`), and its worker
process calls `synthdata_service.jobs.worker.run_job(job_id)`."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

__all__ = ["Execute", "JobRunner"]

Execute = Callable[[str], None]


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
