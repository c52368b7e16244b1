"""ASGI middleware: request ids, body size limits, security headers, HTTP metrics, CORS."""

from __future__ import annotations

import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PayloadTooLarge

__all__ = ["CORS_HEADERS", "RequestContextMiddleware", "add_cors"]

#: Request headers a browser may send cross-origin, and response headers it may read.
CORS_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
_EXPOSED_HEADERS = ("X-Request-ID", "Retry-After", "Content-Disposition")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SMALL_BODY = 1 << 20
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
]


class _BodyTooLarge(PayloadTooLarge):
    pass


class RequestContextMiddleware:
    """Assigns a request id (or keeps a well-formed incoming `X-Request-ID`), refuses
    bodies over the route's limit while they arrive, and records metrics."""

    def __init__(self, app: ASGIApp, *, upload_limit: int, metrics) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else f"req_{secrets.token_hex(8)}"
        scope.setdefault("state", {})["request_id"] = request_id
        path = scope.get("path", "")
        limit = self.upload_limit + (1 << 20) if path.rstrip("/") == "/v1/datasets" else _SMALL_BODY
        declared = headers.get(b"content-length")
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                existing = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in [(b"x-request-id", request_id.encode()), *_SECURITY_HEADERS]
                         if h[0] not in existing]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, send_with_headers, request_id, limit)
        else:
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise _BodyTooLarge(f"the request body is over {limit} bytes",
                                            code="payload_too_large")
                return message

            await self.app(scope, limited_receive, send_with_headers)
        route = self._route(scope)
        self.metrics.requests.labels(scope["method"], route, str(status_holder["status"])).inc()
        self.metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - started)

    @staticmethod
    def _route(scope: Scope) -> str:
        route = scope.get("route")
        return getattr(route, "path", None) or "unmatched"

    async def _too_large(self, scope: Scope, send: Send, request_id: str, limit: int) -> None:
        import json

        body = json.dumps({
            "type": "https://synthdata.dev/problems/payload_too_large",
            "title": "Payload too large", "status": 413, "code": "payload_too_large",
            "detail": f"the request body is larger than this route's limit of {limit} bytes",
            "instance": scope.get("path", ""), "request_id": request_id,
        }).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def add_cors(app, origins) -> None:
    """Answer CORS for exactly `origins` (`SYNTH_CORS_ORIGINS`, from the spec's
    `api.cors_origins`) where no edge in front of the service does (GCP). Outermost, so
    preflights are answered before authentication and every error carries the headers.
    Credentials (cookies) are not allowed: callers authenticate with bearer keys."""
    from starlette.middleware.cors import CORSMiddleware

    app.add_middleware(CORSMiddleware, allow_origins=list(origins),
                       allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                       allow_headers=list(CORS_HEADERS), expose_headers=list(_EXPOSED_HEADERS),
                       allow_credentials=False, max_age=600)
