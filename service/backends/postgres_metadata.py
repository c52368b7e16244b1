"""`postgresql://user@host:port/db?schema=name`: metadata in PostgreSQL (psycopg 3).

`schema` (optional) selects a schema, created if missing: tests use a unique one per run,
deployments may share a database between platforms.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .sql_metadata import SqlMetadataStore

__all__ = ["PostgresMetadataStore"]

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MIGRATION_LOCK_ID = 0x5E7D_A7A0


class PostgresMetadataStore(SqlMetadataStore):
    """PostgreSQL with one autocommit connection; migrations under an advisory lock."""

    placeholder = "%s"

    def __init__(self, dsn: str, schema: str | None = None) -> None:
        super().__init__()
        if schema is not None and not _SCHEMA_RE.match(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        self.dsn = dsn
        self.schema = schema
        self.url = dsn

    @classmethod
    def from_url(cls, url: str) -> PostgresMetadataStore:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", None)
        scheme = "postgresql"
        dsn = urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), ""))
        return cls(dsn, schema=schema)

    def _connect(self) -> Any:
        import psycopg

        conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        if self.schema:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def _is_duplicate(self, exc: Exception) -> bool:
        import psycopg

        return isinstance(exc, psycopg.errors.UniqueViolation)

    def _is_disconnect(self, exc: Exception) -> bool:
        import psycopg

        return isinstance(exc, psycopg.OperationalError) or (
            self._conn is not None and self._conn.closed
        )

    @contextmanager
    def _migration_lock(self, cursor: Any) -> Iterator[None]:
        # One transaction: replicas starting together apply each migration exactly once.
        cursor.execute("BEGIN")
        try:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_ID,))
            yield
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def drop_schema(self) -> None:
        """Drop this store's schema and everything in it (tests clean up with it)."""
        if not self.schema:
            raise ValueError("refusing to drop without an explicit schema")
        self._execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        self.close()
