"""The pepper from AWS Secrets Manager: `SYNTH_API_KEYS_SECRET=arn:aws:secretsmanager:...`.

The secret's string is the pepper itself (the construct generates 64 alphanumerics), or
its binary value. The value is cached per process for `ttl` seconds (default 300), so a
warm Lambda or a worker reads Secrets Manager once, not on every request;
`secretsmanager://<name or ARN>?ttl=60` names a secret by name and sets the TTL.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qsl, unquote, urlsplit

from ._aws import ClientFactory, aws_errors
from .secrets import SecretProvider, _decode

__all__ = ["SecretsManagerProvider"]

_DEFAULT_TTL = 300.0
_cache: dict[str, tuple[float, bytes]] = {}
_cache_lock = threading.Lock()


class SecretsManagerProvider(SecretProvider):
    """Reads one secret (by ARN or name), caching its value in process."""

    def __init__(self, secret_id: str, *, ttl: float = _DEFAULT_TTL,
                 region: str | None = None, clients: ClientFactory | None = None) -> None:
        if not secret_id:
            raise ValueError("name the pepper's secret: an ARN or secretsmanager://<name>")
        self.secret_id = secret_id
        self.ttl = ttl
        self._clients = clients or ClientFactory(region=region or _arn_region(secret_id),
                                                 read_timeout=10)

    @classmethod
    def from_url(cls, url: str) -> SecretsManagerProvider:
        if url.startswith("arn:"):
            if ":secretsmanager:" not in url:
                raise ValueError(f"{url!r} is not a Secrets Manager secret ARN")
            return cls(url)
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        secret_id = unquote(parts.netloc + parts.path)
        return cls(secret_id, ttl=float(query.get("ttl", _DEFAULT_TTL)),
                   region=query.get("region"))

    def pepper(self) -> bytes:
        now = time.monotonic()
        with _cache_lock:
            cached = _cache.get(self.secret_id)
            if cached is not None and now - cached[0] < self.ttl:
                return cached[1]
        with aws_errors("Secrets Manager"):
            answer = self._clients.client("secretsmanager").get_secret_value(
                SecretId=self.secret_id)
        raw = answer.get("SecretString")
        value = _decode(raw if raw is not None else bytes(answer["SecretBinary"]).decode(),
                        f"secret {self.secret_id}")
        with _cache_lock:
            _cache[self.secret_id] = (now, value)
        return value


def clear_cache() -> None:
    """Forget cached secrets (tests, or after a rotation)."""
    with _cache_lock:
        _cache.clear()


def _arn_region(secret_id: str) -> str | None:
    parts = secret_id.split(":")
    return parts[3] if secret_id.startswith("arn:") and len(parts) > 3 and parts[3] else None
