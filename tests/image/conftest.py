"""Session fixtures of the image tests (`make image-test`, `pytest tests/image --image`):
podman, the platform synthesized on each cloud from `platform.yaml`, the service image
built from each synthesized build context, and the local emulators, bound to the host's
address on podman's bridge so that the containers reach them exactly as the host does."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.image import images

HERE = Path(__file__).resolve().parent
SPEC_FILE = HERE / "platform.yaml"
REGION = "eu-west-1"


@pytest.fixture(scope="session")
def podman() -> Iterator[images.Podman]:
    cache = images.cache_root()
    with images.exclusive(cache):
        yield images.Podman(cache)


@pytest.fixture(scope="session")
def image_logs(tmp_path_factory) -> Path:
    """Build logs, container logs and env files (kept by pytest's tmp retention)."""
    return tmp_path_factory.mktemp("image-logs")


@pytest.fixture(scope="session")
def spec():
    from constructs_lib import PlatformSpec

    return PlatformSpec.from_file(SPEC_FILE)


# -- AWS: the app synthesized as `cdk synth` does, the image from its asset directory -------

@dataclass
class AwsSynth:
    outdir: Path
    stack_name: str
    template: dict[str, Any]
    template_path: Path
    image_context: Path
    image_asset_hash: str

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.template["Resources"].items() if r["Type"] == type_}


@pytest.fixture(scope="session")
def aws_synth(spec, tmp_path_factory) -> AwsSynth:
    """`apps/aws.py` with the test platform's spec, synthesized into a cdk.out directory."""
    from apps.aws import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stacks = build_app([spec], outdir=str(outdir), builtin_cloud_formation_validation=False)
    assembly = app.synth()
    (stack,) = [s for s in assembly.stacks if s.stack_name == stacks[0].stack_name]
    manifest = next(outdir.glob(f"{stack.stack_name}.assets.json"))
    docker_images = json.loads(manifest.read_text()).get("dockerImages", {})
    assert len(docker_images) == 1, f"expected one image asset, found {sorted(docker_images)}"
    ((asset_hash, asset),) = docker_images.items()
    return AwsSynth(outdir=outdir, stack_name=stack.stack_name, template=stack.template,
                    template_path=Path(stack.template_full_path),
                    image_context=outdir / asset["source"]["directory"],
                    image_asset_hash=asset_hash)


@pytest.fixture(scope="session")
def aws_image(podman, aws_synth, image_logs) -> str:
    """The image `cdk deploy` would build and push: built from `cdk.out/asset.<hash>/`."""
    return images.build_service_image(podman, aws_synth.image_context, log_dir=image_logs)


@pytest.fixture(scope="session")
def gateway(podman, aws_image) -> str:
    return podman.gateway(aws_image)


# -- a local AWS: moto server on the bridge address, with the synthesized stack deployed ----

@dataclass
class LocalAws:
    endpoint: str
    stack: dict[str, Any]
    physical: dict[str, str]  # logical id -> physical id

    def client(self, name: str):
        import boto3

        return boto3.client(name, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="session")
def local_aws(aws_synth, gateway) -> Iterator[LocalAws]:
    """The synthesized stack deployed into a moto server the containers can reach, as
    `cdk deploy` does it: file assets published to the bootstrap bucket, then the template."""
    from tests.aws import moto_support
    from tests.service_aws.conftest import _moto_server

    moto_support.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = images.free_port(gateway)
    server = _moto_server(port, host=gateway)
    server.start()
    try:
        local = LocalAws(endpoint=f"http://{gateway}:{port}", stack={}, physical={})
        local.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version",
                                          Value="30", Type="String")
        moto_support.publish_file_assets(aws_synth.outdir, aws_synth.stack_name,
                                         local.client("s3"))
        cloudformation = local.client("cloudformation")
        cloudformation.create_stack(
            StackName=aws_synth.stack_name, TemplateBody=aws_synth.template_path.read_text(),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
        deadline = time.monotonic() + 120
        while True:
            stack = cloudformation.describe_stacks(StackName=aws_synth.stack_name)["Stacks"][0]
            if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        local.stack = stack
        resources = cloudformation.describe_stack_resources(
            StackName=aws_synth.stack_name)["StackResources"]
        local.physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources
                          if r.get("PhysicalResourceId")}  # moto: skipped types have none
        yield local
    finally:
        server.stop()


# -- GCP: the Terraform app synthesized as `cdktn synth` does --------------------------------

@dataclass
class GcpSynth:
    outdir: Path
    stack_dir: Path
    template: dict[str, Any]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.template.get("resource", {}).get(type_, {})

    @property
    def project(self) -> str:
        (provider,) = self.template["provider"]["google"]
        return provider["project"]

    def resolve(self, value: str) -> str:
        """A string with `${type.name.attribute}` references, as `terraform apply` fills
        them in for the attributes the service's environment uses."""
        return _REFERENCE.sub(lambda m: self._attribute(*m.group(1).split(".")), value)

    def _attribute(self, type_: str, name: str, attribute: str) -> str:
        resource = self.resources(type_).get(name)
        assert resource is not None, f"${{{type_}.{name}}} names no resource in the stack"
        project = resource.get("project", self.project)
        if type_ == "google_secret_manager_secret" and attribute == "id":
            return f"projects/{project}/secrets/{resource['secret_id']}"
        if type_ == "google_firestore_database" and attribute == "id":
            return f"projects/{project}/databases/{resource['name']}"
        if type_ == "google_service_account" and attribute == "email":
            account = self.resolve(resource["account_id"])
            return f"{account}@{project}.iam.gserviceaccount.com"
        value = resource.get(attribute)
        assert isinstance(value, str) and "${" not in value, (
            f"tests/image cannot tell what terraform gives ${{{type_}.{name}.{attribute}}}: "
            "teach GcpSynth.resolve")
        return value


_REFERENCE = re.compile(r"\$\{([a-z0-9_]+\.[A-Za-z0-9_-]+\.[a-z_]+)\}")


@pytest.fixture(scope="session")
def gcp_synth(spec, tmp_path_factory) -> GcpSynth:
    from apps.terraform import build_app

    outdir = tmp_path_factory.mktemp("cdktf.out")
    app, stacks = build_app([spec], outdir=outdir)
    app.synth()
    stack_dir = outdir / "stacks" / stacks[0].node.id
    return GcpSynth(outdir=outdir, stack_dir=stack_dir,
                    template=json.loads((stack_dir / "cdk.tf.json").read_text()))


def gcp_image_context(gcp_synth: GcpSynth) -> Path:
    """The directory the GCP stack builds its image from: the build context of a
    `docker_image` resource (or of the asset it names) holding a Dockerfile."""
    contexts = []
    for resource in gcp_synth.resources("docker_image").values():
        builds = resource.get("build")
        for build in builds if isinstance(builds, list) else [builds] if builds else []:
            contexts.append(build.get("context", ""))
    found = []
    for context in contexts:
        context = context.replace("${path.module}", str(gcp_synth.stack_dir))
        path = Path(context) if Path(context).is_absolute() else gcp_synth.stack_dir / context
        if (path / "Dockerfile").is_file():
            found.append(path)
    assert len(found) == 1, (
        "the GCP stack names no image build (a docker_image resource building a staged "
        f"context with a Dockerfile); build contexts found: {contexts}")
    return found[0]


@pytest.fixture(scope="session")
def gcp_image(podman, gcp_synth, image_logs) -> str:
    """The image the GCP deploy builds, from the input its synthesized stack points at."""
    return images.build_service_image(podman, gcp_image_context(gcp_synth),
                                      log_dir=image_logs)
