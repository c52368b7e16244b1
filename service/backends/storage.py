"""The object storage interface: datasets, fitted models, reports and sample files.

Keys are `/`-separated relative paths the service builds itself (never from caller input
beyond validated ids). Implementations: `file://` here; `s3://`, `gs://`, `az://` arrive
with their clouds as new modules registered in `synthdata_service.backends.registry`.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

__all__ = ["ObjectNotFound", "Storage", "check_key"]

_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class ObjectNotFound(KeyError):
    """The key names no stored object."""


def check_key(key: str) -> str:
    """Refuse keys that could escape the store (`..`, absolute paths, odd characters)."""
    if not _KEY_RE.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"invalid storage key {key!r}")
    return key


class Storage(abc.ABC):
    """Blobs by key. Writes are atomic: a reader sees the whole object or none."""

    url: str

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str) -> Storage: ...

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        """Write the chunks as one object (bounded memory); return its size in bytes."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """A readable binary file object; the caller closes it."""

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        with self.open_read(key) as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def size(self, key: str) -> int: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object; a missing key is not an error."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix/`; return how many."""

    @abc.abstractmethod
    def list_keys(self, prefix: str = "") -> list[str]: ...

    def signed_url(self, key: str, expires_in: int, *, filename: str | None = None) -> str | None:
        """A provider-signed download URL (S3/GCS/Azure presigning), or None if the
        backend has none; the service then signs its own `/v1/downloads` link."""
        return None

    @abc.abstractmethod
    def check(self) -> None:
        """Raise if the store cannot be reached or written (readiness)."""
