"""The deployed handler (`synthdata_service.handlers.aws_lambda.handler`) with real Lambda events.

The events under `events/` have the exact shape API Gateway HTTP API (payload 2.0) and
Lambda Function URLs send. The service runs on its embedded default in a temp dir.
"""

from __future__ import annotations

import base64
import importlib
import json
from pathlib import Path

import pytest

EVENTS = Path(__file__).parent / "events"


class LambdaContext:
    function_name = "synth-synthdemo-dev-generator"
    memory_limit_in_mb = 3008
    aws_request_id = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    invoked_function_arn = (
        "arn:aws:lambda:eu-west-1:123456789012:function:synth-synthdemo-dev-generator")

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


@pytest.fixture(scope="module")
def handler(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNTH_DATA_DIR", str(tmp_path_factory.mktemp("lambda-data")))
    for name in ("SYNTH_STORAGE_URL", "SYNTH_METADATA_URL", "SYNTH_API_KEYS_SECRET"):
        mp.delenv(name, raising=False)
    module = importlib.reload(importlib.import_module("synthdata_service.handlers.aws_lambda"))
    yield module.handler
    mp.undo()


def body(response: dict) -> dict:
    raw = response["body"]
    return json.loads(base64.b64decode(raw) if response.get("isBase64Encoded") else raw)


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_healthz_answers_200_through_api_gateway_v2(handler):
    response = handler(event("apigw_v2_healthz.json"), LambdaContext())
    assert response["statusCode"] == 200
    assert body(response)["status"] == "ok"


def test_unauthenticated_call_through_a_function_url_is_refused(handler):
    response = handler(event("function_url_datasets.json"), LambdaContext())
    assert response["statusCode"] == 401
    assert response["headers"]["content-type"].startswith("application/problem+json")
    problem = body(response)
    assert problem["status"] == 401 and problem["code"]


def test_a_wrong_key_is_refused_too(handler):
    request = event("function_url_datasets.json")
    request["headers"]["authorization"] = "Bearer not-a-real-key"
    response = handler(request, LambdaContext())
    assert response["statusCode"] == 401
