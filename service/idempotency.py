"""`Idempotency-Key` for the POSTs that create work (uploads, training, retraining,
linked samples, reports, job retries).

A client that did not hear the answer to a request sends it again with the same key and
gets the first answer instead of a second dataset or a second training job. The key is
scoped to the caller's owner; the request is fingerprinted (method, path and a canonical
digest of what it asks for, not of incidental bytes such as a multipart boundary):

* same key, same request, first one finished -> its response again (`Idempotent-Replayed:
  true`);
* same key, same request, first one still running -> `409 idempotency_in_progress`;
* same key, another request -> `422 idempotency_key_reused`.

Only successful (2xx) answers are kept, for `TTL_SECONDS`; an error releases the key so a
retry runs again. A record left `pending` by a crashed process is taken over once its
lease (`LEASE_SECONDS`) has passed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ._util import utcnow_iso
from .backends.metadata import DuplicateRecord, IdempotencyRecord, MetadataStore
from .errors import Conflict, InvalidInput

__all__ = ["HEADER", "Claim", "IdempotencyStore", "fingerprint"]

HEADER = "Idempotency-Key"
TTL_SECONDS = 24 * 3600
LEASE_SECONDS = 15 * 60
_KEY_RE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")


def fingerprint(method: str, path: str, *parts: Any) -> str:
    """A digest of what a request asks for: JSON-able parts in canonical form."""
    digest = hashlib.sha256(f"{method.upper()} {path}".encode())
    for part in parts:
        digest.update(b"\x00")
        digest.update(json.dumps(part, sort_keys=True, separators=(",", ":"),
                                 default=str).encode())
    return digest.hexdigest()


@dataclass
class Claim:
    """This request owns the key: it runs, then `complete`s or `release`s it."""

    record_id: str
    replay: dict | None = None
    """The stored first answer, when this is a repeat (then nothing is claimed)."""


class IdempotencyStore:
    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    @staticmethod
    def record_id(owner: str, key: str) -> str:
        return "idk_" + hashlib.sha256(f"{owner}\x00{key}".encode()).hexdigest()[:40]

    @staticmethod
    def check_key(key: str) -> str:
        if not _KEY_RE.match(key or ""):
            raise InvalidInput(f"the {HEADER} header must be 1-255 printable ASCII characters "
                               "(a UUID is a good choice)", code="invalid_idempotency_key")
        return key

    def begin(self, owner: str, key: str, *, method: str, path: str,
              digest: str) -> Claim:
        self.check_key(key)
        record_id = self.record_id(owner, key)
        for _attempt in range(3):
            now = utcnow_iso()
            record = self._store.get(IdempotencyRecord, record_id)
            if record is not None and record.expires_at < now:
                self._store.delete(IdempotencyRecord, record_id)
                record = None
            if record is None:
                try:
                    self._store.insert(IdempotencyRecord(
                        id=record_id, owner=owner, key=key, method=method, path=path,
                        fingerprint=digest, status="pending", created_at=now,
                        expires_at=utcnow_iso(TTL_SECONDS),
                        locked_until=utcnow_iso(LEASE_SECONDS)))
                    return Claim(record_id)
                except DuplicateRecord:
                    continue  # a concurrent first request: look again
            if record.fingerprint != digest:
                raise InvalidInput(
                    f"this {HEADER} was used for a different request ({record.method} "
                    f"{record.path}); use a new key for a new request",
                    code="idempotency_key_reused")
            if record.status == "done":
                return Claim(record_id, replay=record.response)
            if (record.locked_until or "") > now:
                raise Conflict(f"a request with this {HEADER} is still running; retry when "
                               "it has finished", code="idempotency_in_progress",
                               headers={"Retry-After": "2"})
            if self._store.update(IdempotencyRecord, record_id,
                                  {"locked_until": utcnow_iso(LEASE_SECONDS)},
                                  expect={"status": "pending",
                                          "locked_until": record.locked_until}):
                return Claim(record_id)  # its first owner died; this request takes over
        raise Conflict(f"the {HEADER} is contended; retry", code="idempotency_in_progress",
                       headers={"Retry-After": "2"})

    def complete(self, claim: Claim, *, status: int, body: Any,
                 headers: dict[str, str] | None = None) -> None:
        self._store.update(IdempotencyRecord, claim.record_id, {
            "status": "done", "locked_until": None,
            "response": {"status": status, "body": body, "headers": headers or {}}})

    def release(self, claim: Claim) -> None:
        try:
            self._store.delete(IdempotencyRecord, claim.record_id)
        except Exception:  # noqa: BLE001 - the lease expires on its own
            pass
