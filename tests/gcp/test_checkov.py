"""checkov on the synthesized GCP stacks: no failed check outside checkov/gcp.yaml.

One checkov run covers the example app's stacks, the Cloud Functions variant and the user
apps that bring their own resources (checkov starts slowly); the stack holding a platform
per spec field gets its own run under `make test-extended`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_checkov

from .conftest import ROOT

CONFIG = ROOT / "checkov" / "gcp.yaml"
CHECKED = [("app", "synth-synthdemo-dev-gcp"), ("app", "synth-synthdemo-prod-gcp"),
           ("source", "synth-fnsynth-staging-gcp"), ("users", "two-platforms"),
           ("users", "byo"), ("users", "consumer")]


def stack_file(synthesized, stack: str) -> Path:
    return synthesized.outdir / "stacks" / stack / "cdk.tf.json"


def failures(report: dict, path: Path | None = None) -> list[str]:
    return [f"{c['check_id']} {c['resource']}: {c['check_name']}"
            for c in report.get("results", {}).get("failed_checks", [])
            if path is None or c["file_path"].endswith(f"/{path.parent.name}/{path.name}")]


@pytest.fixture(scope="module")
def report(app_synth, source_synth, users) -> dict:
    apps = {"app": app_synth, "source": source_synth, "users": users}
    paths = [stack_file(apps[app], stack) for app, stack in CHECKED]
    return {"paths": paths, "result": run_checkov(paths, framework="terraform_json",
                                                  config=CONFIG)}


def test_skip_list_is_short_and_every_skip_has_a_reason():
    text = CONFIG.read_text()
    skips = yaml.safe_load(text)["skip-check"]
    assert len(skips) <= 4
    lines = text.splitlines()
    for check in skips:
        index = next(i for i, line in enumerate(lines) if line.strip() == f"- {check}")
        assert lines[index - 1].lstrip().startswith("#"), f"{check} has no reason above it"


def test_checkov_checked_every_stack(report):
    summary = report["result"]["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 25 * len(CHECKED), summary


@pytest.mark.parametrize("index", range(len(CHECKED)), ids=[s for _, s in CHECKED])
def test_stack_passes_checkov(report, index):
    assert failures(report["result"], report["paths"][index]) == []


@pytest.mark.extended
def test_every_spec_field_variant_passes_checkov(field_variants):
    """One platform per non-default spec field (source packaging with API keys, a private
    network, no access logs, ...) in one stack."""
    result = run_checkov(stack_file(field_variants.synthesized, "fields"),
                         framework="terraform_json", config=CONFIG)
    assert result["summary"]["passed"] > 1000
    assert failures(result) == []
