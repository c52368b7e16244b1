"""Where a GCP construct deploys, how it names things, and what it says out loud.

* `placement(scope, spec)`: the project and region, from the spec or else from the stack's
  google provider - never a placeholder. A stack that names neither fails with an error
  that names both places.
* `physical_name(...)`: engine-style generated names (unique per construct path, stable
  across synths) by default; spec-derived ones with `PhysicalNames.FROM_SPEC`.
* `say_override(...)`: the one way a construct reports an overridden secure default: the
  core's `SecureDefaultOverridden` warning plus a cdktn warning annotation on the construct
  (shown by `cdktn synth`).
* `beta_provider(...)`, `docker_provider(...)`: the providers the library adds beside the
  user's google provider, created once per stack (aliased, so they never clash with the
  user's own).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cdktn import Annotations, TerraformStack, Token
from cdktn_provider_google.provider import GoogleProvider
from constructs import Construct

from ..naming import RULES, gcp_spec_region, generated_name
from ..spec import PlatformSpec
from ..types import MergedProps, PhysicalNames, merge_props, warn_override

__all__ = [
    "Placement",
    "beta_provider",
    "docker_provider",
    "google_provider",
    "merged",
    "physical_name",
    "placement",
    "say_override",
    "short_hash",
]

#: Providers the library creates are aliased with this name, so a user's own google-beta
#: or docker provider (the unaliased default) is never clashed with.
ALIAS = "synth"
_BETA_MARKER = "SynthGoogleBeta"

#: Settings copied from the user's google provider to the google-beta provider the
#: library creates, so both act with the same identity on the same project.
_SHARED_PROVIDER_SETTINGS = ("access_token", "billing_project", "credentials",
                             "impersonate_service_account", "request_reason",
                             "universe_domain", "user_project_override")


@dataclass(frozen=True)
class Placement:
    """The project and region a construct deploys into."""

    project: str
    region: str

    @property
    def unique(self) -> str:
        """What globally unique names are hashed with: two projects never share a name."""
        return f"gcp/{self.project}/{self.region}"


def google_provider(scope: Construct) -> GoogleProvider | None:
    """The stack's unaliased google provider (or its first aliased one), if any."""
    found = [c for c in TerraformStack.of(scope).node.children if isinstance(c, GoogleProvider)]
    plain = [p for p in found if not p.alias]
    return (plain or found or [None])[0]


def placement(scope: Construct, spec: PlatformSpec) -> Placement:
    """Project and region for a construct in `scope`.

    Project: `spec.gcp.project`, else the stack's google provider's `project`. Region:
    `spec.gcp.region`, else `spec.region` when it is a GCP region id (`europe-west1`), else
    the provider's `region`. Either missing raises a ValueError naming both places; a
    project given as an unresolved value (a variable) is refused too, since bucket names
    must carry the project at synth time to stay globally unique.
    """
    provider = google_provider(scope)
    project = spec.gcp.project or (provider.project if provider is not None else None)
    if not project:
        raise ValueError(
            "gcp.project: no GCP project is named: set `gcp.project` in the spec, or "
            "`project=` on the stack's GoogleProvider (cdktn_provider_google.provider)"
        )
    if Token.is_unresolved(project):
        raise ValueError(
            "gcp.project: the stack's google provider takes its project from an unresolved "
            "value (a variable or reference); globally unique bucket names need it at synth "
            "time: set `gcp.project` in the spec or a literal `project=` on the provider"
        )
    region = gcp_spec_region(spec) or (provider.region if provider is not None else None)
    if not region:
        raise ValueError(
            f"gcp.region: no GCP region is named (the spec's region {spec.region!r} is not "
            "a GCP region id): set `gcp.region` (or `region`) in the spec, e.g. "
            "'europe-west1', or `region=` on the stack's GoogleProvider"
        )
    if Token.is_unresolved(region):
        raise ValueError(
            "gcp.region: the stack's google provider takes its region from an unresolved "
            "value; set `gcp.region` in the spec or a literal `region=` on the provider"
        )
    return Placement(project, region)


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


#: kind -> (rule in `naming.RULES`, longest name, characters kept besides '-').
_NAME_KINDS: dict[str, tuple[str, int, str]] = {
    "bucket": ("gcp.bucket", 63, "a-z0-9"),
    "firestore_database": ("gcp.firestore_database", 63, "a-z0-9"),
    "service": ("gcp.cloud_run_service", 49, "a-z0-9"),
    "job": ("gcp.cloud_run_job", 49, "a-z0-9"),
    "service_account": ("gcp.service_account_id", 30, "a-z0-9"),
    "secret": ("gcp.secret_id", 255, "a-z0-9"),
    "kms": ("gcp.kms_key_ring", 63, "a-z0-9"),
    "artifact_repository": ("gcp.artifact_repository", 63, "a-z0-9"),
    "network": ("gcp.network", 63, "a-z0-9"),
    "log_bucket": ("gcp.log_bucket", 100, "a-z0-9"),
}


