"""Every template the AWS app synthesizes: snapshot, cfn-lint, cdk-nag and checkov."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import normalise, run_checkov

ROOT = Path(__file__).resolve().parents[2]
APP_STACKS = ["synth-synthdemo-dev", "synth-synthdemo-prod"]
ALL_STACKS = pytest.mark.parametrize("stack,fixture", [
    *[(s, "aws_app") for s in APP_STACKS], ("synth-variant-dev", "aws_variants")])


@pytest.mark.parametrize("stack", APP_STACKS)
def test_template_matches_snapshot(aws_app, stack, template_snapshot):
    assert normalise(aws_app.templates[stack]) == template_snapshot


def test_variant_template_matches_snapshot(aws_variants, template_snapshot):
    assert normalise(aws_variants.templates["synth-variant-dev"]) == template_snapshot


@ALL_STACKS
def test_cfn_lint_reports_no_errors_or_warnings(request, stack, fixture):
    from cfnlint.api import lint_file
    from cfnlint.config import ManualArgs

    app = request.getfixturevalue(fixture)
    matches = lint_file(app.paths[stack], config=ManualArgs(regions=["eu-west-1"]))
    findings = [f"{m.rule.id} {m.message} ({m.path_string})" for m in matches
                if m.rule.id[0] in "EW" and m.rule.id != "W3005"]  # W3005: CDK's own DependsOn
    assert findings == []


def test_cdk_nag_finds_nothing_unacknowledged(aws_app, aws_variants):
    # The fixtures' synth() would have raised on any finding; the report says so too.
    for app in (aws_app, aws_variants):
        failures = [r for r in app.report.get("pluginReports", [])
                    if r.get("conclusion") != "success"]
        assert failures == []


@ALL_STACKS
def test_checkov_finds_nothing_outside_the_skip_list(request, stack, fixture):
    app = request.getfixturevalue(fixture)
    result = run_checkov(app.paths[stack], framework="cloudformation",
                         config=ROOT / "checkov" / "aws.yaml")
    failed = [f"{c['check_id']} {c['resource']}" for c in
              result.get("results", {}).get("failed_checks", [])]
    assert failed == []
    assert result["summary"]["passed"] > 50
