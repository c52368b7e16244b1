"""The AWS constructs against the one interface, and overrides said out loud."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_secretsmanager as secretsmanager

import constructs_lib.aws as aws
from constructs_lib import PlatformSpec, SpecError
from constructs_lib.parity import check_module, check_platform


def test_module_exports_the_interface():
    assert check_module(aws) == []


def test_platform_satisfies_the_interface(aws_app):
    stack = aws_app.stacks["synth-synthdemo-dev"]
    problems = check_platform(stack.platform, stack.spec, storage_scheme="s3",
                              metadata_scheme="dynamodb")
    assert problems == []


@pytest.fixture
def stack(tmp_path):
    return Stack(App(outdir=str(tmp_path)), "Test")


def test_turning_off_versioning_warns_naming_the_default(stack):
    with pytest.warns(aws.SecureDefaultOverridden, match=r"versioned=False.*versioning on"):
        aws.SecureBucket(stack, "B", spec=PlatformSpec(name="demo"), versioned=False)


def test_turning_off_pitr_warns(stack):
    with pytest.warns(aws.SecureDefaultOverridden, match="point-in-time recovery"):
        aws.MetadataStore(stack, "M", spec=PlatformSpec(name="demo"),
                          point_in_time_recovery=False)


def test_standalone_bucket_makes_its_own_key_and_grants_explicit_actions(stack):
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Match, Template

    bucket = aws.SecureBucket(stack, "B", spec=PlatformSpec(name="demo"))
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    bucket.grant_read(role)
    assert bucket.encryption_key is not None
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement":
        Match.array_with([Match.object_like({
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes"]})])}})


def test_non_ecr_image_is_refused_with_the_fix(stack):
    spec = PlatformSpec(name="demo", generator={"image": "docker.io/library/python:3.11"})
    bucket = aws.SecureBucket(stack, "B", spec=spec)
    store = aws.MetadataStore(stack, "M", spec=spec)
    secret = secretsmanager.Secret(stack, "S")
    with pytest.raises(ValueError, match="Lambda runs only images in ECR"):
        aws.ServerlessGenerator(stack, "G", spec=spec, bucket=bucket, metadata_store=store,
                                api_keys_secret=secret)


def test_prebuilt_ecr_image_is_used_as_given(stack):
    from aws_cdk.assertions import Template

    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/synth/service:1.2.3"
    spec = PlatformSpec(name="demo", generator={"image": image})
    aws.SyntheticDataPlatform(stack, "P", spec=spec)
    functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    assert len(functions) == 4  # API, worker, dead-letter and stopped-task handlers
    for function in functions.values():
        assert "synth/service:1.2.3" in str(function["Properties"]["Code"]["ImageUri"])


def test_a_bad_spec_file_fails_before_anything_is_synthesized(tmp_path, monkeypatch):
    from apps.aws import build_app

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad_Name\ngenerator: {memory_mb: -1}\n")
    monkeypatch.setenv("SYNTH_SPECS", str(bad))
    outdir = tmp_path / "cdk.out"
    with pytest.raises(SpecError, match="generator.memory_mb"):
        build_app(outdir=str(outdir))
    assert not outdir.exists()
