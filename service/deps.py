"""FastAPI dependencies: the lazily built `Service`, the caller's key, scopes, rate limits,
upload slots and idempotent execution.

The `Service` (storage, metadata, runner) is built on the first request that needs it,
so `/healthz` and the Lambda cold start never touch a backend.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ._util import parse_time, utcnow
from .backends.metadata import ApiKeyRecord
from .core import Service
from .errors import Forbidden, RateLimited, ServiceUnavailable, Unauthorized
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import fingerprint
from .keys import key_id_of, scope_allows

__all__ = [
    "ServiceHolder",
    "UploadSlots",
    "authenticated",
    "bearer",
    "get_service",
    "idempotency_header",
    "once",
    "request_id",
    "require",
    "run_idempotent",
]

bearer = HTTPBearer(auto_error=False, scheme_name="apiKey",
                    description="An API key, `sk_<id>_<secret>`, from `synthctl keys create` "
                    "or `POST /v1/keys`.")
_LAST_USED_EVERY = timedelta(seconds=60)


class ServiceHolder:
    """Builds the app's `Service` once, on first use."""

    def __init__(self, factory: Callable[[], Service]) -> None:
        self._factory = factory
        self._service: Service | None = None
        self._lock = threading.Lock()

    def get(self) -> Service:
        if self._service is None:
            with self._lock:
                if self._service is None:
                    self._service = self._factory()
        return self._service

    @property
    def built(self) -> Service | None:
        return self._service

    def close(self) -> None:
        if self._service is not None:
            self._service.close()
            self._service = None


class UploadSlots:
    """At most `limit` uploads are parsed at once per replica; the next one is told to
    come back (503 + Retry-After) instead of queueing in memory."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, int(limit))
        self._slots = threading.BoundedSemaphore(self.limit)

    @contextmanager
    def take(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise ServiceUnavailable(
                f"this replica is already reading {self.limit} uploads (the "
                "SYNTH_MAX_CONCURRENT_UPLOADS limit); retry shortly", code="upload_capacity",
                retry_after=5)
        try:
            yield
        finally:
            self._slots.release()


def get_service(request: Request) -> Service:
    return request.app.state.services.get()


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "")


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticated(request: Request,
                  credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                  ) -> ApiKeyRecord:
    if credentials is None or not credentials.credentials.strip():
        # Refused before any backend is touched: a cold start answers this for free.
        raise Unauthorized("send your API key as `Authorization: Bearer <key>`; an admin "
                           "creates keys with `synthctl keys create`", code="missing_api_key")
    token = credentials.credentials
    service = get_service(request)
    actor = service.keys.verify(token)
    if actor is None:
        _refuse_key(request, service, token)
    decision = service.limiter.take(actor.id)
    request.state.actor = actor
    request.state.rate_remaining = decision.remaining
    if not decision.allowed:
        request.app.state.metrics.rate_limited.inc()
        retry = max(1, math.ceil(decision.retry_after))
        raise RateLimited(f"this key is over its rate limit ({service.limiter.rate:g}/s, "
                          f"burst {service.limiter.burst}); retry after {retry} s",
                          headers={"Retry-After": str(retry)})
    last_used = parse_time(actor.last_used_at)
    if last_used is None or utcnow() - last_used > _LAST_USED_EVERY:
        service.keys.touch(actor.id)
    return actor


def _refuse_key(request: Request, service: Service, token: str) -> None:
    """A key that did not verify: counted per client address, audited while that address
    is under its failure limit, then answered 429 (so a flood of guesses cannot flood the
    audit log). A valid key from the same address is never held back by this."""
    client = _client_address(request)
    request.app.state.metrics.auth_failures.inc()
    failures = service.auth_failures.take(client)
    if not failures.allowed:
        retry = max(1, math.ceil(failures.retry_after))
        raise RateLimited(f"too many requests with invalid API keys from {client}; retry "
                          f"after {retry} s", code="auth_rate_limited",
                          headers={"Retry-After": str(retry)})
    service.audit_auth_failure(key_id=key_id_of(token), client=client,
                               request_id=request_id(request), path=request.url.path)
    raise Unauthorized("the API key is unknown, malformed or revoked", code="invalid_api_key")


def require(scope: str) -> Callable[..., ApiKeyRecord]:
    """A dependency admitting keys whose scope covers `scope` (admin > write > read)."""

    def check(actor: ApiKeyRecord = Depends(authenticated)) -> ApiKeyRecord:
        if not scope_allows(actor.scope, scope):
            raise Forbidden(f"this needs a key with scope '{scope}' (yours: '{actor.scope}')",
                            code="insufficient_scope")
        return actor

    check.__name__ = f"require_{scope}"
    return check


async def run_idempotent(request: Request, service: Service, actor: ApiKeyRecord,
                         key: str, digest: str, compute: Callable[[], Any], *, status: int,
                         headers: Callable[[Any], dict[str, str]] | None = None,
                         ) -> JSONResponse:
    """Run `compute` (sync, returns a JSON-able body) once per `Idempotency-Key`: a repeat
    of the same request gets the first answer, another request with the key a 422."""
    keys = service.idempotency
    claim = await run_in_threadpool(lambda: keys.begin(
        actor.owner, key, method=request.method, path=request.url.path, digest=digest))
    if claim.replay is not None:
        first = claim.replay
        return JSONResponse(first["body"], status_code=first["status"],
                            headers={**first.get("headers", {}), "Idempotent-Replayed": "true"})
    try:
        body = await run_in_threadpool(compute)
    except BaseException:
        await run_in_threadpool(keys.release, claim)
        raise
    extra = headers(body) if headers else {}
    await run_in_threadpool(lambda: keys.complete(claim, status=status, body=body,
                                                  headers=extra))
    return JSONResponse(body, status_code=status, headers=extra)


async def once(request: Request, service: Service, actor: ApiKeyRecord, key: str | None,
               body: Any, compute: Callable[[], Any], *, status: int,
               headers: Callable[[Any], dict[str, str]] | None = None) -> JSONResponse:
    """Run a JSON endpoint's work, through `run_idempotent` when the caller sent an
    `Idempotency-Key` (the fingerprint is the path and the parsed body)."""
    if key is None:
        out = await run_in_threadpool(compute)
        return JSONResponse(out, status_code=status, headers=headers(out) if headers else None)
    parsed = body.model_dump(mode="json") if hasattr(body, "model_dump") else body
    digest = fingerprint(request.method, request.url.path, parsed)
    return await run_idempotent(request, service, actor, key, digest, compute, status=status,
                                headers=headers)


def idempotency_header():
    """The optional `Idempotency-Key` header, as a documented parameter."""
    from fastapi import Header

    return Header(None, alias=IDEMPOTENCY_HEADER, max_length=255,
                  description="Send the same key again to get the first answer instead of "
                  "doing the work twice (kept 24 h).")

