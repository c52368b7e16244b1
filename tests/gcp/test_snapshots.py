"""Snapshots of every stack `apps/terraform.py` defines (review a diff like code), each
beside a test of what the snapshot holds."""

from __future__ import annotations

from collections import Counter

import pytest

from constructs_lib.testing import normalise

STACKS = ("synth-synthdemo-dev-gcp", "synth-synthdemo-prod-gcp")
#: What each example stack creates, by resource type (prod adds the alarm e-mail channel).
PLATFORM = {
    "docker_image": 1, "docker_registry_image": 1,
    "google_artifact_registry_repository": 1,
    "google_cloud_run_v2_job": 2, "google_cloud_run_v2_job_iam_member": 6,
    "google_cloud_run_v2_service": 1,
    "google_firestore_database": 1,
    "google_kms_crypto_key": 1, "google_kms_crypto_key_iam_member": 5, "google_kms_key_ring": 1,
    "google_logging_project_bucket_config": 1, "google_logging_project_exclusion": 1,
    "google_logging_project_sink": 1,
    "google_monitoring_alert_policy": 2,
    "google_project_iam_member": 2, "google_project_service": 12,
    "google_project_service_identity": 4,
    "google_secret_manager_secret": 1, "google_secret_manager_secret_iam_member": 2,
    "google_secret_manager_secret_version": 1,
    "google_service_account": 2, "google_service_account_iam_member": 1,
    "google_storage_bucket": 2, "google_storage_bucket_iam_member": 3,
}


def test_app_defines_exactly_the_dev_and_prod_stacks(app_templates):
    assert sorted(app_templates) == sorted(STACKS)


@pytest.mark.parametrize("stack,extra", [
    ("synth-synthdemo-dev-gcp", {}),
    ("synth-synthdemo-prod-gcp", {"google_monitoring_notification_channel": 1}),
])
def test_each_stack_holds_one_platform_with_its_outputs(app_templates, stack, extra):
    template = app_templates[stack]
    counts = Counter({kind: len(items) for kind, items in template["resource"].items()})
    assert counts == Counter({**PLATFORM, **extra})
    assert sorted(template["output"]) == sorted(
        f"synth_{name}" for name in ("endpoint_url", "bucket_name", "storage_url",
                                     "metadata_url", "api_keys_secret", "jobs_url",
                                     "identity"))


def test_users_normalised_gcp_templates_hold_no_raw_asset_hash(app_templates):
    """What `constructs_lib.testing` gives users' CI: the GCP image's build context (an
    asset that follows the service's source) and its tag are normalised away."""
    import json
    import re

    text = json.dumps(normalise(app_templates["synth-synthdemo-dev-gcp"]))
    assert "synth-service:<asset-hash>" in text
    assert not re.search(r"[0-9A-F]{32}|[0-9a-f]{32}", text)


def test_dev_stack_matches_snapshot(app_templates, template_snapshot):
    assert normalise(app_templates["synth-synthdemo-dev-gcp"]) == template_snapshot


def test_prod_stack_matches_snapshot(app_templates, template_snapshot):
    assert normalise(app_templates["synth-synthdemo-prod-gcp"]) == template_snapshot
