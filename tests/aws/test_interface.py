"""The AWS constructs against the one interface, and their arguments' rules: overrides
said out loud, what is refused and why. Each test builds constructs without synthesizing."""

from __future__ import annotations

import warnings

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import RemovalPolicy as CdkRemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager

import constructs_lib.aws as aws
from constructs_lib import PlatformSpec, RemovalPolicy, SpecError, contract
from constructs_lib.parity import check_module, check_platform
from constructs_lib.types import SecureDefaultOverridden
from tests.aws.conftest import APP_PROPS

SPEC = PlatformSpec(name="demo")


def test_module_exports_the_interface():
    assert check_module(aws) == []


def test_the_warning_class_is_the_cores():
    assert aws.SecureDefaultOverridden is SecureDefaultOverridden


def test_platform_satisfies_the_interface(aws_app):
    stack = aws_app.stacks["synth-synthdemo-dev"]
    problems = check_platform(stack.platform, stack.spec, storage_scheme="s3",
                              metadata_scheme="dynamodb")
    assert problems == []


@pytest.fixture
def stack(tmp_path):
    return Stack(App(outdir=str(tmp_path), **APP_PROPS), "Test")


def warnings_on(construct) -> list[str]:
    """The CDK warning annotations recorded on `construct` (what `cdk synth` prints)."""
    return [str(entry.data).split(" [ack: ")[0] for entry in construct.node.metadata
            if entry.type == "aws:cdk:warning"]


def statements_of(role) -> list[dict]:
    return Stack.of(role).resolve(role.node.find_child("DefaultPolicy").document.to_json())[
        "Statement"]


# -- secure defaults overridden: allowed, and said out loud -----------------------------------

def test_turning_off_versioning_warns_naming_the_default(stack):
    with pytest.warns(SecureDefaultOverridden, match=r"versioned=False.*versioning on"):
        bucket = aws.SecureBucket(stack, "B", spec=SPEC, versioned=False)
    assert any("versioning on" in w for w in warnings_on(bucket))


def test_turning_off_pitr_warns(stack):
    with pytest.warns(SecureDefaultOverridden, match="point-in-time recovery"):
        aws.MetadataStore(stack, "M", spec=SPEC, point_in_time_recovery=False)


def test_bucket_props_merge_over_the_defaults_and_name_each_replaced_one(stack):
    with pytest.warns(SecureDefaultOverridden) as caught:
        bucket = aws.SecureBucket(stack, "B", spec=SPEC, bucket_props={
            "versioned": False, "transfer_acceleration": True})
    messages = [str(w.message) for w in caught]
    assert messages == ["Test/B: bucket_props['versioned']=False overrides the secure "
                        "default (versioning on)"]
    assert warnings_on(bucket) == messages
    cfn = bucket.bucket.node.default_child
    assert Stack.of(bucket).resolve(cfn.accelerate_configuration) == {
        "accelerationStatus": "Enabled"}


def test_props_that_are_not_secure_defaults_merge_silently(stack):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SecureDefaultOverridden)
        aws.MetadataStore(stack, "M", spec=SPEC, store_props={"contributor_insights_enabled":
                                                              True})


@pytest.mark.parametrize("props,argument", [({"bucket_name": "x"}, "bucket_name"),
                                            ({"encryption_key": None}, "encryption_key")])
def test_props_the_construct_sets_itself_are_refused_naming_the_argument(stack, props,
                                                                          argument):
    with pytest.raises(ValueError, match=rf"bucket_props: {argument} cannot be overridden"):
        aws.SecureBucket(stack, "B", spec=SPEC, bucket_props=props)


def test_function_props_may_not_replace_what_the_spec_sets(stack):
    with pytest.raises(ValueError, match="function_props: memory_size cannot be overridden"):
        aws.SyntheticDataPlatform(stack, "P", spec=SPEC, function_props={"memory_size": 512})


# -- shared argument types -------------------------------------------------------------------

@pytest.mark.parametrize("value", [RemovalPolicy.DESTROY, "destroy", "DESTROY",
                                   CdkRemovalPolicy.DESTROY])
def test_removal_policy_takes_the_shared_enum_strings_and_cdks_own(stack, value):
    bucket = aws.SecureBucket(stack, "B", spec=SPEC, removal_policy=value)
    assert bucket.bucket.node.default_child.cfn_options.deletion_policy.name == "DELETE"


def test_a_removal_policy_there_is_no_such_thing_as_is_refused(stack):
    with pytest.raises(ValueError, match="removal_policy: .* use RemovalPolicy.RETAIN"):
        aws.SecureBucket(stack, "B", spec=SPEC, removal_policy=CdkRemovalPolicy.SNAPSHOT)


def test_environment_may_add_variables_but_not_replace_the_contracts(stack):
    platform = aws.SyntheticDataPlatform(stack, "P", spec=SPEC,
                                         environment={"SYNTH_RATE_LIMIT_URL": "redis://r:6379"})
    assert platform.generator.runtime_environment["SYNTH_RATE_LIMIT_URL"] == "redis://r:6379"
    assert platform.job_runner.environment["SYNTH_RATE_LIMIT_URL"] == "redis://r:6379"
    with pytest.raises(ValueError, match=f"environment: {contract.STORAGE_URL} are set by"):
        aws.SyntheticDataPlatform(stack, "Q", spec=SPEC,
                                  environment={contract.STORAGE_URL: "s3://elsewhere/x"})


