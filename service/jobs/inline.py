"""`inline://`: jobs run on threads in the service process.

`inline://?workers=2` sets the pool size (default 1: training is CPU-bound);
`inline://?sync=1` runs each job inside the request that submits it (useful where the
process is frozen between requests, e.g. Lambda without a queue). A heartbeat thread
stamps running jobs so a restart or crash is detected as an interrupted job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, urlsplit

from .runner import Execute, JobRunner

__all__ = ["InlineJobRunner"]

_log = logging.getLogger("synthdata_service.jobs")


class InlineJobRunner(JobRunner):
    def __init__(self, execute: Execute, *, workers: int = 1, synchronous: bool = False,
                 heartbeat: Callable[[set[str]], None] | None = None,
                 heartbeat_seconds: float = 30.0) -> None:
        self._execute = execute
        self._synchronous = synchronous
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="synth-job")
        self._active: set[str] = set()
        self._pending = 0
        self._lock = threading.Condition()
        self._closed = threading.Event()
        self._heartbeat = heartbeat
        if heartbeat is not None:
            thread = threading.Thread(target=self._beat, args=(heartbeat_seconds,),
                                      name="synth-heartbeat", daemon=True)
            thread.start()

    @classmethod
    def from_url(cls, url: str, *, execute: Execute, heartbeat=None,
                 heartbeat_seconds: float = 30.0, store=None) -> InlineJobRunner:
        """`store` is accepted for the interface's sake: in-process jobs need no routing."""
        query = dict(parse_qsl(urlsplit(url).query))
        return cls(execute, workers=max(1, int(query.get("workers", 1))),
                   synchronous=query.get("sync", "0") in ("1", "true", "yes"),
                   heartbeat=heartbeat, heartbeat_seconds=heartbeat_seconds)

    def _run(self, job_id: str) -> None:
        with self._lock:
            self._active.add(job_id)
        try:
            self._execute(job_id)
        except Exception:  # noqa: BLE001 - execute records failures; this is a last resort
            _log.exception("job %s crashed outside its handler", job_id)
        finally:
            with self._lock:
                self._active.discard(job_id)
                self._pending -= 1
                self._lock.notify_all()

    def submit(self, job_id: str) -> None:
        with self._lock:
            self._pending += 1
        if self._synchronous:
            self._run(job_id)
        else:
            self._pool.submit(self._run, job_id)

    def active(self) -> set[str]:
        with self._lock:
            return set(self._active)

    def wait_idle(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending > 0:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def _beat(self, every: float) -> None:
        while not self._closed.wait(every):
            active = self.active()
            if active and self._heartbeat is not None:
                try:
                    self._heartbeat(active)
                except Exception:  # noqa: BLE001 - a missed beat is retried next period
                    _log.warning("job heartbeat failed", exc_info=True)

    def shutdown(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
