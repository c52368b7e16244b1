"""The image built from the synthesized stack's asset directory, run as each AWS target
runs it, with exactly the environment the deployed template gives that target.

The stack is deployed into a moto server (CloudFormation resolves every reference into real
bucket, table, queue, secret and key names); each container gets the variables of its
resource as deployed, plus what the AWS service itself adds (Lambda's reserved variables,
credentials) and one redirection: `AWS_ENDPOINT_URL`, the emulator. Then, through the
containers only: an operator bootstraps a key with the image's CLI, a client uploads a
table through API Gateway v2 events to the API function (served by AWS's runtime interface
client in the image, against the Lambda Runtime API played by tests/image/lambda_runtime.py),
the queue worker function trains GaussianCopula and writes a large sample to the bucket,
the API hands out a presigned link, and a CTGAN training estimated past the worker's
timeout is started by the API as an ECS task and run by the Fargate task's container with
its command override, user and read-only root filesystem.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.aws.test_deployed_runtime import http_event, multipart
from tests.image.conftest import REGION
from tests.image.lambda_runtime import RuntimeApi

REPO = Path(__file__).resolve().parents[2]
DIAMONDS = REPO / "examples" / "data" / "diamonds.csv"
API_HANDLER = "synthdata_service.handlers.aws_lambda.handler"
WORKER_HANDLER = "synthdata_service.handlers.aws_worker.handler"
#: What AWS gives every function and task as its identity, here moto's dummy credentials.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_SESSION_TOKEN": "testing"}
#: Lambda's /tmp when the template sets no ephemeral storage.
LAMBDA_DEFAULT_TMP_MB = 512
#: Lambda runs functions as an unprivileged user (sbx_user1051 on AWS).
LAMBDA_USER = "993:990"


def _resolved_environment(deployed: dict[str, str], template_env: dict) -> dict[str, str]:
    assert sorted(deployed) == sorted(template_env), \
        "the deployed environment lost or gained variables the template declares"
    return dict(deployed)


def _function(aws_synth, command: str) -> tuple[str, dict[str, Any]]:
    found = {logical: r for logical, r in aws_synth.resources("AWS::Lambda::Function").items()
             if r["Properties"].get("ImageConfig", {}).get("Command") == [command]}
    assert len(found) == 1, f"expected one function running {command}, found {sorted(found)}"
    return next(iter(found.items()))


def _image_tag(code_uri: Any) -> str:
    """The tag of an image URI as the template writes it (a Fn::Sub or Fn::Join)."""
    text = json.dumps(code_uri)
    return text.rsplit(":", 1)[-1].strip('"}] ')


class LambdaFunction:
    """One function's container, run as Lambda runs it: the function's command, memory and
    /tmp, read-only elsewhere, an unprivileged user, Lambda's reserved variables."""

    def __init__(self, podman, image, local_aws, aws_synth, gateway, logs, *, command: str,
                 name: str) -> None:
        logical, resource = _function(aws_synth, command)
        props = resource["Properties"]
        physical = local_aws.physical[logical]
        lambda_client = local_aws.client("lambda")
        config = lambda_client.get_function_configuration(FunctionName=physical)
        self.template_environment = props.get("Environment", {}).get("Variables", {})
        self.environment = _resolved_environment(
            config.get("Environment", {}).get("Variables", {}), self.template_environment)
        self.image_tag = _image_tag(props["Code"]["ImageUri"])
        memory = int(props.get("MemorySize", 128))
        timeout = int(props.get("Timeout", 3))
        tmp_mb = int(props.get("EphemeralStorage", {}).get("Size", LAMBDA_DEFAULT_TMP_MB))
        self.runtime = RuntimeApi(gateway, timeout_seconds=timeout,
                                  function_arn=config["FunctionArn"])
        logging_config = props.get("LoggingConfig", {})
        reserved = {
            "AWS_LAMBDA_RUNTIME_API": self.runtime.address,
            "AWS_LAMBDA_FUNCTION_NAME": physical,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "TZ": ":UTC", "LANG": "en_US.UTF-8",
            **({"AWS_LAMBDA_LOG_FORMAT": logging_config["LogFormat"]}
               if "LogFormat" in logging_config else {}),
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": local_aws.endpoint,
        }
        clashes = sorted(set(reserved) & set(self.environment))
        assert not clashes, f"the template sets Lambda's reserved variables {clashes}"
        self.container = podman.start(
            image, name=f"synth-image-test-{name}", env={**self.environment, **reserved},
            command=props["ImageConfig"]["Command"], user=LAMBDA_USER, read_only=True,
            tmpfs=[f"/tmp:rw,size={tmp_mb}m,mode=1777"], memory_mb=memory, log_dir=logs)

    def invoke(self, event: dict, timeout: float | None = None) -> dict:
        return self.runtime.invoke(event, timeout=timeout)

    def close(self) -> None:
        self.container.stop()
        self.runtime.close()


