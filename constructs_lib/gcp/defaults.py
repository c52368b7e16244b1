"""Secure defaults of the GCP constructs, as small pure functions of the spec.

Nothing here imports the google provider, so the defaults can be read, tested and reused
without loading it. Each `*_defaults` function returns the resource's keyword arguments;
the constructs merge the user's `*_props` over them (`stack.merged`), and each `SECURE_*`
map names the properties that carry a secure default, so replacing one is said out loud.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..spec import PlatformSpec
from ..types import RemovalPolicy

__all__ = [
    "API_KEY_AUTH_INGRESS",
    "FUNCTION_ENTRY_POINT",
    "FUNCTION_RUNTIME",
    "INGRESS",
    "JOB_TIMEOUT_SECONDS",
    "KEY_ROTATION_PERIOD",
    "REQUIRED_APIS",
    "RUN_JOB_LIMITS",
    "SECURE_BUCKET",
    "SECURE_DATABASE",
    "SECURE_SERVICE",
    "check_choice",
    "cpu_for_memory",
    "datastore_condition",
    "deletion_policy",
    "firestore_delete_protection",
    "job_size",
    "latency_threshold_ms",
    "member_for",
    "object_prefix_condition",
    "required_apis",
    "samples_prefix",
    "validate_member",
]

#: Cloud KMS rotates the data key every 90 days (CIS GCP 1.10 asks for <= 90 days).
KEY_ROTATION_PERIOD = "7776000s"
#: The Cloud Functions (gen2) runtime and the function the service's source exposes.
FUNCTION_RUNTIME = "python311"
FUNCTION_ENTRY_POINT = "synth_http"
#: Longest run of one long-running job task (Cloud Run Jobs allow up to 168 h).
JOB_TIMEOUT_SECONDS = 24 * 3600

#: Generator ingress: "all" (the internet may connect; with `api.auth: iam` Cloud Run IAM
#: still requires an authorised identity) or "internal-and-cloud-load-balancing" (only the
#: VPC and a load balancer). Cloud Run names / Cloud Functions names.
INGRESS: dict[str, tuple[str, str]] = {
    "all": ("INGRESS_TRAFFIC_ALL", "ALLOW_ALL"),
    "internal-and-cloud-load-balancing": (
        "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER", "ALLOW_INTERNAL_AND_GCLB"),
}
API_KEY_AUTH_INGRESS = "all"

#: Cloud Run Jobs task sizes: most memory (MiB) each vCPU count allows. Fargate allows
#: more memory per vCPU and 16 vCPUs, so some `jobs.*` sizes cannot be honoured here.
RUN_JOB_LIMITS: dict[int, int] = {1: 4096, 2: 8192, 4: 16384, 8: 32768}

#: APIs each part needs, enabled explicitly so a fresh project deploys in one apply.
REQUIRED_APIS: dict[str, tuple[str, ...]] = {
    "project": ("cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com"),
    "bucket": ("storage.googleapis.com",),
    "kms": ("cloudkms.googleapis.com",),
    "metadata": ("firestore.googleapis.com",),
    "secrets": ("secretmanager.googleapis.com",),
    # iamcredentials: the runtime identity signs download links through signBlob.
    "identity": ("iam.googleapis.com", "iamcredentials.googleapis.com"),
    "monitoring": ("monitoring.googleapis.com",),
    "logging": ("logging.googleapis.com",),
    "network": ("compute.googleapis.com",),
    "image": ("artifactregistry.googleapis.com",),
    "container": ("run.googleapis.com",),
    "jobs": ("run.googleapis.com",),
    "source": ("cloudfunctions.googleapis.com", "run.googleapis.com",
               "cloudbuild.googleapis.com", "artifactregistry.googleapis.com"),
}

#: Secure defaults of a bucket's properties (`bucket_props=` may replace them, loudly).
SECURE_BUCKET = {
    "uniform_bucket_level_access": "uniform bucket-level access: no object ACLs",
    "public_access_prevention": "public access prevention enforced",
    "versioning": "versioning on",
}
#: Secure defaults of the Firestore database's properties (`store_props=`).
SECURE_DATABASE = {
    "point_in_time_recovery_enablement": "point-in-time recovery on",
    "delete_protection_state": "delete protection on in production",
    "app_engine_integration_mode": "App Engine integration off",
}
#: Secure defaults of the Cloud Run service's properties (`service_props=`).
SECURE_SERVICE = {
    "invoker_iam_disabled": "the endpoint's IAM check follows api.auth",
    "ingress": "ingress as chosen by the ingress argument",
    "deletion_protection": "deletion protection unless the removal policy is destroy",
}

_MEMBER = re.compile(r"^(user|serviceAccount|group|domain|principal|principalSet):[^\s]+$")


def samples_prefix(purpose: str) -> str:
    """Where the service writes generated samples under the storage URL's prefix
    (`data/samples/` for the data bucket); `storage.retention_days` expires them."""
    return f"{purpose}/samples/"


def deletion_policy(removal_policy: RemovalPolicy) -> str:
    """Firestore: 'retain' abandons the database on destroy (data kept), 'destroy' deletes."""
    return "DELETE" if removal_policy is RemovalPolicy.DESTROY else "ABANDON"


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


def job_size(spec: PlatformSpec) -> tuple[int, int]:
    """(vCPUs, MiB) of one long-running job task: `jobs.cpu` / 1024 and `jobs.memory_mb`.

    Raises `UnsupportedOnCloud` for sizes Cloud Run Jobs cannot run (more than 8 vCPUs, or
    more memory than the vCPUs allow), naming the field and a size that fits.
    """
    from ..types import UnsupportedOnCloud

    vcpu, memory = spec.jobs.cpu // 1024, spec.jobs.memory_mb
    if vcpu not in RUN_JOB_LIMITS:
        raise UnsupportedOnCloud(
            "jobs.cpu", "gcp", f"Cloud Run Jobs run at most 8 vCPUs, not {vcpu}",
            "use jobs.cpu 8192 or less")
    if memory > RUN_JOB_LIMITS[vcpu]:
        fits = next(c for c, m in sorted(RUN_JOB_LIMITS.items()) if m >= memory) \
            if memory <= max(RUN_JOB_LIMITS.values()) else None
        fix = (f"use jobs.cpu {fits * 1024} for {memory} MiB, or jobs.memory_mb "
               f"{RUN_JOB_LIMITS[vcpu]} or less" if fits else
               f"use jobs.memory_mb {max(RUN_JOB_LIMITS.values())} or less")
        raise UnsupportedOnCloud(
            "jobs.memory_mb", "gcp",
            f"Cloud Run Jobs give {vcpu} vCPU(s) at most {RUN_JOB_LIMITS[vcpu]} MiB", fix)
    return vcpu, memory


def latency_threshold_ms(spec: PlatformSpec) -> float:
    """p99 latency alarm threshold: `latency_threshold_ratio` x the request timeout."""
    return round(spec.monitoring.latency_threshold_ratio * spec.generator.timeout_seconds * 1000, 3)


def required_apis(*parts: str) -> tuple[str, ...]:
    """The service names (`run.googleapis.com`, ...) the given parts need, in stable order.
    Every part also needs the project-level APIs (resource manager, service usage)."""
    found: list[str] = []
    for part in ("project", *parts):
        for api in REQUIRED_APIS[part]:
            if api not in found:
                found.append(api)
    return tuple(found)


def validate_member(member: str, *, argument: str) -> str:
    """Reject public principals and malformed IAM members before anything is synthesized."""
    if member in ("allUsers", "allAuthenticatedUsers"):
        raise ValueError(
            f"{argument}: {member!r} would make the generator public at the IAM layer; with "
            "api.auth 'api_key' the endpoint is already open and the service checks keys. "
            "Name callers explicitly, e.g. 'serviceAccount:caller@project.iam."
            "gserviceaccount.com' or 'group:data-science@example.com'"
        )
    if not _MEMBER.match(member):
        raise ValueError(
            f"{argument}: {member!r} is not an IAM member; write it as 'user:EMAIL', "
            "'serviceAccount:EMAIL', 'group:EMAIL' or 'domain:DOMAIN'"
        )
    return member


def member_for(grantee: str) -> str:
    """An IAM member string from a grantee string.

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


def check_choice(value: str, allowed: Sequence[str], *, argument: str) -> str:
    """`value` if it is one of `allowed`, else a ValueError naming the argument and choices."""
    if value not in allowed:
        raise ValueError(f"{argument}: {value!r} is not one of {', '.join(map(repr, allowed))}")
    return value
