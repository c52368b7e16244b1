"""S3, DynamoDB and SQS cut mid-request (each behind its own loopback proxy in front of
moto): a 503 with Retry-After, and nothing half-written once the service is back."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from synthdata_service.backends.metadata import (
    DatasetRecord,
    JobRecord,
    ModelRecord,
    ModelVersionRecord,
)

from ..outage import Proxy, assert_outage, during_storage_write
from .conftest import AwsApp, auth

CSV = b"a,b\n1,x\n2,y\n3,z\n4,x\n"


@pytest.fixture
def proxies(local_aws, monkeypatch):
    target = urlsplit(local_aws.endpoint)
    opened = {name: Proxy("127.0.0.1", target.port) for name in ("S3", "DYNAMODB", "SQS")}
    for name, proxy in opened.items():
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{name}", f"http://localhost:{proxy.port}")
    yield opened
    for proxy in opened.values():
        proxy.close()


@pytest.fixture
def app(local_aws, queues, env, tmp_path, proxies):
    built = AwsApp(local_aws, queues, env, tmp_path)
    yield built
    built.close()


def _upload(app):
    return app.client.post("/v1/datasets", headers=auth(app.writer),
                           files={"file": ("t.csv", CSV, "text/csv")})


def _service(app):
    return app.app.state.services.get()


def _assert_no_dataset(app) -> None:
    service = _service(app)
    assert service.store.query(DatasetRecord) == []
    assert service.storage.list_keys("datasets") == []


def test_s3_cut_mid_upload_is_503_and_leaves_nothing(app, proxies, monkeypatch):
    app.client.get("/readyz")
    during_storage_write(_service(app).storage, monkeypatch, proxies["S3"].cut, after=False)
    assert_outage(_upload(app), "S3")
    proxies["S3"].restore()
    monkeypatch.undo()
    _assert_no_dataset(app)


def test_dynamodb_cut_mid_upload_is_503_and_leaves_nothing(app, proxies, monkeypatch):
    app.client.get("/readyz")
    during_storage_write(_service(app).storage, monkeypatch, proxies["DYNAMODB"].cut, after=True)
    assert_outage(_upload(app), "DynamoDB")
    proxies["DYNAMODB"].restore()
    monkeypatch.undo()
    _assert_no_dataset(app)
    assert _upload(app).status_code == 201


def test_sqs_cut_while_queueing_training_is_503_and_leaves_no_job(app, proxies):
    dataset = _upload(app).json()
    proxies["SQS"].cut()
    response = app.client.post("/v1/models", headers=auth(app.writer), json={
        "dataset_id": dataset["id"], "synthesizer": "gaussian_copula", "parameters": {}})
    assert_outage(response, "SQS")
    proxies["SQS"].restore()
    store = _service(app).store
    assert store.query(ModelRecord) == [] and store.query(ModelVersionRecord) == []
    assert store.query(JobRecord) == []
