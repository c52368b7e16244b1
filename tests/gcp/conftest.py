"""Session fixtures for the GCP tests: every app is synthesized once per session.

The GCP providers take seconds to import and a synth a few more, so each app - the
ready-made one, a Cloud Functions variant, the user apps of `test_user_apps.py` and the
spec-field variants - is built and synthesized once and shared. Nothing here imports
cdktn at collection time: TMPDIR is pointed into the session's temp dir first, so the
jsii kernel and cdktn leave nothing in the machine's temp dir.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import PlatformSpec

ROOT = Path(__file__).resolve().parents[2]
INVOKER = "group:data-science@example.com"
PROJECT = "synth-tests-1"
REGION = "europe-west1"


@dataclass
class Synthesized:
    """One synthesized app: its output dir, the stacks and each stack's Terraform JSON."""

    outdir: Path
    stacks: dict[str, Any]
    templates: dict[str, dict[str, Any]]

    def platform(self, stack_name: str, construct_id: str = "Synth"):
        return self.stacks[stack_name].node.find_child(construct_id)


def _load(outdir: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        name: json.loads((outdir / entry["synthesizedStackPath"]).read_text())
        for name, entry in manifest["stacks"].items()
    }


@pytest.fixture(scope="session")
def gcp_tmp(tmp_path_factory) -> Path:
    """A session temp dir that TMPDIR points at while the GCP fixtures run."""
    path = tmp_path_factory.mktemp("gcp")
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(path)
    tempfile.tempdir = None  # forget the cached default so Python follows TMPDIR too
    yield path
    if previous is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = previous
    tempfile.tempdir = None


@pytest.fixture(scope="session")
def synth_app(gcp_tmp) -> Callable[[str, Callable[[Any], dict[str, Any]]], Synthesized]:
    """`synth_app(name, build)`: a new App in its own outdir, `build(app)` returning the
    stacks by name, synthesized."""
    from cdktn import App

    def run(name: str, build: Callable[[Any], dict[str, Any]]) -> Synthesized:
        outdir = gcp_tmp / f"{name}.out"
        app = App(outdir=str(outdir))
        stacks = build(app)
        app.synth()
        return Synthesized(outdir, stacks, _load(outdir))

    return run


def user_stack(app, name: str, *, project: str | None = PROJECT, region: str | None = REGION,
               backend: bool = True):
    """A user's stack: a google provider (with the project and region it is given) and an
    explicit backend, as a user app writes it."""
    from cdktn import GcsBackend, TerraformStack
    from cdktn_provider_google.provider import GoogleProvider

    stack = TerraformStack(app, name)
    GoogleProvider(stack, "google", project=project, region=region)
    if backend:
        GcsBackend(stack, bucket="my-terraform-state", prefix=name)
    return stack


@pytest.fixture(scope="session")
def users(synth_app) -> Synthesized:
    """The user apps of `user_apps.py`, synthesized once."""
    from .user_apps import build_user_apps

    return synth_app("user-apps", build_user_apps)


@pytest.fixture(scope="session")
def app_synth(gcp_tmp) -> Synthesized:
    """`apps.terraform`'s app (dev and prod from the example specs), synthesized once."""
    from apps.terraform import build_app

    outdir = gcp_tmp / "cdktf.out"
    app, stacks = build_app(outdir=outdir, clouds=["gcp"])
    app.synth()
    gcp = {s.node.id: s for s in stacks if s.node.id.endswith("-gcp")}  # not the k8s stacks
    return Synthesized(outdir, gcp, {k: v for k, v in _load(outdir).items() if k in gcp})


@pytest.fixture(scope="session")
def app_templates(app_synth) -> dict[str, dict[str, Any]]:
    return app_synth.templates


@pytest.fixture(scope="session")
def dev(app_templates) -> dict[str, Any]:
    return app_templates["synth-synthdemo-dev-gcp"]


@pytest.fixture(scope="session")
def prod(app_templates) -> dict[str, Any]:
    return app_templates["synth-synthdemo-prod-gcp"]


@pytest.fixture(scope="session")
def source_spec() -> PlatformSpec:
    """A spec for the Cloud Functions variant: source packaging, provider-managed keys,
    IAM at the endpoint, a private network."""
    return PlatformSpec(
        name="fnsynth",
        environment="staging",
        region="europe-west4",
        generator={"packaging": "source", "memory_mb": 2048, "timeout_seconds": 120,
                   "concurrency": 3, "min_instances": 1},
        storage={"encryption": "provider_managed"},
        api={"auth": "iam"},
        network={"vpc": True},
        monitoring={"alarm_emails": ["a@example.com", "b@example.com"]},
        jobs={"long_running": False},
        gcp={"project": "fnsynth-staging"},
    )


@pytest.fixture(scope="session")
def source_synth(synth_app, gcp_tmp, source_spec) -> Synthesized:
    """The Cloud Functions gen2 variant with one invoker, from a small fixed bundle (so
    this test does not follow edits of the service)."""
    from apps.terraform import gcp_stack_name
    from constructs_lib.gcp import SyntheticDataPlatform, gcs_backend

    source = gcp_tmp / "function-bundle"
    source.mkdir()
    (source / "main.py").write_text("def synth_http(request):\n    return 'ok'\n")
    (source / "requirements.txt").write_text("functions-framework\n")

    def build(app):
        stack = user_stack(app, gcp_stack_name(source_spec), project=None, region=None,
                           backend=False)
        gcs_backend(stack, source_spec)
        SyntheticDataPlatform(stack, "Synth", spec=source_spec, invoker_members=[INVOKER],
                              source_dir=source, image="europe-docker.pkg.dev/p/r/i@sha256:"
                              + "0" * 64, outputs=True)
        return {stack.node.id: stack}

    return synth_app("source", build)


