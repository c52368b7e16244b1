"""The pepper from Google Secret Manager: `SYNTH_API_KEYS_SECRET=projects/<p>/secrets/<s>`.

The reference is the secret's resource name (what Terraform's `google_secret_manager_secret`
reports as `id`), optionally with `/versions/<n>`; without a version, `latest` is read.
The call is Secret Manager's REST `:access` method through `google-auth` (already present
with the storage and Firestore clients, so no extra client library), authenticated with
Application Default Credentials; the payload's CRC32C is verified.

With `SECRET_MANAGER_EMULATOR_HOST=host:port` set (the convention of Google's emulators:
STORAGE_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST), the same call goes over plain HTTP to that
host with anonymous credentials: how the image tests run it against a local stand-in.

The pepper is read once per process and cached: every API key hash and model integrity
tag depends on it, so it must not change under a running service (rotating it is a
redeploy that re-issues keys), and a cold start then costs one Secret Manager call.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from typing import Any

from ..errors import ServiceUnavailable
from .secrets import _MIN_PEPPER_BYTES, SecretProvider, _decode

__all__ = ["SecretManagerProvider", "clear_cache"]

DEFAULT_ENDPOINT = "https://secretmanager.googleapis.com"
EMULATOR_HOST = "SECRET_MANAGER_EMULATOR_HOST"
_NAME_RE = re.compile(r"^projects/([^/]+)/secrets/([^/]+)(?:/versions/([^/]+))?$")
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_TIMEOUT_SECONDS = 10

_cache: dict[tuple[str, str], bytes] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget cached peppers (tests; a process normally keeps its pepper for life)."""
    with _cache_lock:
        _cache.clear()


class SecretManagerProvider(SecretProvider):
    """Reads one Secret Manager secret version's payload as the pepper."""

    def __init__(self, name: str, *, endpoint: str = DEFAULT_ENDPOINT,
                 credentials: Any = None) -> None:
        match = _NAME_RE.match(name)
        if not match:
            raise ValueError(f"{name!r} is not a Secret Manager reference; expected "
                             "projects/<project>/secrets/<secret>[/versions/<version>]")
        project, secret, version = match.groups()
        self.name = f"projects/{project}/secrets/{secret}/versions/{version or 'latest'}"
        self.endpoint = endpoint.rstrip("/")
        self._credentials = credentials

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SecretManagerProvider:
        emulator = os.environ.get(EMULATOR_HOST)
        if emulator and "endpoint" not in kwargs:
            from google.auth.credentials import AnonymousCredentials

            kwargs.update(endpoint=f"http://{emulator}", credentials=AnonymousCredentials())
        return cls(url, **kwargs)

    def pepper(self) -> bytes:
        cache_key = (self.endpoint, self.name)
        with _cache_lock:
            if cache_key not in _cache:
                _cache[cache_key] = self._access()
            return _cache[cache_key]

    def _session(self) -> Any:
        from google.auth.transport.requests import AuthorizedSession

        credentials = self._credentials
        if credentials is None:
            import google.auth

            credentials, _ = google.auth.default(scopes=_SCOPES)
        return AuthorizedSession(credentials)

    def _access(self) -> bytes:
        import google_crc32c

        url = f"{self.endpoint}/v1/{self.name}:access"
        try:
            with self._session() as session:
                response = session.get(url, timeout=_TIMEOUT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - no credentials, DNS, timeout
            raise _unavailable(f"cannot reach Secret Manager for {self.name}: {exc}") from exc
        if response.status_code == 404:
            raise _unavailable(f"{self.name} does not exist or has no enabled version; add "
                               "one: `openssl rand -base64 48 | gcloud secrets versions add "
                               "<secret> --data-file=-`")
        if response.status_code == 403:
            raise _unavailable(f"the service's identity may not read {self.name}; grant it "
                               "roles/secretmanager.secretAccessor on that secret")
        if response.status_code != 200:
            raise _unavailable(f"Secret Manager answered {response.status_code} for "
                               f"{self.name}: {response.text[:200]}")
        payload = response.json().get("payload", {})
        data = base64.b64decode(payload.get("data", ""))
        expected = payload.get("dataCrc32c")
        if expected is not None and int(expected) != google_crc32c.value(data):
            raise _unavailable(f"the payload of {self.name} failed its CRC32C check")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # a binary pepper: used byte for byte
            return data if len(data) >= _MIN_PEPPER_BYTES else _decode("", self.name)
        # Text peppers lose the newline `gcloud secrets versions add --data-file=-` keeps.
        return _decode(text.strip(), self.name)


def _unavailable(message: str) -> ServiceUnavailable:
    return ServiceUnavailable(message, code="pepper_unavailable")
