"""The pepper from Azure Key Vault:
`SYNTH_API_KEYS_SECRET=https://<vault>.vault.azure.net/secrets/<name>[/<version>]`.

The reference is the secret's identifier as Key Vault prints it (the vault's URI plus
`secrets/<name>`); without a version the current one is read. The call is Key Vault's
REST `GET secret` (api-version 7.4) over httpx with an Entra ID token for the vault's
audience from `azure-identity` (`DefaultAzureCredential`: the user-assigned managed
identity named by `AZURE_CLIENT_ID` on Container Apps and Functions), so no Key Vault
client library is needed. The identity needs `Key Vault Secrets User` on the vault.

The pepper is read once per process and cached, for the same reasons as on the other
clouds: every key hash and model integrity tag depends on it.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlsplit

from ..errors import ServiceUnavailable
from .secrets import SecretProvider, _decode

__all__ = ["API_VERSION", "KeyVaultSecretProvider", "clear_cache"]

API_VERSION = "7.4"
_PATH_RE = re.compile(r"^/secrets/([0-9A-Za-z-]{1,127})(?:/([0-9A-Za-z]{1,64}))?/?$")
_TIMEOUT_SECONDS = 10

_cache: dict[str, bytes] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget cached peppers (tests; a process normally keeps its pepper for life)."""
    with _cache_lock:
        _cache.clear()


def _audience(host: str) -> str:
    """`https://vault.azure.net/.default` for `<vault>.vault.azure.net` (and the same rule
    for sovereign clouds' vault domains, `vault.azure.cn`, `vault.usgovcloudapi.net`);
    the public cloud's audience for any other host."""
    _, _, domain = host.partition(".")
    return f"https://{domain if domain.startswith('vault.') else 'vault.azure.net'}/.default"


class KeyVaultSecretProvider(SecretProvider):
    """Reads one Key Vault secret's value as the pepper."""

    def __init__(self, url: str, *, credential: Any = None, scope: str | None = None,
                 verify: Any = True) -> None:
        parts = urlsplit(url)
        match = _PATH_RE.match(parts.path)
        if parts.scheme != "https" or not parts.netloc or not match:
            raise ValueError(f"{url!r} is not a Key Vault secret identifier; expected "
                             "https://<vault>.vault.azure.net/secrets/<name>[/<version>]")
        name, version = match.groups()
        self.vault = f"https://{parts.netloc}"
        self.name = name
        self.version = version or ""
        self.url = f"{self.vault}/secrets/{name}" + (f"/{version}" if version else "")
        self.scope = scope or _audience(parts.hostname or "")
        self._credential = credential
        self._verify = verify

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> KeyVaultSecretProvider:
        return cls(url, **kwargs)

    def pepper(self) -> bytes:
        with _cache_lock:
            if self.url not in _cache:
                _cache[self.url] = self._read()
            return _cache[self.url]

    def _token(self) -> str:
        credential = self._credential
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = self._credential = DefaultAzureCredential()
        return credential.get_token(self.scope).token

    def _read(self) -> bytes:
        import httpx

        try:
            token = self._token()
            response = httpx.get(f"{self.url}?api-version={API_VERSION}",
                                 headers={"Authorization": f"Bearer {token}"},
                                 timeout=_TIMEOUT_SECONDS, verify=self._verify)
        except Exception as exc:  # noqa: BLE001 - no credentials, DNS, TLS, timeout
            raise _unavailable(f"cannot reach Key Vault for {self.url}: {exc}") from exc
        if response.status_code == 404:
            raise _unavailable(
                f"{self.url} does not exist or has no enabled version; set it once: `az "
                f"keyvault secret set --vault-name <vault> --name {self.name} --value "
                "\"$(openssl rand -base64 48)\"`")
        if response.status_code in (401, 403):
            raise _unavailable(f"the service's identity may not read {self.url} "
                               f"({response.status_code}); grant it 'Key Vault Secrets User' "
                               "on the vault")
        if response.status_code != 200:
            raise _unavailable(f"Key Vault answered {response.status_code} for {self.url}: "
                               f"{response.text[:200]}")
        body = response.json()
        if not (body.get("attributes") or {}).get("enabled", True):
            raise _unavailable(f"{self.url} is disabled; enable it or name another version")
        return _decode(str(body.get("value") or "").strip(), self.url)


def _unavailable(message: str) -> ServiceUnavailable:
    return ServiceUnavailable(message, code="pepper_unavailable")
