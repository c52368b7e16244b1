"""The pepper from Secret Manager. No Secret Manager emulator exists, so a loopback HTTP
server answers the REST `:access` method in the documented shape; the provider's real
HTTP path (auth session, status handling, CRC32C check, caching) runs against it."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import google_crc32c
import pytest
from google.auth.credentials import AnonymousCredentials

from synthdata_service.backends import open_secret_provider
from synthdata_service.backends.gcp_secrets import SecretManagerProvider, clear_cache
from synthdata_service.errors import ServiceUnavailable

PEPPER = b"q8Zr0w7VxW6m1c2nD3f4G5h6J7k8L9pQ0rS1tU2vW3xY4zA5bC6dE7fG8hI9jK0l"


class _SecretManager(BaseHTTPRequestHandler):
    secrets: dict[str, tuple[int, dict]] = {}
    calls: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.calls.append(self.path)
        status, body = self.secrets.get(self.path, (404, {"error": {"code": 404}}))
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


def _payload(data: bytes, crc: int | None = None) -> tuple[int, dict]:
    return 200, {"name": "x", "payload": {
        "data": base64.b64encode(data).decode(),
        "dataCrc32c": str(google_crc32c.value(data) if crc is None else crc)}}


@pytest.fixture
def secret_manager():
    clear_cache()
    _SecretManager.secrets, _SecretManager.calls = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SecretManager)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield _SecretManager, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    clear_cache()


def _provider(endpoint: str, name: str) -> SecretManagerProvider:
    return SecretManagerProvider(name, endpoint=endpoint, credentials=AnonymousCredentials())


def test_a_secret_name_reads_its_latest_version_once_per_process(secret_manager):
    fake, endpoint = secret_manager
    fake.secrets["/v1/projects/p/secrets/pepper/versions/latest:access"] = \
        _payload(PEPPER + b"\n")  # `gcloud secrets versions add --data-file=-` keeps it
    assert _provider(endpoint, "projects/p/secrets/pepper").pepper() == PEPPER
    assert _provider(endpoint, "projects/p/secrets/pepper").pepper() == PEPPER
    assert len(fake.calls) == 1


def test_a_version_reference_reads_that_version(secret_manager):
    fake, endpoint = secret_manager
    fake.secrets["/v1/projects/p/secrets/pepper/versions/3:access"] = _payload(PEPPER)
    assert _provider(endpoint, "projects/p/secrets/pepper/versions/3").pepper() == PEPPER


def test_a_binary_pepper_is_used_byte_for_byte(secret_manager):
    fake, endpoint = secret_manager
    binary = bytes(range(256))[::-1][:48] + b"\n"
    fake.secrets["/v1/projects/p/secrets/bin/versions/latest:access"] = _payload(binary)
    assert _provider(endpoint, "projects/p/secrets/bin").pepper() == binary


@pytest.mark.parametrize(("answer", "message"), [
    (None, "gcloud secrets versions add"),
    ((403, {"error": {"code": 403}}), "roles/secretmanager.secretAccessor"),
    (_payload(PEPPER, crc=1), "CRC32C"),
    (_payload(b"short"), "at least 32 random bytes"),
])
def test_unusable_secrets_fail_with_the_fix(secret_manager, answer, message):
    fake, endpoint = secret_manager
    if answer is not None:
        fake.secrets["/v1/projects/p/secrets/s/versions/latest:access"] = answer
    with pytest.raises(ServiceUnavailable, match=message) as raised:
        _provider(endpoint, "projects/p/secrets/s").pepper()
    assert raised.value.code == "pepper_unavailable"


def test_the_registry_resolves_secret_manager_resource_names():
    provider = open_secret_provider("projects/my-proj/secrets/synth-pepper")
    assert isinstance(provider, SecretManagerProvider)
    assert provider.name == "projects/my-proj/secrets/synth-pepper/versions/latest"
    with pytest.raises(ValueError, match="projects/<project>/secrets/<secret>"):
        open_secret_provider("projects/my-proj/topics/t")


def test_the_emulator_host_variable_redirects_the_call(secret_manager, monkeypatch):
    fake, endpoint = secret_manager
    fake.secrets["/v1/projects/p/secrets/pepper/versions/latest:access"] = _payload(PEPPER)
    monkeypatch.setenv("SECRET_MANAGER_EMULATOR_HOST", endpoint.removeprefix("http://"))
    assert open_secret_provider("projects/p/secrets/pepper").pepper() == PEPPER
    assert fake.calls == ["/v1/projects/p/secrets/pepper/versions/latest:access"]