@pytest.fixture(scope="module")
def api(podman, aws_image, local_aws, aws_synth, gateway, image_logs):
    function = LambdaFunction(podman, aws_image, local_aws, aws_synth, gateway, image_logs,
                              command=API_HANDLER, name="api")
    yield function
    function.close()


@pytest.fixture(scope="module")
def worker(podman, aws_image, local_aws, aws_synth, gateway, image_logs):
    # The stack's SQS event sources would make moto run the image itself (it needs Docker):
    # the test delivers queue messages to the worker's container instead, as they would.
    lambda_client = local_aws.client("lambda")
    for mapping in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
        lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    function = LambdaFunction(podman, aws_image, local_aws, aws_synth, gateway, image_logs,
                              command=WORKER_HANDLER, name="worker")
    yield function
    function.close()


@pytest.fixture(scope="module")
def queue_url(local_aws, aws_synth, worker) -> str:
    """The queue the worker's event source reads, from the template."""
    worker_logical, _ = _function(aws_synth, WORKER_HANDLER)
    mappings = [m["Properties"] for m in
                aws_synth.resources("AWS::Lambda::EventSourceMapping").values()
                if m["Properties"]["FunctionName"] == {"Ref": worker_logical}]
    assert len(mappings) == 1
    queue_logical = mappings[0]["EventSourceArn"]["Fn::GetAtt"][0]
    return local_aws.physical[queue_logical]


def call(api: LambdaFunction, event: dict) -> tuple[int, dict]:
    response = api.invoke(event)
    raw = response.get("body") or ""
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    return response["statusCode"], json.loads(raw) if raw else {}


def upload(api: LambdaFunction, key: str, name: str, table: pd.DataFrame) -> dict:
    body, content_type = multipart(name, table.to_csv(index=False).encode(), "text/csv")
    status, dataset = call(api, http_event("POST", "/v1/datasets", key=key, body=body,
                                           content_type=content_type))
    assert status == 201, dataset
    return dataset


def job_status(api: LambdaFunction, key: str, job_id: str) -> dict:
    status, job = call(api, http_event("GET", f"/v1/jobs/{job_id}", key=key))
    assert status == 200, job
    return job


def sample_inline(api: LambdaFunction, key: str, model_id: str, rows: int) -> list:
    status, body = call(api, http_event("POST", f"/v1/models/{model_id}/samples", key=key,
                                        json_body={"num_rows": rows, "seed": 3,
                                                   "format": "json"}))
    assert status == 200, body
    return body["rows"] if isinstance(body, dict) else body


def pump(local_aws, queue_url: str, worker: LambdaFunction) -> int:
    """Deliver queued messages to the worker's container as the SQS event source does."""
    from tests.service_aws.conftest import pump as deliver

    def handler(event, context, service=None):
        return worker.invoke(event)

    return deliver(local_aws.client("sqs"), queue_url, handler)


@pytest.fixture(scope="module")
def admin_key(podman, aws_image, api, local_aws, image_logs) -> str:
    """`synthctl keys create` run from the image with the API function's contract, as an
    operator bootstraps a deployment."""
    env = {**api.environment, **CREDENTIALS, "AWS_REGION": REGION,
           "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": local_aws.endpoint}
    proc = podman.run_once(aws_image, ["python", "-m", "synthdata_service.cli", "keys",
                                       "create", "--scope", "admin", "--name", "operator"],
                           env=env, log_dir=image_logs, name="synth-image-test-keys")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    key = proc.stdout.strip().splitlines()[-1].strip()
    assert key.startswith("sk_")
    return key


def test_every_function_and_the_task_run_the_image_the_asset_directory_builds(aws_synth):
    tags = {_image_tag(r["Properties"]["Code"]["ImageUri"])
            for r in aws_synth.resources("AWS::Lambda::Function").values()
            if "ImageUri" in r["Properties"].get("Code", {})}
    for task in aws_synth.resources("AWS::ECS::TaskDefinition").values():
        tags |= {_image_tag(c["Image"]) for c in task["Properties"]["ContainerDefinitions"]}
    assert tags == {aws_synth.image_asset_hash}
    assert (aws_synth.image_context / "Dockerfile").is_file()


def test_the_api_function_answers_healthz_through_api_gateway(api):
    status, body = call(api, http_event("GET", "/healthz"))
    assert status == 200, body
    assert api.runtime.polls >= 1  # served by the image's runtime interface client


def test_the_api_and_worker_run_the_same_contract(api, worker):
    for name in ("SYNTH_STORAGE_URL", "SYNTH_METADATA_URL", "SYNTH_API_KEYS_SECRET"):
        assert api.environment[name] == worker.environment[name]
    assert api.environment["SYNTH_STORAGE_URL"].startswith("s3://")
    assert api.environment["SYNTH_JOBS_URL"].startswith("sqs://")


@pytest.fixture(scope="module")
def dataset(api, admin_key) -> dict:
    return upload(api, admin_key, "diamonds.csv", pd.read_csv(DIAMONDS))


