"""`az://<account>/<container>/<prefix>` storage: Azure Blob Storage block blobs.

Credentials: the runtime identity through `azure-identity`'s `DefaultAzureCredential`
(on Container Apps and Functions the user-assigned managed identity named by
`AZURE_CLIENT_ID`); the platform's storage account has shared-key access turned off, so
nothing else would be accepted. `AZURE_STORAGE_CONNECTION_STRING` replaces the endpoint
(and, when it holds an `AccountKey`, the credential) - that is how the service talks to
Azurite, the local emulator.

Every write is one object that appears whole or not at all: `put_bytes` is one upload;
`put_stream` stages blocks of `chunk_size` (bounded memory) and commits the block list
only when the chunks are exhausted, so a failing producer leaves only uncommitted blocks,
which are never visible and which the service garbage-collects after 7 days. Reads
through `open_read` are pinned to the ETag the object had when the read began.

Download links (`signed_url`) are user-delegation SAS URLs: signed with a key that Entra
ID issues to the identity (`Storage Blob Data Contributor` includes the right to ask for
it), valid for at most 7 days, read-only for one blob. With an account key (Azurite) the
link is a service SAS signed with that key.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import uuid
from base64 import b64encode
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

from ..errors import ServiceUnavailable
from .storage import ObjectNotFound, Storage, check_key

__all__ = ["AzureBlobStorage", "CONNECTION_STRING", "storage_credential"]

_log = logging.getLogger("synthdata_service.backends.azure_storage")

CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"
"""Emulator / endpoint override (Azure SDK convention); unset on Azure."""
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
_MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600  # user delegation keys live at most 7 days
_DELEGATION_KEY_SECONDS = 24 * 3600


def storage_credential(connection_string: str | None, credential: Any) -> Any:
    """The credential for a Storage client: `credential` if given; none when the connection
    string carries its own key or SAS; else the runtime identity (`DefaultAzureCredential`:
    the managed identity named by `AZURE_CLIENT_ID` on Azure)."""
    if credential is not None:
        return credential
    if connection_string and ("AccountKey=" in connection_string
                              or "SharedAccessSignature=" in connection_string):
        return None
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class AzureBlobStorage(Storage):
    """Block blobs under `<container>/<prefix>/` of one storage account."""

    def __init__(self, account: str, container: str, prefix: str = "", *,
                 account_url: str | None = None, credential: Any = None,
                 connection_string: str | None = None,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, **client_options: Any) -> None:
        if not account or not container:
            raise ValueError("az:// storage needs an account and a container: "
                             "az://<account>/<container>[/<prefix>]")
        if prefix:
            check_key(prefix)
        from azure.storage.blob import BlobServiceClient

        connection_string = connection_string or os.environ.get(CONNECTION_STRING)
        credential = storage_credential(connection_string, credential)
        if connection_string:
            service = BlobServiceClient.from_connection_string(
                connection_string, credential=credential, **client_options)
        else:
            service = BlobServiceClient(
                account_url or f"https://{account}.blob.core.windows.net", credential=credential,
                **client_options)
        self.service = service
        self.container = service.get_container_client(container)
        self.account = account
        self.container_name = container
        self.prefix = prefix
        self.chunk_size = chunk_size
        self.url = f"az://{account}/{container}/{prefix}" if prefix else \
            f"az://{account}/{container}"
        self._delegation_lock = threading.Lock()
        self._delegation: tuple[Any, datetime] | None = None

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> AzureBlobStorage:
        parts = urlsplit(url)
        container, _, prefix = parts.path.strip("/").partition("/")
        return cls(parts.netloc, container, prefix.strip("/"), **kwargs)

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key(self, name: str) -> str:
        return name[len(self.prefix) + 1:] if self.prefix else name

    def _blob(self, key: str) -> Any:
        return self.container.get_blob_client(self._name(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._blob(key).upload_blob(data, overwrite=True, max_concurrency=1)

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        from azure.storage.blob import BlobBlock

        blob = self._blob(key)
        blocks: list[BlobBlock] = []
        buffer = bytearray()
        size = 0

        def stage(data: bytes) -> None:
            # Block ids must be equal-length base64 strings within one blob.
            block_id = b64encode(f"{len(blocks):08d}-{uuid.uuid4().hex}".encode()).decode()
            blob.stage_block(block_id, data)
            blocks.append(BlobBlock(block_id=block_id))

        for chunk in chunks:
            buffer += chunk
            size += len(chunk)
            while len(buffer) >= self.chunk_size:
                stage(bytes(buffer[:self.chunk_size]))
                del buffer[:self.chunk_size]
        if buffer or not blocks:
            stage(bytes(buffer))
        blob.commit_block_list(blocks)  # the object appears here, whole
        return size

    def get_bytes(self, key: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._blob(key).download_blob(max_concurrency=1).readall()
        except ResourceNotFoundError:
            raise ObjectNotFound(key) from None

    def open_read(self, key: str) -> BinaryIO:
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._blob(key)
        try:
            properties = blob.get_blob_properties()
        except ResourceNotFoundError:
            raise ObjectNotFound(key) from None
        return io.BufferedReader(  # type: ignore[return-value]
            _BlobReader(blob, int(properties.size), properties.etag),
            buffer_size=self.chunk_size)

    def exists(self, key: str) -> bool:
        return bool(self._blob(key).exists())

    def size(self, key: str) -> int:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return int(self._blob(key).get_blob_properties().size)
        except ResourceNotFoundError:
            raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._blob(key).delete_blob(delete_snapshots="include")
        except ResourceNotFoundError:
            pass

    def delete_prefix(self, prefix: str) -> int:
        from azure.core.exceptions import ResourceNotFoundError

        count = 0
        for item in self.container.list_blobs(name_starts_with=self._name(prefix) + "/"):
            try:
                self.container.delete_blob(item.name, delete_snapshots="include")
                count += 1
            except ResourceNotFoundError:
                pass  # deleted concurrently: gone either way
        return count

    def list_keys(self, prefix: str = "") -> list[str]:
        if prefix:
            search = self._name(prefix) + "/"
        else:
            search = f"{self.prefix}/" if self.prefix else None
        return sorted(self._key(item.name)
                      for item in self.container.list_blobs(name_starts_with=search))

    def signed_url(self, key: str, expires_in: int, *, filename: str | None = None) -> str | None:
        """A read-only SAS URL for one blob: user-delegation SAS with Entra credentials, a
        service SAS with an account key (Azurite); None if neither can be had (the service
        then signs its own `/v1/downloads` link)."""
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        name = self._name(key)
        seconds = max(1, min(expires_in, _MAX_SIGNED_URL_SECONDS))
        now = datetime.now(UTC)
        options: dict[str, Any] = {
            "account_name": self.service.account_name,
            "container_name": self.container_name,
            "blob_name": name,
            "permission": BlobSasPermissions(read=True),
            "start": now - timedelta(minutes=5),  # clock skew
            "expiry": now + timedelta(seconds=seconds),
            "protocol": "https" if self.service.url.startswith("https") else "https,http",
        }
        if filename:
            safe = filename.replace('"', "").replace("\\", "")
            options["content_disposition"] = f'attachment; filename="{safe}"'
        account_key = getattr(self.service.credential, "account_key", None)
        try:
            if account_key:
                token = generate_blob_sas(account_key=account_key, **options)
            else:
                delegation = self._delegation_key(now, options["expiry"])
                if delegation is None:
                    return None
                token = generate_blob_sas(user_delegation_key=delegation, **options)
        except Exception as exc:  # noqa: BLE001 - fall back to the service's own links
            _log.warning("Azure SAS signing unavailable (%s); using service download links", exc)
            return None
        return f"{self.container.url}/{quote(name)}?{token}"

    def _delegation_key(self, now: datetime, expiry: datetime) -> Any:
        """A user delegation key valid until at least `expiry`, cached and renewed."""
        with self._delegation_lock:
            if self._delegation is None or self._delegation[1] < expiry:
                start = now - timedelta(minutes=5)
                until = now + timedelta(seconds=max(_DELEGATION_KEY_SECONDS,
                                                    (expiry - now).total_seconds() + 60))
                until = min(until, now + timedelta(seconds=_MAX_SIGNED_URL_SECONDS))
                key = self.service.get_user_delegation_key(start, until)
                self._delegation = (key, until)
            return self._delegation[0]

    def check(self) -> None:
        from azure.core.exceptions import AzureError

        probe = self._blob(".readyz")
        try:
            probe.upload_blob(b"ok", overwrite=True)
            probe.delete_blob()
        except AzureError as exc:
            raise ServiceUnavailable(f"cannot write to {self.url}: {exc}",
                                     code="storage_unavailable") from exc


class _BlobReader(io.RawIOBase):
    """A seekable raw reader over one blob version: each read is a ranged GET with
    `If-Match: <etag>`, so a blob replaced mid-read fails the read (never a mix of two
    versions). Wrapped in a `BufferedReader`, reads arrive in `chunk_size` ranges."""

    def __init__(self, blob: Any, size: int, etag: str) -> None:
        self._blob = blob
        self._size = size
        self._etag = etag
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        from azure.core import MatchConditions

        count = min(len(buffer), self._size - self._position)
        if count <= 0:
            return 0
        data = self._blob.download_blob(
            offset=self._position, length=count, etag=self._etag,
            match_condition=MatchConditions.IfNotModified, max_concurrency=1).readall()
        buffer[:len(data)] = data
        self._position += len(data)
        return len(data)
