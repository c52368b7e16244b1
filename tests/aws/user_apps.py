"""User apps: the constructs composed the way users compose them in their own CDK apps.

Each function builds one stack (or a pair) into a given `App` and returns what the tests
need to look at; `conftest.user_apps` builds them all into one app and synthesizes it
once a session. The tests in `test_user_apps.py` read the templates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs_lib import PhysicalNames, PlatformSpec
from constructs_lib.aws import (
    JobRunner,
    MetadataStore,
    SecureBucket,
    ServerlessGenerator,
    ServiceImage,
    SyntheticDataPlatform,
)

PREBUILT_IMAGE = ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/synth/service@sha256:"
                  + "ab" * 32)


def two_platforms_in_one_stack(app: App) -> dict[str, Any]:
    """Two teams' platforms from one spec, side by side, both with outputs."""
    stack = Stack(app, "TwoPlatforms")
    spec = PlatformSpec(name="shared", removal_policy="destroy")
    analytics = SyntheticDataPlatform(stack, "Analytics", spec=spec, outputs=True)
    research = SyntheticDataPlatform(stack, "Research", spec=spec, outputs=True)
    return {"analytics": analytics, "research": research}


def standalone_bucket_and_store(app: App) -> dict[str, Any]:
    """A bucket and a table from one spec, without a platform, twice: generated names and
    spec-derived ones."""
    stack = Stack(app, "Standalone")
    spec = PlatformSpec(name="standalone", tags={"owner": "data-eng"})
    return {
        "bucket": SecureBucket(stack, "Exports", spec=spec),
        "store": MetadataStore(stack, "Catalog", spec=spec),
        "named_bucket": SecureBucket(stack, "NamedExports", spec=spec,
                                     physical_names=PhysicalNames.FROM_SPEC),
        "named_store": MetadataStore(stack, "NamedCatalog", spec=spec,
                                     physical_names=PhysicalNames.FROM_SPEC),
    }


def bring_your_own_key_and_vpc(app: App) -> dict[str, Any]:
    """A company key and a standard VPC (public + private-with-egress subnets, one NAT)."""
    stack = Stack(app, "BringYourOwn")
    key = kms.Key(stack, "CompanyKey", enable_key_rotation=True)
    vpc = ec2.Vpc(stack, "CompanyVpc", max_azs=2, nat_gateways=1)
    platform = SyntheticDataPlatform(
        stack, "Synth", spec=PlatformSpec(name="byo"), encryption_key=key, vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))
    return {"platform": platform, "key": key, "vpc": vpc}


def bring_existing_bucket_table_and_image(app: App) -> dict[str, Any]:
    """A data lake bucket and a table that already exist, and an image built by CI."""
    stack = Stack(app, "BringExisting")
    spec = PlatformSpec(name="existing")
    lake_key = kms.Key.from_key_arn(
        stack, "LakeKey", "arn:aws:kms:eu-west-1:123456789012:key/"
                          "11111111-2222-3333-4444-555555555555")
    bucket = SecureBucket.from_bucket_name(stack, "Lake", "company-data-lake", spec=spec,
                                           purpose="synthetic", encryption_key=lake_key)
    store = MetadataStore.from_store_name(stack, "Records", "synth-records", spec=spec)
    image = ServiceImage.from_image_uri(stack, "Image", PREBUILT_IMAGE)
    platform = SyntheticDataPlatform(stack, "Synth", spec=spec, bucket=bucket,
                                     metadata_store=store, image=image)
    return {"platform": platform}


def assembled_by_hand(app: App) -> dict[str, Any]:
    """The platform's pieces composed without `SyntheticDataPlatform`: a team's own secret,
    one image shared by the job runner and the generator."""
    stack = Stack(app, "Assembled")
    spec = PlatformSpec(name="assembled")
    bucket = SecureBucket(stack, "Data", spec=spec)
    store = MetadataStore(stack, "Metadata", spec=spec, encryption_key=bucket.encryption_key)
    secret = secretsmanager.Secret(stack, "Pepper", encryption_key=bucket.encryption_key)
    image = ServiceImage(stack, "Image", spec=spec)
    runner = JobRunner(stack, "Jobs", spec=spec, bucket=bucket, metadata_store=store,
                       api_keys_secret=secret, image=image)
    generator = ServerlessGenerator(stack, "Api", spec=spec, bucket=bucket,
                                    metadata_store=store, api_keys_secret=secret,
                                    image=image, job_runner=runner)
    return {"runner": runner, "generator": generator, "image": image}


