"""The service image run exactly as the Kubernetes Deployment's pod spec runs it: its
command and arguments, its environment (Secret references filled in as the cluster would),
an arbitrary non-root UID with group 0 (OpenShift's restricted-v2 SCC), a read-only root
filesystem with only /tmp writable (the pod's emptyDir), every capability dropped and no
privilege escalation. It must answer its startup / liveness / readiness probes and complete
a round trip against moto as the S3-compatible endpoint and the machine's PostgreSQL.

What differs from a cluster, and why:
* the container shares the host's network (`--network host`) so that it reaches the local
  PostgreSQL and moto on loopback as a pod reaches in-cluster Services; `PORT` is a free
  port rather than 8080, which the host may already use;
* the local PostgreSQL speaks no TLS, so the URL's `sslmode=verify-full` (the construct's
  default; the spec accepts nothing weaker than `require`) becomes `disable` here;
* the bucket is created in moto directly, as the platform's setup Job would.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from tests.image import images

REPO = Path(__file__).resolve().parents[2]
DIAMONDS = REPO / "examples" / "data" / "diamonds.csv"
#: An arbitrary UID from an OpenShift namespace's range, with group 0.
OPENSHIFT_USER = "1000770000:0"
BUCKET = "synth-image-test-k8s"
STACK = "k8s-image-test"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> dict[str, Any]:
    """The API Deployment a user's Kubernetes stack synthesizes (S3-compatible endpoint,
    external PostgreSQL, jobs in the API pods)."""
    from cdktn import App, TerraformStack

    from constructs_lib import PhysicalNames, PlatformSpec
    from constructs_lib.facts.kubernetes import objects
    from constructs_lib.kubernetes import SyntheticDataPlatform, providers

    spec = PlatformSpec.from_dict({
        "name": "imagetest",
        "storage": {"encryption": "provider_managed"},
        "jobs": {"long_running": False},
        "kubernetes": {"namespace": "imagetest",
                       "storage": {"endpoint": "http://minio.storage.svc:9000",
                                   "bucket": BUCKET, "configure": False},
                       "postgres": {"host": "postgres.db.svc", "database": "test"}}})
    outdir = tmp_path_factory.mktemp("k8s.out")
    app = App(outdir=str(outdir))
    stack = TerraformStack(app, STACK)
    providers(stack)
    SyntheticDataPlatform(stack, "Synth", spec=spec, physical_names=PhysicalNames.FROM_SPEC)
    app.synth()
    manifest = json.loads((outdir / "manifest.json").read_text())
    template = json.loads((outdir / manifest["stacks"][STACK]["synthesizedStackPath"])
                          .read_text())
    (found,) = [o["manifest"] for o in objects(template, f"{STACK}/Synth")
                if o["manifest"]["kind"] == "Deployment"]
    return found


@pytest.fixture(scope="module")
def moto_endpoint() -> str:
    from tests.service_aws.conftest import _moto_server

    port = images.free_port()
    server = _moto_server(port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing"
                 ).create_bucket(Bucket=BUCKET,
                                 CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield endpoint
    server.stop()


def _local(url: str, **query: str) -> str:
    """`url` pointed at the machine's PostgreSQL on loopback, with `query` replaced."""
    parts = urlsplit(url)
    params = {**dict(parse_qsl(parts.query)), **query}
    params.pop("sslrootcert", None)
    return urlunsplit((parts.scheme, "127.0.0.1:5432", parts.path, urlencode(params), ""))


def pod_environment(container: dict[str, Any], moto: str, port: int) -> dict[str, str]:
    """The container's env as the kubelet gives it: values as written, Secret keys as the
    operator stored them (the storage credentials, the database login, the pepper)."""
    stored = {"access_key_id": "testing", "secret_access_key": "testing",
              "username": "postgres", "password": "unused-with-trust-auth",
              "pepper": base64.b64encode(secrets.token_bytes(32)).decode()}
    env: dict[str, str] = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            key = item["valueFrom"]["secretKeyRef"]["key"]
            assert key in stored, f"{item['name']}: no stand-in for Secret key {key!r}"
            env[item["name"]] = stored[key]
    env["AWS_ENDPOINT_URL_S3"] = moto
    env["SYNTH_METADATA_URL"] = _local(env["SYNTH_METADATA_URL"], sslmode="disable")
    env["PORT"] = str(port)
    return env


@pytest.fixture(scope="module")
def pod(podman, aws_image, deployment, moto_endpoint, image_logs):
    """The API container started as the pod spec says; (container, environment)."""
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] and context["runAsNonRoot"]
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not context["allowPrivilegeEscalation"]
    writable = [m["mountPath"] for m in container["volumeMounts"]
                if not m.get("readOnly") and any(v["name"] == m["name"] and "emptyDir" in v
                                                 for v in spec["volumes"])]
    assert writable == ["/tmp"]
    port = images.free_port()
    env = pod_environment(container, moto_endpoint, port)
    command = [*container.get("command", []), *container.get("args", [])]
    run = podman.start(
        aws_image, name="synth-image-test-k8s", env=env,
        entrypoint=container["command"][0] if container.get("command") else None,
        command=command[1:] if container.get("command") else command,
        user=OPENSHIFT_USER, read_only=True, tmpfs=["/tmp:rw,mode=1777"],
        cap_drop=["ALL"], security_opts=["no-new-privileges"], network="host",
        host_port=port, log_dir=image_logs)
    yield run, env, container
    run.stop()


def _probe_path(probe: dict[str, Any]) -> str:
    return probe["httpGet"]["path"]


def test_the_image_runs_as_a_numeric_non_root_user(podman, aws_image):
    user = podman("image", "inspect", aws_image, "--format", "{{.Config.User}}").stdout.strip()
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"image user {user!r}: runAsNonRoot refuses it"


def test_the_pod_answers_its_startup_liveness_and_readiness_probes(pod):
    run, _, container = pod
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        run.wait_http(_probe_path(container[probe]), timeout=180)
    whoami = run.exec("id", "-u")
    assert whoami.stdout.strip() == OPENSHIFT_USER.split(":")[0]
    assert run.exec("touch", "/var/task/x").returncode != 0  # the root filesystem is read-only


def test_upload_train_and_sample_as_the_pod_runs(pod):
    run, env, container = pod
    run.wait_http(_probe_path(container["readinessProbe"]), timeout=180)
    created = run.exec("python", "-m", "synthdata_service.cli", "keys", "create",
                       "--scope", "admin", "--name", "operator")
    assert created.returncode == 0, created.stdout + created.stderr
    key = created.stdout.strip().splitlines()[-1].strip()
    text = images.train_and_sample(run.url, key, DIAMONDS, rows=500)
    assert text.count("\n") == 501  # the header and 500 rows
    import boto3

    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"], region_name="eu-west-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert any("/datasets/" in f"/{k}" for k in keys) and any("/models/" in f"/{k}" for k in keys)

