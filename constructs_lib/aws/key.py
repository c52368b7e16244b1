"""The customer-managed KMS key a construct creates when it is given none."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import RemovalPolicy as CdkRemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ..spec import PlatformSpec

__all__ = ["platform_key"]


def platform_key(scope: Construct, id: str, spec: PlatformSpec, *, what: str,
                 alias: str | None, removal_policy: CdkRemovalPolicy) -> kms.Key:
    """A rotating KMS key that CloudWatch Logs and CloudWatch alarms may also use.

    Logs and alarm notifications are encrypted with the same key, so the key policy lets
    those two services (and only for this account's log groups / alarms) use it. `alias`
    is given only for spec-derived names (`PhysicalNames.FROM_SPEC`): aliases are unique
    per account and region, so generated names create none.
    """
    key = kms.Key(
        scope, id,
        alias=alias,
        description=f"Synthdata {spec.name} ({spec.environment}): {what}",
        enable_key_rotation=True,
        pending_window=Duration.days(30 if spec.is_production else 7),
        removal_policy=removal_policy,
    )
    key.add_to_resource_policy(iam.PolicyStatement(
        sid="AllowCloudWatchLogsOfThisAccount",
        principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
        actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                 "kms:GenerateDataKey", "kms:DescribeKey"],
        resources=["*"],  # in a key policy, "*" means this key
        conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"}},
    ))
    key.add_to_resource_policy(iam.PolicyStatement(
        sid="AllowCloudWatchAlarmsToNotifyEncryptedTopic",
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions=["kms:Decrypt", "kms:GenerateDataKey"],
        resources=["*"],
        conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
    ))
    return key