def consumer_granted_across_stacks(app: App) -> dict[str, Any]:
    """A platform in one stack; an analytics stack granting its own role access to it."""
    provider = Stack(app, "Provider")
    platform = SyntheticDataPlatform(provider, "Synth", spec=PlatformSpec(name="provider"))
    consumer = Stack(app, "Consumer")
    role = iam.Role(consumer, "AnalystRole",
                    assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    platform.bucket.grant_read(role)
    platform.metadata_store.grant_read(role)
    platform.generator.grant_invoke(role)
    platform.job_runner.grant_submit(role)
    return {"platform": platform, "provider": provider, "consumer": consumer, "role": role}


def same_spec_in_two_accounts(app: App) -> dict[str, Any]:
    """One spec with spec-derived names, deployed to two accounts and to any account."""
    spec = PlatformSpec(name="shared-names")
    buckets = {}
    for stack_name, account in (("AccountOne", "111111111111"),
                                ("AccountTwo", "222222222222"), ("AnyAccount", None)):
        env = Environment(account=account, region="eu-west-1") if account else None
        stack = Stack(app, stack_name, env=env)
        buckets[stack_name] = SecureBucket(stack, "Data", spec=spec,
                                           physical_names=PhysicalNames.FROM_SPEC)
    return buckets


#: Every spec field that is cloud-neutral or AWS's own, with a non-default value. The
#: test checks this table covers every leaf field of `PlatformSpec` but the other clouds'
#: placement sections (`gcp.*`, `kubernetes.*`).
FIELD_VALUES: dict[str, Any] = {
    "name": "other",
    "environment": "staging",
    "region": "us-east-1",
    "account": "123456789012",
    "tags.owner": "someone-else",
    "tags.cost_centre": "cc-9",
    "tags.extra": {"team": "fraud"},
    "generator.memory_mb": 4096,
    "generator.timeout_seconds": 120,
    "generator.concurrency": 5,
    "generator.min_instances": 1,
    "generator.max_rows": 1234,
    "generator.max_upload_mb": 7,
    "generator.synthesizers": ["ctgan"],
    "generator.packaging": "source",
    "generator.image": PREBUILT_IMAGE,
    "storage.retention_days": 9,
    "storage.noncurrent_version_days": 11,
    "storage.encryption": "provider_managed",
    "storage.access_logs": False,
    "api.auth": "iam",
    "api.rate_limit_per_second": 3.5,
    "api.burst": 7,
    "api.cors_origins": ["https://app.example.com"],
    "network.vpc": True,
    "network.cidr": "10.9.0.0/16",
    "monitoring.alarm_emails": ["oncall@example.com"],
    "monitoring.error_threshold": 9,
    "monitoring.latency_threshold_ratio": 0.5,
    "monitoring.log_retention_days": 90,
    "jobs.worker_timeout_seconds": 600,
    "jobs.worker_concurrency": 3,
    "jobs.max_attempts": 5,
    "jobs.long_running": False,
    "jobs.cpu": 4096,
    "jobs.memory_mb": 12288,
    "removal_policy": "destroy",
}
#: The base every variant changes one field of.
BASE_SPEC: dict[str, Any] = {"name": "fields"}
#: Fields AWS refuses (`UnsupportedOnCloud`), built outside the stack.
REFUSED = ("generator.packaging",)


def field_spec(field: str | None) -> PlatformSpec:
    data: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v)
                            for k, v in BASE_SPEC.items()}
    if field is not None:
        *sections, leaf = field.split(".")
        target = data
        for section in sections:
            target = target.setdefault(section, {})
        target[leaf] = FIELD_VALUES[field]
    return PlatformSpec.model_validate(data)


def one_platform_per_spec_field(app: App) -> dict[str, Any]:
    """The base platform, its twin, and one platform per field value, in one stack (synthesized to
    compare, never deployed: it holds more than CloudFormation's 500 resources)."""
    stack = Stack(app, "Fields")
    stack.node.set_context("@aws-cdk/core:stackResourceLimit", 0)
    platforms = {None: SyntheticDataPlatform(stack, "P0", spec=field_spec(None)),
                 "twin": SyntheticDataPlatform(stack, "Twin", spec=field_spec(None))}
    for index, field in enumerate(FIELD_VALUES, start=1):
        if field not in REFUSED:
            platforms[field] = SyntheticDataPlatform(stack, f"P{index}", spec=field_spec(field))
    return {"stack": stack, "platforms": platforms}


USER_APPS: dict[str, Callable[[App], dict[str, Any]]] = {
    "two_platforms": two_platforms_in_one_stack,
    "standalone": standalone_bucket_and_store,
    "byo_key_vpc": bring_your_own_key_and_vpc,
    "byo_existing": bring_existing_bucket_table_and_image,
    "assembled": assembled_by_hand,
    "cross_stack": consumer_granted_across_stacks,
    "two_accounts": same_spec_in_two_accounts,
    "fields": one_platform_per_spec_field,
}
