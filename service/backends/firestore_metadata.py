"""`firestore://<database-id>`: the metadata store on Cloud Firestore (native mode).

The URL names the database (`firestore://(default)` for the default one); the project is
`GOOGLE_CLOUD_PROJECT` if set, else the one Application Default Credentials report (the
metadata server's on Cloud Functions / Cloud Run). With `FIRESTORE_EMULATOR_HOST` set, the
client talks to that emulator instead.

Layout: one collection per record kind (`jobs`, `models`, ...), the record id as the
document id, one field per record field. Dict/list fields (`JSON_FIELDS`) are stored as
JSON text, exactly as the SQL stores do, because Firestore refuses nested arrays and
some map keys that callers' parameters and profiles may contain.

Concurrency: `update(..., expect=...)` reads the document, checks `expect`, then writes
with a `last_update_time` precondition; if anyone wrote in between, it re-reads and
re-checks, so a job claim succeeds for exactly one replica. Unique keys beyond the id
(`model_versions` (model_id, version)) are guard documents in `_unique`, created in the
same atomic batch as the record. Queries use only equality filters, which Firestore
serves from its automatic single-field indexes; ordering a filtered query happens here
rather than in a composite index, so the deployment needs no index resources.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from ..errors import BackendUnavailable, ServiceUnavailable, backend_unavailable
from .metadata import DocumentStore, DuplicateRecord, Record, sort_key

__all__ = ["FirestoreMetadataStore", "SCHEMA_VERSION"]

R = TypeVar("R", bound=Record)

SCHEMA_VERSION = 1
"""Firestore needs no DDL; the version is recorded so `migrate` has the same contract."""


_META = "_meta"
_UNIQUE = "_unique"
_MAX_ATTEMPTS = 50
_PING_TIMEOUT_SECONDS = 5.0


@contextmanager
def _firestore_errors() -> Iterator[None]:
    """An unreachable or overloaded Firestore is a 503 with Retry-After."""
    from google.api_core import exceptions as api

    try:
        yield
    except BackendUnavailable:
        raise
    except (api.ServiceUnavailable, api.RetryError, api.DeadlineExceeded,
            api.InternalServerError, api.ResourceExhausted, api.Aborted, api.Unknown) as exc:
        raise backend_unavailable("Firestore", exc) from exc


class FirestoreMetadataStore(DocumentStore):
    """Records as Firestore documents; thread-safe (the client is). `timeout` (seconds
    per call) and `retry_seconds` (how long transient errors are retried) bound how long
    an outage holds a request before it is answered 503."""

    def __init__(self, database: str = "(default)", *, project: str | None = None,
                 client: Any = None, timeout: float = 10.0,
                 retry_seconds: float = 15.0) -> None:
        if client is None:
            from google.cloud import firestore

            try:
                client = firestore.Client(project=project, database=database)
            except Exception as exc:  # noqa: BLE001 - no project or credentials found
                raise ServiceUnavailable(
                    f"cannot open Firestore database {database!r}: {exc}; set "
                    "GOOGLE_CLOUD_PROJECT and give the service credentials (ADC)",
                    code="metadata_unavailable") from exc
        self.client = client
        self.database = database
        self.project = client.project
        self.url = f"firestore://{database}"
        from google.api_core.retry import Retry, if_transient_error

        self._call = {"timeout": timeout,
                      "retry": Retry(predicate=if_transient_error, timeout=retry_seconds)}

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> FirestoreMetadataStore:
        parts = urlsplit(url)
        for name, value in parse_qsl(parts.query):
            if name in ("timeout", "retry_seconds"):
                kwargs.setdefault(name, float(value))
        if parts.path.strip("/"):
            raise ValueError(f"{url!r}: expected firestore://<database-id> (the project comes "
                             "from GOOGLE_CLOUD_PROJECT or the credentials)")
        database = unquote(parts.netloc) or "(default)"
        kwargs.setdefault("project", os.environ.get("GOOGLE_CLOUD_PROJECT") or None)
        return cls(database, **kwargs)

    # Encoding: the same value rules as the SQL stores.

    @staticmethod
    def _encode(cls: type[Record], name: str, value: Any) -> Any:
        if name in cls.JSON_FIELDS:
            return None if value is None else json.dumps(value, default=str)
        if name in cls.BOOL_FIELDS:
            return bool(value)
        return value

    @staticmethod
    def _decode(cls: type[R], data: Mapping[str, Any]) -> R:
        return cls.from_stored(data)

    def _doc(self, cls: type[Record], record_id: str) -> Any:
        if (not record_id or "/" in record_id or record_id in (".", "..")
                or (record_id.startswith("__") and record_id.endswith("__"))):
            raise ValueError(f"invalid record id {record_id!r}")
        return self.client.collection(cls.KIND).document(record_id)

    def _guards(self, cls: type[Record], data: Mapping[str, Any]) -> list[Any]:
        """The `_unique` documents that reserve this record's unique field groups."""
        return [self.client.collection(_UNIQUE).document(f"{cls.KIND}:{values}")
                for values in self._unique_values(cls, data)]

    # The interface.

    def migrate(self) -> int:
        from google.api_core.exceptions import AlreadyExists

        from .._util import utcnow_iso

        try:
            with _firestore_errors():
                self.client.collection(_META).document("schema").create(
                    {"version": SCHEMA_VERSION, "applied_at": utcnow_iso()}, **self._call)
        except AlreadyExists:
            pass  # another replica (or an earlier start) recorded it
        return SCHEMA_VERSION

    def schema_version(self) -> int:
        with _firestore_errors():
            snapshot = self.client.collection(_META).document("schema").get(**self._call)
        return int(snapshot.get("version")) if snapshot.exists else 0

    def ping(self) -> None:
        with _firestore_errors():
            self.client.collection(_META).document("schema").get(
                retry=None, timeout=_PING_TIMEOUT_SECONDS)

    def insert(self, record: Record) -> None:
        from google.api_core.exceptions import AlreadyExists

        cls = type(record)
        data = {name: self._encode(cls, name, getattr(record, name))
                for name in cls.field_names()}
        batch = self.client.batch()
        batch.create(self._doc(cls, record.id), data)
        for guard in self._guards(cls, data):
            batch.create(guard, {"kind": cls.KIND, "id": record.id})
        try:
            with _firestore_errors():
                batch.commit(**self._call)
        except AlreadyExists as exc:
            raise DuplicateRecord(f"{cls.KIND}/{record.id}") from exc

    def get(self, cls: type[R], record_id: str) -> R | None:
        with _firestore_errors():
            snapshot = self._doc(cls, record_id).get(**self._call)
        return self._decode(cls, snapshot.to_dict()) if snapshot.exists else None

    def query(self, cls: type[R], where: Mapping[str, Any] | None = None, *,
              order_by: str | None = None, descending: bool = False,
              limit: int | None = None) -> list[R]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        where = dict(where or {})
        cls.check_fields(where)
        if order_by:
            cls.check_fields([order_by])
        query = self.client.collection(cls.KIND)
        for name, value in where.items():
            if isinstance(value, tuple):
                if not value:
                    return []
                query = query.where(filter=FieldFilter(
                    name, "in", [self._encode(cls, name, v) for v in value]))
            else:
                query = query.where(filter=FieldFilter(name, "==",
                                                       self._encode(cls, name, value)))
        # Equality filters plus an order on another field would need a composite index;
        # filtered results are ordered here instead. An unfiltered order is served by the
        # field's automatic index (ties there fall back to the document id).
        order_here = bool(order_by and where)
        if order_by and not order_here:
            direction = "DESCENDING" if descending else "ASCENDING"
            query = query.order_by(order_by, direction=direction)
        if limit is not None and not order_here:
            query = query.limit(int(limit))
        with _firestore_errors():
            records = [self._decode(cls, snapshot.to_dict())
                       for snapshot in query.stream(**self._call)]
        if order_here:
            records.sort(key=lambda r: r.id)
            records.sort(key=lambda r: sort_key(getattr(r, order_by)), reverse=descending)
            if limit is not None:
                records = records[:int(limit)]
        return records

    def update(self, cls: type[Record], record_id: str, changes: Mapping[str, Any], *,
               expect: Mapping[str, Any] | None = None) -> bool:
        from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

        if not changes:
            return self.get(cls, record_id) is not None
        cls.check_fields(changes)
        if expect:
            cls.check_fields(expect)
        encoded = {name: self._encode(cls, name, value) for name, value in changes.items()}
        ref = self._doc(cls, record_id)
        for attempt in range(_MAX_ATTEMPTS):
            with _firestore_errors():
                snapshot = ref.get(**self._call)
            if not snapshot.exists:
                return False
            current = snapshot.to_dict()
            if not self._matches(cls, current, expect):
                return False
            batch = self.client.batch()
            batch.update(ref, encoded,
                         option=self.client.write_option(last_update_time=snapshot.update_time))
            old_guards = self._guards(cls, current)
            new_guards = self._guards(cls, {**current, **encoded})
            for old, new in zip(old_guards, new_guards, strict=True):
                if old.id != new.id:
                    batch.delete(old)
                    batch.create(new, {"kind": cls.KIND, "id": record_id})
            try:
                with _firestore_errors():
                    batch.commit(**self._call)
                return True
            except (FailedPrecondition, NotFound):
                self._backoff(attempt)  # written or deleted since we read it: look again
            except AlreadyExists as exc:
                raise DuplicateRecord(f"{cls.KIND}/{record_id}") from exc
        raise ServiceUnavailable(f"{cls.KIND}/{record_id} is being updated too often to apply "
                                 "a conditional update; retry", code="metadata_contention")

    def delete(self, cls: type[Record], record_id: str) -> bool:
        from google.api_core.exceptions import FailedPrecondition, NotFound

        ref = self._doc(cls, record_id)
        for attempt in range(_MAX_ATTEMPTS):
            with _firestore_errors():
                snapshot = ref.get(**self._call)
            if not snapshot.exists:
                return False
            batch = self.client.batch()
            batch.delete(ref, option=self.client.write_option(
                last_update_time=snapshot.update_time))
            for guard in self._guards(cls, snapshot.to_dict()):
                batch.delete(guard)
            try:
                with _firestore_errors():
                    batch.commit(**self._call)
                return True
            except (FailedPrecondition, NotFound):
                self._backoff(attempt)
        raise ServiceUnavailable(f"{cls.KIND}/{record_id} is changing too often to delete; "
                                 "retry", code="metadata_contention")

    def close(self) -> None:
        self.client.close()
