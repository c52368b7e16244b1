"""`file://` storage: a directory tree, atomic writes through rename.

A file system that fails (gone, read-only, full, I/O errors) is a 503 with Retry-After,
like any other backend outage; a missing object is `ObjectNotFound`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from ..errors import backend_unavailable
from .storage import ObjectNotFound, Storage, check_key

__all__ = ["FileStorage"]


class FileStorage(Storage):
    """Objects as files under one root directory (created 0700)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.url = self.root.as_uri()

    @classmethod
    def from_url(cls, url: str) -> FileStorage:
        parts = urlsplit(url)
        return cls(unquote(parts.netloc + parts.path) if parts.netloc else unquote(parts.path))

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    @contextmanager
    def _io(self, key: str | None = None) -> Iterator[None]:
        """File system failures as a 503; a missing object (when reading `key`) as
        `ObjectNotFound`."""
        try:
            yield
        except FileNotFoundError as exc:
            if key is not None and self.root.is_dir():
                raise ObjectNotFound(key) from None
            raise backend_unavailable("file storage", exc) from exc
        except OSError as exc:
            raise backend_unavailable("file storage", exc) from exc

    def put_bytes(self, key: str, data: bytes) -> None:
        self.put_stream(key, [data])

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        path = self._path(key)
        with self._io():
            if not self.root.is_dir():
                raise FileNotFoundError(str(self.root))
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        size = 0
        try:
            with self._io(), os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            with self._io():
                os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        with self._io(key):
            return path.read_bytes()

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        with self._io(key):
            return open(path, "rb")  # noqa: SIM115 - the caller closes it

    def exists(self, key: str) -> bool:
        path = self._path(key)
        with self._io():
            return path.is_file()

    def size(self, key: str) -> int:
        path = self._path(key)
        with self._io(key):
            return path.stat().st_size

    def delete(self, key: str) -> None:
        path = self._path(key)
        with self._io():
            path.unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        base = self._path(prefix)
        with self._io():
            if not base.is_dir():
                return 0
            count = 0
            for path in sorted(base.rglob("*"), reverse=True):
                if path.is_file():
                    path.unlink()
                    count += 1
                elif path.is_dir():
                    path.rmdir()
            base.rmdir()
        return count

    def list_keys(self, prefix: str = "") -> list[str]:
        base = self._path(prefix) if prefix else self.root
        with self._io():
            if not base.is_dir():
                return []
            return sorted(
                path.relative_to(self.root).as_posix()
                for path in base.rglob("*")
                if path.is_file() and not path.name.startswith(".tmp-")
            )

    def check(self) -> None:
        probe = self.root / ".readyz"
        with self._io():
            probe.write_bytes(b"ok")
            probe.unlink()
