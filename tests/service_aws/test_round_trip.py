"""The whole service on the AWS backends, in process over httpx (Starlette's TestClient)
against the ASGI app: s3:// + dynamodb:// + the secret's ARN + sqs://, with training and
large samples run by the real worker handler pumped from the queue. And the failure path
every AWS error takes: a 503 problem response with `Retry-After`, never a 500."""

from __future__ import annotations

import io
import socket
import warnings

import httpx
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from synthdata_service.app import create_app
from synthdata_service.backends._aws import BackendUnavailable, aws_errors
from synthdata_service.handlers import aws_worker

from .conftest import AwsApp, auth, settings_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

FAKE_KEY = "sk_key_0123456789abcdef0123_" + "A" * 43


def test_upload_train_sample_and_download_through_the_bucket(
        local_aws, queues, env, tmp_path, diamonds, monkeypatch):
    # The worker handler builds its own service from the contract, as in the function.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "worker"))
    aws_worker.reset()
    app = AwsApp(local_aws, queues, env, tmp_path)
    client, key = app.client, app.writer
    try:
        table = diamonds.head(1000)
        dataset = client.post("/v1/datasets", headers=auth(key), files={
            "file": ("diamonds.csv", io.BytesIO(table.to_csv(index=False).encode()),
                     "text/csv")})
        assert dataset.status_code == 201, dataset.text
        created = client.post("/v1/models", headers=auth(key), json={
            "dataset_id": dataset.json()["id"], "synthesizer": "gaussian_copula",
            "parameters": {"default_distribution": "norm"}})
        assert created.status_code == 202, created.text
        model_id, job_id = created.json()["id"], created.json()["job_id"]
        assert client.get(f"/v1/jobs/{job_id}", headers=auth(key)).json()["status"] == "queued"

        assert app.pump(aws_worker.handler) == 1  # trained by the queue's worker
        trained = client.get(f"/v1/jobs/{job_id}", headers=auth(key)).json()
        assert trained["status"] == "succeeded" and trained["progress"] == 1.0, trained

        inline = client.post(f"/v1/models/{model_id}/samples", headers=auth(key),
                             json={"num_rows": 100, "seed": 7})
        assert inline.status_code == 200, inline.text
        assert len(inline.json()["rows"]) == 100

        large = client.post(f"/v1/models/{model_id}/samples", headers=auth(key),
                            json={"num_rows": 100_000, "seed": 7, "format": "csv"})
        assert large.status_code == 202, large.text
        sample = large.json()
        assert sample["status"] == "pending" and sample["download_url"] is None
        assert app.pump(aws_worker.handler) == 1
        done = client.get(f"/v1/jobs/{sample['job_id']}", headers=auth(key)).json()
        assert done["status"] == "succeeded" and done["result"]["rows"] == 100_000, done
        assert done["progress"] == 1.0

        ready = client.get(f"/v1/samples/{sample['id']}", headers=auth(key)).json()
        link = ready["download_url"]
        assert link.startswith(f"{local_aws.endpoint}/{local_aws.bucket}/")
        assert "X-Amz-Signature=" in link and ready["expires_at"]
        # moto checks neither signatures nor expiry: assert the expiry S3 would enforce.
        assert f"X-Amz-Expires={app.settings.link_ttl_seconds}&" in link
        download = httpx.get(link, timeout=60)  # no API key: the signature authorises it
        assert download.status_code == 200
        rows = pd.read_csv(io.BytesIO(download.content))
        assert len(rows) == 100_000 and list(rows.columns) == list(diamonds.columns)
        assert set(rows["cut"]) <= set(diamonds["cut"])

        keys = app.worker.storage.list_keys("samples")
        [stored] = [k for k in keys if sample["id"] in k]
        head = local_aws.client("s3").head_object(
            Bucket=local_aws.bucket, Key=f"{app.worker.storage.prefix}/{stored}")
        assert head["SSEKMSKeyId"] == local_aws.kms_key_arn

        assert client.get("/readyz").json()["checks"] == {
            "storage": "ok", "metadata": "ok", "rate_limit": "ok"}
    finally:
        app.close()
        aws_worker.reset()


def _problem(response) -> dict:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == "backend_unavailable" and body["status"] == 503
    return body


def _app(env: dict, tmp_path, **changes) -> TestClient:
    app = create_app(settings_for({**env, **changes}, tmp_path))
    return TestClient(app, raise_server_exceptions=False)


def test_an_unreachable_aws_endpoint_is_a_503_with_retry_after(env, tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://localhost:{closed}")
    with _app(env, tmp_path) as client:
        body = _problem(client.get("/v1/jobs", headers=auth(FAKE_KEY)))
        assert "unreachable" in body["detail"] and body["request_id"]
        assert client.get("/healthz").status_code == 200  # liveness needs no backend


def test_a_missing_table_is_a_503(env, tmp_path):
    with _app(env, tmp_path, SYNTH_METADATA_URL="dynamodb://no-such-table") as client:
        body = _problem(client.get("/v1/datasets", headers=auth(FAKE_KEY)))
        assert body["backend"] == "DynamoDB" and "ResourceNotFoundException" in body["detail"]


def test_a_missing_bucket_is_a_503_on_upload_and_not_ready(local_aws, queues, env, tmp_path):
    app = AwsApp(local_aws, queues, {**env, "SYNTH_STORAGE_URL": "s3://no-such-bucket/x"},
                 tmp_path)
    try:
        body = _problem(app.client.post("/v1/datasets", headers=auth(app.writer), files={
            "file": ("t.csv", io.BytesIO(b"a,b\n1,2\n3,4\n"), "text/csv")}))
        assert "NoSuchBucket" in body["detail"]
        ready = app.client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["storage"] == "failed"
    finally:
        app.close()


@pytest.mark.parametrize("code, status", [("SlowDown", 503), ("ThrottlingException", 400),
                                          ("ProvisionedThroughputExceededException", 400),
                                          ("InternalError", 500)])
def test_throttling_and_server_errors_become_backend_unavailable(code, status):
    error = ClientError({"Error": {"Code": code, "Message": "x"},
                         "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")
    with pytest.raises(BackendUnavailable) as caught, aws_errors("S3"):
        raise error
    assert caught.value.headers["Retry-After"] == "5"


def test_other_client_errors_pass_through_unchanged():
    error = ClientError({"Error": {"Code": "ValidationException", "Message": "bug"},
                         "ResponseMetadata": {"HTTPStatusCode": 400}}, "Query")
    with pytest.raises(ClientError), aws_errors("DynamoDB"):
        raise error
