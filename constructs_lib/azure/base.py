"""What every Azure construct shares: its resource group, generated or spec-derived names,
warnings for overridden secure defaults, the deploying principal, and role assignments
created in the grantee's scope."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from cdktn import Annotations, TerraformResourceLifecycle, TerraformStack
from cdktn_provider_azurerm.data_azurerm_client_config import DataAzurermClientConfig
from cdktn_provider_azurerm.resource_group import ResourceGroup
from cdktn_provider_azurerm.role_assignment import RoleAssignment
from constructs import Construct

from .._terraform import stable_text
from ..naming import azure_placement, azure_tags, generated_name
from ..spec import PlatformSpec
from ..types import MergedProps, PhysicalNames, RemovalPolicy, merge_props, warn_override
from .defaults import location

__all__ = [
    "Group",
    "client_config",
    "grant_role",
    "lifecycle",
    "merged",
    "physical_name",
    "principal_of",
    "resolve_group",
]


class Group:
    """A resource group the constructs deploy into: `name` and `location` (tokens when the
    group is made in the same stack), and the `ResourceGroup` when one was made."""

    def __init__(self, name: str, location: str, resource: ResourceGroup | None = None):
        self.name = name
        self.location = location
        self.resource = resource


def resolve_group(scope: Construct, spec: PlatformSpec, given: Any,
                  physical_names: PhysicalNames) -> Group:
    """The given resource group (a `ResourceGroup`, a `Group` or a name in the spec's
    location), or a new one named for the construct."""
    if isinstance(given, Group):
        return given
    if isinstance(given, ResourceGroup):
        return Group(given.name, given.location, given)
    if isinstance(given, str):
        return Group(given, location(spec))
    if given is not None:
        raise TypeError(f"resource_group: {type(given).__name__} is not a ResourceGroup, "
                        "a Group or a resource group name")
    from ..naming import azure_names

    name = azure_names(spec).resource_group if physical_names == PhysicalNames.FROM_SPEC \
        else physical_name(scope, "ResourceGroup", max_len=90, prefix="rg-")
    group = ResourceGroup(scope, "ResourceGroup", name=name, location=location(spec),
                          tags=azure_tags(spec))
    return Group(group.name, group.location, group)


def physical_name(scope: Construct, child: str, *, max_len: int, prefix: str = "",
                  separator: str = "-", unique: bool = False, spec: PlatformSpec | None = None,
                  keep: str = "a-z0-9") -> str:
    """A generated name for `child` of `scope`: unique per construct path (and, with
    `unique`, per subscription / location for globally unique names)."""
    path = f"{scope.node.path}/{child}"
    placement = azure_placement(spec) if unique and spec is not None else ""
    name = generated_name(path, max_len=max_len - len(prefix), unique=placement,
                          separator=separator, keep=keep)
    return prefix + name


def lifecycle(removal_policy: RemovalPolicy) -> TerraformResourceLifecycle | None:
    """'retain': Terraform refuses to destroy stored data (`prevent_destroy`); take the
    resource out of state (`terraform state rm`) to keep it while destroying the rest."""
    if removal_policy == RemovalPolicy.RETAIN:
        return TerraformResourceLifecycle(prevent_destroy=True)
    return None


def merged(construct: Construct, defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None,
           secure: Mapping[str, str], *, fixed: tuple[str, ...] = (),
           argument: str) -> dict[str, Any]:
    """`merge_props`, with each replaced secure default warned and annotated."""
    result: MergedProps = merge_props(defaults, overrides, secure, fixed=fixed,
                                      argument=argument)
    for replaced in result.overridden:
        message = warn_override(construct.node.path, argument, replaced, stacklevel=4)
        Annotations.of(construct).add_warning(message)
    return result.values


def say_override(construct: Construct, argument: str, default: str) -> None:
    message = warn_override(construct.node.path, argument, default, stacklevel=4)
    Annotations.of(construct).add_warning(message)


def client_config(scope: Construct) -> DataAzurermClientConfig:
    """The deploying principal (tenant, object id), one data source per stack."""
    stack = TerraformStack.of(scope)
    found = stack.node.try_find_child("AzureClientConfig")
    if found is None:
        found = DataAzurermClientConfig(stack, "AzureClientConfig")
    return found  # type: ignore[return-value]


def principal_of(grantee: Any) -> str:
    """The object id of a grantee: a `UserAssignedIdentity` (its `principal_id`), anything
    with a `principal_id`, or an object id string."""
    principal = getattr(grantee, "principal_id", None)
    if principal is not None:
        return principal
    if isinstance(grantee, str) and grantee:
        return grantee
    raise TypeError(f"grantee: {grantee!r} is not a managed identity or an object id")


def grant_role(owner: Construct, grantee: Any, role: str, scope_id: str,
               *, condition: str | None = None) -> RoleAssignment:
    """Assign `role` on exactly `scope_id` to `grantee`, created in the grantee's scope
    (a construct) - so a consumer stack granting itself access to a platform in another
    stack references the platform, never the other way round - or in `owner`'s scope for
    a bare object id."""
    where = grantee if isinstance(grantee, Construct) else owner
    key = hashlib.sha256(f"{owner.node.path}|{role}|{stable_text(owner, scope_id)}".encode())
    label = re.sub(r"[^A-Za-z0-9]", "", role)
    construct_id = f"{label}{key.hexdigest()[:8]}"
    if not isinstance(grantee, Construct):
        construct_id += hashlib.sha256(stable_text(owner, grantee).encode()).hexdigest()[:6]
    existing = where.node.try_find_child(construct_id)
    if existing is not None:
        return existing  # type: ignore[return-value]
    return RoleAssignment(
        where, construct_id,
        scope=scope_id,
        role_definition_name=role,
        principal_id=principal_of(grantee),
        principal_type="ServicePrincipal" if isinstance(grantee, Construct) else None,
        condition=condition,
        condition_version="2.0" if condition else None,
        description=f"{role} for {owner.node.path}"[:1024],
    )
