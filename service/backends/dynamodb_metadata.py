"""`dynamodb://<table>`: the metadata store on one DynamoDB table (keys `pk`/`sk`, both S).

Single-table layout, chosen so one construct-made table (no GSI) serves every kind:

| item | pk | sk | attributes |
|---|---|---|---|
| a record | `<kind>` (e.g. `jobs`) | `<id>` | `r`: the record's fields as a map |
| a unique key | `<kind>#unique` | the unique values joined by `#` | `id` |
| schema marker | `_meta` | `schema` | `version` |

* `get` is one strongly consistent GetItem; `query` (equality on any fields) is a Query on
  the kind's partition with a FilterExpression, so it reads that kind only, never the
  whole table, and needs no index. The service's queries are small lists (a model's
  versions, an owner's datasets); see docs/aws-runtime.md for when to add a GSI.
* `update(..., expect=...)` is one UpdateItem with a ConditionExpression: two workers that
  try to claim the same queued job get exactly one `True`.
* `insert` is a conditional Put (`attribute_not_exists(pk)`); kinds with a unique key
  (model versions: `(model_id, version)`) write the record and a marker item in one
  transaction, so a duplicate version number is refused atomically.
* JSON fields are stored as JSON strings (as on SQL, so equality behaves the same), and
  compressed to binary above 64 KiB to stay under the 400 KB item limit; `None` is a NULL.
* The table's TTL attribute (`expires_at`, top level) is left alone: record fields live in
  the `r` map, so a record field named `expires_at` never triggers deletion.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from ._aws import ClientFactory, aws_errors, error_code
from .metadata import DuplicateRecord, MetadataStore, Record

__all__ = ["DynamoDbMetadataStore", "SCHEMA_VERSION"]

R = TypeVar("R", bound=Record)

SCHEMA_VERSION = 1

_META_KEY = {"pk": {"S": "_meta"}, "sk": {"S": "schema"}}
_COMPRESS_ABOVE = 64 * 1024


class DynamoDbMetadataStore(MetadataStore):
    """Records of every kind in one table; thread-safe (boto3 clients are)."""

    def __init__(self, table: str, *, region: str | None = None,
                 clients: ClientFactory | None = None) -> None:
        if not table:
            raise ValueError("a dynamodb:// metadata URL needs a table: dynamodb://<table>")
        self.table = table
        self.url = f"dynamodb://{table}"
        self._clients = clients or ClientFactory(region=region, read_timeout=10)
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()

    @classmethod
    def from_url(cls, url: str) -> DynamoDbMetadataStore:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        return cls(parts.netloc or parts.path.strip("/"), region=query.get("region"))

    @property
    def _db(self) -> Any:
        return self._clients.client("dynamodb")

    # Encoding.

    def _value(self, cls: type[Record], name: str, value: Any) -> dict:
        """One field as a DynamoDB attribute value."""
        if value is None:
            return {"NULL": True}
        if name in cls.JSON_FIELDS:
            text = json.dumps(value, default=str, sort_keys=True)
            if len(text) > _COMPRESS_ABOVE:
                return {"B": zlib.compress(text.encode(), 6)}
            return {"S": text}
        if name in cls.BOOL_FIELDS or isinstance(value, bool):
            return {"BOOL": bool(value)}
        if isinstance(value, float):
            return {"N": repr(value)}
        return self._serializer.serialize(value)

    def _encode(self, record: Record) -> dict:
        cls = type(record)
        fields = {name: self._value(cls, name, getattr(record, name))
                  for name in cls.field_names()}
        return {"pk": {"S": cls.KIND}, "sk": {"S": record.id}, "r": {"M": fields}}

    def _decode(self, cls: type[R], item: Mapping[str, Any]) -> R:
        stored = item["r"]["M"]
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = stored.get(f.name)
            if raw is None or "NULL" in raw:
                values[f.name] = None if raw is not None or _optional(f) else _default(f)
                continue
            if f.name in cls.JSON_FIELDS:
                text = zlib.decompress(bytes(raw["B"])).decode() if "B" in raw else raw["S"]
                values[f.name] = json.loads(text)
                continue
            value = self._deserializer.deserialize(raw)
            if isinstance(value, Decimal):
                value = float(value) if "float" in str(f.type) else int(value)
            values[f.name] = value
        return cls(**values)

    def _conditions(self, cls: type[Record], where: Mapping[str, Any], names: dict,
                    values: dict, tag: str) -> list[str]:
        """Equality clauses on `r.<field>`: a value, a tuple of allowed values, or None."""
        cls.check_fields(where)
        clauses = []
        for index, (name, expected) in enumerate(where.items()):
            placeholder = f"#{tag}{index}"
            names[placeholder] = name
            path = f"#r.{placeholder}"
            if expected is None:
                values[f":{tag}{index}null"] = {"S": "NULL"}
                clauses.append(f"(attribute_not_exists({path}) OR "
                               f"attribute_type({path}, :{tag}{index}null))")
            elif isinstance(expected, tuple):
                options = []
                for position, option in enumerate(expected):
                    values[f":{tag}{index}_{position}"] = self._value(cls, name, option)
                    options.append(f":{tag}{index}_{position}")
                clauses.append(f"{path} IN ({', '.join(options)})")
            else:
                values[f":{tag}{index}"] = self._value(cls, name, expected)
                clauses.append(f"{path} = :{tag}{index}")
        if clauses:
            names["#r"] = "r"
        return clauses

    def _unique_item(self, record: Record) -> dict | None:
        groups = type(record).UNIQUE_TOGETHER
        if not groups:
            return None
        (fields,) = groups  # one guard item per record: one unique group is supported
        joined = "#".join(str(getattr(record, name)) for name in fields)
        return {"pk": {"S": f"{type(record).KIND}#unique"}, "sk": {"S": joined},
                "id": {"S": record.id}}

    # The interface.

    def migrate(self) -> int:
        """The table is the construct's; check its keys, then record the layout version."""
        with aws_errors("DynamoDB"):
            table = self._db.describe_table(TableName=self.table)["Table"]
            keys = {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}
            if keys != {"pk": "HASH", "sk": "RANGE"}:
                raise ValueError(f"DynamoDB table {self.table} must have keys pk (HASH) and sk "
                                 f"(RANGE), both strings; it has {keys}")
            if self._stored_version() < SCHEMA_VERSION:
                self._db.put_item(TableName=self.table, Item={
                    **_META_KEY, "version": {"N": str(SCHEMA_VERSION)}})
        return SCHEMA_VERSION

    def _stored_version(self) -> int:
        item = self._db.get_item(TableName=self.table, Key=_META_KEY,
                                 ConsistentRead=True).get("Item")
        return int(item["version"]["N"]) if item else 0

    def schema_version(self) -> int:
        with aws_errors("DynamoDB"):
            return self._stored_version()

    def ping(self) -> None:
        with aws_errors("DynamoDB"):
            self._db.get_item(TableName=self.table, Key=_META_KEY)

    def insert(self, record: Record) -> None:
        item = self._encode(record)
        unique = self._unique_item(record)
        absent = {"ConditionExpression": "attribute_not_exists(pk)"}
        with aws_errors("DynamoDB"):
            try:
                if unique is None:
                    self._db.put_item(TableName=self.table, Item=item, **absent)
                else:
                    self._db.transact_write_items(TransactItems=[
                        {"Put": {"TableName": self.table, "Item": item, **absent}},
                        {"Put": {"TableName": self.table, "Item": unique, **absent}},
                    ])
            except Exception as exc:
                if error_code(exc) in ("ConditionalCheckFailedException",
                                       "TransactionCanceledException") and _conditional(exc):
                    raise DuplicateRecord(f"{type(record).KIND}/{record.id}") from exc
                raise

    def get(self, cls: type[R], record_id: str) -> R | None:
        with aws_errors("DynamoDB"):
            item = self._db.get_item(TableName=self.table, ConsistentRead=True, Key={
                "pk": {"S": cls.KIND}, "sk": {"S": record_id}}).get("Item")
        return self._decode(cls, item) if item else None

    def _items(self, cls: type[Record], where: Mapping[str, Any] | None) -> Iterator[dict]:
        names: dict[str, str] = {"#pk": "pk"}
        values: dict[str, Any] = {":pk": {"S": cls.KIND}}
        clauses = self._conditions(cls, where or {}, names, values, "w")
        request: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
        }
        if clauses:
            request["FilterExpression"] = " AND ".join(clauses)
        paginator = self._db.get_paginator("query")
        with aws_errors("DynamoDB"):
            for page in paginator.paginate(**request):
                yield from page.get("Items", ())

    def query(self, cls: type[R], where: Mapping[str, Any] | None = None, *,
              order_by: str | None = None, descending: bool = False,
              limit: int | None = None) -> list[R]:
        if order_by:
            cls.check_fields([order_by])
        if _matches_nothing(where):
            cls.check_fields(where or {})
            return []
        records: list[R] = []
        for item in self._items(cls, where):
            records.append(self._decode(cls, item))
            if order_by is None and limit is not None and len(records) >= limit:
                break
        if order_by:
            # As SQL orders: NULLs first ascending, then ties broken by id.
            records.sort(key=lambda r: r.id)
            records.sort(key=lambda r: (getattr(r, order_by) is not None,
                                        getattr(r, order_by) if getattr(r, order_by)
                                        is not None else 0), reverse=descending)
        return records[:limit] if limit is not None else records

    def update(self, cls: type[Record], record_id: str, changes: Mapping[str, Any], *,
               expect: Mapping[str, Any] | None = None) -> bool:
        if not changes:
            return self.get(cls, record_id) is not None
        cls.check_fields(changes)
        if _matches_nothing(expect):
            return False
        names: dict[str, str] = {"#r": "r"}
        values: dict[str, Any] = {}
        sets = []
        for index, (name, value) in enumerate(changes.items()):
            names[f"#s{index}"] = name
            values[f":s{index}"] = self._value(cls, name, value)
            sets.append(f"#r.#s{index} = :s{index}")
        conditions = ["attribute_exists(pk)",
                      *self._conditions(cls, expect or {}, names, values, "e")]
        with aws_errors("DynamoDB"):
            try:
                self._db.update_item(
                    TableName=self.table, Key={"pk": {"S": cls.KIND}, "sk": {"S": record_id}},
                    UpdateExpression="SET " + ", ".join(sets),
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeNames=names, ExpressionAttributeValues=values)
            except Exception as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def delete(self, cls: type[Record], record_id: str) -> bool:
        key = {"pk": {"S": cls.KIND}, "sk": {"S": record_id}}
        with aws_errors("DynamoDB"):
            try:
                old = self._db.delete_item(TableName=self.table, Key=key,
                                           ConditionExpression="attribute_exists(pk)",
                                           ReturnValues="ALL_OLD").get("Attributes")
            except Exception as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
            if old and cls.UNIQUE_TOGETHER:
                unique = self._unique_item(self._decode(cls, old))
                if unique is not None:
                    self._db.delete_item(TableName=self.table,
                                         Key={"pk": unique["pk"], "sk": unique["sk"]})
        return bool(old)


def _matches_nothing(where: Mapping[str, Any] | None) -> bool:
    """An empty tuple of allowed values (`IN ()`) matches no record."""
    return any(value == () for value in (where or {}).values())


def _conditional(exc: BaseException) -> bool:
    """Whether a failed write failed on its condition (not on a conflict or throttling)."""
    if error_code(exc) == "ConditionalCheckFailedException":
        return True
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)


def _optional(f: dataclasses.Field) -> bool:
    return "None" in str(f.type)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None
