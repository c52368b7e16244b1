"""The platform's one-shot Jobs, run with the arguments the constructs give them: the bucket
setup against S3 (moto server on 127.0.0.1) and the Secret bootstrap against the loopback
API server."""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from constructs_lib.kubernetes.templates import ensure_secrets_arguments, setup_arguments
from synthdata_service.jobs.kubernetes import main
from synthdata_service.jobs.kubernetes_setup import generate

from .apiserver import LoopbackApiServer

REGION = "eu-west-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                        "AWS_ENDPOINT_URL_S3": moto_endpoint,
                        "AWS_ENDPOINT_URL_KMS": moto_endpoint}.items():
        monkeypatch.setenv(name, value)
    return boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)


def _arguments(bucket: str, *, kms_key: str | None = None, **overrides) -> list[str]:
    values = dict(versioned=True, retention_days=7, noncurrent_days=14,
                  samples_prefix="samples/", encryption="customer_managed",
                  access_logs=True, log_retention_days=30, block_public_access=True,
                  abort_multipart_days=7, removal_policy="retain")
    values.update(overrides)
    query = f"region={REGION}" + (f"&kms_key={kms_key}" if kms_key else "")
    return ["setup-bucket", *setup_arguments(storage_url=f"s3://{bucket}/data?{query}",
                                             **values)]


def test_setup_creates_the_bucket_with_every_secure_setting(s3, moto_endpoint, capsys):
    key = boto3.client("kms", region_name=REGION,
                       endpoint_url=moto_endpoint).create_key()["KeyMetadata"]["Arn"]
    assert main(_arguments("synth-setup-a", kms_key=key)) == 0
    assert s3.get_bucket_versioning(Bucket="synth-setup-a")["Status"] == "Enabled"
    [rule] = s3.get_bucket_encryption(Bucket="synth-setup-a")[
        "ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                          "KMSMasterKeyID": key}
    block = s3.get_public_access_block(Bucket="synth-setup-a")["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(
        Bucket="synth-setup-a")["Rules"]}
    samples = rules["synthdata-expire-samples"]
    assert samples["Filter"]["Prefix"] == "data/samples/" and samples["Expiration"]["Days"] == 7
    assert rules["synthdata-expire-old-versions"]["NoncurrentVersionExpiration"][
        "NoncurrentDays"] == 14
    assert rules["synthdata-abort-multipart"]["AbortIncompleteMultipartUpload"][
        "DaysAfterInitiation"] == 7
    logging = s3.get_bucket_logging(Bucket="synth-setup-a")["LoggingEnabled"]
    assert logging["TargetBucket"] == "synth-setup-a-logs"
    policy = json.loads(s3.get_bucket_policy(Bucket="synth-setup-a-logs")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="synth-setup-a")["TagSet"]}
    assert tags["synthdata:removal-policy"] == "retain"
    assert "applied" in json.loads(capsys.readouterr().out.splitlines()[-1])


def test_setup_is_idempotent_and_turns_settings_off_when_asked(s3):
    arguments = _arguments("synth-setup-b", encryption="provider_managed", access_logs=False,
                           versioned=False)
    assert main(arguments) == 0
    assert main(arguments) == 0  # a second run (a re-applied stack) changes nothing
    assert s3.get_bucket_versioning(Bucket="synth-setup-b")["Status"] == "Suspended"
    [rule] = s3.get_bucket_encryption(Bucket="synth-setup-b")[
        "ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="synth-setup-b")


def test_setup_refuses_customer_managed_encryption_without_a_key(s3, capsys):
    assert main(_arguments("synth-setup-c")) == 3
    assert "kms_key" in capsys.readouterr().err


@pytest.fixture
def gcs(monkeypatch) -> Iterator[Any]:
    from gcp_storage_emulator.server import create_server

    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=None)
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "synth-test")
    from google.cloud import storage

    yield storage.Client()
    server.stop()