@pytest.fixture(scope="session")
def source_template(source_synth, source_spec) -> dict[str, Any]:
    from apps.terraform import gcp_stack_name

    return source_synth.templates[gcp_stack_name(source_spec)]


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The resources of one Terraform type, by logical id."""
    return template.get("resource", {}).get(kind, {})


def path_of(resource: dict[str, Any]) -> str:
    return resource["//"]["metadata"]["path"]


def matching(template: dict[str, Any], kind: str, path_part: str = "") -> list[dict[str, Any]]:
    return [r for r in resources(template, kind).values() if path_part in path_of(r)]


def only(template: dict[str, Any], kind: str, path_part: str = "") -> dict[str, Any]:
    """The one resource of `kind` whose construct path contains `path_part`."""
    found = matching(template, kind, path_part)
    assert len(found) == 1, f"expected one {kind} matching {path_part!r}, found {len(found)}"
    return found[0]


def ref(template: dict[str, Any], kind: str, path_part: str, attribute: str) -> str:
    """The `${kind.id.attribute}` reference to the one resource matching `path_part`."""
    found = [logical for logical, resource in resources(template, kind).items()
             if path_part in path_of(resource)]
    assert len(found) == 1, f"expected one {kind} matching {path_part!r}, found {found}"
    return f"${{{kind}.{found[0]}.{attribute}}}"


def env_of(template: dict[str, Any], path_part: str = "") -> dict[str, str]:
    """The Cloud Run service's container environment."""
    service = only(template, "google_cloud_run_v2_service", path_part)
    return {e["name"]: e["value"] for e in service["template"]["containers"][0]["env"]}


# -- one platform per non-default spec field, in one stack ------------------------------------

FIELD_STACK = "fields"
#: A non-default value for every cloud-neutral leaf field of `PlatformSpec` (and GCP's own
#: placement section). `test_spec_fields` fails when the spec grows a field missing here.
FIELD_VALUES: dict[str, Any] = {
    "name": "othername",
    "environment": "staging",
    "region": "us-east4",
    "tags.owner": "team-x",
    "tags.cost_centre": "cc-42",
    "tags.extra": {"project-code": "p-9"},
    "generator.memory_mb": 4096,
    "generator.timeout_seconds": 120,
    "generator.concurrency": 7,
    "generator.min_instances": 2,
    "generator.max_rows": 1000,
    "generator.max_upload_mb": 10,
    "generator.synthesizers": ["gaussian_copula"],
    "generator.packaging": "source",
    "generator.image": "europe-west1-docker.pkg.dev/p/r/synth@sha256:" + "cd" * 32,
    "storage.retention_days": 5,
    "storage.noncurrent_version_days": 4,
    "storage.encryption": "provider_managed",
    "storage.access_logs": False,
    "api.auth": "iam",
    "api.rate_limit_per_second": 3.5,
    "api.burst": 7,
    "api.cors_origins": ["https://app.example.com"],
    "network.vpc": True,
    "network.cidr": "10.9.0.0/16",
    "monitoring.alarm_emails": ["ops@example.com"],
    "monitoring.error_threshold": 9,
    "monitoring.latency_threshold_ratio": 0.5,
    "monitoring.log_retention_days": 90,
    "jobs.worker_timeout_seconds": 600,
    "jobs.worker_concurrency": 5,
    "jobs.max_attempts": 2,
    "jobs.long_running": False,
    "jobs.cpu": 4096,
    "jobs.memory_mb": 6144,
    "removal_policy": "destroy",
    "gcp.project": "other-proj-1",
    "gcp.region": "us-central1",
}
#: Sections that belong to other clouds (`account` is AWS's placement).
OTHER_CLOUDS = ("account", "kubernetes.", "azure.")
BASE_SPEC = PlatformSpec(name="fields", gcp={"project": "fields-proj"})


def with_field(spec: PlatformSpec, field: str, value: Any) -> PlatformSpec:
    data = spec.model_dump(mode="json")
    *parents, leaf = field.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[leaf] = value
    return PlatformSpec.model_validate(data)


@dataclass
class FieldVariants:
    """The field-variant stack: construct id per field ('Base' for the spec's defaults),
    the spec each platform was built from, and what each refused field raised."""

    synthesized: Synthesized
    ids: dict[str, str]
    specs: dict[str, PlatformSpec]
    refused: dict[str, Exception]

    @property
    def template(self) -> dict[str, Any]:
        return self.synthesized.templates[FIELD_STACK]


@pytest.fixture(scope="session")
def field_variants(synth_app, gcp_tmp) -> FieldVariants:
    """A baseline platform and one platform per entry of `FIELD_VALUES`, all in one stack."""
    from constructs_lib import UnsupportedOnCloud
    from constructs_lib.gcp import SyntheticDataPlatform

    bundle = gcp_tmp / "field-bundle"
    bundle.mkdir()
    (bundle / "main.py").write_text("def synth_http(request):\n    return 'ok'\n")
    ids = {"": "Base", **{field: f"F{index:02d}" for index, field in enumerate(FIELD_VALUES)}}
    specs: dict[str, PlatformSpec] = {}
    refused: dict[str, Exception] = {}

    def build(app):
        stack = user_stack(app, FIELD_STACK, project=None, region="europe-west1")
        for field, construct_id in ids.items():
            spec = BASE_SPEC if not field else with_field(BASE_SPEC, field, FIELD_VALUES[field])
            try:
                SyntheticDataPlatform(stack, construct_id, spec=spec, source_dir=bundle)
            except (UnsupportedOnCloud, ValueError) as exc:
                refused[field] = exc
                continue
            specs[construct_id] = spec
        return {FIELD_STACK: stack}

    return FieldVariants(synth_app("fields", build), ids, specs, refused)
