"""The runtime roles of the service's functions and tasks, and their one shared nag story."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from ..spec import PlatformSpec
from .bucket import SecureBucket
from .defaults import acknowledge

__all__ = ["acknowledge_service_grants", "service_role"]


def service_role(scope: Construct, id: str, spec: PlatformSpec, what: str,
                 principal: str = "lambda.amazonaws.com") -> iam.Role:
    """An empty role for one part of the service; grants are added by the resources."""
    return iam.Role(scope, id, assumed_by=iam.ServicePrincipal(principal),
                    description=f"Runtime role of the {spec.name} ({spec.environment}) {what}")


def acknowledge_service_grants(role: iam.Role, bucket: SecureBucket) -> None:
    """The two wildcard resources every service role needs (object prefix and X-Ray)."""
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is None:
        return
    acknowledge(policy, f"AwsSolutions-IAM5[{bucket.object_arn_pattern}]",
                "Object-level S3 actions need an object ARN pattern; it is limited to the "
                "service's prefix of this one bucket.")
    acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
                "permissions.")