def test_setup_applies_the_same_settings_to_a_gcs_bucket(gcs):
    key = "projects/synth-test/locations/europe-west1/keyRings/synth/cryptoKeys/data"
    storage_url = f"gs://synth-setup-g/data?kms_key={key}"
    arguments = ["setup-bucket", *setup_arguments(
        storage_url=storage_url, versioned=True, retention_days=7, noncurrent_days=14,
        samples_prefix="samples/", encryption="customer_managed", access_logs=True,
        log_retention_days=30, block_public_access=True, abort_multipart_days=7,
        removal_policy="destroy")]
    assert main(arguments) == 0
    bucket = gcs.get_bucket("synth-setup-g")
    assert bucket.versioning_enabled is True
    assert bucket.iam_configuration.public_access_prevention == "enforced"
    assert bucket.default_kms_key_name == key
    rules = list(bucket.lifecycle_rules)
    assert {"action": {"type": "Delete"}, "condition": {
        "age": 7, "matchesPrefix": ["data/samples/"], "isLive": True}} in rules
    assert {"action": {"type": "Delete"}, "condition": {
        "daysSinceNoncurrentTime": 14, "isLive": False}} in rules
    assert bucket.get_logging() == {"logBucket": "synth-setup-g-logs",
                                    "logObjectPrefix": "synth-setup-g"}
    assert bucket.labels["synthdata-removal-policy"] == "destroy"


@pytest.fixture
def apiserver(tmp_path, monkeypatch) -> Iterator[LoopbackApiServer]:
    server = LoopbackApiServer().start()
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    yield server
    server.stop()


def test_secrets_are_generated_once_in_every_namespace_and_never_changed(apiserver):
    wanted = {"synth-pepper": {"pepper": "hex:32"},
              "synth-minio": {"rootUser": "literal:root", "rootPassword": "alnum:40",
                              "secret_access_key": "alnum:40",
                              "ACCESS_SECRET_KEY": "copy:secret_access_key",
                              "config.env": "minio-kms:synthdata"}}
    arguments = ["ensure-secrets", *ensure_secrets_arguments(["synth", "synth-minio"], wanted)]
    assert main(arguments) == 0
    first = {(ns, name, key): apiserver.secret_value(ns, name, key)
             for ns in ("synth", "synth-minio") for name, keys in wanted.items() for key in keys}
    assert all(value is not None for value in first.values())
    assert first[("synth", "synth-minio", "rootPassword")] == \
        first[("synth-minio", "synth-minio", "rootPassword")]  # the same in both namespaces
    assert re.fullmatch(r"[0-9a-f]{64}", first[("synth", "synth-pepper", "pepper")])
    assert first[("synth", "synth-minio", "ACCESS_SECRET_KEY")] == \
        first[("synth", "synth-minio", "secret_access_key")]
    kms = first[("synth", "synth-minio", "config.env")]
    assert re.fullmatch(r"export MINIO_KMS_SECRET_KEY=synthdata:[A-Za-z0-9+/=]{44}\n", kms)
    assert len(base64.b64decode(kms.strip().split(":", 1)[1])) == 32

    wanted["synth-pepper"]["extra"] = "alnum:8"  # a key added by a later version
    assert main(["ensure-secrets", *ensure_secrets_arguments(["synth", "synth-minio"],
                                                             wanted)]) == 0
    again = {k: apiserver.secret_value(*k) for k in first}
    assert again == first  # nothing that existed changed
    assert len(apiserver.secret_value("synth", "synth-pepper", "extra")) == 8


def test_generators_make_values_of_the_asked_shape():
    assert len(generate("hex:16", {})) == 32
    assert re.fullmatch(r"[A-Za-z0-9]{12}", generate("alnum:12", {}))
    assert generate("literal:root", {}) == "root"
    assert generate("copy:a", {"a": "x"}) == "x"
    with pytest.raises(ValueError, match="unknown generator"):
        generate("random:4", {})
