"""A loopback HTTPS server speaking the part of Key Vault's REST API the service uses:
`GET /secrets/{name}[/{version}]?api-version=...` with a bearer token.

No Key Vault emulator exists in the package registries, so the pepper provider is tested
against this instead. It answers as Key Vault does: 401 with a `WWW-Authenticate` bearer
challenge without a token, 403 `ForbiddenByRbac` for a token whose object id holds no
role on the vault, 404 `SecretNotFound`, 400 without `api-version`, and otherwise the
secret bundle (`value`, `id`, `attributes`).
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["KeyVaultServer"]


class KeyVaultServer:
    def __init__(self, cert: str, key: str, *, readers: set[str]) -> None:
        self.secrets: dict[str, dict[str, dict]] = {}
        self.readers = readers
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                authorization = self.headers.get("Authorization")
                server.requests.append((parts.path, authorization))
                if "api-version" not in parse_qs(parts.query):
                    return self._answer(400, {"error": {"code": "BadParameter",
                                                        "message": "api-version missing"}})
                if not authorization or not authorization.startswith("Bearer "):
                    return self._answer(401, {"error": {"code": "Unauthorized"}}, {
                        "WWW-Authenticate": 'Bearer authorization="https://login.microsoft'
                        'online.com/tenant", resource="https://vault.azure.net"'})
                if _object_id(authorization[7:]) not in server.readers:
                    return self._answer(403, {"error": {"code": "Forbidden", "innererror": {
                        "code": "ForbiddenByRbac"}}})
                segments = [s for s in parts.path.split("/") if s]
                if len(segments) not in (2, 3) or segments[0] != "secrets":
                    return self._answer(404, {"error": {"code": "NotFound"}})
                versions = server.secrets.get(segments[1], {})
                version = segments[2] if len(segments) == 3 else next(reversed(versions), None)
                bundle = versions.get(version) if version else None
                if bundle is None:
                    return self._answer(404, {"error": {"code": "SecretNotFound",
                                                        "message": "A secret was not found"}})
                return self._answer(200, bundle)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def set_secret(self, name: str, value: str, *, enabled: bool = True) -> str:
        version = f"v{len(self.secrets.get(name, {})) + 1:031d}"
        self.secrets.setdefault(name, {})[version] = {
            "value": value, "id": f"{self.url}/secrets/{name}/{version}",
            "attributes": {"enabled": enabled, "recoveryLevel": "Recoverable+Purgeable"}}
        return version

    def __enter__(self) -> KeyVaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _object_id(token: str) -> str | None:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return claims.get("oid")
