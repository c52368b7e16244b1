"""Where the key-hashing pepper comes from: a small provider interface by URL scheme.

`SYNTH_API_KEYS_SECRET` names the secret. Local default: `file://<data_dir>/pepper`,
created with 32 random bytes and mode 0600 on first use. `env://VAR` reads a variable.
AWS Secrets Manager and GCP Secret Manager providers register their own schemes later.
"""

from __future__ import annotations

import abc
import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import ServiceUnavailable

__all__ = ["EnvSecretProvider", "FileSecretProvider", "SecretProvider"]

_MIN_PEPPER_BYTES = 16


class SecretProvider(abc.ABC):
    """Returns the pepper: the bytes every key hash and model integrity tag is keyed with."""

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str) -> SecretProvider: ...

    @abc.abstractmethod
    def pepper(self) -> bytes: ...


class FileSecretProvider(SecretProvider):
    """A local file holding the pepper (hex); created 0600 if missing."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def from_url(cls, url: str) -> FileSecretProvider:
        parts = urlsplit(url)
        return cls(unquote(parts.netloc + parts.path))

    def pepper(self) -> bytes:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first; read theirs
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(32))
        value = self.path.read_text().strip()
        return _decode(value, str(self.path))


class EnvSecretProvider(SecretProvider):
    """`env://VARIABLE`: the pepper from an environment variable (e.g. injected by k8s)."""

    def __init__(self, variable: str) -> None:
        self.variable = variable

    @classmethod
    def from_url(cls, url: str) -> EnvSecretProvider:
        return cls(urlsplit(url).netloc)

    def pepper(self) -> bytes:
        value = os.environ.get(self.variable, "")
        return _decode(value, f"${self.variable}")


def _decode(value: str, where: str) -> bytes:
    raw = value.encode()
    if len(raw) < _MIN_PEPPER_BYTES:
        raise ServiceUnavailable(
            f"the API key pepper in {where} is missing or shorter than {_MIN_PEPPER_BYTES} "
            "bytes; set SYNTH_API_KEYS_SECRET to a secret of at least 32 random bytes",
            code="pepper_unavailable",
        )
    return raw
