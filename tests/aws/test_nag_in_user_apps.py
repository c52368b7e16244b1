"""A user who adds cdk-nag to their own app sees no finding from the platform's resources."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from constructs_lib import PlatformSpec
from constructs_lib.aws import SyntheticDataPlatform


def test_platform_in_a_user_stack_passes_aws_solutions(tmp_path):
    app = App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    stack = Stack(app, "UserStack")
    SyntheticDataPlatform(stack, "Synth", spec=PlatformSpec(name="userapp"))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on an unacknowledged finding


def test_nag_does_report_a_non_compliant_resource_beside_it(tmp_path):
    # The control: the same checks catch a plain bucket, so the pass above means something.
    app = App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    stack = Stack(app, "UserStack")
    SyntheticDataPlatform(stack, "Synth", spec=PlatformSpec(name="userapp"))
    s3.Bucket(stack, "Careless")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
