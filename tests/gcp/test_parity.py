"""The GCP constructs implement the one interface, and match AWS for the same spec."""

from __future__ import annotations

import importlib

import pytest

from constructs_lib import PlatformSpec
from constructs_lib.parity import check_module, check_platform, logical_platform

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


def test_same_spec_gives_the_same_logical_platform_on_aws_and_gcp(app_synth):
    try:
        aws = importlib.import_module("constructs_lib.aws")
        aws_platform_cls = aws.SyntheticDataPlatform
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"constructs_lib.aws cannot be imported yet: {exc}")
    import aws_cdk

    spec = PlatformSpec.from_file(ROOT / "examples" / "prod.yaml")
    app = aws_cdk.App()
    stack = aws_cdk.Stack(app, "ParityAws")
    aws_platform = aws_platform_cls(stack, "Synth", spec=spec)
    gcp_platform = app_synth.platform("synth-synthdemo-prod-gcp")
    assert logical_platform(aws_platform) == logical_platform(gcp_platform)
