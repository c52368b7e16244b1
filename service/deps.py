"""FastAPI dependencies: the lazily built `Service`, the caller's key, scopes, rate limit.

The `Service` (storage, metadata, runner) is built on the first request that needs it,
so `/healthz` and the Lambda cold start never touch a backend.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from fastapi import Depends, Request

from .backends.metadata import ApiKeyRecord
from .core import Service
from .errors import Forbidden, RateLimited, Unauthorized
from .keys import scope_allows

__all__ = ["ServiceHolder", "authenticated", "get_service", "request_id", "require"]


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


def get_service(request: Request) -> Service:
    return request.app.state.services.get()


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "")


def authenticated(request: Request) -> ApiKeyRecord:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        # Refused before any backend is touched: a cold start answers this for free.
        raise Unauthorized("send your API key as `Authorization: Bearer <key>`; an admin "
                           "creates keys with `synthctl keys create`", code="missing_api_key")
    service = get_service(request)
    actor = service.keys.verify(token)
    if actor is None:
        raise Unauthorized("the API key is unknown, malformed or revoked",
                           code="invalid_api_key")
    decision = service.limiter.take(actor.id)
    request.state.actor = actor
    request.state.rate_remaining = decision.remaining
    if not decision.allowed:
        request.app.state.metrics.rate_limited.inc()
        retry = max(1, math.ceil(decision.retry_after))
        raise RateLimited(f"this key is over its rate limit ({service.limiter.rate:g}/s, "
                          f"burst {service.limiter.burst}); retry after {retry} s",
                          headers={"Retry-After": str(retry)})
    return actor


def require(scope: str) -> Callable[..., ApiKeyRecord]:
    """A dependency admitting keys whose scope covers `scope` (admin > write > read)."""

    def check(actor: ApiKeyRecord = Depends(authenticated)) -> ApiKeyRecord:
        if not scope_allows(actor.scope, scope):
            raise Forbidden(f"this needs a key with scope '{scope}' (yours: '{actor.scope}')",
                            code="insufficient_scope")
        return actor

    check.__name__ = f"require_{scope}"
    return check
