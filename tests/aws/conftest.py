"""AWS fixtures: the app's stacks and a few spec variants, each synthesized once a session."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass
class Synthesized:
    """One synthesized app: templates by stack name, their files, and the platforms."""

    outdir: Path
    templates: dict[str, dict[str, Any]]
    paths: dict[str, Path]
    stacks: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.templates[stack]["Resources"].items() if r["Type"] == type_}

    def one(self, stack: str, type_: str) -> dict[str, Any]:
        found = self.resources(stack, type_)
        assert len(found) == 1, f"expected one {type_} in {stack}, found {sorted(found)}"
        return next(iter(found.values()))


def synthesize(app_and_stacks, outdir: Path) -> Synthesized:
    app, stacks = app_and_stacks
    assembly = app.synth()  # raises if cdk-nag reports an unacknowledged finding
    report_path = outdir / "validation-report.json"
    return Synthesized(
        outdir=outdir,
        templates={s.stack_name: s.template for s in assembly.stacks},
        paths={s.stack_name: Path(s.template_full_path) for s in assembly.stacks},
        stacks={s.stack_name: s for s in stacks},
        report=json.loads(report_path.read_text()) if report_path.exists() else {},
    )


@pytest.fixture(scope="session")
def aws_app(tmp_path_factory) -> Synthesized:
    """The `apps/aws.py` app (dev and prod from the example specs), as `cdk synth` builds it."""
    from apps.aws import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    return synthesize(
        build_app(outdir=str(outdir), builtin_cloud_formation_validation=False), outdir)


#: Spec variants that exercise the optional paths the example specs do not.
VARIANTS = {
    "synth-variant-dev": {"name": "variant", "environment": "dev", "api": {"auth": "iam"},
                          "network": {"vpc": True},
                          "storage": {"encryption": "provider_managed"},
                          "monitoring": {"alarm_emails": ["a@example.com", "b@example.com"]}},
}


@pytest.fixture(scope="session")
def aws_variants(tmp_path_factory) -> Synthesized:
    from apps.aws import build_app
    from constructs_lib import PlatformSpec

    outdir = tmp_path_factory.mktemp("cdk.out.variants")
    specs = [PlatformSpec.model_validate(v) for v in VARIANTS.values()]
    return synthesize(
        build_app(specs, outdir=str(outdir), builtin_cloud_formation_validation=False), outdir)


# -- a local AWS: the dev stack deployed into a moto server ---------------------------------

DEPLOYED_STACK = "synth-synthdemo-dev"
REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    from tests.aws import moto_support

    moto_support.install()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        # `localhost`, not 127.0.0.1: moto misreads template URLs otherwise.
        yield f"http://localhost:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def deployed(aws_app, moto_endpoint):
    """(stack description, outputs, client factory) of the dev stack deployed into moto."""
    import boto3

    def client(name):
        return boto3.client(name, endpoint_url=moto_endpoint, region_name=REGION)

    # What `cdk bootstrap` leaves behind and the template's bootstrap-version rule reads.
    client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30",
                                Type="String")
    cloudformation = client("cloudformation")
    cloudformation.create_stack(
        StackName=DEPLOYED_STACK, TemplateBody=aws_app.paths[DEPLOYED_STACK].read_text(),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    deadline = time.monotonic() + 120
    while True:
        stack = cloudformation.describe_stacks(StackName=DEPLOYED_STACK)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return stack, outputs, client
