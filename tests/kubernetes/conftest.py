"""Session fixtures for the Kubernetes construct tests: each app is synthesized once.

* `app_synth`: `apps/terraform.py`'s Kubernetes stacks (examples/kubernetes.yaml on EKS,
  examples/onprem.yaml on OpenShift with MinIO, PostgreSQL and Prometheus from Helm).
* `leaf_synth`: one stack holding one platform per cloud-neutral leaf field of the spec,
  each with that field at a non-default value (plus a base), for the "every field changes
  the output" and behaviour-facts tests.
* `user_synth`: the user apps (two platforms in one stack, standalone bucket and store,
  bring your own, per-cloud workload identity, grants into a consumer's scope).

Nothing imports cdktn at collection time; TMPDIR points into the session's temp dir so
the jsii kernel leaves nothing in /tmp.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import PlatformSpec
from tests.conftest import tmpdir_at

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = (ROOT / "examples" / "kubernetes.yaml", ROOT / "examples" / "onprem.yaml")


@dataclass
class Synthesized:
    outdir: Path
    stacks: dict[str, Any]
    templates: dict[str, dict[str, Any]]
    warnings: list[str]

    def construct(self, stack: str, path: str):
        node = self.stacks[stack]
        for part in path.split("/"):
            node = node.node.find_child(part)
        return node


def _load(outdir: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {name: json.loads((outdir / entry["synthesizedStackPath"]).read_text())
            for name, entry in manifest["stacks"].items()}


@pytest.fixture(scope="session")
def k8s_tmp(tmp_path_factory) -> Iterator[Path]:
    with tmpdir_at(tmp_path_factory.mktemp("k8s")) as path:
        yield path


def synth(outdir: Path, build: Callable[[Any], dict[str, Any]]) -> Synthesized:
    """Build stacks on a fresh App with `build(app)` (returning name -> stack), synthesize
    once, and keep the warnings the constructs raised."""
    from cdktn import App

    app = App(outdir=str(outdir))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stacks = build(app)
        app.synth()
    return Synthesized(outdir, stacks, _load(outdir), [str(w.message) for w in caught])


@pytest.fixture(scope="session")
def example_specs() -> list[PlatformSpec]:
    return [PlatformSpec.from_file(path) for path in EXAMPLES]


@pytest.fixture(scope="session")
def app_synth(k8s_tmp, example_specs) -> Synthesized:
    from apps.terraform import build_app

    def build(_app):
        raise AssertionError("unused")

    outdir = k8s_tmp / "app.out"
    app, stacks = build_app([], outdir=outdir, kubernetes_specs=example_specs)
    app.synth()
    return Synthesized(outdir, {s.node.id: s for s in stacks}, _load(outdir), [])


@pytest.fixture(scope="session")
def eks(app_synth) -> dict[str, Any]:
    return app_synth.templates["synth-synthdemo-prod-k8s"]


@pytest.fixture(scope="session")
def onprem(app_synth) -> dict[str, Any]:
    return app_synth.templates["synth-synthlab-dev-k8s"]


def manifests(template: dict[str, Any], path: str = "") -> list[dict[str, Any]]:
    """The Kubernetes objects of a template (under construct path `path`)."""
    from constructs_lib.facts.kubernetes import objects

    return [r["manifest"] for r in objects(template, path)]


def of_kind(template: dict[str, Any], kind: str, path: str = "") -> list[dict[str, Any]]:
    return [m for m in manifests(template, path) if m["kind"] == kind]


def pod_specs(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, pod spec) of every pod the stack can start: workloads, Jobs, the Job
    template the runner copies."""
    out = []
    for manifest in manifests(template):
        if manifest["kind"] in ("Deployment", "Job"):
            component = manifest["metadata"]["labels"].get("app.kubernetes.io/component")
            out.append((f"{manifest['kind']} {manifest['metadata']['name']} ({component})",
                        manifest["spec"]["template"]["spec"]))
        if manifest["kind"] == "ConfigMap" and "template.json" in manifest.get("data", {}):
            job = json.loads(manifest["data"]["template.json"])
            out.append((f"Job template {manifest['metadata']['name']}",
                        job["spec"]["template"]["spec"]))
    return out


