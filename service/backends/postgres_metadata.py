"""`postgresql://user@host:port/db?schema=name`: metadata in PostgreSQL (psycopg 3).

Connections come from a `psycopg_pool.ConnectionPool` (the psycopg maintainers' pool):
each statement borrows one, so replicas' threads do not queue behind one connection, and
every connection is health-checked when it is handed out, so a connection the server or
the network dropped is replaced before a statement is sent on it. A statement whose
connection breaks mid-flight is not replayed if it writes (its outcome is unknown:
`OutcomeUnknown`, a 503); reads are retried once. A database that cannot be reached is
a 503 with Retry-After once `connect_timeout` / `pool_timeout` pass.

URL parameters, all optional: `schema` (created if missing: tests use a unique one per
run, deployments may share a database between platforms), `pool_min` (1), `pool_max`
(10), `pool_timeout` (seconds to wait for a connection, 5), `connect_timeout` (3),
`reconnect_timeout` (how long the pool keeps retrying one lost connection with backoff
before starting afresh, 10: short, so service resumes soon after an outage ends); any
other parameter is passed to libpq (`sslmode=require`, ...).
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
    """PostgreSQL through a health-checked connection pool; migrations under an advisory
    lock."""

    placeholder = "%s"
    backend_name = "PostgreSQL"

    def __init__(self, dsn: str, schema: str | None = None, *, pool_min: int = 1,
                 pool_max: int = 10, pool_timeout: float = 5.0,
                 connect_timeout: float = 3.0, reconnect_timeout: float = 10.0) -> None:
        super().__init__()
        if schema is not None and not _SCHEMA_RE.match(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        self.dsn = dsn
        self.schema = schema
        self.url = dsn
        self.pool_timeout = pool_timeout
        from psycopg_pool import ConnectionPool

        self._pool = ConnectionPool(
            dsn, min_size=pool_min, max_size=max(pool_min, pool_max), open=False,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout))},
            configure=self._configure, check=ConnectionPool.check_connection,
            timeout=pool_timeout, reconnect_timeout=reconnect_timeout, name="synth-metadata")
        self._pool.open(wait=False)
        self._schema_ready = schema is None

    @classmethod
    def from_url(cls, url: str) -> PostgresMetadataStore:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", None)
        options = {}
        for name, kind in (("pool_min", int), ("pool_max", int), ("pool_timeout", float),
                           ("connect_timeout", float), ("reconnect_timeout", float)):
            if name in query:
                options[name] = kind(query.pop(name))
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), ""))
        return cls(dsn, schema=schema, **options)

    def _configure(self, conn: Any) -> None:
        if self.schema:
            if not self._schema_ready:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                self._schema_ready = True
            conn.execute(f'SET search_path TO "{self.schema}"')

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        with self._pool.connection(timeout=self.pool_timeout) as conn:
            yield conn

    def _discard(self, conn: Any) -> None:
        """A broken connection goes back closed; the pool replaces it."""
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - already broken
            pass

    def _is_duplicate(self, exc: Exception) -> bool:
        import psycopg

        return isinstance(exc, psycopg.errors.UniqueViolation)

    def _is_disconnect(self, exc: Exception) -> bool:
        import psycopg

        return isinstance(exc, psycopg.OperationalError) and not isinstance(
            exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable)

    def _is_unavailable(self, exc: Exception) -> bool:
        from psycopg_pool import PoolTimeout, TooManyRequests

        return isinstance(exc, PoolTimeout | TooManyRequests)

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

    def close(self) -> None:
        self._pool.close()

    def drop_schema(self) -> None:
        """Drop this store's schema and everything in it (tests clean up with it)."""
        if not self.schema:
            raise ValueError("refusing to drop without an explicit schema")
        self._run(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE', write=True)
        self.close()
