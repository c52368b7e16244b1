"""The GCP constructs implement the one interface (names, signatures, argument types,
importers, attributes and the runtime contract). Behaviour is compared through the facts
each cloud's template shows (`test_facts.py`)."""

from __future__ import annotations

import pytest

from constructs_lib import PlatformSpec
from constructs_lib.parity import check_module, check_platform

from .conftest import ROOT


def test_module_exports_the_interface():
    import constructs_lib.gcp

    assert check_module(constructs_lib.gcp) == []


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_app_platforms_pass_the_parity_checks(app_synth, env):
    spec = PlatformSpec.from_file(ROOT / "examples" / f"{env}.yaml")
    platform = app_synth.platform(f"synth-{spec.name}-{spec.environment}-gcp")
    assert check_platform(platform, spec, storage_scheme="gs", metadata_scheme="firestore") == []


def test_cloud_functions_platform_passes_the_parity_checks(source_synth, source_spec):
    (stack,) = source_synth.stacks
    platform = source_synth.platform(stack)
    assert check_platform(platform, source_spec, storage_scheme="gs",
                          metadata_scheme="firestore") == []


def test_the_job_runner_hands_the_service_a_cloud_run_jobs_url(app_synth):
    platform = app_synth.platform("synth-synthdemo-dev-gcp")
    assert platform.job_runner.jobs_url.startswith(
        "cloudrun://projects/synthdemo-dev/locations/europe-west1/jobs/")
    assert platform.generator.runtime_environment["SYNTH_JOBS_URL"] == \
        platform.job_runner.jobs_url
