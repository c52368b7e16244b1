"""The metadata store interface: records for keys, datasets, models, jobs, artifacts, audit.

Backends implement five primitives on flat records (insert, get, query by equality,
conditional update, delete) plus `migrate`/`ping`; everything domain-shaped is built on
those here, once. That keeps a document store (DynamoDB, Firestore, Cosmos) as easy to
add as a SQL one: a new module registered by scheme in `synthdata_service.backends.registry`.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

__all__ = [
    "ApiKeyRecord",
    "ArtifactRecord",
    "AuditRecord",
    "DatasetRecord",
    "DocumentStore",
    "DuplicateRecord",
    "IdempotencyRecord",
    "JobRecord",
    "MetadataStore",
    "ModelRecord",
    "ModelVersionRecord",
    "RECORD_TYPES",
    "Record",
    "sort_key",
]

R = TypeVar("R", bound="Record")


class DuplicateRecord(Exception):
    """An insert collided with an existing id or unique key."""


@dataclass
class Record:
    """Base of every stored record: flat fields; `JSON_FIELDS` hold dicts/lists."""

    KIND: ClassVar[str] = ""
    JSON_FIELDS: ClassVar[tuple[str, ...]] = ()
    BOOL_FIELDS: ClassVar[tuple[str, ...]] = ()
    UNIQUE_TOGETHER: ClassVar[tuple[tuple[str, ...], ...]] = ()
    """Field groups that must be unique together beyond the id (the SQL schema's UNIQUE
    constraints; the document stores and DynamoDB enforce them with guard items)."""

    id: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def check_fields(cls, names: Any) -> None:
        """Refuse field names this record does not have (they would never match)."""
        allowed = set(cls.field_names())
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise ValueError(f"{cls.KIND} has no field(s) {unknown}")

    @classmethod
    def from_stored(cls: type[R], data: Mapping[str, Any]) -> R:
        """Rebuild a record from stored values (JSON fields as text, booleans as 0/1);
        a field missing from `data` (added after it was written) takes its default."""
        values = {}
        for name in cls.field_names():
            if name not in data:
                continue
            value = data[name]
            if name in cls.JSON_FIELDS and value is not None:
                value = json.loads(value)
            elif name in cls.BOOL_FIELDS:
                value = bool(value)
            values[name] = value
        return cls(**values)


@dataclass
class ApiKeyRecord(Record):
    KIND: ClassVar[str] = "api_keys"
    name: str = ""
    scope: str = "read"
    owner: str = "default"
    salt: str = ""
    hash: str = ""
    created_at: str = ""
    created_by: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None


@dataclass
class DatasetRecord(Record):
    KIND: ClassVar[str] = "datasets"
    JSON_FIELDS: ClassVar[tuple[str, ...]] = ("tables", "profile")
    owner: str = "default"
    name: str = ""
    format: str = ""
    tables: list = field(default_factory=list)
    n_rows: int = 0
    n_columns: int = 0
    size_bytes: int = 0
    profile: dict = field(default_factory=dict)
    created_at: str = ""
    created_by: str | None = None


@dataclass
class ModelRecord(Record):
    KIND: ClassVar[str] = "models"
    owner: str = "default"
    name: str = ""
    dataset_id: str = ""
    synthesizer: str = ""
    engine: str = ""
    active_version: int | None = None
    latest_version: int = 0
    created_at: str = ""
    created_by: str | None = None


@dataclass
class ModelVersionRecord(Record):
    KIND: ClassVar[str] = "model_versions"
    JSON_FIELDS: ClassVar[tuple[str, ...]] = ("parameters", "sdv_metadata", "error")
    UNIQUE_TOGETHER: ClassVar[tuple[tuple[str, ...], ...]] = (("model_id", "version"),)
    model_id: str = ""
    version: int = 0
    dataset_id: str = ""
    parameters: dict = field(default_factory=dict)
    status: str = "training"
    storage_key: str | None = None
    integrity: str | None = None
    size_bytes: int = 0
    fit_seconds: float | None = None
    job_id: str | None = None
    sdv_metadata: dict = field(default_factory=dict)
    error: dict | None = None
    created_at: str = ""
    trained_at: str | None = None


@dataclass
class JobRecord(Record):
    KIND: ClassVar[str] = "jobs"
    JSON_FIELDS: ClassVar[tuple[str, ...]] = ("payload", "result", "error")
    BOOL_FIELDS: ClassVar[tuple[str, ...]] = ("cancel_requested",)
    owner: str = "default"
    kind: str = ""
    status: str = "queued"
    progress: float = 0.0
    message: str = ""
    model_id: str | None = None
    payload: dict = field(default_factory=dict)
    result: dict | None = None
    error: dict | None = None
    cancel_requested: bool = False
    attempts: int = 0
    created_at: str = ""
    created_by: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    heartbeat_at: str | None = None
    worker: str | None = None
    """Which process runs it (`host:pid:start`), so a restart on that host sees at once
    that the job's process is gone."""


