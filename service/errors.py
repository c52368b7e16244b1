"""Typed errors and their one renderer: RFC 9457 `application/problem+json`.

Every failure a caller can cause is a `ServiceError` subclass with a stable `code`; the
handlers below turn it (and anything unexpected) into a problem document carrying the
request id. A stack trace never reaches the caller: unexpected errors are logged with the
request id and answered with a generic 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "BackendUnavailable",
    "Conflict",
    "Forbidden",
    "Gone",
    "InvalidInput",
    "NotFound",
    "OutcomeUnknown",
    "PayloadTooLarge",
    "PROBLEM_JSON",
    "RateLimited",
    "ServiceError",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
    "backend_unavailable",
    "install_error_handlers",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger("synthdata_service.errors")


class ServiceError(Exception):
    """A failure with an HTTP status, a stable machine code and a message saying what to fix."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, message: str, *, code: str | None = None, headers: dict | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or {}
        self.extra = extra


class InvalidInput(ServiceError):
    status, code, title = 422, "invalid_input", "Invalid input"


class Unauthorized(ServiceError):
    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="synthdata"'})
        super().__init__(message, **kwargs)


class Forbidden(ServiceError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(ServiceError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ServiceError):
    status, code, title = 409, "conflict", "Conflict"


class Gone(ServiceError):
    status, code, title = 410, "gone", "Gone"


class PayloadTooLarge(ServiceError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(ServiceError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class RateLimited(ServiceError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(ServiceError):
    status, code, title = 503, "unavailable", "Service unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, **kwargs: Any) -> None:
        headers = {"Retry-After": str(retry_after), **(kwargs.pop("headers", None) or {})}
        super().__init__(message, headers=headers, **kwargs)
        self.retry_after = retry_after


class BackendUnavailable(ServiceUnavailable):
    """A backend (storage, metadata, rate-limit store, queue) could not be reached or
    refused the call; retrying later may work. Always 503 with `Retry-After`."""

    code, title = "backend_unavailable", "Backend unavailable"

    def __init__(self, message: str, *, backend: str | None = None, **kwargs: Any) -> None:
        if backend is not None:
            kwargs["backend"] = backend
        super().__init__(message, **kwargs)


class OutcomeUnknown(BackendUnavailable):
    """The connection dropped while a write was in flight: it may or may not have been
    applied. Never replayed blindly (that would duplicate an insert or misreport a
    conditional update); the caller reads the resource back before retrying."""

    code = "write_outcome_unknown"


def backend_unavailable(backend: str, exc: BaseException, *, retry_after: int = 5
                        ) -> BackendUnavailable:
    """The 503 for an outage of `backend`, naming the cause but no secrets."""
    return BackendUnavailable(
        f"{backend} is unreachable ({type(exc).__name__}); nothing was changed by this "
        f"request, retry after {retry_after} s", backend=backend, retry_after=retry_after)


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "") or request.headers.get("x-request-id", "")


def problem_response(request: Request, *, status: int, code: str, title: str, detail: str,
                     headers: dict | None = None, **extra: Any) -> JSONResponse:
    """Render one problem document; the only place error bodies are built."""
    request_id = _request_id(request)
    body = {
        "type": f"https://synthdata.dev/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id,
        **extra,
    }
    all_headers = {"X-Request-ID": request_id, **(headers or {})}
    return JSONResponse(body, status_code=status, headers=all_headers, media_type=PROBLEM_JSON)


async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
    return problem_response(request, status=exc.status, code=exc.code, title=exc.title,
                            detail=exc.message, headers=exc.headers, **exc.extra)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err.get("loc", ()))
        errors.append({"field": location, "message": err.get("msg", "invalid")})
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(request, status=422, code="invalid_request", title="Invalid request",
                            detail=f"The request does not match the API: {summary}",
                            errors=errors)


_HTTP_CODES = {
    404: ("route_not_found", "No such route; see /docs for the API."),
    405: ("method_not_allowed", "This route does not accept that method; see /docs."),
}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts at this request's path (Starlette's own 405 names
    only the first matching route's)."""
    from starlette.routing import Match

    methods = []
    for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"):
        scope = {**request.scope, "method": method}
        for route in request.app.routes:
            try:
                match, _child = route.matches(scope)
            except Exception:  # noqa: BLE001 - a route that cannot judge this scope
                continue
            if match == Match.FULL:
                methods.append(method)
                break
    return methods


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code, detail = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 400:  # a body FastAPI could not parse: a request error like any
        return problem_response(request, status=422, code="invalid_request",
                                title="Invalid request", detail="The request body cannot be "
                                "parsed; send valid JSON with Content-Type: application/json")
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"This route accepts {', '.join(allowed)}; see /docs."
    return problem_response(request, status=exc.status_code, code=code,
                            title=str(exc.detail), detail=detail, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unhandled error (request id %s)", _request_id(request))
    return problem_response(
        request, status=500, code="internal_error", title="Internal error",
        detail="The service failed unexpectedly; nothing was changed by this request if it "
        "wrote data. Quote the request id when reporting it.",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
