"""A user who adds cdk-nag to their own app sees no finding from the platform's resources,
whether the platform builds everything or runs on the user's own key and VPC."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from constructs_lib import PlatformSpec
from constructs_lib.aws import SyntheticDataPlatform
from tests.aws.conftest import APP_PROPS


def user_app(tmp_path, careless: bool = False) -> App:
    app = App(outdir=str(tmp_path), **APP_PROPS)
    stack = Stack(app, "UserStack")
    SyntheticDataPlatform(stack, "Synth", spec=PlatformSpec(name="userapp",
                                                             removal_policy="destroy"))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    vpc.add_flow_log("FlowLog")
    SyntheticDataPlatform(stack, "OnOurNetwork", spec=PlatformSpec(name="userapp"),
                          encryption_key=kms.Key(stack, "Key", enable_key_rotation=True),
                          vpc=vpc)
    if careless:
        s3.Bucket(stack, "Careless")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def test_platforms_in_a_user_stack_pass_aws_solutions(tmp_path):
    user_app(tmp_path).synth()  # raises on an unacknowledged finding


def test_nag_does_report_a_non_compliant_resource_beside_them(tmp_path):
    # The control: the same checks catch a plain bucket, so the pass above means something.
    with pytest.raises(Exception, match="ValidationFailed"):
        user_app(tmp_path, careless=True).synth()
