"""checkov on every synthesized GCP stack: no failed check outside checkov/gcp.yaml."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import run_checkov

from .conftest import ROOT

CONFIG = ROOT / "checkov" / "gcp.yaml"


def _failures(path):
    result = run_checkov(path, framework="terraform_json", config=CONFIG)
    failed = result.get("results", {}).get("failed_checks", [])
    summary = result.get("summary", {})
    assert summary.get("passed", 0) > 10, f"checkov checked almost nothing: {summary}"
    return [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed]


def test_skip_list_is_short_and_every_skip_has_a_reason():
    text = CONFIG.read_text()
    skips = yaml.safe_load(text)["skip-check"]
    assert len(skips) <= 4
    lines = text.splitlines()
    for check in skips:
        index = next(i for i, line in enumerate(lines) if line.strip() == f"- {check}")
        assert lines[index - 1].lstrip().startswith("#"), f"{check} has no reason above it"


@pytest.mark.parametrize("stack", ["synth-synthdemo-dev-gcp", "synth-synthdemo-prod-gcp"])
def test_app_stack_passes_checkov(app_synth, stack):
    path = app_synth.outdir / "stacks" / stack / "cdk.tf.json"
    assert _failures(path) == []


def test_cloud_functions_variant_passes_checkov(source_synth):
    (stack,) = source_synth.stacks
    assert _failures(source_synth.outdir / "stacks" / stack / "cdk.tf.json") == []
