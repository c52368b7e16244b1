"""A real CloudFormation deploy of the synthesized dev stack into a local moto server.

moto proves the template deploys and its references resolve (bucket, table, key, secret,
role, function, queue, log groups). It skips some types it does not model (bucket and
queue policies, alarms, API Gateway v2) and drops many properties, so the security
settings are asserted on the template itself (test_secure_defaults.py), not here.
"""

from __future__ import annotations

import pytest

from constructs_lib import PlatformSpec
from constructs_lib.naming import aws_names

# moto warns once per resource type it skips; MOTO_SKIPS below pins that list instead.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

STACK = "synth-synthdemo-dev"
REGION = "eu-west-1"


#: Resource types moto 5.2's CloudFormation accepts without creating anything.
MOTO_SKIPS = {"AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy",
              "AWS::CloudWatch::Alarm", "AWS::ApiGatewayV2::Api",
              "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Route",
              "AWS::ApiGatewayV2::Stage"}


def test_stack_reaches_create_complete(deployed):
    stack, _, _ = deployed
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")


def test_every_other_resource_was_really_created(deployed, aws_app):
    _, _, client = deployed
    summaries = client("cloudformation").list_stack_resources(StackName=STACK)[
        "StackResourceSummaries"]
    created = {s["LogicalResourceId"] for s in summaries if s.get("PhysicalResourceId")}
    template = aws_app.templates[STACK]["Resources"]
    expected = {k for k, r in template.items() if r["Type"] not in MOTO_SKIPS
                and r["Type"] != "AWS::Lambda::Permission"}
    assert expected - created == set()


def test_bucket_exists_with_its_derived_name(deployed):
    _, outputs, client = deployed
    names = aws_names(PlatformSpec.from_file("examples/dev.yaml"))
    assert outputs["SynthBucketName"] == names.data_bucket
    client("s3").head_bucket(Bucket=names.data_bucket)
    client("s3").head_bucket(Bucket=names.access_log_bucket)


def test_table_exists_with_single_table_keys(deployed):
    _, outputs, client = deployed
    table = client("dynamodb").describe_table(TableName=outputs["SynthMetadataTableName"])
    keys = {k["AttributeName"]: k["KeyType"] for k in table["Table"]["KeySchema"]}
    assert keys == {"pk": "HASH", "sk": "RANGE"}


def test_secret_exists_with_a_generated_pepper(deployed):
    _, outputs, client = deployed
    value = client("secretsmanager").get_secret_value(SecretId=outputs["SynthApiKeysSecretArn"])
    assert len(value["SecretString"]) == 64


def test_function_exists_with_the_runtime_contract_resolved(deployed):
    _, outputs, client = deployed
    config = client("lambda").get_function_configuration(FunctionName=outputs["SynthFunctionName"])
    env = config["Environment"]["Variables"]
    assert env["SYNTH_STORAGE_URL"].startswith(
        f"s3://{outputs['SynthBucketName']}/data?kms_key=arn:aws:kms:{REGION}:")
    assert env["SYNTH_METADATA_URL"] == f"dynamodb://{outputs['SynthMetadataTableName']}"
    assert env["SYNTH_API_KEYS_SECRET"] == outputs["SynthApiKeysSecretArn"]
    # moto reports PackageType "Zip" for image functions; the template test pins "Image".
