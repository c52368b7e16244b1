"""The OpenAPI document, completed with what FastAPI does not derive from the routes:

* every error an operation can answer (401, 403, 404, 409, 410, 413, 415, 422, 429, 503)
  as `application/problem+json` with one `Problem` schema, and `Retry-After` where a
  retry is the cure (FastAPI's own 422 schema is replaced: errors are problem documents);
* the bearer security scheme (declared by `deps.bearer`) on every authenticated operation;
* `X-Request-ID` on every response;
* links from the operations that create resources to those that read them, so a
  stateful client (schemathesis) can follow them.

Built once per app and cached, like FastAPI's own.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .errors import PROBLEM_JSON

__all__ = ["PROBLEM_SCHEMA", "install_openapi"]

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem document; `code` is stable, `detail` says what to fix.",
    "required": ["type", "title", "status", "code", "detail", "instance", "request_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    "401": "No API key, or an unknown, malformed or revoked one",
    "403": "The key's scope does not allow this (or a download link's signature is wrong)",
    "404": "No such resource (or it belongs to another owner)",
    "409": "The resource's state does not allow this now (see `code`)",
    "410": "The download link has expired",
    "413": "The request body is over the limit",
    "415": "The upload is not a table (compressed, binary or another type)",
    "422": "The request or its data is invalid (see `detail` and `errors`)",
    "429": "Over the rate limit (this key's, or for invalid keys from this address)",
    "503": "A backend is unreachable or this replica is at capacity; retry later",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                                "schema": {"type": "integer"}}}
_REQUEST_ID = {"X-Request-ID": {"description": "The request id (also in problem bodies)",
                                "schema": {"type": "string"}}}
_METHODS = ("get", "put", "post", "delete", "patch")

_LINKS: dict[tuple[str, str, str], dict[str, dict]] = {
    ("/v1/datasets", "post", "201"): {
        "GetDataset": {"operationId": "get_dataset_v1_datasets__dataset_id__get",
                       "parameters": {"dataset_id": "$response.body#/id"}},
        "DeleteDataset": {"operationId": "delete_dataset_v1_datasets__dataset_id__delete",
                          "parameters": {"dataset_id": "$response.body#/id"}},
    },
    ("/v1/models", "post", "202"): {
        "GetModel": {"operationId": "get_model_v1_models__model_id__get",
                     "parameters": {"model_id": "$response.body#/id"}},
        "GetJob": {"operationId": "get_job_v1_jobs__job_id__get",
                   "parameters": {"job_id": "$response.body#/job_id"}},
        "CancelJob": {"operationId": "cancel_job_v1_jobs__job_id__cancel_post",
                      "parameters": {"job_id": "$response.body#/job_id"}},
    },
    ("/v1/models/{model_id}/samples", "post", "202"): {
        "GetSample": {"operationId": "get_sample_v1_samples__sample_id__get",
                      "parameters": {"sample_id": "$response.body#/id"}},
        "DeleteSample": {"operationId": "delete_sample_v1_samples__sample_id__delete",
                         "parameters": {"sample_id": "$response.body#/id"}},
    },
    ("/v1/models/{model_id}/reports", "post", "202"): {
        "GetReport": {"operationId": "get_report_v1_models__model_id__reports__report_id__get",
                      "parameters": {"model_id": "$request.path.model_id",
                                     "report_id": "$response.body#/id"}},
    },
    ("/v1/keys", "post", "201"): {
        "RevokeKey": {"operationId": "revoke_key_v1_keys__key_id__delete",
                      "parameters": {"key_id": "$response.body#/id"}},
    },
}


def _problem(status: str, *, retry: bool = False) -> dict:
    headers = {**_REQUEST_ID, **(_RETRY_AFTER if retry else {})}
    return {"description": _DESCRIPTIONS[status], "headers": headers,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _errors_for(path: str, method: str, operation: dict) -> list[str]:
    params = operation.get("parameters", [])
    has_path = any(p.get("in") == "path" for p in params)
    has_input = bool(params) or "requestBody" in operation
    secured = bool(operation.get("security"))
    statuses = []
    if secured:
        statuses += ["401", "403", "429"]
    if has_path or method == "post" and secured:
        statuses.append("404")  # a path id, or an id in the body (`dataset_id`)
    if method in ("post", "delete"):
        statuses.append("409")
    if path.endswith("/download"):
        statuses += ["403", "410"]
    if "requestBody" in operation or method == "post":
        statuses.append("413")
    if path == "/v1/datasets" and method == "post":
        statuses.append("415")
    if has_input:
        statuses.append("422")
    if path not in ("/healthz",):
        statuses.append("503")
    return sorted(set(statuses))


def complete(document: dict) -> dict:
    """Add the problem responses, response headers and links to a generated document."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in _errors_for(path, method, operation):
                responses[status] = _problem(status, retry=status in ("429", "503"))
            for status, response in responses.items():
                if status.startswith("2"):
                    response.setdefault("headers", {}).update(_REQUEST_ID)
            for (link_path, link_method, status), links in _LINKS.items():
                if (link_path, link_method) == (path, method) and status in responses:
                    responses[status]["links"] = links
    return document


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = complete(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
