"""Expiring download links signed with the pepper (used when storage cannot presign)."""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["sign_download", "verify_download"]


def _mac(pepper: bytes, artifact_id: str, expires: int) -> str:
    message = f"download:{artifact_id}:{expires}".encode()
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


def sign_download(pepper: bytes, artifact_id: str, ttl_seconds: int) -> tuple[int, str]:
    expires = int(time.time()) + int(ttl_seconds)
    return expires, _mac(pepper, artifact_id, expires)


def verify_download(pepper: bytes, artifact_id: str, expires: int, signature: str) -> str:
    """'ok', 'expired' or 'invalid' (whatever bytes the caller put in the link)."""
    expected = _mac(pepper, artifact_id, int(expires)).encode()
    if not hmac.compare_digest(expected, (signature or "").encode("utf-8", "replace")):
        return "invalid"
    if int(expires) < time.time():
        return "expired"
    return "ok"
