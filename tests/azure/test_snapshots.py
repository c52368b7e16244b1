"""Snapshots of the Azure stacks `apps/terraform.py` defines (review a diff like code). What
they mean is asserted in test_secure_defaults.py; this file pins the rest."""

from __future__ import annotations

from constructs_lib.testing import normalise

STACKS = ("synth-synthdemo-dev-azure", "synth-synthdemo-prod-azure")


def test_app_defines_exactly_the_dev_and_prod_stacks(app_synth):
    assert sorted(app_synth.templates) == sorted(STACKS)


def test_the_azure_stacks_keep_the_example_specs_within_azures_limits(app_synth):
    from apps.terraform import azure_spec
    from constructs_lib import PlatformSpec

    prod = azure_spec(PlatformSpec.from_file("examples/prod.yaml"))
    assert prod.generator.timeout_seconds == 240  # Container Apps' ingress limit
    dev = azure_spec(PlatformSpec.from_file("examples/dev.yaml"))
    assert dev.monitoring.log_retention_days == 30  # Log Analytics' minimum
    assert dev.generator.max_rows == 200_000  # everything else as written


def test_dev_stack_matches_snapshot(app_synth, template_snapshot):
    assert normalise(app_synth.templates["synth-synthdemo-dev-azure"]) == template_snapshot


def test_prod_stack_matches_snapshot(app_synth, template_snapshot):
    assert normalise(app_synth.templates["synth-synthdemo-prod-azure"]) == template_snapshot
