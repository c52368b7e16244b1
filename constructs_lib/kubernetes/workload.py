"""Who receives a grant on Kubernetes: a workload's service account and its pods.

Grants on Kubernetes are network and RBAC objects created in the grantee's scope (a
NetworkPolicy letting the grantee's pods reach a store; a RoleBinding letting its service
account start Jobs). `ServerlessGenerator.identity` and `JobRunner.identity` are
`Workload`s; a user's own Deployment becomes one with `Workload(scope, namespace=...,
service_account=..., pod_labels=...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

__all__ = ["Workload", "as_workload"]


@dataclass(frozen=True)
class Workload:
    scope: Construct
    """Where grants to this workload create their objects."""
    namespace: str
    service_account: str
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels selecting the workload's pods (NetworkPolicies select on them)."""
    cloud_principal: str | None = None
    """The cloud identity the pods act as with workload identity (a role ARN, a Google
    service account), for grants made on the cloud side."""

    @property
    def key(self) -> str:
        """A stable id fragment for grant objects (one per workload and store)."""
        return f"{self.namespace}-{self.service_account}"


def as_workload(grantee: Any) -> Workload:
    """A `Workload` from a grantee: a `Workload`, or anything with an `identity` one."""
    if isinstance(grantee, Workload):
        return grantee
    identity = getattr(grantee, "identity", None)
    if isinstance(identity, Workload):
        return identity
    raise TypeError(
        f"cannot grant to {grantee!r}: pass a constructs_lib.kubernetes.Workload (a service "
        "account and the labels of its pods) or a construct with one as `.identity` "
        "(ServerlessGenerator, JobRunner)"
    )
