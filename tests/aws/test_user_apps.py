"""How users compose the AWS constructs, read from their synthesized templates.

The apps are in `user_apps.py` (one function per app, written as a user would write it);
`conftest.user_apps` synthesizes them once a session.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from constructs_lib import PlatformSpec, UnsupportedOnCloud
from tests.aws.user_apps import FIELD_VALUES, REFUSED, field_spec

#: Properties that hold a physical name (or a name that must be unique per account).
NAME_PROPERTIES = ("BucketName", "TableName", "FunctionName", "QueueName", "LogGroupName",
                   "AliasName", "ClusterName", "RoleName", "PolicyName", "TopicName",
                   "AlarmName", "ManagedPolicyName", "Family", "Name")
#: Types whose `Name` is not a name (or not one that must be unique).
_NAME_IS_NOT_UNIQUE = {"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Route",
                       "AWS::Events::Rule"}


def names_in(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, property, name) of every physical name the template sets."""
    found = []
    for resource in template["Resources"].values():
        for prop in NAME_PROPERTIES:
            value = resource.get("Properties", {}).get(prop)
            if value is None or (prop == "Name" and resource["Type"] in _NAME_IS_NOT_UNIQUE):
                continue
            found.append((resource["Type"], prop, json.dumps(value, sort_keys=True)))
    return found


def duplicates(items) -> list:
    return [item for item, count in Counter(items).items() if count > 1]


def key_references(template: dict[str, Any]) -> list[Any]:
    """Every value of a property that names a KMS key."""
    text = json.dumps(template["Resources"])
    keys = re.findall(r'"(?:KMSMasterKeyID|KmsMasterKeyId|KmsKeyId|KmsKeyArn|KMSMasterKeyId)": '
                      r'(\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|"[^"]*")', text)
    return [json.loads(k) for k in keys]


# -- two platforms in one stack --------------------------------------------------------------

def test_two_platforms_from_one_spec_share_no_physical_name(user_apps):
    template = user_apps.templates["TwoPlatforms"]
    assert duplicates(names_in(template)) == []


def test_two_platforms_create_no_kms_alias_and_no_named_iam_entity(user_apps):
    template = user_apps.templates["TwoPlatforms"]
    assert user_apps.resources("TwoPlatforms", "AWS::KMS::Alias") == {}
    for role in user_apps.resources("TwoPlatforms", "AWS::IAM::Role").values():
        assert "RoleName" not in role["Properties"]
    policies = [p["Properties"]["PolicyName"]
                for p in user_apps.resources("TwoPlatforms", "AWS::IAM::Policy").values()]
    assert duplicates(policies) == [] and len(policies) >= 8
    assert len(user_apps.resources("TwoPlatforms", "AWS::KMS::Key")) == 2
    assert template  # both platforms synthesized into one template


def test_two_platforms_have_outputs_scoped_by_their_construct_ids(user_apps):
    outputs = set(user_apps.templates["TwoPlatforms"]["Outputs"])
    for platform in ("Analytics", "Research"):
        assert {f"{platform}EndpointUrl", f"{platform}BucketName", f"{platform}StorageUrl",
                f"{platform}MetadataUrl", f"{platform}ApiKeysSecret", f"{platform}JobsUrl",
                f"{platform}Identity"} <= outputs
    assert len(outputs) == 14


def test_outputs_are_written_only_when_asked(user_apps):
    for stack in ("BringYourOwn", "BringExisting", "Fields", "Standalone"):
        assert "Outputs" not in user_apps.templates[stack], stack
    # the provider's outputs are only the exports CDK adds for the consumer's references
    outputs = user_apps.templates["Provider"]["Outputs"].values()
    assert outputs and all("Export" in output for output in outputs)


def test_destroy_empties_every_bucket_before_deleting_it(user_apps):
    buckets = user_apps.resources("TwoPlatforms", "AWS::S3::Bucket")
    emptied = {r["Properties"]["BucketName"]["Ref"] for r in
               user_apps.resources("TwoPlatforms", "Custom::S3AutoDeleteObjects").values()}
    assert emptied == set(buckets) and len(buckets) == 4
    for bucket in buckets.values():
        assert bucket["DeletionPolicy"] == "Delete"
        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


