"""Every template the AWS app synthesizes, and the user apps' deployable ones: snapshots
(each beside the tests that say what it means: test_secure_defaults.py, test_facts.py),
cfn-lint, cdk-nag and checkov."""

from __future__ import annotations

from pathlib import Path

import pytest

from constructs_lib.testing import normalise
from tests.conftest import run_checkov

ROOT = Path(__file__).resolve().parents[2]
APP_STACKS = ["synth-synthdemo-dev", "synth-synthdemo-prod"]
CHECKED = [*[(s, "aws_app") for s in APP_STACKS], ("synth-variant-dev", "aws_variants"),
           *[(s, "user_apps") for s in ("BringYourOwn", "BringExisting")]]
ALL_STACKS = pytest.mark.parametrize("stack,fixture", CHECKED)


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


@pytest.fixture(scope="session")
def checkov_report(aws_app, aws_variants, user_apps):
    """checkov over every template of `ALL_STACKS`, in one run."""
    apps = {"aws_app": aws_app, "aws_variants": aws_variants, "user_apps": user_apps}
    paths = [apps[fixture].paths[stack] for stack, fixture in CHECKED]
    return run_checkov(paths, framework="cloudformation", config=ROOT / "checkov" / "aws.yaml")


def test_checkov_checked_every_template(checkov_report):
    assert checkov_report["summary"]["parsing_errors"] == 0
    assert checkov_report["summary"]["resource_count"] > 50 * len(CHECKED)
    assert checkov_report["summary"]["passed"] > 50 * len(CHECKED)


@ALL_STACKS
def test_checkov_finds_nothing_outside_the_skip_list(checkov_report, stack, fixture):
    failed = [f"{c['check_id']} {c['resource']}" for c in
              checkov_report.get("results", {}).get("failed_checks", [])
              if c["file_path"].endswith(f"/{stack}.template.json")]
    assert failed == []