# -- grants -------------------------------------------------------------------------------------

def _actions(statements) -> set[str]:
    return {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list)
                                            else [s["Action"]])}


@pytest.mark.parametrize("grant,expected,absent", [
    ("grant_read", {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}, {"s3:PutObject"}),
    ("grant_write", {"s3:PutObject", "kms:GenerateDataKey"}, {"s3:GetObject",
                                                               "s3:DeleteObject"}),
    ("grant_delete", {"s3:DeleteObject"}, {"s3:PutObject", "s3:GetObject",
                                           "s3:DeleteObjectVersion"}),
    ("grant_read_write", {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, set()),
])
def test_bucket_grants_give_exactly_their_actions_on_the_prefix(stack, grant, expected,
                                                                 absent):
    bucket = aws.SecureBucket(stack, "B", spec=SPEC, purpose="exports")
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    getattr(bucket, grant)(role)
    statements = statements_of(role)
    actions = _actions(statements)
    assert expected <= actions and not absent & actions
    assert not [a for a in actions if "*" in a]
    objects = [s for s in statements if any(a.startswith("s3:") and "Object" in a
                                            for a in _actions([s]))]
    assert all(str(s["Resource"]).endswith("'/exports/*']]}") for s in objects)


def test_store_read_grant_cannot_write(stack):
    store = aws.MetadataStore(stack, "M", spec=SPEC)
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    store.grant_read(role)
    actions = _actions(statements_of(role))
    assert {"dynamodb:GetItem", "dynamodb:Query", "kms:Decrypt"} <= actions
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & actions


# -- importers ------------------------------------------------------------------------------------

def test_imported_bucket_and_store_carry_the_contract_urls(stack):
    bucket = aws.SecureBucket.from_bucket_name(stack, "B", "lake", spec=SPEC, purpose="synth")
    store = aws.MetadataStore.from_store_name(stack, "M", "records", spec=SPEC)
    assert isinstance(bucket, aws.SecureBucketBase) and bucket.encryption_key is None
    assert bucket.storage_url == "s3://lake/synth"
    assert store.metadata_url == "dynamodb://records"


# -- refused, with the fix ------------------------------------------------------------------------

def test_non_ecr_image_is_refused_with_the_fix(stack):
    spec = PlatformSpec(name="demo", generator={"image": "docker.io/library/python:3.11"})
    with pytest.raises(ValueError, match="generator.image: .* Lambda runs only images in ECR"):
        aws.SyntheticDataPlatform(stack, "P", spec=spec)


def test_an_image_argument_and_a_spec_image_together_are_refused(stack):
    uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/synth/service:1.2.3"
    spec = PlatformSpec(name="demo", generator={"image": uri})
    image = aws.ServiceImage.from_image_uri(stack, "Image", uri.replace("1.2.3", "2.0.0"))
    with pytest.raises(ValueError, match="generator.image: the spec names .* pass one"):
        aws.SyntheticDataPlatform(stack, "P", spec=spec, image=image)


def test_prebuilt_ecr_image_is_used_as_given(stack):
    from aws_cdk.assertions import Template

    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/synth/service:1.2.3"
    spec = PlatformSpec(name="demo", generator={"image": image})
    aws.SyntheticDataPlatform(stack, "P", spec=spec)
    functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    assert len(functions) == 4  # API, worker, dead-letter and stopped-task handlers
    for function in functions.values():
        assert "synth/service:1.2.3" in str(function["Properties"]["Code"]["ImageUri"])


def test_a_generator_in_public_subnets_is_refused_with_the_fix(stack):
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)])
    bucket = aws.SecureBucket(stack, "B", spec=SPEC)
    store = aws.MetadataStore(stack, "M", spec=SPEC)
    with pytest.raises(ValueError, match="vpc_subnets: selects public subnets.*PRIVATE_WITH"):
        aws.ServerlessGenerator(stack, "G", spec=SPEC, bucket=bucket, metadata_store=store,
                                api_keys_secret=secretsmanager.Secret(stack, "S"), vpc=vpc)


def test_a_stack_in_another_region_than_the_spec_is_refused_by_field(tmp_path):
    stack = Stack(App(outdir=str(tmp_path)), "Elsewhere",
                  env=Environment(account="123456789012", region="us-east-1"))
    with pytest.raises(ValueError, match="region: the spec says 'eu-west-1' but the stack"):
        aws.SyntheticDataPlatform(stack, "P", spec=SPEC)


def test_a_bad_spec_file_fails_before_anything_is_synthesized(tmp_path, monkeypatch):
    from apps.aws import build_app

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad_Name\ngenerator: {memory_mb: -1}\n")
    monkeypatch.setenv("SYNTH_SPECS", str(bad))
    outdir = tmp_path / "cdk.out"
    with pytest.raises(SpecError, match="generator.memory_mb"):
        build_app(outdir=str(outdir))
    assert not outdir.exists()


def test_subnets_without_their_vpc_are_refused(stack):
    with pytest.raises(ValueError, match="vpc_subnets: .* no vpc= is given"):
        aws.SyntheticDataPlatform(stack, "P", spec=SPEC, vpc_subnets=ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))
