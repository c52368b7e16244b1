"""Argument types every cloud's constructs share, so switching clouds is switching an import.

Constructs on AWS (aws-cdk-lib), GCP, Azure and Kubernetes (CDK Terrain) take these same
types for the same arguments; each cloud converts them to its own engine's values
(`RemovalPolicy.DESTROY` becomes CDK's `RemovalPolicy.DESTROY` on AWS and `force_destroy`
/ `deletion_policy` on GCP). Nothing here imports a cloud package.

    from constructs_lib import PhysicalNames, RemovalPolicy
    SecureBucket(stack, "Data", spec=spec, removal_policy=RemovalPolicy.DESTROY)
"""

from __future__ import annotations

import enum
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OUTPUTS",
    "MergedProps",
    "PhysicalNames",
    "RemovalPolicy",
    "SecureDefaultOverridden",
    "UnsupportedOnCloud",
    "merge_props",
    "output_id",
    "override_message",
    "warn_override",
]


class RemovalPolicy(enum.StrEnum):
    """What deleting the stack does to stored data (bucket, table / database, key, secret).

    RETAIN keeps it (a later stack cannot reuse a given name until it is deleted by hand);
    DESTROY deletes it with the stack, emptying buckets of every object version first.
    """

    RETAIN = "retain"
    DESTROY = "destroy"

    @classmethod
    def resolve(cls, value: RemovalPolicy | str | None, spec: Any) -> RemovalPolicy:
        """`value` as a `RemovalPolicy`, or the spec's `removal_policy` when None.

        Strings are accepted for convenience ('retain', 'destroy'); anything else raises
        a ValueError naming the allowed values.
        """
        if value is None:
            value = spec.removal_policy
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(
                f"removal_policy: {value!r} is not a removal policy; use "
                "RemovalPolicy.RETAIN or RemovalPolicy.DESTROY"
            ) from None


class PhysicalNames(enum.StrEnum):
    """Where physical resource names come from.

    GENERATED (the default): the engine makes each name unique per construct path and
    stable across synths (CloudFormation on AWS; a readable path plus a hash on the
    Terraform clouds), so any number of platforms fit in one stack, account or project
    and a replacement never collides with the resource it replaces.
    FROM_SPEC: readable names derived from the spec (`synth-<name>-<env>-<purpose>`, see
    `constructs_lib.naming`), for operators who want predictable names. Two platforms
    from one spec then collide, and a resource that must be replaced cannot be.
    """

    GENERATED = "generated"
    FROM_SPEC = "from_spec"

    @classmethod
    def resolve(cls, value: PhysicalNames | str | None) -> PhysicalNames:
        if value is None:
            return cls.GENERATED
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(
                f"physical_names: {value!r} is not a naming mode; use "
                "PhysicalNames.GENERATED or PhysicalNames.FROM_SPEC"
            ) from None


class SecureDefaultOverridden(UserWarning):
    """A construct argument turned off or weakened one of the platform's secure defaults.

    Every cloud raises this same warning class (and adds its engine's own warning
    annotation, so `cdk synth` / `cdktn synth` show it too).
    """


def override_message(path: str, argument: str, default: str) -> str:
    """The one wording of an overridden secure default, on every cloud."""
    return f"{path}: {argument} overrides the secure default ({default})"


def warn_override(path: str, argument: str, default: str, *, stacklevel: int = 3) -> str:
    """Warn that `argument` at construct `path` overrides the secure default `default`;
    returns the message so the caller can also annotate its construct."""
    message = override_message(path, argument, default)
    warnings.warn(message, SecureDefaultOverridden, stacklevel=stacklevel)
    return message


class UnsupportedOnCloud(ValueError):
    """A spec field (or argument) that this cloud cannot honour: refused by name, never
    silently ignored."""

    def __init__(self, field: str, cloud: str, reason: str, fix: str):
        super().__init__(f"{field}: not supported on {cloud}: {reason}; {fix}")
        self.field = field
        self.cloud = cloud


@dataclass(frozen=True)
class MergedProps:
    """Resource properties after merging user overrides over the secure defaults."""

    values: dict[str, Any]
    overridden: tuple[str, ...]
    """Secure defaults the user replaced, each as 'key (what the default is)'."""


def merge_props(
    defaults: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    secure: Mapping[str, str],
    *,
    fixed: Iterable[str] = (),
    argument: str = "props",
) -> MergedProps:
    """Merge `overrides` over `defaults` (default props <- client props, in the manner of
    aws-solutions-constructs' `consolidateProps`).

    `secure` maps each property that carries a secure default to a description of that
    default ("versioning on"); replacing one with a different value is reported in
    `overridden`, so the construct can say it out loud. `fixed` names properties the
    construct must set itself (wiring such as the key or the name it derives); overriding
    one raises a ValueError naming the construct argument to use instead.
    """
    overrides = dict(overrides or {})
    fixed = set(fixed)
    clashes = sorted(fixed & set(overrides))
    if clashes:
        raise ValueError(
            f"{argument}: {', '.join(clashes)} cannot be overridden here: the construct sets "
            "them from its own arguments (pass those instead)"
        )
    merged = {**defaults, **overrides}
    overridden = tuple(
        f"{key}={overrides[key]!r} ({secure[key]})"
        for key in sorted(overrides)
        if key in secure and (key not in defaults or overrides[key] != defaults[key])
    )
    return MergedProps(merged, overridden)


#: The outputs a platform publishes when asked (`outputs=True`): name -> description.
OUTPUTS: dict[str, str] = {
    "endpoint_url": "HTTPS base URL of the generator API",
    "bucket_name": "Bucket holding datasets, models and samples",
    "storage_url": "The runtime contract's SYNTH_STORAGE_URL",
    "metadata_url": "The runtime contract's SYNTH_METADATA_URL",
    "api_keys_secret": "The runtime contract's SYNTH_API_KEYS_SECRET (the pepper's secret)",
    "jobs_url": "The runtime contract's SYNTH_JOBS_URL",
    "identity": "The principal the service runs as",
}


def output_id(construct_id: str, name: str, *, style: str) -> str:
    """The id of output `name` of the construct `construct_id`, scoped by that id so two
    platforms in one stack never share an output.

    style 'camel' (CloudFormation logical ids): `Synth` + `endpoint_url` ->
    `SynthEndpointUrl`; style 'snake' (Terraform output names): `synth_endpoint_url`.
    """
    if name not in OUTPUTS:
        raise ValueError(f"unknown output {name!r}; outputs are: {', '.join(OUTPUTS)}")
    words = [w for w in re.split(r"[^A-Za-z0-9]+", construct_id) if w] + name.split("_")
    if style == "camel":
        return "".join(w[:1].upper() + w[1:] for w in words)
    if style == "snake":
        snake = "_".join(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", w).lower() for w in words)
        return snake if snake[:1].isalpha() else f"o_{snake}"
    raise ValueError(f"style: {style!r} is not 'camel' or 'snake'")
