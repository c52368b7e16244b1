"""Snapshots of every stack `apps/terraform.py` defines (review a diff like code)."""

from __future__ import annotations

from tests.conftest import normalise

STACKS = ("synth-synthdemo-dev-gcp", "synth-synthdemo-prod-gcp")


def test_app_defines_exactly_the_dev_and_prod_stacks(app_templates):
    assert sorted(app_templates) == sorted(STACKS)


def test_dev_stack_matches_snapshot(app_templates, template_snapshot):
    assert normalise(app_templates["synth-synthdemo-dev-gcp"]) == template_snapshot


def test_prod_stack_matches_snapshot(app_templates, template_snapshot):
    assert normalise(app_templates["synth-synthdemo-prod-gcp"]) == template_snapshot