#: A non-default value for every cloud-neutral leaf field of PlatformSpec.
LEAF_VALUES: dict[str, Any] = {
    "name": "leafy",
    "environment": "staging",
    "region": "us-east-2",
    "tags.owner": "someone-else",
    "tags.cost_centre": "another",
    "tags.extra": {"team": "x"},
    "generator.memory_mb": 4096,
    "generator.timeout_seconds": 120,
    "generator.concurrency": 7,
    "generator.min_instances": 4,
    "generator.max_rows": 5000,
    "generator.max_upload_mb": 20,
    "generator.synthesizers": ["ctgan"],
    "generator.packaging": "source",
    "generator.image": "registry.example.com/synth@sha256:" + "a" * 64,
    "storage.retention_days": 9,
    "storage.noncurrent_version_days": 11,
    "storage.encryption": "provider_managed",
    "storage.access_logs": False,
    "api.auth": "iam",
    "api.rate_limit_per_second": 3.5,
    "api.burst": 4,
    "api.cors_origins": ["https://app.example.com"],
    "network.vpc": True,
    "network.cidr": "10.9.0.0/16",
    "monitoring.alarm_emails": ["x@example.com"],
    "monitoring.error_threshold": 9,
    "monitoring.latency_threshold_ratio": 0.5,
    "monitoring.log_retention_days": 90,
    "jobs.worker_timeout_seconds": 600,
    "jobs.worker_concurrency": 5,
    "jobs.max_attempts": 5,
    "jobs.long_running": False,
    "jobs.cpu": 4096,
    "jobs.memory_mb": 9000,
    "removal_policy": "destroy",
}
#: Fields whose non-default value only matters together with another one.
LEAF_CONTEXT: dict[str, dict[str, Any]] = {"network.cidr": {"network": {"vpc": True}}}


def spec_with(field: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.loads(json.dumps(base or {"name": "leaf"}))
    for key, extra in LEAF_CONTEXT.get(field, {}).items():
        data.setdefault(key, {}).update(extra)
    target = data
    *parents, leaf = field.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
    target[leaf] = value
    return data


def leaf_namespace(index: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return f"leafns-{letters[index // 26]}{letters[index % 26]}"


@dataclass
class LeafSynth(Synthesized):
    built: dict[str, PlatformSpec] = None  # type: ignore[assignment]
    refused: dict[str, str] = None  # type: ignore[assignment]


@pytest.fixture(scope="session")
def leaf_synth(k8s_tmp) -> LeafSynth:
    """Platform `P-<field>` per leaf field (FROM_SPEC names, so only the field differs),
    `P-base` and `P-base-vpc` (the base with `network.vpc` for the CIDR's comparison)."""
    from cdktn import TerraformStack

    from constructs_lib import PhysicalNames, UnsupportedOnCloud
    from constructs_lib.kubernetes import SyntheticDataPlatform, providers

    built: dict[str, PlatformSpec] = {}
    refused: dict[str, str] = {}

    def build(app):
        stack = TerraformStack(app, "leaves")
        providers(stack)
        variants = {"base": {"name": "leaf"}, "base-vpc": {"name": "leaf",
                                                          "network": {"vpc": True}}}
        variants.update({field: spec_with(field, value)
                         for field, value in LEAF_VALUES.items()})
        for index, (key, data) in enumerate(variants.items()):
            # Each in its own namespace (`leafns-<letters>`, normalised away when compared).
            data.setdefault("kubernetes", {})["namespace"] = leaf_namespace(index)
            spec = PlatformSpec.from_dict(data)
            try:
                SyntheticDataPlatform(stack, f"P-{key.replace('.', '-')}", spec=spec,
                                      physical_names=PhysicalNames.FROM_SPEC)
            except UnsupportedOnCloud as exc:
                refused[key] = exc.field
                continue
            built[key] = spec
        return {"leaves": stack}

    result = synth(k8s_tmp / "leaves.out", build)
    return LeafSynth(result.outdir, result.stacks, result.templates, result.warnings,
                     built=built, refused=refused)