@dataclass
class ArtifactRecord(Record):
    KIND: ClassVar[str] = "artifacts"
    JSON_FIELDS: ClassVar[tuple[str, ...]] = ("content",)
    owner: str = "default"
    kind: str = ""
    model_id: str = ""
    version: int = 0
    status: str = "pending"
    storage_key: str | None = None
    format: str = ""
    num_rows: int = 0
    size_bytes: int = 0
    content: dict = field(default_factory=dict)
    job_id: str | None = None
    created_at: str = ""
    expires_at: str | None = None


@dataclass
class AuditRecord(Record):
    KIND: ClassVar[str] = "audit_events"
    JSON_FIELDS: ClassVar[tuple[str, ...]] = ("detail",)
    at: str = ""
    actor: str | None = None
    owner: str | None = None
    action: str = ""
    target_type: str = ""
    target_id: str | None = None
    outcome: str = "ok"
    request_id: str | None = None
    detail: dict = field(default_factory=dict)


@dataclass
class IdempotencyRecord(Record):
    """The first answer to a request sent with an `Idempotency-Key` (see idempotency.py)."""

    KIND: ClassVar[str] = "idempotency_keys"
    JSON_FIELDS: ClassVar[tuple[str, ...]] = ("response",)
    owner: str = "default"
    key: str = ""
    method: str = ""
    path: str = ""
    fingerprint: str = ""
    status: str = "pending"
    response: dict | None = None
    created_at: str = ""
    expires_at: str = ""
    locked_until: str | None = None


RECORD_TYPES: tuple[type[Record], ...] = (
    ApiKeyRecord, DatasetRecord, ModelRecord, ModelVersionRecord, JobRecord, ArtifactRecord,
    AuditRecord, IdempotencyRecord,
)


class MetadataStore(abc.ABC):
    """Records by kind. Implementations must make `update(..., expect=...)` atomic: it is
    how job state transitions and version activation avoid lost updates across replicas."""

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str) -> MetadataStore: ...

    @abc.abstractmethod
    def migrate(self) -> int:
        """Bring the schema up to date (idempotent, safe across replicas); return version."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise if the store is unreachable (readiness)."""

    @abc.abstractmethod
    def insert(self, record: Record) -> None:
        """Store a new record; raise `DuplicateRecord` if its id (or unique key) exists."""

    @abc.abstractmethod
    def get(self, cls: type[R], record_id: str) -> R | None: ...

    @abc.abstractmethod
    def query(self, cls: type[R], where: Mapping[str, Any] | None = None, *,
              order_by: str | None = None, descending: bool = False,
              limit: int | None = None) -> list[R]:
        """Records whose fields equal every value in `where` (None matches NULL)."""

    @abc.abstractmethod
    def update(self, cls: type[Record], record_id: str, changes: Mapping[str, Any], *,
               expect: Mapping[str, Any] | None = None) -> bool:
        """Apply `changes` if the record exists and matches `expect` (a value or a tuple
        of allowed values per field); return whether it was applied."""

    @abc.abstractmethod
    def delete(self, cls: type[Record], record_id: str) -> bool: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    # Domain helpers, shared by every backend.

    def require(self, cls: type[R], record_id: str) -> R:
        record = self.get(cls, record_id)
        if record is None:
            raise KeyError(record_id)
        return record

    def versions(self, model_id: str) -> list[ModelVersionRecord]:
        return self.query(ModelVersionRecord, {"model_id": model_id}, order_by="version")

    def version(self, model_id: str, version: int) -> ModelVersionRecord | None:
        found = self.query(ModelVersionRecord, {"model_id": model_id, "version": version})
        return found[0] if found else None

    def audit(self, event: AuditRecord) -> None:
        self.insert(event)


class DocumentStore(MetadataStore):
    """What the document stores (Firestore, Cosmos DB) share on top of `MetadataStore`:
    checking a stored document against an update's `expect`, and the jittered backoff
    between transactions that lost a race. Subclasses define `_encode`."""

    @staticmethod
    def _encode(cls: type[Record], name: str, value: Any) -> Any:
        raise NotImplementedError

    def _matches(self, cls: type[Record], data: Mapping[str, Any],
                 expect: Mapping[str, Any] | None) -> bool:
        for name, wanted in (expect or {}).items():
            allowed = wanted if isinstance(wanted, tuple) else (wanted,)
            if data.get(name) not in [self._encode(cls, name, v) for v in allowed]:
                return False
        return True

    @staticmethod
    def _unique_values(cls: type[Record], data: Mapping[str, Any]) -> list[str]:
        """Per unique field group of `cls`, its values in `data` as one key-safe string
        (the name of the guard document that reserves them)."""
        return ["|".join(quote(json.dumps(data.get(name)), safe="") for name in group)
                for group in cls.UNIQUE_TOGETHER]

    @staticmethod
    def _backoff(attempt: int) -> None:
        time.sleep(min(0.2, 0.002 * 2 ** attempt) * random.random())


def sort_key(value: Any) -> tuple[bool, Any]:
    """Order values as SQLite orders a column: None first ascending (last descending).
    For the document stores, which sort query results themselves."""
    return (value is not None, value if value is not None else 0)