def physical_name(construct: Construct, kind: str, where: Placement, *, part: str = "",
                  given: str | None = None, from_spec: str | None = None,
                  names: PhysicalNames = PhysicalNames.GENERATED) -> str:
    """The physical name of the resource `construct` stands for.

    `given` (an explicit `bucket_name=` / `store_name=`) wins; with
    `PhysicalNames.FROM_SPEC`, `from_spec` (the `gcp_names(spec)` field); otherwise a name
    generated from the construct path (plus `part`, for a construct's second resource of
    a kind) and the placement: unique per path and project, stable across synths, within
    the kind's rules.
    """
    if given:
        return given
    if names is PhysicalNames.FROM_SPEC and from_spec:
        return from_spec
    rule, max_len, keep = _NAME_KINDS[kind]
    path = f"{construct.node.path}/{part}" if part else construct.node.path
    name = generated_name(path, max_len=max_len, unique=where.unique, keep=keep)
    if kind == "bucket":  # GCS refuses names with "google" and names starting "goog"
        name = name.replace("google", "ggl")
        if name.startswith("goog"):
            name = "s" + name[1:]
    if not RULES[rule](name):  # a bug, not a user error: every path maps to a valid name
        raise AssertionError(f"generated {rule} name {name!r} breaks the cloud's rules")
    return name


def say_override(construct: Construct, argument: str, default: str) -> str:
    """Warn (`SecureDefaultOverridden`) and annotate `construct` that `argument` overrides
    the secure default `default`."""
    message = warn_override(construct.node.path, argument, default, stacklevel=4)
    Annotations.of(construct).add_warning(message)
    return message


def merged(construct: Construct, defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None,
           secure: Mapping[str, str], *, fixed: Iterable[str], argument: str) -> dict[str, Any]:
    """`merge_props` for one resource, saying each replaced secure default out loud."""
    result: MergedProps = merge_props(defaults, overrides, secure, fixed=fixed,
                                      argument=argument)
    for replaced in result.overridden:
        say_override(construct, argument, replaced)
    return result.values


def beta_provider(scope: Construct, where: Placement) -> str:
    """The google-beta provider service identities are created with, as the reference a
    resource names: the stack's own unaliased one (`google-beta`) if the user declared it,
    else one aliased `synth` (`google-beta.synth`) that copies the google provider's
    project, region and credentials settings.

    The aliased provider is written into the stack's JSON directly rather than through
    `cdktn_provider_google_beta`: loading that package's jsii assembly roughly doubles the
    time and memory of a GCP synth, for one provider block and one resource type."""
    stack = TerraformStack.of(scope)
    declared = [c for c in stack.node.children
                if getattr(c, "terraform_resource_type", None) == "google-beta"]
    if any(not child.alias for child in declared):
        return "google-beta"
    reference = f"google-beta.{ALIAS}"
    if stack.node.try_find_child(_BETA_MARKER) is not None:
        return reference
    google = google_provider(scope)
    config: dict[str, Any] = {"alias": ALIAS, "project": where.project,
                              "region": where.region}
    if google is not None:
        for setting in _SHARED_PROVIDER_SETTINGS:
            value = getattr(google, setting, None)
            if value is not None:
                config[setting] = value
    if declared:  # the user's own aliased google-beta providers: ours joins them
        from cdktn_provider_google_beta.provider import GoogleBetaProvider

        GoogleBetaProvider(stack, _BETA_MARKER, **config)
        return reference
    Construct(stack, _BETA_MARKER)  # marks the provider block below as written
    stack.add_override("provider.google-beta", [config])
    version = google.terraform_generator_metadata.provider_version if google else None
    stack.add_override("terraform.required_providers.google-beta", {
        "source": "hashicorp/google-beta", **({"version": version} if version else {})})
    return reference



def docker_provider(scope: Construct, registry: str) -> Any:
    """A docker provider (alias `synth_<registry>`) that pushes to the Artifact Registry host
    `registry` with the deploying identity's access token: the deploy builds and pushes the
    service image itself, so no `docker login` comes first."""
    from cdktn_provider_docker.provider import DockerProvider, DockerProviderRegistryAuth
    from cdktn_provider_google.data_google_client_config import DataGoogleClientConfig

    stack = TerraformStack.of(scope)
    construct_id = f"SynthDocker-{registry}"
    existing = stack.node.try_find_child(construct_id)
    if existing is not None:
        return existing
    client = stack.node.try_find_child("SynthClientConfig") or DataGoogleClientConfig(
        stack, "SynthClientConfig")
    return DockerProvider(
        stack, construct_id,
        alias=f"{ALIAS}_{re.sub(r'[^a-z0-9]', '_', registry.lower())}",
        registry_auth=[DockerProviderRegistryAuth(
            address=registry, username="oauth2accesstoken", password=client.access_token)],
    )
