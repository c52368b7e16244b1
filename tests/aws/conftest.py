"""AWS fixtures: the app's stacks, a spec variant and the user apps, each synthesized once a
session (CDK's own template validation off: cfn-lint runs on the templates instead)."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: App properties of every test app: no built-in validation (cfn-lint covers it), and the
#: construct paths in the template metadata, as `cdk synth` writes them (the facts reader
#: and the tests find a platform's resources by path).
APP_PROPS = {"builtin_cloud_formation_validation": False,
             "context": {"aws:cdk:enable-path-metadata": True}}


@dataclass
class Synthesized:
    """One synthesized app: templates by stack name, their files, and what built them."""

    outdir: Path
    templates: dict[str, dict[str, Any]]
    paths: dict[str, Path]
    stacks: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    handles: dict[str, Any] = field(default_factory=dict)
    assembly: Any = None

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.templates[stack]["Resources"].items() if r["Type"] == type_}

    def one(self, stack: str, type_: str) -> dict[str, Any]:
        found = self.resources(stack, type_)
        assert len(found) == 1, f"expected one {type_} in {stack}, found {sorted(found)}"
        return next(iter(found.values()))

    def under(self, stack: str, path: str, type_: str | None = None) -> dict[str, dict]:
        """The resources of `stack` whose construct path starts with `path`."""
        prefix = path.rstrip("/") + "/"
        return {k: r for k, r in self.templates[stack]["Resources"].items()
                if r.get("Metadata", {}).get("aws:cdk:path", "").startswith(prefix)
                and (type_ is None or r["Type"] == type_)}


def synthesize(app, outdir: Path, stacks=(), handles=None) -> Synthesized:
    assembly = app.synth()  # raises if cdk-nag reports an unacknowledged finding
    report_path = outdir / "validation-report.json"
    return Synthesized(
        outdir=outdir,
        templates={s.stack_name: s.template for s in assembly.stacks},
        paths={s.stack_name: Path(s.template_full_path) for s in assembly.stacks},
        stacks={s.stack_name: s for s in stacks},
        report=json.loads(report_path.read_text()) if report_path.exists() else {},
        handles=handles or {},
        assembly=assembly,
    )


@pytest.fixture(scope="session")
def aws_app(tmp_path_factory) -> Synthesized:
    """The `apps/aws.py` app (dev and prod from the example specs), as `cdk synth` builds it."""
    from apps.aws import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stacks = build_app(outdir=str(outdir), nag=True, **APP_PROPS)
    return synthesize(app, outdir, stacks)


#: Spec variants that exercise the optional paths the example specs do not.
VARIANTS = {
    "synth-variant-dev": {"name": "variant", "environment": "dev", "api": {"auth": "iam"},
                          "network": {"vpc": True},
                          "storage": {"encryption": "provider_managed"},
                          "generator": {"min_instances": 2, "concurrency": 4},
                          "monitoring": {"alarm_emails": ["a@example.com", "b@example.com"]}},
}


@pytest.fixture(scope="session")
def aws_variants(tmp_path_factory) -> Synthesized:
    from apps.aws import build_app
    from constructs_lib import PlatformSpec

    outdir = tmp_path_factory.mktemp("cdk.out.variants")
    specs = [PlatformSpec.model_validate(v) for v in VARIANTS.values()]
    app, stacks = build_app(specs, outdir=str(outdir), nag=True, **APP_PROPS)
    return synthesize(app, outdir, stacks)


@pytest.fixture(scope="session")
def user_apps(tmp_path_factory) -> Synthesized:
    """Every user app of `tests/aws/user_apps.py`, as stacks of one app, synthesized once."""
    from aws_cdk import App

    from tests.aws import user_apps

    outdir = tmp_path_factory.mktemp("cdk.out.users")
    app = App(outdir=str(outdir), **APP_PROPS)
    handles = {name: build(app) for name, build in user_apps.USER_APPS.items()}
    return synthesize(app, outdir, handles=handles)


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


@dataclass
class Deployed:
    """A stack deployed into moto: its description, outputs and physical resource ids."""

    stack: dict[str, Any]
    outputs: dict[str, str]
    physical: dict[str, str]
    template: dict[str, Any]
    client: Any

    def function_named_for(self, handler: str) -> str:
        """The deployed name of the function whose image command is `handler`."""
        [logical] = [k for k, r in self.template["Resources"].items()
                     if r["Type"] == "AWS::Lambda::Function"
                     and r["Properties"].get("ImageConfig", {}).get("Command") == [handler]]
        return self.physical[logical]


@pytest.fixture(scope="session")
def deployed(aws_app, moto_endpoint) -> Deployed:
    """The dev stack deployed into moto the way `cdk deploy` does it: the file assets
    published to the bootstrap bucket, then the template created."""
    import boto3

    from tests.aws import moto_support

    def client(name):
        return boto3.client(name, endpoint_url=moto_endpoint, region_name=REGION)

    # What `cdk bootstrap` leaves behind and the template's bootstrap-version rule reads.
    client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30",
                                Type="String")
    moto_support.publish_file_assets(aws_app.outdir, DEPLOYED_STACK, client("s3"))
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
    summaries = cloudformation.list_stack_resources(StackName=DEPLOYED_STACK)[
        "StackResourceSummaries"]
    physical = {s["LogicalResourceId"]: s.get("PhysicalResourceId", "") for s in summaries}
    return Deployed(stack, outputs, physical, aws_app.templates[DEPLOYED_STACK], client)
