"""`sqlite:///path/db.sqlite3[?timeout=30]`: the embedded default metadata store.

The file (and SQLite's `-wal` / `-shm` files beside it, which inherit its mode) is
created readable by its owner only: it holds dataset profiles with per-column top values.
`timeout` is how long a statement waits for a lock another process holds before the
request is answered 503 with Retry-After (default 30 s).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .sql_metadata import SqlMetadataStore

__all__ = ["SqliteMetadataStore"]

_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error",
                "database or disk is full", "readonly database", "attempt to write a readonly")


class SqliteMetadataStore(SqlMetadataStore):
    """SQLite in WAL mode; several processes (service + `synthctl keys`) may share the file."""

    backend_name = "SQLite"

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        super().__init__()
        self.path = Path(path) if str(path) != ":memory:" else path
        self.timeout = float(timeout)
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.url = f"sqlite:///{self.path}"

    @classmethod
    def from_url(cls, url: str) -> SqliteMetadataStore:
        parts = urlsplit(url)
        path = unquote(parts.netloc + parts.path)
        options = dict(parse_qsl(parts.query))
        timeout = float(options.get("timeout", 30))
        if path in ("", "/:memory:", ":memory:"):
            return cls(":memory:", timeout=timeout)
        return cls(path, timeout=timeout)

    def _connect(self) -> Any:
        if isinstance(self.path, Path):
            # Create the file 0600 before SQLite does (it would use the umask), and
            # tighten one an older version created. Never open and close an existing
            # database file here: closing any descriptor of a file drops every POSIX lock
            # this process holds on it, including those of its other SQLite connections;
            # another process then takes itself for the last one and deletes the WAL
            # under them, and they read a frozen snapshot from then on.
            try:
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                if self.path.stat().st_mode & 0o077:
                    self.path.chmod(0o600)
        conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=self.timeout,
                               isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _is_duplicate(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def _is_unavailable(self, exc: Exception) -> bool:
        if isinstance(exc, OSError):
            return True
        return isinstance(exc, sqlite3.OperationalError) and \
            str(exc).lower().startswith(_UNAVAILABLE)

    @contextmanager
    def _migration_lock(self, cursor: Any) -> Iterator[None]:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
