"""A real CloudFormation deploy of the synthesized dev stack into a local moto server.

The file assets are published first, as `cdk deploy` does. moto proves the template
deploys and its references resolve (bucket, table, key, secret, role, function, queue,
log groups, network). It skips some types it does not model (bucket and queue policies,
alarms, API Gateway v2) and drops many properties, so the security settings are asserted
on the template itself (test_secure_defaults.py), not here.
"""

from __future__ import annotations

import pytest

from constructs_lib.aws.generator import API_HANDLER
from constructs_lib.aws.jobs import WORKER_HANDLER
from tests.aws.conftest import REGION

# moto warns once per resource type it skips; MOTO_SKIPS below pins that list instead.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

#: Resource types moto 5.2's CloudFormation accepts without creating anything.
MOTO_SKIPS = {"AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy",
              "AWS::CloudWatch::Alarm", "AWS::ApiGatewayV2::Api",
              "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Route",
              "AWS::ApiGatewayV2::Stage", "AWS::EC2::FlowLog"}


def test_stack_reaches_create_complete(deployed):
    assert deployed.stack["StackStatus"] == "CREATE_COMPLETE", deployed.stack.get(
        "StackStatusReason")


def test_every_other_resource_was_really_created(deployed):
    created = {logical for logical, physical in deployed.physical.items() if physical}
    expected = {k for k, r in deployed.template["Resources"].items()
                if r["Type"] not in MOTO_SKIPS and r["Type"] != "AWS::Lambda::Permission"}
    assert expected - created == set()


def test_the_generated_bucket_names_exist(deployed):
    s3 = deployed.client("s3")
    buckets = [k for k, r in deployed.template["Resources"].items()
               if r["Type"] == "AWS::S3::Bucket"]
    assert len(buckets) == 2
    for logical in buckets:
        s3.head_bucket(Bucket=deployed.physical[logical])
    assert deployed.outputs["SynthBucketName"] in {deployed.physical[b] for b in buckets}


def test_table_exists_with_single_table_keys(deployed):
    name = deployed.outputs["SynthMetadataUrl"].removeprefix("dynamodb://")
    table = deployed.client("dynamodb").describe_table(TableName=name)
    keys = {k["AttributeName"]: k["KeyType"] for k in table["Table"]["KeySchema"]}
    assert keys == {"pk": "HASH", "sk": "RANGE"}


def test_secret_exists_with_a_generated_pepper(deployed):
    value = deployed.client("secretsmanager").get_secret_value(
        SecretId=deployed.outputs["SynthApiKeysSecret"])
    assert len(value["SecretString"]) == 64


def test_function_exists_with_the_runtime_contract_resolved(deployed):
    outputs = deployed.outputs
    config = deployed.client("lambda").get_function_configuration(
        FunctionName=deployed.function_named_for(API_HANDLER))
    env = config["Environment"]["Variables"]
    assert env["SYNTH_STORAGE_URL"] == outputs["SynthStorageUrl"]
    assert env["SYNTH_STORAGE_URL"].startswith(
        f"s3://{outputs['SynthBucketName']}/data?kms_key=arn:aws:kms:{REGION}:")
    assert env["SYNTH_METADATA_URL"] == outputs["SynthMetadataUrl"]
    assert env["SYNTH_API_KEYS_SECRET"] == outputs["SynthApiKeysSecret"]
    assert env["SYNTH_JOBS_URL"] == outputs["SynthJobsUrl"]
    assert config["Role"] == outputs["SynthIdentity"]
    # moto reports PackageType "Zip" for image functions; the template test pins "Image".


def test_job_tasks_are_placed_in_deployed_subnets_that_route_to_the_internet(deployed):
    jobs_url = deployed.outputs["SynthJobsUrl"]
    assert jobs_url.endswith("&ecs_public_ip=true")
    subnets = jobs_url.split("ecs_subnets=")[1].split("&")[0].split(",")
    ec2 = deployed.client("ec2")
    assert len(ec2.describe_subnets(SubnetIds=subnets)["Subnets"]) == 2
    # moto records no subnet association, so follow the template's own associations.
    tables = [deployed.physical[r["Properties"]["RouteTableId"]["Ref"]]
              for r in deployed.template["Resources"].values()
              if r["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
              and deployed.physical[r["Properties"]["SubnetId"]["Ref"]] in subnets]
    assert len(tables) == 2
    for table in ec2.describe_route_tables(RouteTableIds=tables)["RouteTables"]:
        default = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert [r["GatewayId"][:4] for r in default] == ["igw-"]
        assert sum(1 for r in table["Routes"] if r.get("DestinationPrefixListId")) == 2


def test_the_worker_gets_the_same_contract_as_the_api(deployed):
    lambda_ = deployed.client("lambda")
    api, worker = (lambda_.get_function_configuration(
        FunctionName=deployed.function_named_for(handler))["Environment"]["Variables"]
        for handler in (API_HANDLER, WORKER_HANDLER))
    assert api == worker