def test_upload_train_on_the_worker_and_sample_into_the_bucket(api, worker, queue_url,
                                                                 local_aws, admin_key, dataset):
    status, model = call(api, http_event("POST", "/v1/models", key=admin_key, json_body={
        "dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}}))
    assert status == 202, model
    assert pump(local_aws, queue_url, worker) == 1
    job = job_status(api, admin_key, model["job_id"])
    assert job["status"] == "succeeded", job
    assert len(sample_inline(api, admin_key, model["id"], 50)) == 50

    status, sample = call(api, http_event(
        "POST", f"/v1/models/{model['id']}/samples", key=admin_key,
        json_body={"num_rows": 50_000, "seed": 11, "format": "csv"}))
    assert status == 202, sample  # too large for a Lambda response: a job into the bucket
    assert pump(local_aws, queue_url, worker) == 1
    status, ready = call(api, http_event("GET", f"/v1/samples/{sample['id']}", key=admin_key))
    link = ready["download_url"]
    assert link.startswith(local_aws.endpoint) and "X-Amz-Signature=" in link
    download = httpx.get(link, timeout=120)
    assert download.status_code == 200
    table = pd.read_csv(io.BytesIO(download.content))
    assert len(table) == 50_000 and list(table.columns) == dataset_columns()


def dataset_columns() -> list[str]:
    return list(pd.read_csv(DIAMONDS, nrows=1).columns)


def test_a_long_training_runs_as_the_fargate_task(api, podman, aws_image, aws_synth,
                                                   local_aws, admin_key, image_logs):
    # One epoch of CTGAN on 65,000 rows is estimated past 75% of the one-minute worker (the
    # estimate's fixed preprocessing scales with the table), so the API starts the Fargate
    # task; small networks keep the real training short.
    large = upload(api, admin_key, "diamonds-65k.csv",
                   pd.concat([pd.read_csv(DIAMONDS)] * 13, ignore_index=True))
    status, model = call(api, http_event("POST", "/v1/models", key=admin_key, json_body={
        "dataset_id": large["id"], "synthesizer": "ctgan", "parameters": {
            "epochs": 1, "embedding_dim": 16, "generator_dim": [32, 32],
            "discriminator_dim": [32, 32]}}))
    assert status == 202, model
    job = job_status(api, admin_key, model["job_id"])
    assert "ECS Fargate task" in job.get("message", ""), job

    ((logical, task_definition),) = aws_synth.resources("AWS::ECS::TaskDefinition").items()
    (container,) = task_definition["Properties"]["ContainerDefinitions"]
    ecs = local_aws.client("ecs")
    (cluster_logical,) = aws_synth.resources("AWS::ECS::Cluster")
    cluster = local_aws.physical[cluster_logical]
    (task_arn,) = ecs.list_tasks(cluster=cluster)["taskArns"]
    (task,) = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
    assert task["taskDefinitionArn"] == local_aws.physical[logical]
    (override,) = [o for o in task["overrides"]["containerOverrides"]
                   if o["name"] == container["Name"]]
    deployed = ecs.describe_task_definition(
        taskDefinition=task["taskDefinitionArn"])["taskDefinition"]["containerDefinitions"]
    (deployed_container,) = [c for c in deployed if c["name"] == container["Name"]]
    environment = _resolved_environment(
        {e["name"]: e["value"] for e in deployed_container.get("environment", [])},
        {e["Name"]: e["Value"] for e in container.get("Environment", [])})
    environment.update({e["name"]: e["value"] for e in override.get("environment", [])})
    volumes = {v["Name"]: v for v in task_definition["Properties"].get("Volumes", [])}
    mounts = []
    for mount in container.get("MountPoints", []):
        assert "Host" not in volumes[mount["SourceVolume"]], "Fargate has no host volumes"
        # Fargate's task storage: empty, seeded from the image's directory (its mode 1777).
        mounts.append(f"type=volume,destination={mount['ContainerPath']}"
                      + (",ro" if mount.get("ReadOnly") else ""))
    fargate = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
               "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE", **CREDENTIALS,
               "AWS_ENDPOINT_URL": local_aws.endpoint}
    assert container["ReadonlyRootFilesystem"] is True and container["User"] not in ("0", "root")
    run = podman.start(
        aws_image, name="synth-image-test-fargate", env={**environment, **fargate},
        command=override["command"], user=container["User"], read_only=True, volumes=mounts,
        memory_mb=int(container["Memory"]), cpus=int(container["Cpu"]) / 1024,
        log_dir=image_logs)
    try:
        code = run.wait_exit(timeout=900)
        assert code == 0, run.logs()[-4000:]
    finally:
        run.stop()
    job = job_status(api, admin_key, model["job_id"])
    assert job["status"] == "succeeded", job
    assert len(sample_inline(api, admin_key, model["id"], 20)) == 20
