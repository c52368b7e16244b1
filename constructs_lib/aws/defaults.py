"""Secure defaults for the AWS constructs, in one place per resource kind.

In the manner of aws-solutions-constructs' `core/lib/*-defaults.ts`: each resource kind
has a small function giving its default properties plus a table of the secure ones
(`*_SECURE`: property -> what the default is). A construct merges a user's `*_props` over
them with `merge_overrides`, which says each replaced secure default out loud (the core's
`SecureDefaultOverridden` warning plus a CDK warning annotation, so `cdk synth` shows it).
The helpers that say where names, tags, removal policies and checker acknowledgements
come from live here too, so every construct does each of those one way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from aws_cdk import Acknowledgment, Annotations, Duration, Stack, Tags, Token, Validations
from aws_cdk import RemovalPolicy as CdkRemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from ..naming import AwsNames, aws_bucket_name, aws_names, aws_tags
from ..spec import PlatformSpec
from ..types import (
    PhysicalNames,
    RemovalPolicy,
    SecureDefaultOverridden,
    merge_props,
)
from ..types import (
    warn_override as _warn_override,
)

__all__ = [
    "FEATURE_FLAGS",
    "SAMPLES_PREFIX",
    "SecureDefaultOverridden",
    "acknowledge",
    "apply_feature_flags",
    "cdk_removal_policy",
    "checkov_skip",
    "grant",
    "lifecycle_rules",
    "log_retention",
    "merge_overrides",
    "nag_resource",
    "skip_unless_customer_managed",
    "spec_bucket_name",
    "spec_names",
    "tag",
    "warn_override",
]

#: CDK feature flags the constructs rely on. Set on each construct's own node, so they
#: apply inside a user's app whatever its cdk.json says (and nothing is set on the app).
FEATURE_FLAGS = {
    # Grant S3 server access log delivery through a bucket policy, not a legacy ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


def apply_feature_flags(scope: IConstruct) -> None:
    for flag, value in FEATURE_FLAGS.items():
        scope.node.set_context(flag, value)


def warn_override(scope: IConstruct, argument: str, default: str) -> None:
    """Say out loud that `argument` overrides the secure default `default`: the core's
    `SecureDefaultOverridden` warning, and a CDK warning annotation on `scope`."""
    message = _warn_override(scope.node.path, argument, default, stacklevel=4)
    Annotations.of(scope).add_warning_v2("synthdata:secure-default-overridden", message)


def merge_overrides(scope: IConstruct, argument: str, defaults: Mapping[str, Any],
                    overrides: Mapping[str, Any] | None, secure: Mapping[str, str], *,
                    fixed: Iterable[str] = ()) -> dict[str, Any]:
    """`defaults` <- the user's `overrides` (`argument`, e.g. 'bucket_props'); each secure
    default replaced is warned and annotated on `scope`; `fixed` keys are refused."""
    merged = merge_props(defaults, overrides, secure, fixed=fixed, argument=argument)
    for key, description in secure.items():
        if any(item.startswith(f"{key}=") and item.endswith(f"({description})")
               for item in merged.overridden):
            warn_override(scope, f"{argument}[{key!r}]={overrides[key]!r}", description)
    return merged.values


def cdk_removal_policy(value: RemovalPolicy | str | None, spec: PlatformSpec) -> CdkRemovalPolicy:
    """The shared `RemovalPolicy` (or the spec's, when None) as CDK's enum.

    CDK's own `RemovalPolicy.RETAIN` / `DESTROY` are accepted too, for users who reach for
    them out of habit; its other members are refused by name.
    """
    if isinstance(value, CdkRemovalPolicy):
        if value not in (CdkRemovalPolicy.RETAIN, CdkRemovalPolicy.DESTROY):
            raise ValueError(f"removal_policy: {value} is not supported here; use "
                             "RemovalPolicy.RETAIN or RemovalPolicy.DESTROY")
        return value
    policy = RemovalPolicy.resolve(value, spec)
    return CdkRemovalPolicy.DESTROY if policy is RemovalPolicy.DESTROY else CdkRemovalPolicy.RETAIN


def spec_names(scope: IConstruct, spec: PlatformSpec,
               physical_names: PhysicalNames | str | None) -> AwsNames | None:
    """Spec-derived names for `PhysicalNames.FROM_SPEC`, else None: CloudFormation then
    generates every name from the construct path (unique, and free to be replaced).

    Global names (buckets) carry the stack's account - the spec's when it names one, else
    CloudFormation's `AWS::AccountId` at deploy - and its region.
    """
    if PhysicalNames.resolve(physical_names) is PhysicalNames.GENERATED:
        return None
    return aws_names(spec, **_placement(scope, spec))


def spec_bucket_name(scope: IConstruct, spec: PlatformSpec, purpose: str) -> str:
    """The spec-derived name of a bucket for `purpose`, placed as `spec_names` places it."""
    return aws_bucket_name(spec, purpose, **_placement(scope, spec))


def _placement(scope: IConstruct, spec: PlatformSpec) -> dict[str, str]:
    stack = Stack.of(scope)
    region = stack.region if not Token.is_unresolved(stack.region) else spec.region
    return {"account": spec.account or stack.account, "region": region}


def tag(scope: IConstruct, spec: PlatformSpec) -> None:
    """Tag every resource under `scope` from the spec (also when a construct stands alone)."""
    tags = Tags.of(scope)
    for key, value in aws_tags(spec).items():
        tags.add(key, value)


def grant(grantee: iam.IGrantable,
          *statements: tuple[list[str], list[str]] | tuple[list[str], list[str], dict]
          ) -> iam.Grant:
    """Add `(actions, resources[, conditions])` statements to the grantee's own policy (in
    the grantee's stack, so a grant never makes the resource's stack depend on it) and
    return them as one grant. Statements without actions or resources are left out."""
    combined: iam.Grant | None = None
    for actions, resources, *conditions in statements:
        if not actions or not resources:
            continue
        part = iam.Grant.add_to_principal(grantee=grantee, actions=actions,
                                          resource_arns=resources,
                                          conditions=conditions[0] if conditions else None)
        combined = part if combined is None else combined.combine(part)
    if combined is None:
        raise ValueError("grant: no statement has both actions and resources")
    return combined


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


#: Under the storage URL's prefix, where the service writes generated samples; the
#: retention rule expires them.
SAMPLES_PREFIX = "samples/"


def lifecycle_rules(purpose: str, retention_days: int,
                    noncurrent_days: int) -> list[s3.LifecycleRule]:
    """Expire samples after the retention, old versions after their own, and stale uploads."""
    return [
        s3.LifecycleRule(
            id="expire-samples", prefix=f"{purpose}/{SAMPLES_PREFIX}",
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


# -- the independent checkers: cdk-nag and checkov ------------------------------------------


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge a cdk-nag finding on the construct that owns the resource."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def nag_resource(scope: IConstruct, value: Any) -> str:
    """`value` (an ARN, possibly with tokens) as cdk-nag names it in a finding such as
    `AwsSolutions-IAM5[Resource::<Bucket1234.Arn>/data/*]`, resolved in `scope`'s stack."""
    def flat(node: Any) -> str:
        if isinstance(node, str):
            return node.replace("${", "<").replace("}", ">")
        if isinstance(node, dict) and "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flat(item) for item in items)
        if isinstance(node, dict) and "Fn::Sub" in node:
            return flat(node["Fn::Sub"])
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flat(resource)}.{flat(attribute)}>"
        if isinstance(node, dict) and "Fn::ImportValue" in node:
            return flat(node["Fn::ImportValue"])
        if isinstance(node, dict) and "Ref" in node:
            return f"<{flat(node['Ref'])}>"
        return json.dumps(node, separators=(",", ":"))

    return flat(Stack.of(scope).resolve(value))


PROVIDER_MANAGED = ("The spec chose provider-managed encryption (storage.encryption: "
                    "provider_managed); the service's default encryption at rest applies.")


def skip_unless_customer_managed(key, resources: dict[str, IConstruct]) -> None:
    """Without a platform key, record each encryption check as the spec's explicit choice."""
    if key is None:
        for check, resource in resources.items():
            checkov_skip(resource, check, PROVIDER_MANAGED)


def checkov_skip(resource: IConstruct, check: str, reason: str) -> None:
    """Record a reasoned checkov skip in the resource's template metadata (each jsii
    property read is a round trip to node, so each is read once)."""
    cfn = resource.node.default_child
    if cfn is None:
        cfn = resource
    existing = cfn.get_metadata("checkov") or {"skip": []}  # type: ignore[union-attr]
    if not any(entry["id"] == check for entry in existing["skip"]):
        existing["skip"].append({"id": check, "comment": reason})
    cfn.add_metadata("checkov", existing)  # type: ignore[union-attr]
