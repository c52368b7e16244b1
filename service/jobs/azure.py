"""`azqueue://`: jobs on Azure, outside the API request, through a Storage queue.

    azqueue://<account>/<queue>?max_attempts=3&visibility_seconds=300

The service sends each job id as one message; a Container Apps Job (same image) is
started by its KEDA `azure-queue` scale rule for every message and runs
`python -m synthdata_service.handlers.azure_worker`, which takes one message, runs its
job and deletes the message. While the job runs, the worker keeps the message invisible
(renewing its visibility timeout) and stamps the job's heartbeat; if the worker dies, the
message reappears after the visibility timeout and the next execution takes the job
back (the same rules as the SQS worker: `synthdata_service.jobs.aws.process_message`).
Storage queues have no dead-letter queue, so the worker itself ends a job whose message
was delivered more than `max_attempts` times as `failed`, with the reason.

Credentials: the runtime identity (`DefaultAzureCredential`, needs `Storage Queue Data
Message Sender` to submit, `... Processor` to work); `AZURE_STORAGE_CONNECTION_STRING`
points everything at Azurite instead.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..backends.azure_storage import CONNECTION_STRING, storage_credential
from ..backends.metadata import JobRecord, MetadataStore
from .runner import Execute, JobRunner, dispatch_refused

__all__ = ["AzureQueueJobRunner", "QueueMessage"]

_log = logging.getLogger("synthdata_service.jobs.azure")

DEFAULT_VISIBILITY_SECONDS = 300


class QueueMessage:
    """One received message: its job id, delivery count, and the receipt to renew it."""

    def __init__(self, message: Any) -> None:
        self.id = message.id
        self.pop_receipt = message.pop_receipt
        self.dequeue_count = int(message.dequeue_count or 1)
        self.content = message.content or ""


class AzureQueueJobRunner(JobRunner):
    """Sends job ids to a Storage queue; `receive` / `run_here` serve the worker."""

    def __init__(self, account: str, queue: str, *, execute: Execute,
                 max_attempts: int = 3, visibility_seconds: int = DEFAULT_VISIBILITY_SECONDS,
                 store: MetadataStore | None = None,
                 heartbeat: Callable[[set[str]], None] | None = None,
                 heartbeat_seconds: float = 30.0, account_url: str | None = None,
                 credential: Any = None, connection_string: str | None = None) -> None:
        if not account or not queue:
            raise ValueError("SYNTH_JOBS_URL must be azqueue://<account>/<queue>"
                             "[?max_attempts=3&visibility_seconds=300]")
        if max_attempts < 1 or not 30 <= visibility_seconds <= 7 * 24 * 3600:
            raise ValueError("azqueue://: max_attempts must be >= 1 and visibility_seconds "
                             "30-604800")
        from azure.storage.queue import QueueClient

        connection_string = connection_string or os.environ.get(CONNECTION_STRING)
        credential = storage_credential(connection_string, credential)
        if connection_string:
            client = QueueClient.from_connection_string(connection_string, queue,
                                                        credential=credential)
        else:
            client = QueueClient(account_url or f"https://{account}.queue.core.windows.net",
                                 queue, credential=credential)
        self.client = client
        self.account = account
        self.queue = queue
        self.max_attempts = max_attempts
        self.visibility_seconds = visibility_seconds
        self.url = (f"azqueue://{account}/{queue}?max_attempts={max_attempts}"
                    f"&visibility_seconds={visibility_seconds}")
        self._execute = execute
        self._store = store
        self._heartbeat = heartbeat
        self._heartbeat_seconds = heartbeat_seconds
        self._active: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, execute: Execute, heartbeat=None,
                 heartbeat_seconds: float = 30.0, store: MetadataStore | None = None,
                 **kwargs: Any) -> AzureQueueJobRunner:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        unknown = sorted(set(query) - {"max_attempts", "visibility_seconds"})
        if unknown:
            raise ValueError(f"azqueue://: unknown parameter(s) {unknown}; use max_attempts "
                             "and visibility_seconds")
        return cls(parts.netloc, parts.path.strip("/"), execute=execute,
                   max_attempts=int(query.get("max_attempts", 3)),
                   visibility_seconds=int(query.get("visibility_seconds",
                                                    DEFAULT_VISIBILITY_SECONDS)),
                   store=store, heartbeat=heartbeat, heartbeat_seconds=heartbeat_seconds,
                   **kwargs)

    @property
    def store(self) -> MetadataStore | None:
        return self._store

    def submit(self, job_id: str) -> None:
        try:
            self.send(job_id)
        except Exception as exc:
            _log.exception("could not send job %s to the queue", job_id)
            raise dispatch_refused("the Storage queue", exc, backend="Azure Queue") from exc
        if self._store is not None:
            self._store.update(JobRecord, job_id,
                               {"message": "queued for a Container Apps job execution"},
                               expect={"status": "queued"})

    def send(self, job_id: str) -> str:
        return self.client.send_message(json.dumps({"job_id": job_id})).id

    # The worker side.

    def receive(self) -> QueueMessage | None:
        """Take the next message out of sight for `visibility_seconds`, or None."""
        for message in self.client.receive_messages(
                messages_per_page=1, visibility_timeout=self.visibility_seconds,
                max_messages=1):
            return QueueMessage(message)
        return None

    def renew(self, message: QueueMessage) -> None:
        """Keep `message` invisible for another `visibility_seconds` (a new receipt)."""
        updated = self.client.update_message(message.id, message.pop_receipt,
                                             visibility_timeout=self.visibility_seconds)
        message.pop_receipt = updated.pop_receipt

    def acknowledge(self, message: QueueMessage) -> None:
        """Remove a handled message for good."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.client.delete_message(message.id, message.pop_receipt)
        except ResourceNotFoundError:
            pass  # its visibility ran out and another worker took it: theirs now

    def run_here(self, job_id: str, message: QueueMessage | None = None) -> None:
        """Run the job in this process, stamping its heartbeat and keeping its message
        invisible until it ends."""
        with self._lock:
            self._active.add(job_id)
        stop = threading.Event()
        keeper = threading.Thread(target=self._keep, args=(job_id, message, stop),
                                  daemon=True, name="synth-heartbeat")
        keeper.start()
        try:
            self._execute(job_id)
        finally:
            stop.set()
            keeper.join(timeout=5)
            with self._lock:
                self._active.discard(job_id)

    def _keep(self, job_id: str, message: QueueMessage | None, stop: threading.Event) -> None:
        period = min(self._heartbeat_seconds, self.visibility_seconds / 3)
        while not stop.wait(period):
            try:
                if self._heartbeat is not None:
                    self._heartbeat({job_id})
                if message is not None:
                    self.renew(message)
            except Exception:  # noqa: BLE001 - a missed beat is retried next period
                _log.warning("heartbeat for job %s failed", job_id, exc_info=True)

    def active(self) -> set[str]:
        with self._lock:
            return set(self._active)