def test_retained_buckets_are_not_emptied(user_apps):
    assert user_apps.resources("Provider", "Custom::S3AutoDeleteObjects") == {}
    for bucket in user_apps.resources("Provider", "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"


# -- standalone constructs ---------------------------------------------------------------------

def test_standalone_bucket_and_store_from_one_spec_collide_nowhere(user_apps):
    template = user_apps.templates["Standalone"]
    assert duplicates(names_in(template)) == []
    aliases = sorted(a["Properties"]["AliasName"]
                     for a in user_apps.resources("Standalone", "AWS::KMS::Alias").values())
    # only the constructs that asked for spec-derived names have aliases, one each
    assert aliases == ["alias/synth/standalone-dev/data-bucket",
                       "alias/synth/standalone-dev/metadata"]


def test_spec_derived_names_are_used_only_where_asked(user_apps):
    named = user_apps.under("Standalone", "Standalone/NamedCatalog", "AWS::DynamoDB::Table")
    generated = user_apps.under("Standalone", "Standalone/Catalog", "AWS::DynamoDB::Table")
    [table] = named.values()
    assert table["Properties"]["TableName"] == "synth-standalone-dev-metadata"
    [table] = generated.values()
    assert "TableName" not in table["Properties"]


@pytest.mark.parametrize("type_", ["AWS::S3::Bucket", "AWS::DynamoDB::Table",
                                   "AWS::KMS::Key"])
def test_standalone_constructs_tag_their_resources_from_the_spec(user_apps, type_):
    resources = user_apps.resources("Standalone", type_)
    assert resources
    for resource in resources.values():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
        assert tags["owner"] == "data-eng"
        assert tags["synthdata:platform"] == "standalone"


# -- bring your own ------------------------------------------------------------------------------

def test_a_given_key_encrypts_everything_and_no_key_is_created(user_apps):
    template = user_apps.templates["BringYourOwn"]
    [key_id] = user_apps.resources("BringYourOwn", "AWS::KMS::Key")
    assert user_apps.resources("BringYourOwn", "AWS::KMS::Key")[key_id]["Metadata"][
        "aws:cdk:path"].startswith("BringYourOwn/CompanyKey/")
    references = key_references(template)
    assert len(references) >= 10
    for reference in references:
        assert key_id in json.dumps(reference), reference


def test_a_given_vpc_is_used_and_none_is_created(user_apps):
    vpcs = user_apps.resources("BringYourOwn", "AWS::EC2::VPC")
    assert [v["Metadata"]["aws:cdk:path"] for v in vpcs.values()] == [
        "BringYourOwn/CompanyVpc/Resource"]
    assert user_apps.resources("BringYourOwn", "AWS::EC2::VPCEndpoint") == {}


def test_functions_and_tasks_run_in_the_private_with_egress_subnets(user_apps):
    private = {k for k, r in user_apps.resources("BringYourOwn", "AWS::EC2::Subnet").items()
               if "PrivateSubnet" in r["Metadata"]["aws:cdk:path"]}
    assert len(private) == 2
    functions = user_apps.under("BringYourOwn", "BringYourOwn/Synth", "AWS::Lambda::Function")
    assert len(functions) == 4
    for function in functions.values():
        subnets = {s["Ref"] for s in function["Properties"]["VpcConfig"]["SubnetIds"]}
        assert subnets == private
    jobs_url = json.dumps(next(iter(functions.values()))["Properties"]["Environment"][
        "Variables"]["SYNTH_JOBS_URL"])
    assert "ecs_public_ip" not in jobs_url
    assert all(subnet in jobs_url for subnet in private)


def test_an_existing_bucket_table_and_image_are_used_not_created(user_apps):
    stack = "BringExisting"
    assert user_apps.resources(stack, "AWS::S3::Bucket") == {}
    assert user_apps.resources(stack, "AWS::DynamoDB::Table") == {}
    assert json.loads((user_apps.outdir / f"{stack}.assets.json").read_text()).get(
        "dockerImages", {}) == {}
    functions = user_apps.resources(stack, "AWS::Lambda::Function")
    for function in functions.values():
        assert "synth/service@sha256:abab" in json.dumps(function["Properties"]["Code"])
    env = next(iter(functions.values()))["Properties"]["Environment"]["Variables"]
    storage = json.dumps(env["SYNTH_STORAGE_URL"])
    assert "s3://company-data-lake/synthetic?kms_key=arn:aws:kms:eu-west-1:123456789012:" \
           "key/11111111-2222-3333-4444-555555555555" in storage
    assert env["SYNTH_METADATA_URL"] == "dynamodb://synth-records"


def test_grants_on_existing_resources_name_them(user_apps):
    statements = [s for p in user_apps.resources("BringExisting", "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    text = json.dumps(statements)
    assert ':s3:::company-data-lake/synthetic/*"' in text
    assert ":table/synth-records" in text
    assert "key/11111111-2222-3333-4444-555555555555" in text


# -- the pieces composed by hand --------------------------------------------------------------

def test_hand_assembled_pieces_share_one_image_and_one_key(user_apps):
    stack = "Assembled"
    assert len(user_apps.resources(stack, "AWS::KMS::Key")) == 1
    images = {json.dumps(f["Properties"]["Code"]["ImageUri"]) for f in
              user_apps.resources(stack, "AWS::Lambda::Function").values()}
    assert len(images) == 1
    assets = json.loads((user_apps.outdir / f"{stack}.assets.json").read_text())
    assert len(assets["dockerImages"]) == 1


@pytest.mark.parametrize("type_", ["AWS::Lambda::Function", "AWS::SQS::Queue", "AWS::IAM::Role",
                                   "AWS::ECS::Cluster", "AWS::EC2::VPC", "AWS::Logs::LogGroup"])
def test_a_standalone_job_runner_and_generator_tag_their_resources(user_apps, type_):
    resources = {**user_apps.under("Assembled", "Assembled/Jobs", type_),
                 **user_apps.under("Assembled", "Assembled/Api", type_)}
    assert resources
    for resource in resources.values():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
        assert tags["synthdata:platform"] == "assembled"


def test_a_standalone_job_runner_builds_its_own_job_network(user_apps):
    runner = user_apps.handles["assembled"]["runner"]
    assert runner.vpc is not None and runner.vpc.node.path == "Assembled/Jobs/Network"
    generator = user_apps.under("Assembled", "Assembled/Api", "AWS::Lambda::Function")
    [function] = generator.values()
    jobs_url = json.dumps(function["Properties"]["Environment"]["Variables"]["SYNTH_JOBS_URL"])
    assert "&ecs_public_ip=true" in jobs_url and '"JobsQueue' in jobs_url


# -- grants across stacks -------------------------------------------------------------------------

def test_a_consumer_stack_granted_access_depends_on_the_platform_not_the_reverse(user_apps):
    stacks = {s.stack_name: s for s in user_apps.assembly.stacks}
    def stack_dependencies(name):
        return [d.id for d in stacks[name].dependencies if d.id in stacks]

    assert stack_dependencies("Consumer") == ["Provider"]
    assert stack_dependencies("Provider") == []
    assert "Consumer" not in json.dumps(user_apps.templates["Provider"])


def test_a_consumer_grant_lands_in_the_consumers_own_policy(user_apps):
    [policy] = user_apps.resources("Consumer", "AWS::IAM::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in
               (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"s3:GetObject", "dynamodb:Query", "execute-api:Invoke", "sqs:SendMessage",
            "ecs:RunTask", "kms:Decrypt"} <= actions
    assert not {"s3:PutObject", "dynamodb:PutItem", "s3:DeleteObject"} & actions
    assert "Fn::ImportValue" in json.dumps(statements)
    provider_policies = json.dumps(user_apps.resources("Provider", "AWS::IAM::Policy"))
    assert "AnalystRole" not in provider_policies


# -- global names across accounts -------------------------------------------------------------

def test_the_same_spec_in_two_accounts_asks_for_different_bucket_names(user_apps):
    def bucket_names(stack):
        return sorted(json.dumps(b["Properties"]["BucketName"])
                      for b in user_apps.resources(stack, "AWS::S3::Bucket").values())

    one, two = bucket_names("AccountOne"), bucket_names("AccountTwo")
    assert len(one) == 2 and not set(one) & set(two)
    assert all(name.startswith('"synth-shared-names-dev-data') for name in one + two)


def test_an_environment_agnostic_stack_puts_the_account_into_the_bucket_name(user_apps):
    for bucket in user_apps.resources("AnyAccount", "AWS::S3::Bucket").values():
        name = bucket["Properties"]["BucketName"]
        assert {"Ref": "AWS::AccountId"} in name["Fn::Join"][1]


# -- every spec field -----------------------------------------------------------------------

def _leaf_fields(model, prefix: str = "") -> list[str]:
    from pydantic import BaseModel

    fields = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields += _leaf_fields(annotation, f"{prefix}{name}.")
        else:
            fields.append(f"{prefix}{name}")
    return fields


def test_the_field_table_covers_every_spec_field_but_other_clouds_placement():
    fields = {f for f in _leaf_fields(PlatformSpec)
              if not f.startswith(("gcp.", "kubernetes.", "azure."))}
    assert fields == set(FIELD_VALUES)


def _normalised(user_apps, platform) -> str:
    """The platform's part of the template, with its logical ids replaced by their paths
    below the platform and the names CDK derives from its path (`Fields-P3-...<hash>`)
    made alike, so two platforms compare by what their specs made of them."""
    from aws_cdk import CfnElement, Stack

    stack = Stack.of(platform)
    template = user_apps.templates[stack.stack_name]
    base = platform.node.path + "/"
    ids = {}
    for construct in platform.node.find_all():
        if isinstance(construct, CfnElement):
            ids[stack.resolve(construct.logical_id)] = construct.node.path.removeprefix(base)
    part = {section: {ids[k]: v for k, v in template.get(section, {}).items() if k in ids}
            for section in ("Resources", "Rules", "Conditions", "Outputs")}
    text = json.dumps(part, sort_keys=True)
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, ids), key=len,
                                                    reverse=True)) + r")\b")
    text = pattern.sub(lambda m: ids[m.group(1)], text)
    text = re.sub(rf"{re.escape(stack.stack_name)}[-/]?{re.escape(platform.node.id)}(?![0-9])",
                  "<platform>", text)
    return re.sub(r"[0-9A-F]{8}\b", "<hash>", text)


def test_the_comparison_finds_two_platforms_from_one_spec_alike(user_apps):
    platforms = user_apps.handles["fields"]["platforms"]
    assert _normalised(user_apps, platforms["twin"]) == _normalised(user_apps, platforms[None])


@pytest.mark.parametrize("field", [f for f in FIELD_VALUES if f not in REFUSED])
def test_every_spec_field_changes_the_template(user_apps, field):
    platforms = user_apps.handles["fields"]["platforms"]
    assert _normalised(user_apps, platforms[field]) != _normalised(user_apps, platforms[None])


@pytest.mark.parametrize("field", REFUSED)
def test_a_field_aws_cannot_honour_is_refused_by_name(field, tmp_path):
    from aws_cdk import App, Stack

    from constructs_lib.aws import SyntheticDataPlatform

    stack = Stack(App(outdir=str(tmp_path)), "Refused")
    with pytest.raises(UnsupportedOnCloud, match=rf"^{re.escape(field)}: not supported on AWS"):
        SyntheticDataPlatform(stack, "Synth", spec=field_spec(field))
