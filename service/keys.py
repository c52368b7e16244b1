"""API keys: issue, verify, revoke. Only salted, peppered hashes are stored.

A key reads `sk_<id>_<secret>`: the id finds the record, the secret (32 random bytes) is
checked against HMAC-SHA256(pepper, salt || secret). The secret has full entropy, so a
slow KDF buys nothing; the pepper (kept outside the metadata store) means a leaked
database alone cannot verify guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from ._util import new_id, utcnow_iso
from .backends.metadata import ApiKeyRecord, MetadataStore

__all__ = ["OWNER_PATTERN", "SCOPES", "IssuedKey", "KeyManager", "key_id_of", "scope_allows"]

SCOPES = ("read", "write", "admin")
_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}
_KEY_RE = re.compile(r"^sk_(key_[0-9a-f]{20})_([A-Za-z0-9_-]{43})$")
OWNER_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
"""What an owner name may be (the API's schema states the same pattern)."""
_OWNER_RE = re.compile(OWNER_PATTERN)
_KEY_ID_RE = re.compile(r"^sk_(key_[0-9a-f]{20})_")


def key_id_of(presented: str) -> str | None:
    """The key id a presented key claims (for the audit of a failed attempt), if any."""
    match = _KEY_ID_RE.match(presented.strip())
    return match.group(1) if match else None


def scope_allows(held: str, needed: str) -> bool:
    """admin > write > read: a key may do what its scope and every lower one allows."""
    return _RANK.get(held, -1) >= _RANK[needed]


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKeyRecord
    secret: str
    """The full key, shown once and never stored."""


class KeyManager:
    def __init__(self, store: MetadataStore, pepper: bytes) -> None:
        self._store = store
        self._pepper = pepper

    def _hash(self, salt: str, secret: str) -> str:
        message = bytes.fromhex(salt) + secret.encode()
        return hmac.new(self._pepper, message, hashlib.sha256).hexdigest()

    def issue(self, *, scope: str, name: str = "", owner: str = "default",
              created_by: str | None = None) -> IssuedKey:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        if not _OWNER_RE.match(owner):
            raise ValueError("owner must be 1-63 lowercase letters, digits, '-' or '_'")
        key_id = new_id("key")
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        record = ApiKeyRecord(id=key_id, name=name, scope=scope, owner=owner, salt=salt,
                              hash=self._hash(salt, secret), created_at=utcnow_iso(),
                              created_by=created_by)
        self._store.insert(record)
        return IssuedKey(record=record, secret=f"sk_{key_id}_{secret}")

    def verify(self, presented: str) -> ApiKeyRecord | None:
        """The live key record the presented key proves, or None (in constant time per id)."""
        match = _KEY_RE.match(presented.strip())
        if not match:
            return None
        key_id, secret = match.groups()
        record = self._store.get(ApiKeyRecord, key_id)
        if record is None:
            # Same work as a real check, so timing does not reveal which ids exist.
            hmac.compare_digest(self._hash("00" * 16, secret), "0" * 64)
            return None
        if not hmac.compare_digest(self._hash(record.salt, secret), record.hash):
            return None
        if record.revoked_at is not None:
            return None
        return record

    def touch(self, key_id: str) -> None:
        """Record that the key was just used (`last_used_at`)."""
        self._store.update(ApiKeyRecord, key_id, {"last_used_at": utcnow_iso()},
                           expect={"revoked_at": None})

    def revoke(self, key_id: str) -> bool:
        return self._store.update(ApiKeyRecord, key_id, {"revoked_at": utcnow_iso()},
                                  expect={"revoked_at": None})

    def list(self) -> list[ApiKeyRecord]:
        return self._store.query(ApiKeyRecord, order_by="created_at")
