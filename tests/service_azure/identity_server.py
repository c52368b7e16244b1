"""A loopback managed-identity endpoint, as Container Apps and Functions provide one:
`IDENTITY_ENDPOINT` + `IDENTITY_HEADER` in the environment, `GET ?resource=...&api-version=
2019-08-01&client_id=...` with the `X-IDENTITY-HEADER` header, answered with a bearer
token. azure-identity's `ManagedIdentityCredential` (inside `DefaultAzureCredential`)
takes exactly this path on Azure, so the service runs here as it runs there.

The tokens are the unsigned JWTs Azurite's `--oauth basic` accepts (audience, issuer and
lifetime are checked, not a signature); their `oid` is the client id asked for.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["IdentityEndpoint"]


class IdentityEndpoint:
    def __init__(self) -> None:
        from .conftest import FakeEntraToken

        self.header = secrets.token_hex(16)
        self.issued: list[tuple[str, str | None]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                query = parse_qs(urlsplit(self.path).query)
                if self.headers.get("X-IDENTITY-HEADER") != endpoint.header:
                    self.send_response(401)
                    self.end_headers()
                    return
                resource = query.get("resource", [""])[0]
                client_id = query.get("client_id", [None])[0]
                endpoint.issued.append((resource, client_id))
                token = FakeEntraToken(client_id or "system").get_token(resource + "/.default")
                body = json.dumps({"access_token": token.token, "token_type": "Bearer",
                                   "expires_on": str(int(time.time()) + 3600),
                                   "resource": resource, "client_id": client_id}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/msi/token"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def environment(self, client_id: str) -> dict[str, str]:
        """What the platform's runtime sees: the endpoint and the identity to ask for."""
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.header,
                "AZURE_CLIENT_ID": client_id}

    def __enter__(self) -> IdentityEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
