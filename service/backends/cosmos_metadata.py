"""`cosmos://<account>/<database>`: the metadata store on Azure Cosmos DB for NoSQL.

The account endpoint is `https://<account>.documents.azure.com:443/`; the credential is
the runtime identity through `azure-identity` (the platform's account has local key auth
turned off, so only Entra ID tokens with the `Cosmos DB Built-in Data Contributor` role
on exactly that account are accepted). `AZURE_COSMOS_CONNECTION_STRING`
(`AccountEndpoint=...;AccountKey=...;`) replaces endpoint and credential: that is how
the service talks to a local server speaking the NoSQL protocol.

Layout: one container, `records` (partition key `/pk`), created by the platform's
Terraform - data-plane roles cannot create containers, so `migrate` creates it only
where the credential may (a key, locally) and otherwise checks it exists. Each record
is one document: `pk` = its kind (`jobs`, `models`, ...), `id` = the record id, one
property per record field. Dict/list fields (`JSON_FIELDS`) are JSON text, as on SQL and
Firestore, so equality behaves the same everywhere.

Concurrency: `update(..., expect=...)` reads the document, checks `expect` and replaces
it with `If-Match: <etag>`; if anyone wrote in between (412) it reads again, so a job
claim succeeds for exactly one replica. Unique keys beyond the id (`model_versions`
(model_id, version)) are guard documents in the same partition (`unique:<values>`),
created before the record and removed if the record cannot be written; queries exclude
them. Filtering happens in the kind's partition with parameterised SQL; ordering and
limits on filtered results are applied here (as the DynamoDB store does), so the
container needs no composite index.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from ..errors import ServiceUnavailable
from .metadata import DocumentStore, DuplicateRecord, Record, sort_key

__all__ = ["CONNECTION_STRING", "CONTAINER", "CosmosMetadataStore", "SCHEMA_VERSION"]

R = TypeVar("R", bound=Record)

CONNECTION_STRING = "AZURE_COSMOS_CONNECTION_STRING"
"""Local-server override (key auth); unset on Azure."""
CONTAINER = "records"
"""The one container the platform creates, partitioned on `/pk`."""
PARTITION_KEY = "/pk"
SCHEMA_VERSION = 1
_META_PK = "_meta"
_GUARD = "unique:"
_MAX_ATTEMPTS = 50
_RESERVED = ("pk", "_rid", "_self", "_etag", "_attachments", "_ts", "_guard")


class CosmosMetadataStore(DocumentStore):
    """Records as Cosmos DB documents; thread-safe (the client is)."""

    def __init__(self, account: str, database: str, *, container: str = CONTAINER,
                 endpoint: str | None = None, credential: Any = None,
                 connection_string: str | None = None, **client_options: Any) -> None:
        if not account or not database:
            raise ValueError("cosmos:// metadata needs an account and a database: "
                             "cosmos://<account>/<database>")
        from azure.cosmos import CosmosClient

        connection_string = connection_string or os.environ.get(CONNECTION_STRING)
        try:
            if connection_string:
                client = CosmosClient.from_connection_string(connection_string, **client_options)
            else:
                if credential is None:
                    from azure.identity import DefaultAzureCredential

                    credential = DefaultAzureCredential()
                client = CosmosClient(endpoint or f"https://{account}.documents.azure.com:443/",
                                      credential=credential, **client_options)
        except Exception as exc:  # noqa: BLE001 - malformed connection string, no endpoint
            raise ServiceUnavailable(f"cannot open Cosmos DB account {account!r}: {exc}",
                                     code="metadata_unavailable") from exc
        self.client = client
        self.account = account
        self.database_name = database
        self.container_name = container
        self.url = f"cosmos://{account}/{database}"
        self._container = client.get_database_client(database).get_container_client(container)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> CosmosMetadataStore:
        parts = urlsplit(url)
        path = [unquote(p) for p in parts.path.strip("/").split("/") if p]
        if len(path) != 1:
            raise ValueError(f"{url!r}: expected cosmos://<account>/<database>")
        return cls(parts.netloc, path[0], **kwargs)

    # Encoding: the same value rules as the SQL stores.

    @staticmethod
    def _encode(cls: type[Record], name: str, value: Any) -> Any:
        if name in cls.JSON_FIELDS:
            return None if value is None else json.dumps(value, default=str)
        if name in cls.BOOL_FIELDS:
            return bool(value)
        return value

    def _document(self, record: Record) -> dict[str, Any]:
        cls = type(record)
        document = {name: self._encode(cls, name, getattr(record, name))
                    for name in cls.field_names()}
        document["pk"] = cls.KIND
        return document

    @staticmethod
    def _decode(cls: type[R], document: Mapping[str, Any]) -> R:
        return cls.from_stored({k: v for k, v in document.items() if k not in _RESERVED})

    @staticmethod
    def _check_id(record_id: str) -> str:
        # Cosmos ids may not hold / \ ? #; the service's ids never do.
        if not record_id or any(c in record_id for c in "/\\?#") \
                or record_id.startswith(_GUARD) or len(record_id) > 255:
            raise ValueError(f"invalid record id {record_id!r}")
        return record_id

    def _guard_ids(self, cls: type[Record], data: Mapping[str, Any]) -> list[str]:
        """Ids of the guard documents that reserve this record's unique field groups."""
        return [f"{_GUARD}{values}" for values in self._unique_values(cls, data)]

    def _create_guard(self, cls: type[Record], guard_id: str, record_id: str) -> None:
        from azure.cosmos.exceptions import CosmosResourceExistsError

        try:
            self._container.create_item(
                {"id": guard_id, "pk": cls.KIND, "_guard": True, "record": record_id})
        except CosmosResourceExistsError as exc:
            raise DuplicateRecord(f"{cls.KIND}/{record_id}") from exc

    def _delete_guard(self, cls: type[Record], guard_id: str) -> None:
        from azure.cosmos.exceptions import CosmosResourceNotFoundError

        try:
            self._container.delete_item(guard_id, partition_key=cls.KIND)
        except CosmosResourceNotFoundError:
            pass

    def _read(self, cls: type[Record], record_id: str) -> dict[str, Any] | None:
        return self._read_document(cls.KIND, self._check_id(record_id))

    def _read_document(self, partition: str, document_id: str) -> dict[str, Any] | None:
        """One document by id, or None. A single-partition query on `id` rather than a
        point read: the same answer and cost class on Cosmos DB, and local servers that
        answer a point read of a missing id with a 500 answer this correctly."""
        found = list(self._container.query_items(
            "SELECT * FROM c WHERE c.pk = @pk AND c.id = @id",
            parameters=[{"name": "@pk", "value": partition}, {"name": "@id", "value": document_id}],
            partition_key=partition))
        return found[0] if found else None

    # The interface.

    def migrate(self) -> int:
        from azure.cosmos import PartitionKey
        from azure.cosmos.exceptions import CosmosHttpResponseError, CosmosResourceExistsError

        from .._util import utcnow_iso

        try:
            database = self.client.create_database_if_not_exists(self.database_name)
            database.create_container_if_not_exists(
                self.container_name, partition_key=PartitionKey(path=PARTITION_KEY))
        except CosmosHttpResponseError as exc:
            if exc.status_code != 403:
                raise self._unavailable(exc) from exc
            # Entra ID data-plane roles may not create databases or containers: the
            # platform's Terraform made them; check they are there.
            try:
                properties = self._container.read()
            except CosmosHttpResponseError as missing:
                raise ServiceUnavailable(
                    f"Cosmos DB container {self.database_name}/{self.container_name} is "
                    f"missing or unreadable ({missing.status_code}); the platform creates it "
                    "(partition key /pk) - deploy the stack, or create it with that key",
                    code="metadata_unavailable") from missing
            paths = properties.get("partitionKey", {}).get("paths", [])
            if paths != [PARTITION_KEY]:
                raise ValueError(f"Cosmos DB container {self.container_name} must be "
                                 f"partitioned on {PARTITION_KEY}; it is on {paths}") from None
        try:
            self._container.create_item({"id": "schema", "pk": _META_PK,
                                         "version": SCHEMA_VERSION, "applied_at": utcnow_iso()})
        except CosmosResourceExistsError:
            pass  # another replica (or an earlier start) recorded it
        return SCHEMA_VERSION

    def schema_version(self) -> int:
        document = self._read_document(_META_PK, "schema")
        return int(document["version"]) if document else 0

    def ping(self) -> None:
        from azure.cosmos.exceptions import CosmosHttpResponseError

        try:
            self._read_document(_META_PK, "schema")
        except CosmosHttpResponseError as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> ServiceUnavailable:
        return ServiceUnavailable(f"Cosmos DB {self.url} is unavailable: {exc}",
                                  code="metadata_unavailable")

    def insert(self, record: Record) -> None:
        from azure.cosmos.exceptions import CosmosResourceExistsError

        cls = type(record)
        self._check_id(record.id)
        document = self._document(record)
        guards = self._guard_ids(cls, document)
        created: list[str] = []
        try:
            for guard in guards:
                self._create_guard(cls, guard, record.id)
                created.append(guard)
            self._container.create_item(document)
        except CosmosResourceExistsError as exc:
            for guard in created:
                self._delete_guard(cls, guard)
            raise DuplicateRecord(f"{cls.KIND}/{record.id}") from exc
        except BaseException:
            for guard in created:
                self._delete_guard(cls, guard)
            raise

    def get(self, cls: type[R], record_id: str) -> R | None:
        document = self._read(cls, record_id)
        return self._decode(cls, document) if document is not None else None

    def query(self, cls: type[R], where: Mapping[str, Any] | None = None, *,
              order_by: str | None = None, descending: bool = False,
              limit: int | None = None) -> list[R]:
        where = dict(where or {})
        cls.check_fields(where)
        if order_by:
            cls.check_fields([order_by])
        # The partition is also named in the query text: the header alone is enough for
        # Cosmos DB, but local servers look for it in the query.
        clauses = ["c.pk = @pk", "NOT IS_DEFINED(c._guard)"]
        parameters: list[dict[str, Any]] = [{"name": "@pk", "value": cls.KIND}]
        for index, (name, value) in enumerate(where.items()):
            # Field names were checked against the record type: never caller text.
            field = f'c["{name}"]'
            if value is None:
                clauses.append(f"(NOT IS_DEFINED({field}) OR IS_NULL({field}))")
            elif isinstance(value, tuple):
                if not value:
                    return []
                options = []
                for position, option in enumerate(value):
                    parameters.append({"name": f"@w{index}_{position}",
                                       "value": self._encode(cls, name, option)})
                    options.append(f"@w{index}_{position}")
                clauses.append(f"{field} IN ({', '.join(options)})")
            else:
                parameters.append({"name": f"@w{index}",
                                   "value": self._encode(cls, name, value)})
                clauses.append(f"{field} = @w{index}")
        sql = f"SELECT * FROM c WHERE {' AND '.join(clauses)}"
        records: list[R] = []
        for document in self._container.query_items(sql, parameters=parameters,
                                                    partition_key=cls.KIND):
            records.append(self._decode(cls, document))
            if order_by is None and limit is not None and len(records) >= limit:
                break
        if order_by:
            # As SQL orders: NULLs first ascending, then ties broken by id.
            records.sort(key=lambda r: r.id)
            records.sort(key=lambda r: sort_key(getattr(r, order_by)), reverse=descending)
        return records[:int(limit)] if limit is not None else records

    def update(self, cls: type[Record], record_id: str, changes: Mapping[str, Any], *,
               expect: Mapping[str, Any] | None = None) -> bool:
        from azure.core import MatchConditions
        from azure.cosmos.exceptions import (
            CosmosAccessConditionFailedError,
            CosmosResourceNotFoundError,
        )

        if not changes:
            return self.get(cls, record_id) is not None
        cls.check_fields(changes)
        if expect:
            cls.check_fields(expect)
        encoded = {name: self._encode(cls, name, value) for name, value in changes.items()}
        for attempt in range(_MAX_ATTEMPTS):
            current = self._read(cls, record_id)
            if current is None or not self._matches(cls, current, expect):
                return False
            updated = {**current, **encoded}
            moved = [(old, new) for old, new in zip(self._guard_ids(cls, current),
                                                    self._guard_ids(cls, updated), strict=True)
                     if old != new]
            made: list[str] = []
            try:
                for _, new in moved:
                    self._create_guard(cls, new, record_id)
                    made.append(new)
            except DuplicateRecord:
                for guard in made:
                    self._delete_guard(cls, guard)
                raise
            try:
                self._container.replace_item(
                    record_id, {k: v for k, v in updated.items()
                                if k not in _RESERVED or k == "pk"},
                    etag=current["_etag"], match_condition=MatchConditions.IfNotModified)
            except (CosmosAccessConditionFailedError, CosmosResourceNotFoundError):
                for _, new in moved:
                    self._delete_guard(cls, new)
                self._backoff(attempt)  # written or deleted since we read it: look again
                continue
            for old, _ in moved:
                self._delete_guard(cls, old)
            return True
        raise ServiceUnavailable(f"{cls.KIND}/{record_id} is being updated too often to apply "
                                 "a conditional update; retry", code="metadata_contention")

    def delete(self, cls: type[Record], record_id: str) -> bool:
        from azure.core import MatchConditions
        from azure.cosmos.exceptions import (
            CosmosAccessConditionFailedError,
            CosmosResourceNotFoundError,
        )

        for attempt in range(_MAX_ATTEMPTS):
            current = self._read(cls, record_id)
            if current is None:
                return False
            try:
                self._container.delete_item(record_id, partition_key=cls.KIND,
                                            etag=current["_etag"],
                                            match_condition=MatchConditions.IfNotModified)
            except CosmosResourceNotFoundError:
                return False
            except CosmosAccessConditionFailedError:
                self._backoff(attempt)
                continue
            for guard in self._guard_ids(cls, current):
                self._delete_guard(cls, guard)
            return True
        raise ServiceUnavailable(f"{cls.KIND}/{record_id} is changing too often to delete; "
                                 "retry", code="metadata_contention")

    def close(self) -> None:
        self.client.close()
