"""`sqlite:///path/db.sqlite3`: the embedded default metadata store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .sql_metadata import SqlMetadataStore

__all__ = ["SqliteMetadataStore"]


class SqliteMetadataStore(SqlMetadataStore):
    """SQLite in WAL mode; several processes (service + `synthctl keys`) may share the file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path) if str(path) != ":memory:" else path
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.url = f"sqlite:///{self.path}"

    @classmethod
    def from_url(cls, url: str) -> SqliteMetadataStore:
        parts = urlsplit(url)
        path = unquote(parts.netloc + parts.path)
        if path in ("", "/:memory:", ":memory:"):
            return cls(":memory:")
        return cls(path)

    def _connect(self) -> Any:
        conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30,
                               isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _is_duplicate(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    @contextmanager
    def _migration_lock(self, cursor: Any) -> Iterator[None]:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
