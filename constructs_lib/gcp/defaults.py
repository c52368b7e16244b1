"""Secure defaults of the GCP constructs, as small pure functions of the spec.

Each function returns plain values (no provider import), so the defaults can be read,
tested and reused without loading the google provider. The constructs merge explicit user
overrides on top; `warn_weakened` says out loud when an override weakens a default.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

from ..naming import gcp_region
from ..spec import PlatformSpec

__all__ = [
    "FUNCTION_ENTRY_POINT",
    "FUNCTION_RUNTIME",
    "INGRESS",
    "KEY_ROTATION_PERIOD",
    "REQUIRED_APIS",
    "SecureDefaultWarning",
    "bucket_location",
    "cpu_for_memory",
    "datastore_condition",
    "deletion_policy",
    "firestore_delete_protection",
    "force_destroy",
    "grantee_member",
    "latency_threshold_ms",
    "member_for",
    "object_prefix_condition",
    "required_apis",
    "samples_prefix",
    "validate_member",
    "warn_weakened",
]

#: Cloud KMS rotates the data key every 90 days (CIS GCP 1.10 asks for <= 90 days).
KEY_ROTATION_PERIOD = "7776000s"
#: The Cloud Functions (gen2) runtime and the function the service's source exposes.
FUNCTION_RUNTIME = "python311"
FUNCTION_ENTRY_POINT = "synth_http"

#: Generator ingress: "all" (the internet may connect, but IAM still requires an
#: authorised identity) or "internal-and-cloud-load-balancing" (only VPC and a load
#: balancer). Cloud Run names / Cloud Functions names.
INGRESS: dict[str, tuple[str, str]] = {
    "all": ("INGRESS_TRAFFIC_ALL", "ALLOW_ALL"),
    "internal-and-cloud-load-balancing": (
        "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER", "ALLOW_INTERNAL_AND_GCLB"),
}

#: APIs each part needs, enabled explicitly so a fresh project deploys in one apply.
REQUIRED_APIS: dict[str, tuple[str, ...]] = {
    "bucket": ("storage.googleapis.com",),
    "kms": ("cloudkms.googleapis.com",),
    "metadata": ("firestore.googleapis.com",),
    "secrets": ("secretmanager.googleapis.com",),
    "identity": ("iam.googleapis.com",),
    "monitoring": ("monitoring.googleapis.com",),
    "container": ("run.googleapis.com", "artifactregistry.googleapis.com"),
    "source": ("cloudfunctions.googleapis.com", "run.googleapis.com",
               "cloudbuild.googleapis.com", "artifactregistry.googleapis.com"),
}

_MEMBER = re.compile(
    r"^(user|serviceAccount|group|domain|principal|principalSet):[^\s]+$"
)


class SecureDefaultWarning(UserWarning):
    """An explicit argument turned off or weakened one of the constructs' secure defaults."""


def warn_weakened(construct: str, default: str, override: str) -> None:
    """Say out loud that `override` weakens the secure default `default` of `construct`."""
    warnings.warn(
        f"{construct}: {override} turns off the secure default '{default}'",
        SecureDefaultWarning,
        stacklevel=3,
    )


def samples_prefix(purpose: str) -> str:
    """Where the service writes generated samples under the storage URL's prefix
    (`data/samples/` for the data bucket); `storage.retention_days` expires them."""
    return f"{purpose}/samples/"


def bucket_location(spec: PlatformSpec) -> str:
    """Buckets are regional, in the platform's region (same location as the KMS key)."""
    return gcp_region(spec).upper()


def force_destroy(removal_policy: str) -> bool:
    """Only a 'destroy' policy lets Terraform delete a bucket that still holds objects."""
    return removal_policy == "destroy"


def deletion_policy(removal_policy: str) -> str:
    """Firestore: 'retain' abandons the database on destroy (data kept), 'destroy' deletes."""
    return "DELETE" if removal_policy == "destroy" else "ABANDON"


