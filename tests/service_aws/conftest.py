"""A local AWS (moto server on 127.0.0.1) with what the constructs create for the service:
a bucket with a customer-managed KMS key and default SSE-KMS, the pk/sk table with TTL,
the pepper secret, a job queue with a dead-letter queue (maxReceiveCount 3), and an ECS
cluster, task definition and network for Fargate workers. Each test gets its own bucket
prefix and queues, so tests never see each other's objects or messages."""

from __future__ import annotations

import json
import logging
import secrets
import socket
import string
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import boto3
import pandas as pd
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from synthdata_service.app import create_app
from synthdata_service.backends import aws_secrets
from synthdata_service.core import Service, open_key_manager
from synthdata_service.settings import Settings

REGION = "eu-west-1"
ACCOUNT = "123456789012"
REPO = Path(__file__).resolve().parents[2]
DIAMONDS = REPO / "examples" / "data" / "diamonds.csv"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
               "AWS_REGION": REGION}


@dataclass
class LocalAws:
    endpoint: str
    kms_key_arn: str
    bucket: str
    table: str
    secret_arn: str
    cluster_arn: str
    task_definition_arn: str
    subnets: list[str]
    security_groups: list[str]
    _clients: dict = field(default_factory=dict)

    def client(self, name: str):
        if name not in self._clients:
            self._clients[name] = _client(name, self.endpoint)
        return self._clients[name]


def _client(name: str, endpoint: str):
    return boto3.client(name, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _moto_server(port: int, host: str = "127.0.0.1"):
    """moto's threaded server, answering one request at a time. moto evaluates a
    DynamoDB ConditionExpression and applies the write without a lock, so two concurrent
    conditional updates can both succeed under load, which real DynamoDB never allows;
    serialising requests restores the atomicity the claim tests rely on."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class SerialisedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            one_at_a_time = threading.Lock()

            def serialised(environ, start_response):
                with one_at_a_time:
                    return list(app(environ, start_response))

            self._server = make_server(self._ip_address, self._port, serialised, True,
                                       request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerialisedMotoServer(ip_address=host, port=port, verbose=False)


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per emulated call
    server = _moto_server(port)
    server.start()
    try:
        yield _create_resources(f"http://localhost:{port}")
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _aws_environment(local_aws, monkeypatch):
    """Dummy credentials and the moto endpoint for the service's own boto3 clients, set
    per test (and restored after it) so no other test directory ever sees them."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.endpoint)


def _create_resources(endpoint: str) -> LocalAws:
    def client(name):
        return _client(name, endpoint)

    key_arn = client("kms").create_key(Description="synth data key")["KeyMetadata"]["Arn"]
    s3 = client("s3")
    bucket = "synth-data"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                               "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True}]})
    dynamodb = client("dynamodb")
    table = "synth-meta"
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})
    pepper = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(64))
    secret_arn = client("secretsmanager").create_secret(
        Name="synth-pepper", SecretString=pepper)["ARN"]
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # moto's awsvpc RunTask reads the ENI's private DNS name, set only with DNS hostnames.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="synth-worker", Description="worker",
                                      VpcId=vpc)["GroupId"]
    ecs = client("ecs")
    cluster = ecs.create_cluster(clusterName="synth")["cluster"]["clusterArn"]
    task_definition = ecs.register_task_definition(
        family="synth-worker", requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
        cpu="2048", memory="8192",
        # moto's RunTask sums container-level cpu/memory (None fails it): give them here.
        containerDefinitions=[{"name": "worker", "image": "synth:latest", "essential": True,
                               "cpu": 2048, "memory": 8192}],
    )["taskDefinition"]["taskDefinitionArn"]
    return LocalAws(endpoint=endpoint, kms_key_arn=key_arn, bucket=bucket, table=table,
                    secret_arn=secret_arn, cluster_arn=cluster,
                    task_definition_arn=task_definition, subnets=[subnet],
                    security_groups=[group])


@dataclass
class Queues:
    url: str
    dlq_url: str
    contract_url: str


def make_queues(local_aws: LocalAws, *, ecs: bool = True, worker_timeout: int = 900) -> Queues:
    sqs = local_aws.client("sqs")
    name = f"synth-jobs-{uuid.uuid4().hex[:8]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "60",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})},
    )["QueueUrl"]
    contract = f"sqs://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}?worker_timeout={worker_timeout}"
    if ecs:
        contract += (f"&ecs_cluster={quote(local_aws.cluster_arn, safe='')}"
                     f"&ecs_task_definition={quote(local_aws.task_definition_arn, safe='')}"
                     f"&ecs_container=worker&ecs_subnets={','.join(local_aws.subnets)}"
                     f"&ecs_security_groups={','.join(local_aws.security_groups)}")
    return Queues(url=url, dlq_url=dlq_url, contract_url=contract)


