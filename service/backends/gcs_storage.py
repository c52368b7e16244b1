"""`gs://bucket/prefix` storage: Google Cloud Storage through `google-cloud-storage`.

Credentials and project come from Application Default Credentials (the function's or
service's runtime service account on GCP). With `STORAGE_EMULATOR_HOST` set, the client
talks to that emulator with anonymous credentials instead.

Every write is one object that appears whole or not at all: `put_bytes` is a single
upload; `put_stream` is a resumable upload sent in `chunk_size` pieces (bounded memory)
and finalized only when the chunks are exhausted; a failing producer cancels the upload
session, so no partial object is ever visible. Reads through `open_read` are pinned to
the generation that existed when the read began.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlsplit

from ..errors import BackendUnavailable, backend_unavailable
from .storage import ObjectNotFound, Storage, check_key

__all__ = ["GcsStorage"]

_log = logging.getLogger("synthdata_service.backends.gcs")

#: Resumable upload piece size: a multiple of 256 KiB, as the API requires.
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
_MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600  # V4 signatures cannot outlive a week


@contextmanager
def _gcs_errors() -> Iterator[None]:
    """An unreachable or failing Cloud Storage is a 503 with Retry-After."""
    import requests
    from google.api_core import exceptions as api
    from google.auth.exceptions import TransportError

    try:
        yield
    except BackendUnavailable:
        raise
    except (requests.ConnectionError, requests.Timeout, TransportError, api.RetryError,
            api.ServiceUnavailable, api.InternalServerError, api.TooManyRequests,
            api.GatewayTimeout, api.BadGateway, api.DeadlineExceeded, ConnectionError,
            TimeoutError) as exc:
        raise backend_unavailable("Cloud Storage", exc) from exc


def _abandon(writer: Any, key: str) -> None:
    """Cancel a failed streamed write so that nothing is ever stored under `key`.

    BlobWriter is an io object: when the garbage collector finds it unclosed it calls
    `close()`, which *finalizes* the upload with whatever was buffered. So if cancelling
    the resumable session fails (the outage that failed the write, say), the writer's
    buffer is closed anyway: an abandoned partial object is never completed later."""
    try:
        writer.terminate()
    except Exception:  # noqa: BLE001 - the session expires unfinished on its own (7 days)
        _log.warning("could not cancel the resumable upload of %s; it expires unfinished",
                     key)
    finally:
        writer._buffer.close()  # `closed` is now true: the finalizer leaves it alone


class GcsStorage(Storage):
    """Objects under `gs://<bucket>/<prefix>/`; keys are the service's relative paths.
    `?timeout=` (seconds per HTTP call, default 30) and `?retry_seconds=` (how long
    transient failures are retried, default 20) bound how long an outage holds a request."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, timeout: float = 30.0,
                 retry_seconds: float = 20.0) -> None:
        if not bucket:
            raise ValueError("gs:// storage needs a bucket: gs://<bucket>[/<prefix>]")
        if prefix:
            check_key(prefix)
        if client is None:
            from google.cloud import storage

            client = storage.Client()
        self.client = client
        self.bucket = client.bucket(bucket)
        self.prefix = prefix
        self.chunk_size = chunk_size
        self.url = f"gs://{bucket}/{prefix}" if prefix else f"gs://{bucket}"
        self._signing_lock = threading.Lock()
        self._signing_failed = False
        from google.cloud.storage.retry import DEFAULT_RETRY

        self._call = {"timeout": timeout, "retry": DEFAULT_RETRY.with_timeout(retry_seconds)}

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> GcsStorage:
        parts = urlsplit(url)
        for name, value in parse_qsl(parts.query):
            if name in ("timeout", "retry_seconds"):
                kwargs.setdefault(name, float(value))
        return cls(parts.netloc, parts.path.strip("/"), **kwargs)

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key(self, name: str) -> str:
        return name[len(self.prefix) + 1:] if self.prefix else name

    def put_bytes(self, key: str, data: bytes) -> None:
        with _gcs_errors():
            self.bucket.blob(self._name(key)).upload_from_string(
                data, content_type="application/octet-stream", **self._call)

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        blob = self.bucket.blob(self._name(key), chunk_size=self.chunk_size)
        size = 0
        with _gcs_errors():
            # The service's retry deadline (`?retry_seconds=`), not the library's 120 s: an
            # outage mid-upload is a prompt 503, not a request held for two minutes.
            writer = blob.open("wb", content_type="application/octet-stream",
                               retry=self._call["retry"], timeout=self._call["timeout"])
            try:
                for chunk in chunks:
                    writer.write(chunk)
                    size += len(chunk)
                writer.close()  # only a producer that ran to its end finalizes the object
            except BaseException:
                _abandon(writer, key)
                raise
        return size

    def get_bytes(self, key: str) -> bytes:
        from google.api_core.exceptions import NotFound

        try:
            with _gcs_errors():
                return self.bucket.blob(self._name(key)).download_as_bytes(**self._call)
        except NotFound:
            raise ObjectNotFound(key) from None

    def open_read(self, key: str) -> BinaryIO:
        with _gcs_errors():
            blob = self.bucket.get_blob(self._name(key), **self._call)
            if blob is None:
                raise ObjectNotFound(key)
            return blob.open("rb", chunk_size=self.chunk_size,
                             if_generation_match=blob.generation)

    def exists(self, key: str) -> bool:
        with _gcs_errors():
            return self.bucket.blob(self._name(key)).exists(**self._call)

    def size(self, key: str) -> int:
        with _gcs_errors():
            blob = self.bucket.get_blob(self._name(key), **self._call)
        if blob is None:
            raise ObjectNotFound(key)
        return int(blob.size)

    def delete(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        try:
            with _gcs_errors():
                self.bucket.blob(self._name(key)).delete(**self._call)
        except NotFound:
            pass

    def delete_prefix(self, prefix: str) -> int:
        from google.api_core.exceptions import NotFound

        count = 0
        with _gcs_errors():
            for blob in self.client.list_blobs(self.bucket, prefix=self._name(prefix) + "/",
                                               **self._call):
                try:
                    blob.delete(**self._call)
                    count += 1
                except NotFound:
                    pass  # deleted concurrently: gone either way
        return count

    def list_keys(self, prefix: str = "") -> list[str]:
        if prefix:
            search = self._name(prefix) + "/"
        else:
            search = f"{self.prefix}/" if self.prefix else None
        with _gcs_errors():
            return sorted(self._key(blob.name) for blob in
                          self.client.list_blobs(self.bucket, prefix=search, **self._call))

    def signed_url(self, key: str, expires_in: int, *, filename: str | None = None) -> str | None:
        """A V4 signed GET URL, or None when these credentials cannot sign.

        Service-account keys sign locally. The runtime identity on Cloud Functions / Cloud
        Run (metadata-server credentials) signs through the IAM `signBlob` API, which needs
        `iam.serviceAccounts.signBlob` on itself (roles/iam.serviceAccountTokenCreator);
        if that call fails once, signing is turned off for this process and the service
        signs its own `/v1/downloads` links instead. Anonymous (emulator) credentials
        never sign.
        """
        if self._signing_failed:
            return None
        credentials = self.client._credentials
        options: dict[str, Any] = {
            "version": "v4",
            "method": "GET",
            "expiration": timedelta(seconds=max(1, min(expires_in, _MAX_SIGNED_URL_SECONDS))),
        }
        if filename:
            safe = filename.replace('"', "").replace("\\", "")
            options["response_disposition"] = f'attachment; filename="{safe}"'
        try:
            from google.auth import credentials as auth_credentials

            if isinstance(credentials, auth_credentials.AnonymousCredentials):
                return None
            if not isinstance(credentials, auth_credentials.Signing):
                email = getattr(credentials, "service_account_email", None)
                if not email:
                    return None
                with self._signing_lock:
                    if not credentials.valid:
                        from google.auth.transport.requests import Request

                        credentials.refresh(Request())
                    if email == "default":  # metadata credentials learn their email on refresh
                        email = credentials.service_account_email
                options.update(service_account_email=email, access_token=credentials.token)
            return self.bucket.blob(self._name(key)).generate_signed_url(**options)
        except Exception as exc:  # noqa: BLE001 - fall back to the service's own links
            _log.warning("GCS URL signing unavailable (%s); using service download links", exc)
            self._signing_failed = True
            return None

    def check(self) -> None:
        from google.api_core.exceptions import GoogleAPIError

        probe = self._name(".readyz")
        try:
            with _gcs_errors():
                blob = self.bucket.blob(probe)
                blob.upload_from_string(b"ok", **self._call)
                blob.delete(**self._call)
        except GoogleAPIError as exc:
            raise BackendUnavailable(f"cannot write to {self.url}: {exc}",
                                     code="storage_unavailable",
                                     backend="Cloud Storage") from exc