def firestore_delete_protection(enabled: bool) -> str:
    return "DELETE_PROTECTION_ENABLED" if enabled else "DELETE_PROTECTION_DISABLED"


def datastore_condition(project: str, database: str) -> str:
    """IAM condition limiting a project-level Firestore grant to exactly one database."""
    return f'resource.name == "projects/{project}/databases/{database}"'


def object_prefix_condition(bucket: str, prefix: str) -> str:
    """IAM condition for a bucket grant: the bucket itself (to list it) and objects under
    `<prefix>/` only."""
    return (f'resource.type == "storage.googleapis.com/Bucket" || '
            f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}/")')


def cpu_for_memory(memory_mb: int) -> str:
    """Fewest vCPUs Cloud Run / Cloud Functions gen2 allow with this much memory."""
    if memory_mb <= 4096:
        return "1"
    if memory_mb <= 8192:
        return "2"
    return "4"


def latency_threshold_ms(spec: PlatformSpec) -> float:
    """p99 latency alarm threshold: `latency_threshold_ratio` x the request timeout."""
    return round(spec.monitoring.latency_threshold_ratio * spec.generator.timeout_seconds * 1000, 3)


def required_apis(spec: PlatformSpec, *parts: str) -> tuple[str, ...]:
    """The service names (`run.googleapis.com`, ...) the given parts need, in stable order."""
    found: list[str] = []
    for part in parts:
        for api in REQUIRED_APIS[part]:
            if api not in found:
                found.append(api)
    return tuple(found)


def validate_member(member: str, *, argument: str) -> str:
    """Reject public principals and malformed IAM members before anything is synthesized."""
    if member in ("allUsers", "allAuthenticatedUsers"):
        raise ValueError(
            f"{argument}: {member!r} would make the generator public; name the callers "
            "explicitly, e.g. 'serviceAccount:caller@project.iam.gserviceaccount.com' or "
            "'group:data-science@example.com'"
        )
    if not _MEMBER.match(member):
        raise ValueError(
            f"{argument}: {member!r} is not an IAM member; write it as 'user:EMAIL', "
            "'serviceAccount:EMAIL', 'group:EMAIL' or 'domain:DOMAIN'"
        )
    return member


def member_for(grantee: str) -> str:
    """An IAM member string from a grantee.

    A member string (`user:...`, `serviceAccount:...`) is validated as is; a bare e-mail
    becomes `serviceAccount:` (ends in `.gserviceaccount.com`) or `user:`; an unresolved
    Terraform token (for example `service_account.email`) is taken as a service account.
    """
    if grantee.startswith("${TfToken[") and grantee.endswith("]}"):
        return f"serviceAccount:{grantee}"
    if ":" in grantee or grantee in ("allUsers", "allAuthenticatedUsers"):
        return validate_member(grantee, argument="grantee")
    kind = "serviceAccount" if grantee.endswith(".gserviceaccount.com") else "user"
    return validate_member(f"{kind}:{grantee}", argument="grantee")


def grantee_member(grantee: object) -> tuple[str, str | None]:
    """The IAM member for a grantee (member string, e-mail, token or `ServiceAccount`) and
    a stable construct-id part for its grant (None for an unresolved token: use a counter).
    """
    if hasattr(grantee, "email") and hasattr(grantee, "node"):  # a ServiceAccount
        # its construct path below the stack: unique, and stable across synths
        path = grantee.node.path.split("/", 1)[-1]
        return f"serviceAccount:{grantee.email}", re.sub(r"[^A-Za-z0-9]+", "-", path)
    member = member_for(str(grantee))
    if "${" in member:
        return member, None
    return member, re.sub(r"[^A-Za-z0-9]+", "-", member).strip("-")


def check_choice(value: str, allowed: Sequence[str], *, argument: str) -> str:
    """`value` if it is one of `allowed`, else a ValueError naming the argument and choices."""
    if value not in allowed:
        raise ValueError(f"{argument}: {value!r} is not one of {', '.join(map(repr, allowed))}")
    return value