@pytest.fixture
def queues(local_aws) -> Queues:
    return make_queues(local_aws)


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def contract_env(local_aws: LocalAws, queues: Queues, prefix: str) -> dict[str, str]:
    """The runtime contract exactly as the AWS constructs set it."""
    return {
        "SYNTH_STORAGE_URL": f"s3://{local_aws.bucket}/{prefix}"
                             f"?kms_key={quote(local_aws.kms_key_arn, safe='')}",
        "SYNTH_METADATA_URL": f"dynamodb://{local_aws.table}",
        "SYNTH_JOBS_URL": queues.contract_url,
        "SYNTH_API_KEYS_SECRET": local_aws.secret_arn,
        "SYNTH_SYNTHESIZERS": "gaussian_copula,ctgan",
        "SYNTH_RATE_LIMIT_PER_SECOND": "1000",
        "SYNTH_RATE_LIMIT_BURST": "1000",
        "SYNTH_INLINE_MAX_ROWS": "2000",
    }


def settings_for(env: dict[str, str], tmp_path: Path, **overrides) -> Settings:
    return Settings.from_env({**env, "SYNTH_DATA_DIR": str(tmp_path / "data")},
                             allow_streaming=False, **overrides)


@pytest.fixture
def env(local_aws, queues, prefix) -> dict[str, str]:
    return contract_env(local_aws, queues, prefix)


@pytest.fixture
def service(env, tmp_path) -> Iterator[Service]:
    """A service on the AWS backends (what the worker function builds)."""
    built = Service(settings_for(env, tmp_path), start_runner=False)
    yield built
    built.close()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class AwsApp:
    """The API app on the AWS backends plus a worker service, keys and a queue pump."""

    def __init__(self, local_aws: LocalAws, queues: Queues, env: dict[str, str],
                 tmp_path: Path) -> None:
        self.local_aws = local_aws
        self.queues = queues
        self.settings = settings_for(env, tmp_path)
        keys = open_key_manager(self.settings)
        self.admin = keys.issue(scope="admin", name="admin").secret
        self.writer = keys.issue(scope="write", name="writer").secret
        self.app = create_app(self.settings)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.worker = Service(settings_for(env, tmp_path / "worker"), start_runner=False)

    def close(self) -> None:
        self.client.close()
        self.worker.close()
        holder = self.app.state.services
        holder.close()

    def pump(self, handler: Callable | None = None, *, dlq: bool = False) -> int:
        from synthdata_service.handlers import aws_worker

        handler = handler or (aws_worker.dead_letter_handler if dlq else aws_worker.handler)
        return pump(self.local_aws.client("sqs"), self.queues.dlq_url if dlq
                    else self.queues.url, handler, service=self.worker)


def pump(sqs, queue_url: str, handler: Callable, *, service=None, limit: int = 10) -> int:
    """Deliver queued messages to `handler` one at a time, as Lambda's SQS event source
    does: acknowledged ones are deleted; failed ones (or a failed invocation) become
    visible again at once (the visibility timeout, fast-forwarded)."""
    delivered = 0
    while delivered < limit:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1,
                                     AttributeNames=["All"], WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            break
        message = messages[0]
        delivered += 1
        event = {"Records": [{
            "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"], "attributes": message.get("Attributes", {}),
            "messageAttributes": {}, "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs", "awsRegion": REGION,
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_url.rsplit('/', 1)[1]}",
        }]}
        try:
            result = handler(event, None, service=service)
            failed = bool(result.get("batchItemFailures"))
        except BaseException:  # noqa: BLE001 - an invocation error returns the whole batch
            failed = True
        if failed:
            sqs.change_message_visibility(QueueUrl=queue_url,
                                          ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return delivered


@pytest.fixture
def aws_app(local_aws, queues, env, tmp_path) -> Iterator[AwsApp]:
    app = AwsApp(local_aws, queues, env, tmp_path)
    yield app
    app.close()


@pytest.fixture(autouse=True)
def _fresh_secret_cache():
    aws_secrets.clear_cache()
    yield
    aws_secrets.clear_cache()


@pytest.fixture(scope="session")
def diamonds() -> pd.DataFrame:
    return pd.read_csv(DIAMONDS)
