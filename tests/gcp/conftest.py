"""Session fixtures for the GCP tests: every stack is synthesized once per session.

The google provider takes about 14 s to import and a synth a few seconds, so the app's
stacks (and one Cloud Functions variant) are built once and shared. Nothing here imports
cdktn at collection time: TMPDIR is pointed into the session's temp dir first, so the
jsii kernel and cdktf leave no `/tmp/cdktf.outdir.*` behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import PlatformSpec

ROOT = Path(__file__).resolve().parents[2]
INVOKER = "group:data-science@example.com"


@dataclass
class Synthesized:
    """One synthesized app: its output dir, the stacks and each stack's Terraform JSON."""

    outdir: Path
    stacks: dict[str, Any]
    templates: dict[str, dict[str, Any]]

    def platform(self, stack_name: str):
        return self.stacks[stack_name].node.find_child("Synth")


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
def app_synth(gcp_tmp) -> Synthesized:
    """`apps.terraform`'s app (dev and prod from the example specs), synthesized once."""
    from apps.terraform import build_app

    outdir = gcp_tmp / "cdktf.out"
    app, stacks = build_app(outdir=outdir)
    app.synth()
    return Synthesized(outdir, {s.node.id: s for s in stacks}, _load(outdir))


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
    """A spec for the Cloud Functions variant: source packaging, provider-managed keys."""
    return PlatformSpec(
        name="fnsynth",
        environment="staging",
        region="europe-west4",
        generator={"packaging": "source", "memory_mb": 2048, "timeout_seconds": 120,
                   "concurrency": 3, "min_instances": 1},
        storage={"encryption": "provider_managed"},
        monitoring={"alarm_emails": ["a@example.com", "b@example.com"]},
        gcp={"project": "fnsynth-staging"},
    )


@pytest.fixture(scope="session")
def source_synth(gcp_tmp, source_spec) -> Synthesized:
    """The Cloud Functions gen2 variant with one invoker, from a small fixed source dir."""
    from cdktn import App, TerraformStack
    from cdktn_provider_google.provider import GoogleProvider

    from apps.terraform import gcp_stack_name
    from constructs_lib.gcp import SyntheticDataPlatform, gcs_backend

    source = gcp_tmp / "service-src"
    source.mkdir()
    (source / "main.py").write_text("def synth_http(request):\n    return 'ok'\n")
    (source / "requirements.txt").write_text("functions-framework\n")

    outdir = gcp_tmp / "source.out"
    app = App(outdir=str(outdir))
    stack = TerraformStack(app, gcp_stack_name(source_spec))
    GoogleProvider(stack, "google", project=source_spec.gcp.project)
    gcs_backend(stack, source_spec)
    # A fixed source dir, so this test does not follow edits of service/.
    SyntheticDataPlatform(stack, "Synth", spec=source_spec, invoker_members=[INVOKER],
                          source_dir=source)
    app.synth()
    return Synthesized(outdir, {stack.node.id: stack}, _load(outdir))


@pytest.fixture(scope="session")
def source_template(source_synth, source_spec) -> dict[str, Any]:
    from apps.terraform import gcp_stack_name

    return source_synth.templates[gcp_stack_name(source_spec)]


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The resources of one Terraform type, by logical id."""
    return template.get("resource", {}).get(kind, {})


def only(template: dict[str, Any], kind: str, path_part: str = "") -> dict[str, Any]:
    """The one resource of `kind` whose construct path contains `path_part`."""
    found = [r for r in resources(template, kind).values()
             if path_part in r["//"]["metadata"]["path"]]
    assert len(found) == 1, f"expected one {kind} matching {path_part!r}, found {len(found)}"
    return found[0]


def ref(template: dict[str, Any], kind: str, path_part: str, attribute: str) -> str:
    """The `${kind.id.attribute}` reference to the one resource matching `path_part`."""
    for logical_id, resource in resources(template, kind).items():
        if path_part in resource["//"]["metadata"]["path"]:
            return f"${{{kind}.{logical_id}.{attribute}}}"
    raise AssertionError(f"no {kind} matching {path_part!r}")
