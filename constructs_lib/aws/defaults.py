"""Secure defaults for the AWS constructs, one small pure function per concern.

Constructs take these defaults and let a user override any of them explicitly; an override
that weakens a default is said out loud by `warn_override` (a Python warning and a CDK
warning annotation, so it shows in `cdk synth` too).
"""

from __future__ import annotations

import warnings

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from ..spec import PlatformSpec

__all__ = [
    "FEATURE_FLAGS",
    "SecureDefaultOverridden",
    "acknowledge",
    "checkov_skip",
    "lifecycle_rules",
    "log_retention",
    "removal_policy",
    "warn_override",
]

#: CDK feature flags the constructs rely on. Set on each construct's own node, so they
#: apply inside a user's app whatever its cdk.json says.
FEATURE_FLAGS = {
    # Grant S3 server access log delivery through a bucket policy, not a legacy ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


class SecureDefaultOverridden(UserWarning):
    """A construct argument turned off or weakened one of the platform's secure defaults."""


def warn_override(scope: IConstruct, argument: str, default: str) -> None:
    """Say out loud that `argument` overrides the secure default `default`."""
    message = f"{scope.node.path}: {argument} overrides the secure default ({default})"
    warnings.warn(message, SecureDefaultOverridden, stacklevel=3)
    Annotations.of(scope).add_warning_v2("synthdata:secure-default-overridden", message)


def removal_policy(spec: PlatformSpec) -> RemovalPolicy:
    """RETAIN unless the spec asks for throwaway stacks ('destroy')."""
    return RemovalPolicy.DESTROY if spec.removal_policy == "destroy" else RemovalPolicy.RETAIN


_RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS, 7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS, 150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS, 2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(spec: PlatformSpec) -> logs.RetentionDays:
    """The spec's log retention as CloudWatch's enum (the spec only allows its values)."""
    return _RETENTION[spec.monitoring.log_retention_days]


#: Prefix under which the service writes generated samples; the retention rule expires it.
SAMPLES_PREFIX = "data/samples/"


def lifecycle_rules(retention_days: int, noncurrent_days: int) -> list[s3.LifecycleRule]:
    """Expire samples after the retention, old versions after their own, and stale uploads."""
    return [
        s3.LifecycleRule(
            id="expire-samples", prefix=SAMPLES_PREFIX,
            expiration=Duration.days(retention_days),
        ),
        s3.LifecycleRule(
            id="expire-noncurrent-versions",
            noncurrent_version_expiration=Duration.days(noncurrent_days),
            expired_object_delete_marker=True,
        ),
        s3.LifecycleRule(
            id="abort-incomplete-uploads",
            abort_incomplete_multipart_upload_after=Duration.days(1),
        ),
    ]


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge a cdk-nag finding on the construct that owns the resource."""
    from aws_cdk import Acknowledgment, Validations

    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


PROVIDER_MANAGED = ("The spec chose provider-managed encryption (storage.encryption: "
                    "provider_managed); the service's default encryption at rest applies.")


def skip_unless_customer_managed(key, resources: dict[str, IConstruct]) -> None:
    """Without a platform key, record each encryption check as the spec's explicit choice."""
    if key is None:
        for check, resource in resources.items():
            checkov_skip(resource, check, PROVIDER_MANAGED)


def checkov_skip(resource: IConstruct, check: str, reason: str) -> None:
    """Record a reasoned checkov skip in the resource's template metadata."""
    cfn = resource.node.default_child if resource.node.default_child is not None else resource
    existing = cfn.get_metadata("checkov") or {"skip": []}  # type: ignore[union-attr]
    existing["skip"].append({"id": check, "comment": reason})
    cfn.add_metadata("checkov", existing)  # type: ignore[union-attr]
