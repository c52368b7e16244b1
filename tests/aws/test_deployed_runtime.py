"""Issue 4's proof without a cloud account: the synthesized dev stack deployed into a local
moto server, then the deployed functions' handlers driven in-process with exactly the
environment the stack gives them (its real bucket, table, queue, secret and key).

An operator bootstraps a key with `synthctl keys create`, uploads a real table through the
API handler (API Gateway v2 events), trains GaussianCopula through the queue worker, has
100,000 rows written to the bucket, downloads them through the presigned link and reads
the quality report. moto cannot run image functions (they need Docker), so the test plays
Lambda's part: it calls the handlers and delivers queue messages as the SQS event source
would (tests/service_aws/conftest.py `pump`).
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pandas as pd
import pytest

from constructs_lib.aws.generator import API_HANDLER
from constructs_lib.aws.jobs import WORKER_HANDLER
from tests.aws.conftest import REGION

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _function_environment(deployed, handler: str) -> dict[str, str]:
    config = deployed.client("lambda").get_function_configuration(
        FunctionName=deployed.function_named_for(handler))
    return config["Environment"]["Variables"]


@pytest.fixture(scope="module")
def runtime(deployed, moto_endpoint, tmp_path_factory):
    outputs, client = deployed.outputs, deployed.client
    assert deployed.stack["StackStatus"] == "CREATE_COMPLETE"
    # The stack's SQS event source mappings exist; moto would answer them by running the
    # image functions itself, which needs Docker. The test plays the event source instead.
    lambda_client = client("lambda")
    mappings = lambda_client.list_event_source_mappings()["EventSourceMappings"]
    assert len(mappings) == 2 and {m["BatchSize"] for m in mappings} == {1}  # worker, DLQ
    for mapping in mappings:
        lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    api_env = _function_environment(deployed, API_HANDLER)
    worker_env = _function_environment(deployed, WORKER_HANDLER)
    aws_env = {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": REGION,
               "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing"}
    scratch = tmp_path_factory.mktemp("lambda-tmp")
    mp = pytest.MonkeyPatch()
    for name, value in {**aws_env, **api_env, "SYNTH_DATA_DIR": str(scratch)}.items():
        mp.setenv(name, value)
    api = importlib.reload(importlib.import_module("synthdata_service.handlers.aws_lambda"))
    worker = importlib.import_module("synthdata_service.handlers.aws_worker")
    worker.reset()
    yield {"api": api.handler, "worker": worker, "api_env": api_env, "worker_env": worker_env,
           "aws_env": aws_env, "client": client, "outputs": outputs}
    worker.reset()
    mp.undo()


def http_event(method: str, path: str, *, key: str | None = None, json_body=None,
               body: bytes | None = None, content_type: str | None = None) -> dict:
    """An API Gateway HTTP API (payload 2.0) event, as the stage sends it."""
    headers = {"host": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
               "user-agent": "synthctl-test", "x-forwarded-proto": "https"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    if json_body is not None:
        body, content_type = json.dumps(json_body).encode(), "application/json"
    if content_type:
        headers["content-type"] = content_type
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "a1b2c3d4e5",
            "domainName": headers["host"], "domainPrefix": "a1b2c3d4e5",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10", "userAgent": "synthctl-test"},
            "requestId": uuid.uuid4().hex, "routeKey": "$default", "stage": "$default",
            "time": "28/Nov/2026:10:15:42 +0000", "timeEpoch": 1795947342000,
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def call(runtime, event: dict) -> tuple[int, dict]:
    response = runtime["api"](event, None)
    raw = response.get("body") or ""
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    return response["statusCode"], json.loads(raw) if raw else {}


def multipart(name: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
    return body + content + f"\r\n--{boundary}--\r\n".encode(), \
        f"multipart/form-data; boundary={boundary}"


def pump_worker(runtime) -> int:
    from tests.service_aws.conftest import pump

    sqs = runtime["client"]("sqs")
    queue_name = runtime["outputs"]["SynthJobsUrl"].split("?")[0].rsplit("/", 1)[1]
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    return pump(sqs, queue_url, runtime["worker"].handler)


def test_an_operator_bootstraps_a_key_with_the_deployments_contract(runtime):
    env = {**os.environ, **runtime["aws_env"], **runtime["api_env"]}
    env.pop("SYNTH_DATA_DIR", None)
    proc = subprocess.run([sys.executable, "-m", "synthdata_service.cli", "keys", "create",
                           "--scope", "admin", "--name", "operator"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    key = proc.stdout.strip().splitlines()[-1].strip()
    assert key.startswith("sk_")
    status, _ = call(runtime, http_event("GET", "/v1/datasets", key=key))
    assert status == 200
    runtime["key"] = key


def test_worker_gets_the_same_contract_as_the_api(runtime):
    api, worker = runtime["api_env"], runtime["worker_env"]
    for name in ("SYNTH_STORAGE_URL", "SYNTH_METADATA_URL", "SYNTH_API_KEYS_SECRET"):
        assert api[name] == worker[name]
    assert api["SYNTH_JOBS_URL"].startswith("sqs://sqs.eu-west-1.amazonaws.com/")
    assert "ecs_task_definition=arn:aws:ecs:" in api["SYNTH_JOBS_URL"]


def test_upload_train_sample_100k_into_the_bucket_and_report(runtime):
    key = runtime.get("key") or pytest.fail("the bootstrap test must run first")
    table = pd.read_csv(ROOT / "examples" / "data" / "diamonds.csv")
    body, content_type = multipart("diamonds.csv", table.to_csv(index=False).encode(),
                                   "text/csv")
    status, dataset = call(runtime, http_event("POST", "/v1/datasets", key=key, body=body,
                                               content_type=content_type))
    assert status == 201, dataset

    status, model = call(runtime, http_event("POST", "/v1/models", key=key, json_body={
        "dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}}))
    assert status == 202, model
    assert pump_worker(runtime) == 1  # the API never trains: the queue's worker does
    status, job = call(runtime, http_event("GET", f"/v1/jobs/{model['job_id']}", key=key))
    assert job["status"] == "succeeded", job

    status, sample = call(runtime, http_event(
        "POST", f"/v1/models/{model['id']}/samples", key=key,
        json_body={"num_rows": 100_000, "seed": 11, "format": "csv"}))
    assert status == 202, sample  # too large for a Lambda response: a job into the bucket
    assert pump_worker(runtime) == 1
    status, ready = call(runtime, http_event("GET", f"/v1/samples/{sample['id']}", key=key))
    link = ready["download_url"]
    bucket = runtime["outputs"]["SynthBucketName"]
    assert link.startswith(f"{runtime['aws_env']['AWS_ENDPOINT_URL']}/{bucket}/")
    assert "X-Amz-Signature=" in link
    download = httpx.get(link, timeout=120)
    assert download.status_code == 200
    rows = pd.read_csv(io.BytesIO(download.content))
    assert len(rows) == 100_000 and list(rows.columns) == list(table.columns)

    status, report = call(runtime, http_event(
        "POST", f"/v1/models/{model['id']}/reports", key=key, json_body={}))
    if status == 202:
        assert pump_worker(runtime) == 1
        status, report = call(runtime, http_event(
            "GET", f"/v1/jobs/{report['job_id']}", key=key))
        report = report.get("result", report)
    assert status in (200, 201), report
    score = report.get("quality", report).get("score", report.get("quality_score"))
    assert score is not None and 0.7 < float(score) <= 1.0, report
