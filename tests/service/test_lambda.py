"""The Lambda adapter: the real Mangum handler with API Gateway HTTP API (v2) and Function
URL events, a cold import without SDV or torch, and a full upload-train-sample trip."""

from __future__ import annotations

import base64
import importlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from synthdata_service.core import open_key_manager
from synthdata_service.settings import Settings

REPO = Path(__file__).resolve().parents[2]


class _Context:
    function_name = "synth-generator"
    aws_request_id = "req-ctx"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:synth-generator"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


def _event(kind: str, method: str, path: str, *, headers=None, body: bytes = b"",
           query: str = "") -> dict:
    """An event as API Gateway HTTP API v2 or a Lambda Function URL delivers it."""
    headers = {"host": "abc123.execute-api.eu-west-1.amazonaws.com", "user-agent": "pytest",
               **{k.lower(): v for k, v in (headers or {}).items()}}
    request_context = {
        "accountId": "123456789012", "apiId": "abc123", "domainName": headers["host"],
        "domainPrefix": "abc123", "requestId": str(uuid.uuid4()), "stage": "$default",
        "time": "28/Nov/2026:00:00:00 +0000", "timeEpoch": int(time.time() * 1000),
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                 "sourceIp": "203.0.113.7", "userAgent": "pytest"},
    }
    if kind == "function_url":
        headers["host"] = "xyz.lambda-url.eu-west-1.on.aws"
        request_context.update({"apiId": "xyz", "domainName": headers["host"],
                                "domainPrefix": "xyz"})
    event = {
        "version": "2.0", "routeKey": "$default" if kind == "function_url" else "ANY /{proxy+}",
        "rawPath": path, "rawQueryString": query, "headers": headers,
        "requestContext": request_context, "isBase64Encoded": bool(body),
    }
    if query:
        event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&"))
    if body:
        event["body"] = base64.b64encode(body).decode()
    if kind == "api_gateway_v2":
        event["pathParameters"] = {"proxy": path.lstrip("/")}
    return event


def _body(response: dict) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


@pytest.fixture
def lambda_module(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "lambda-data"))
    monkeypatch.setenv("SYNTH_RATE_LIMIT_PER_SECOND", "1000")
    monkeypatch.setenv("SYNTH_RATE_LIMIT_BURST", "1000")
    import synthdata_service.handlers.aws_lambda as module

    module = importlib.reload(module)
    yield module
    module.app.state.services.close()


def test_importing_the_handler_loads_neither_sdv_nor_torch():
    code = ("import sys, synthdata_service.handlers.aws_lambda as h; "
            "print(callable(h.handler), any(m.split('.')[0] in ('sdv', 'torch', 'pandas') "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout.split()
    assert out == ["True", "False"]


@pytest.mark.parametrize("kind", ["api_gateway_v2", "function_url"])
def test_healthz_and_401_through_the_handler(lambda_module, kind):
    health = lambda_module.handler(_event(kind, "GET", "/healthz"), _Context())
    assert health["statusCode"] == 200 and json.loads(_body(health))["status"] == "ok"
    assert lambda_module.app.state.services.built is None  # no backend touched
    refused = lambda_module.handler(_event(kind, "GET", "/v1/models"), _Context())
    assert refused["statusCode"] == 401
    assert refused["headers"]["content-type"] == "application/problem+json"
    assert json.loads(_body(refused))["code"] == "missing_api_key"
    assert lambda_module.app.state.services.built is None


def _multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("kind", ["api_gateway_v2", "function_url"])
def test_upload_train_sample_round_trip_through_the_handler(lambda_module, kind, diamonds):
    settings: Settings = lambda_module.app.state.settings
    assert settings.allow_streaming is False
    key = open_key_manager(settings).issue(scope="write").secret
    bearer = {"authorization": f"Bearer {key}"}
    call = lambda_module.handler

    body, content_type = _multipart("diamonds.csv", diamonds.head(300).to_csv(index=False).encode())
    uploaded = call(_event(kind, "POST", "/v1/datasets", body=body,
                           headers={**bearer, "content-type": content_type}), _Context())
    assert uploaded["statusCode"] == 201, _body(uploaded)
    dataset = json.loads(_body(uploaded))

    request = json.dumps({"dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
                          "parameters": {"default_distribution": "norm"}}).encode()
    created = call(_event(kind, "POST", "/v1/models", body=request,
                          headers={**bearer, "content-type": "application/json"}), _Context())
    assert created["statusCode"] == 202
    model = json.loads(_body(created))
    deadline = time.monotonic() + 120
    while True:
        job = json.loads(_body(call(_event(kind, "GET", f"/v1/jobs/{model['job_id']}",
                                           headers=bearer), _Context())))
        if job["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["status"] == "succeeded", job

    sample_request = json.dumps({"num_rows": 25, "seed": 3, "format": "csv"}).encode()
    sampled = call(_event(kind, "POST", f"/v1/models/{model['id']}/samples", body=sample_request,
                          headers={**bearer, "content-type": "application/json"}), _Context())
    assert sampled["statusCode"] == 200
    lines = _body(sampled).decode().strip().splitlines()
    assert lines[0] == "carat,cut,color,clarity,depth,table,price,x,y,z" and len(lines) == 26

    streamed = call(_event(kind, "POST", f"/v1/models/{model['id']}/samples",
                           body=json.dumps({"num_rows": 10, "delivery": "stream"}).encode(),
                           headers={**bearer, "content-type": "application/json"}), _Context())
    assert streamed["statusCode"] == 422
    assert json.loads(_body(streamed))["code"] == "streaming_unavailable"

    listed = call(_event(kind, "GET", "/v1/models", query="limit=5", headers=bearer), _Context())
    assert [m["id"] for m in json.loads(_body(listed))] == [model["id"]]


def test_inside_lambda_jobs_run_in_the_request_and_data_lives_in_tmp(lambda_module):
    settings = lambda_module.lambda_settings({"AWS_LAMBDA_FUNCTION_NAME": "synth"})
    assert settings.jobs_url == "inline://?sync=1"
    assert str(settings.data_dir) == "/tmp/.synth-data" and settings.allow_streaming is False
    queued = lambda_module.lambda_settings({"AWS_LAMBDA_FUNCTION_NAME": "synth",
                                            "SYNTH_JOBS_URL": "sqs://queue"})
    assert queued.jobs_url == "sqs://queue"
