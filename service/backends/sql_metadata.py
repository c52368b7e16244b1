"""A metadata store over SQL (SQLite and PostgreSQL share it): tables, migrations, CRUD.

Migrations are numbered lists of statements in a dialect both engines accept; applied ones
are recorded in `schema_migrations`. Backends differ only in connecting, the parameter
mark, locking during migration and which exception means "duplicate".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from ..errors import OutcomeUnknown, backend_unavailable
from .metadata import DuplicateRecord, MetadataStore, Record

__all__ = ["MIGRATIONS", "Result", "SqlMetadataStore"]

R = TypeVar("R", bound=Record)

MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, owner TEXT NOT NULL,
            salt TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT,
            revoked_at TEXT, last_used_at TEXT)""",
        """CREATE TABLE datasets (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, format TEXT NOT NULL,
            tables TEXT NOT NULL, n_rows BIGINT NOT NULL, n_columns BIGINT NOT NULL,
            size_bytes BIGINT NOT NULL, profile TEXT NOT NULL, created_at TEXT NOT NULL,
            created_by TEXT)""",
        "CREATE INDEX datasets_owner ON datasets (owner)",
        """CREATE TABLE models (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
            dataset_id TEXT NOT NULL, synthesizer TEXT NOT NULL, engine TEXT NOT NULL,
            active_version BIGINT, latest_version BIGINT NOT NULL, created_at TEXT NOT NULL,
            created_by TEXT)""",
        "CREATE INDEX models_owner ON models (owner)",
        "CREATE INDEX models_dataset ON models (dataset_id)",
        """CREATE TABLE model_versions (
            id TEXT PRIMARY KEY, model_id TEXT NOT NULL, version BIGINT NOT NULL,
            dataset_id TEXT NOT NULL, parameters TEXT NOT NULL, status TEXT NOT NULL,
            storage_key TEXT, integrity TEXT, size_bytes BIGINT NOT NULL,
            fit_seconds DOUBLE PRECISION, job_id TEXT, sdv_metadata TEXT NOT NULL,
            error TEXT, created_at TEXT NOT NULL, trained_at TEXT,
            UNIQUE (model_id, version))""",
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL,
            status TEXT NOT NULL, progress DOUBLE PRECISION NOT NULL, message TEXT NOT NULL,
            model_id TEXT, payload TEXT NOT NULL, result TEXT, error TEXT,
            cancel_requested INTEGER NOT NULL, attempts BIGINT NOT NULL,
            created_at TEXT NOT NULL, created_by TEXT, started_at TEXT, finished_at TEXT,
            heartbeat_at TEXT)""",
        "CREATE INDEX jobs_status ON jobs (status)",
        "CREATE INDEX jobs_owner ON jobs (owner)",
        """CREATE TABLE artifacts (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL,
            model_id TEXT NOT NULL, version BIGINT NOT NULL, status TEXT NOT NULL,
            storage_key TEXT, format TEXT NOT NULL, num_rows BIGINT NOT NULL,
            size_bytes BIGINT NOT NULL, content TEXT NOT NULL, job_id TEXT,
            created_at TEXT NOT NULL, expires_at TEXT)""",
        "CREATE INDEX artifacts_model ON artifacts (model_id)",
        """CREATE TABLE audit_events (
            id TEXT PRIMARY KEY, at TEXT NOT NULL, actor TEXT, owner TEXT,
            action TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT,
            outcome TEXT NOT NULL, request_id TEXT, detail TEXT NOT NULL)""",
        "CREATE INDEX audit_at ON audit_events (at)",
    ]),
    (2, [
        """CREATE TABLE idempotency_keys (
            id TEXT PRIMARY KEY, owner TEXT NOT NULL, key TEXT NOT NULL, method TEXT NOT NULL,
            path TEXT NOT NULL, fingerprint TEXT NOT NULL, status TEXT NOT NULL,
            response TEXT, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
            locked_until TEXT)""",
        "ALTER TABLE jobs ADD COLUMN worker TEXT",
    ]),
]


@dataclass
class Result:
    """What a statement returned, fetched before its connection went back to the pool."""

    rows: list[dict[str, Any]]
    rowcount: int


class SqlMetadataStore(MetadataStore):
    """Shared SQL implementation over autocommit connections. Reads that fail because the
    connection broke are retried once on a fresh connection; writes never are (their
    outcome is unknown: see `_run`)."""

    placeholder = "?"
    url: str
    backend_name = "the metadata database"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._conn: Any = None

    # Dialect hooks.

    def _connect(self) -> Any:
        raise NotImplementedError

    def _is_duplicate(self, exc: Exception) -> bool:
        raise NotImplementedError

    def _is_disconnect(self, exc: Exception) -> bool:
        """The connection broke (the statement's outcome is unknown)."""
        return False

    def _is_unavailable(self, exc: Exception) -> bool:
        """The database cannot be used right now (nothing was done)."""
        return False

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A connection for one statement (default: the one shared, under a lock)."""
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            yield self._conn

    def _discard(self, conn: Any) -> None:
        with self._lock:
            if conn is self._conn:
                self._reset()

    @contextmanager
    def _migration_lock(self, cursor: Any) -> Iterator[None]:
        yield

    # Plumbing.

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def _run(self, statement: str, params: tuple = (), *, write: bool = False) -> Result:
        """Run one statement. A failure before it reaches the database is a 503; a
        connection that breaks while it runs is retried for a read, and for a write is
        `OutcomeUnknown` (replaying it could insert a duplicate, or report a conditional
        update that succeeded as failed)."""
        for attempt in (1, 2):
            try:
                with self._connection() as conn:
                    try:
                        cursor = conn.cursor()
                        cursor.execute(self._sql(statement), params)
                        rows = self._rows(cursor) if cursor.description else []
                        return Result(rows, cursor.rowcount)
                    except Exception as exc:
                        if self._is_disconnect(exc):
                            self._discard(conn)
                            if write:
                                raise OutcomeUnknown(
                                    f"the connection to {self.backend_name} broke while a "
                                    "write was in flight; it may or may not have been "
                                    "applied: read the resource before retrying",
                                    backend=self.backend_name) from exc
                            if attempt == 1:
                                continue
                            raise backend_unavailable(self.backend_name, exc) from exc
                        raise
            except OutcomeUnknown:
                raise
            except Exception as exc:
                if self._is_duplicate(exc):
                    raise
                if self._is_unavailable(exc) or self._is_disconnect(exc):
                    raise backend_unavailable(self.backend_name, exc) from exc
                raise
        raise AssertionError("unreachable")

    def _reset(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
        except Exception:  # noqa: BLE001 - the connection is already broken
            pass
        self._conn = None

    def close(self) -> None:
        with self._lock:
            self._reset()

    @staticmethod
    def _encode(cls: type[Record], name: str, value: Any) -> Any:
        if name in cls.JSON_FIELDS:
            return None if value is None else json.dumps(value, default=str)
        if name in cls.BOOL_FIELDS:
            return int(bool(value))
        return value

    @staticmethod
    def _decode(cls: type[R], row: Mapping[str, Any]) -> R:
        return cls.from_stored(row)

    @staticmethod
    def _rows(cursor: Any) -> list[dict[str, Any]]:
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _where(self, cls: type[Record], where: Mapping[str, Any] | None) -> tuple[str, list]:
        if not where:
            return "", []
        cls.check_fields(where)
        clauses, params = [], []
        for name, value in where.items():
            if value is None:
                clauses.append(f"{name} IS NULL")
            elif isinstance(value, tuple):
                clauses.append(f"{name} IN ({', '.join('?' for _ in value)})")
                params.extend(self._encode(cls, name, v) for v in value)
            else:
                clauses.append(f"{name} = ?")
                params.append(self._encode(cls, name, value))
        return " WHERE " + " AND ".join(clauses), params

    # The interface.

    def migrate(self) -> int:
        try:
            with self._connection() as conn:
                cursor = conn.cursor()
                with self._migration_lock(cursor):
                    cursor.execute(
                        "CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)"
                    )
                    cursor.execute("SELECT version FROM schema_migrations")
                    applied = {row[0] for row in cursor.fetchall()}
                    for version, statements in MIGRATIONS:
                        if version not in applied:
                            self._apply(cursor, version, statements)
        except Exception as exc:
            if self._is_unavailable(exc) or self._is_disconnect(exc):
                raise backend_unavailable(self.backend_name, exc) from exc
            raise
        return max(v for v, _ in MIGRATIONS)

    def _apply(self, cursor: Any, version: int, statements: list[str]) -> None:
        for statement in statements:
            cursor.execute(statement)
        cursor.execute(
            self._sql("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"),
            (version, datetime.now(UTC).isoformat()),
        )

    def schema_version(self) -> int:
        rows = self._run("SELECT MAX(version) AS v FROM schema_migrations").rows
        return int(rows[0]["v"] or 0)

    def ping(self) -> None:
        self._run("SELECT 1")

    def insert(self, record: Record) -> None:
        cls = type(record)
        names = cls.field_names()
        values = tuple(self._encode(cls, name, getattr(record, name)) for name in names)
        statement = (f"INSERT INTO {cls.KIND} ({', '.join(names)}) "
                     f"VALUES ({', '.join('?' for _ in names)})")
        try:
            self._run(statement, values, write=True)
        except Exception as exc:
            if self._is_duplicate(exc):
                raise DuplicateRecord(f"{cls.KIND}/{record.id}") from exc
            raise

    def get(self, cls: type[R], record_id: str) -> R | None:
        rows = self._run(f"SELECT * FROM {cls.KIND} WHERE id = ?", (record_id,)).rows
        return self._decode(cls, rows[0]) if rows else None

    def query(self, cls: type[R], where: Mapping[str, Any] | None = None, *,
              order_by: str | None = None, descending: bool = False,
              limit: int | None = None) -> list[R]:
        clause, params = self._where(cls, where)
        statement = f"SELECT * FROM {cls.KIND}{clause}"
        if order_by:
            cls.check_fields([order_by])
            statement += f" ORDER BY {order_by} {'DESC' if descending else 'ASC'}, id"
        if limit is not None:
            statement += f" LIMIT {int(limit)}"
        rows = self._run(statement, tuple(params)).rows
        return [self._decode(cls, row) for row in rows]

    def update(self, cls: type[Record], record_id: str, changes: Mapping[str, Any], *,
               expect: Mapping[str, Any] | None = None) -> bool:
        if not changes:
            return self.get(cls, record_id) is not None
        cls.check_fields(changes)
        sets = ", ".join(f"{name} = ?" for name in changes)
        params = [self._encode(cls, name, value) for name, value in changes.items()]
        clause, where_params = self._where(cls, {"id": record_id, **(expect or {})})
        result = self._run(f"UPDATE {cls.KIND} SET {sets}{clause}",
                           tuple(params + where_params), write=True)
        return result.rowcount > 0

    def delete(self, cls: type[Record], record_id: str) -> bool:
        result = self._run(f"DELETE FROM {cls.KIND} WHERE id = ?", (record_id,), write=True)
        return result.rowcount > 0
