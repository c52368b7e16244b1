"""Resource names and tags derived from a `PlatformSpec`, one function per cloud.

Each cloud has its own rules (S3 buckets 3-63 lowercase, Azure storage accounts 3-24
alphanumeric, Kubernetes DNS-1123 labels, ...). The functions here build every physical
name from `<name>-<environment>-<purpose>` and, where a rule's length would be exceeded,
shorten the base and append a stable 6-character hash so names stay unique and
predictable. Globally unique names (buckets, storage accounts, key vaults) also carry a
hash of the placement (account / project, region) so two deployments never collide.

The `RULES` table holds one validator per kind of name; tests run every derived name
through it for arbitrary valid specs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, fields

from .spec import PlatformSpec

__all__ = [
    "AwsNames",
    "AzureNames",
    "GcpNames",
    "KubernetesNames",
    "RULES",
    "aws_names",
    "aws_tags",
    "azure_names",
    "azure_tags",
    "gcp_bucket_name",
    "gcp_labels",
    "gcp_names",
    "gcp_region",
    "kubernetes_labels",
    "kubernetes_names",
]


def _hash(*parts: str, length: int = 6) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _fit(base: str, max_len: int, *, unique: str | None = None, sep: str = "-") -> str:
    """`base` (plus `sep + hash(unique)` if given), cut to `max_len` keeping the hash."""
    suffix = f"{sep}{_hash(unique)}" if unique is not None else ""
    if len(base) + len(suffix) <= max_len:
        return base + suffix
    if not suffix:
        suffix = f"{sep}{_hash(base)}"
    head = base[: max_len - len(suffix)].rstrip("-_.")
    return head + suffix


def _stem(spec: PlatformSpec) -> str:
    return f"{spec.name}-{spec.environment}"


# -- rules: one validator per kind of name -------------------------------------------------

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _s3_bucket(name: str) -> bool:
    return (
        3 <= len(name) <= 63
        and re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name) is not None
        and ".." not in name
        and not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name)
        and not name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        and not name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3"))
    )


RULES: dict[str, Callable[[str], bool]] = {
    "aws.stack": lambda n: re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", n) is not None,
    "aws.s3_bucket": _s3_bucket,
    "aws.dynamodb_table": lambda n: re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", n) is not None,
    "aws.lambda_function": lambda n: re.fullmatch(r"[A-Za-z0-9_-]{1,64}", n) is not None,
    "aws.secret": lambda n: re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", n) is not None,
    "aws.log_group": lambda n: re.fullmatch(r"[A-Za-z0-9_/.#-]{1,512}", n) is not None,
    "aws.sqs_queue": lambda n: re.fullmatch(r"[A-Za-z0-9_-]{1,80}", n) is not None,
    "aws.iam_role": lambda n: re.fullmatch(r"[A-Za-z0-9+=,.@_-]{1,64}", n) is not None,
    "aws.kms_alias": lambda n: re.fullmatch(r"alias/[A-Za-z0-9/_-]{1,250}", n) is not None
    and not n.startswith("alias/aws/"),
    "gcp.bucket": lambda n: 3 <= len(n) <= 63
    and re.fullmatch(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]", n) is not None
    and not n.startswith("goog") and "google" not in n,
    "gcp.service_account_id": lambda n: re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", n)
    is not None,
    "gcp.cloud_run_service": lambda n: re.fullmatch(r"[a-z][a-z0-9-]{0,47}[a-z0-9]", n)
    is not None,
    "gcp.cloud_function": lambda n: re.fullmatch(r"[a-z][a-z0-9-]{0,61}[a-z0-9]", n)
    is not None,
    "gcp.secret_id": lambda n: re.fullmatch(r"[A-Za-z0-9_-]{1,255}", n) is not None,
    "gcp.firestore_database": lambda n: re.fullmatch(r"[a-z][a-z0-9-]{2,61}[a-z0-9]", n)
    is not None,
    "gcp.kms_key_ring": lambda n: re.fullmatch(r"[A-Za-z0-9_-]{1,63}", n) is not None,
    "gcp.artifact_repository": lambda n: re.fullmatch(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", n)
    is not None,
    "azure.resource_group": lambda n: re.fullmatch(r"[A-Za-z0-9_().-]{0,89}[A-Za-z0-9_()-]", n)
    is not None,
    "azure.storage_account": lambda n: re.fullmatch(r"[a-z0-9]{3,24}", n) is not None,
    "azure.storage_container": lambda n: re.fullmatch(r"[a-z0-9](-?[a-z0-9])*", n) is not None
    and 3 <= len(n) <= 63,
    "azure.key_vault": lambda n: re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]", n)
    is not None and "--" not in n,
    "azure.function_app": lambda n: re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]", n)
    is not None,
    "azure.cosmos_account": lambda n: re.fullmatch(r"[a-z0-9][a-z0-9-]{1,42}[a-z0-9]", n)
    is not None,
    "kubernetes.dns_label": lambda n: len(n) <= 63 and _DNS_LABEL.fullmatch(n) is not None,
    "kubernetes.label_value": lambda n: len(n) <= 63
    and re.fullmatch(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?", n) is not None,
}


def _check(names: object, kinds: dict[str, str]) -> None:
    for field in fields(names):  # type: ignore[arg-type]
        value = getattr(names, field.name)
        rule = kinds[field.name]
        if not RULES[rule](value):  # a bug here, not a user error: the spec was valid
            raise AssertionError(f"derived {rule} name {value!r} breaks the cloud's rules")


# -- AWS ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwsNames:
    stack: str
    data_bucket: str
    access_log_bucket: str
    metadata_table: str
    function: str
    secret: str
    log_group: str
    dead_letter_queue: str
    job_queue: str
    job_dead_letter_queue: str
    kms_alias: str


_AWS_KINDS = {
    "stack": "aws.stack",
    "data_bucket": "aws.s3_bucket",
    "access_log_bucket": "aws.s3_bucket",
    "metadata_table": "aws.dynamodb_table",
    "function": "aws.lambda_function",
    "secret": "aws.secret",
    "log_group": "aws.log_group",
    "dead_letter_queue": "aws.sqs_queue",
    "job_queue": "aws.sqs_queue",
    "job_dead_letter_queue": "aws.sqs_queue",
    "kms_alias": "aws.kms_alias",
}


def aws_names(spec: PlatformSpec) -> AwsNames:
    """Physical names for the AWS platform. Buckets carry a hash of account and region."""
    stem = _stem(spec)
    placement = f"aws/{spec.account or 'any'}/{spec.region}/{stem}"
    names = AwsNames(
        stack=_fit(f"synth-{stem}", 128),
        data_bucket=_fit(f"synth-{stem}-data", 63, unique=placement),
        access_log_bucket=_fit(f"synth-{stem}-logs", 63, unique=placement),
        metadata_table=_fit(f"synth-{stem}-metadata", 255),
        function=_fit(f"synth-{stem}-generator", 64),
        secret=f"synth/{stem}/api-pepper",
        log_group=f"/synth/{stem}/generator",
        dead_letter_queue=_fit(f"synth-{stem}-dlq", 80),
        job_queue=_fit(f"synth-{stem}-jobs", 80),
        job_dead_letter_queue=_fit(f"synth-{stem}-jobs-dlq", 80),
        kms_alias=f"alias/synth/{stem}",
    )
    _check(names, _AWS_KINDS)
    return names


def aws_tags(spec: PlatformSpec) -> dict[str, str]:
    """Tags for every AWS resource (keys up to 128, values up to 256 characters)."""
    return _common_tags(spec)


# -- GCP ----------------------------------------------------------------------------------

#: A GCP region id: `europe-west1`, `us-central1`, `northamerica-northeast2` (AWS writes
#: `eu-west-1`, Azure `westeurope`, so neither matches).
_GCP_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
DEFAULT_GCP_REGION = "europe-west1"


def gcp_region(spec: PlatformSpec) -> str:
    """The GCP region: `spec.gcp.region`, else `spec.region` if it is a GCP region id,
    else 'europe-west1'. Every GCP construct and name takes its region from here."""
    if spec.gcp.region:
        return spec.gcp.region
    if _GCP_REGION.match(spec.region):
        return spec.region
    return DEFAULT_GCP_REGION


@dataclass(frozen=True)
class GcpNames:
    data_bucket: str
    access_log_bucket: str
    source_bucket: str
    state_bucket: str
    firestore_database: str
    service: str
    service_account: str
    secret: str
    key_ring: str
    crypto_key: str
    metadata_key_ring: str
    metadata_crypto_key: str
    artifact_repository: str


_GCP_KINDS = {
    "data_bucket": "gcp.bucket",
    "access_log_bucket": "gcp.bucket",
    "source_bucket": "gcp.bucket",
    "state_bucket": "gcp.bucket",
    "firestore_database": "gcp.firestore_database",
    "service": "gcp.cloud_run_service",
    "service_account": "gcp.service_account_id",
    "secret": "gcp.secret_id",
    "key_ring": "gcp.kms_key_ring",
    "crypto_key": "gcp.kms_key_ring",
    "metadata_key_ring": "gcp.kms_key_ring",
    "metadata_crypto_key": "gcp.kms_key_ring",
    "artifact_repository": "gcp.artifact_repository",
}


def gcp_bucket_name(spec: PlatformSpec, purpose: str) -> str:
    """Globally unique bucket name `synth-<name>-<env>-<purpose>-<placement hash>`."""
    stem = _stem(spec)
    placement = f"gcp/{spec.gcp.project}/{gcp_region(spec)}/{stem}"
    name = _fit(f"synth-{stem}-{purpose}", 63, unique=placement)
    if not RULES["gcp.bucket"](name):
        raise ValueError(
            f"bucket purpose {purpose!r} gives the invalid bucket name {name!r}: use lowercase "
            "letters, digits and '-' (for example 'data' or 'exports')"
        )
    return name


def gcp_names(spec: PlatformSpec) -> GcpNames:
    """Physical names for the GCP platform. Buckets carry a hash of project and region.

    KMS key rings and keys can never be deleted on GCP, so their names are fixed per
    platform and environment: a destroyed and re-created stack reuses them.
    """
    stem = _stem(spec)
    names = GcpNames(
        data_bucket=gcp_bucket_name(spec, "data"),
        access_log_bucket=gcp_bucket_name(spec, "logs"),
        source_bucket=gcp_bucket_name(spec, "source"),
        state_bucket=gcp_bucket_name(spec, "tfstate"),
        firestore_database=_fit(f"synth-{stem}", 63),
        service=_fit(f"synth-{stem}", 49),
        service_account=_fit(f"synth-{stem}", 30),
        secret=_fit(f"synth-{stem}-api-pepper", 255),
        key_ring=_fit(f"synth-{stem}", 63),
        crypto_key=_fit(f"synth-{stem}-data", 63),
        metadata_key_ring=_fit(f"synth-{stem}-metadata", 63),
        metadata_crypto_key=_fit(f"synth-{stem}-metadata", 63),
        artifact_repository=_fit(f"synth-{stem}", 63),
    )
    _check(names, _GCP_KINDS)
    return names


def gcp_labels(spec: PlatformSpec) -> dict[str, str]:
    """Labels for every GCP resource: lowercase keys and values, at most 63 characters."""
    return {_label(k, key=True): _label(v) for k, v in _common_tags(spec).items()}


def _label(value: str, *, key: bool = False) -> str:
    out = re.sub(r"[^a-z0-9_-]", "_", value.lower())[:63]
    if key and not re.match(r"^[a-z]", out):
        out = ("k" + out)[:63]
    return out


# -- Azure --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AzureNames:
    resource_group: str
    storage_account: str
    data_container: str
    key_vault: str
    function_app: str
    cosmos_account: str


_AZURE_KINDS = {
    "resource_group": "azure.resource_group",
    "storage_account": "azure.storage_account",
    "data_container": "azure.storage_container",
    "key_vault": "azure.key_vault",
    "function_app": "azure.function_app",
    "cosmos_account": "azure.cosmos_account",
}


def azure_names(spec: PlatformSpec) -> AzureNames:
    """Physical names for the Azure platform; global names carry a placement hash."""
    stem = _stem(spec)
    placement = f"azure/{spec.region}/{stem}"
    compact = re.sub(r"[^a-z0-9]", "", f"synth{spec.name}{spec.environment}")
    names = AzureNames(
        resource_group=_fit(f"rg-synth-{stem}", 90),
        storage_account=_fit(compact, 24, unique=placement, sep=""),
        data_container="synth-data",
        key_vault=_fit(f"kv-{stem}", 24, unique=placement),
        function_app=_fit(f"synth-{stem}", 60, unique=placement),
        cosmos_account=_fit(f"synth-{stem}", 44, unique=placement),
    )
    _check(names, _AZURE_KINDS)
    return names


def azure_tags(spec: PlatformSpec) -> dict[str, str]:
    """Tags for every Azure resource (keys may not hold < > % & \\ ? /)."""
    return {re.sub(r"[<>%&\\?/]", "-", k): v for k, v in _common_tags(spec).items()}


# -- Kubernetes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KubernetesNames:
    namespace: str
    deployment: str
    service: str
    service_account: str
    secret: str
    config_map: str


_KUBERNETES_KINDS = {f.name: "kubernetes.dns_label" for f in fields(KubernetesNames)}


def kubernetes_names(spec: PlatformSpec) -> KubernetesNames:
    """Object names, all DNS-1123 labels (at most 63 lowercase alphanumerics and '-')."""
    stem = _stem(spec)
    names = KubernetesNames(
        namespace=spec.kubernetes.namespace or _fit(f"synth-{stem}", 63),
        deployment=_fit(f"synth-{stem}-generator", 63),
        service=_fit(f"synth-{stem}", 63),
        service_account=_fit(f"synth-{stem}-generator", 63),
        secret=_fit(f"synth-{stem}-api-pepper", 63),
        config_map=_fit(f"synth-{stem}-contract", 63),
    )
    _check(names, _KUBERNETES_KINDS)
    return names


def kubernetes_labels(spec: PlatformSpec) -> dict[str, str]:
    """Recommended `app.kubernetes.io/*` labels plus the ownership tags as label values."""
    def value(v: str) -> str:
        out = re.sub(r"[^A-Za-z0-9_.-]", "_", v)[:63]
        return out.strip("_.-") or "none"

    return {
        "app.kubernetes.io/name": "synthdata",
        "app.kubernetes.io/instance": value(_stem(spec)),
        "app.kubernetes.io/managed-by": "synthdata-constructs",
        "synthdata.io/owner": value(spec.tags.owner),
        "synthdata.io/cost-centre": value(spec.tags.cost_centre),
        "synthdata.io/environment": spec.environment,
    }


# -- shared -------------------------------------------------------------------------------


def _common_tags(spec: PlatformSpec) -> dict[str, str]:
    tags = {
        "synthdata:platform": spec.name,
        "synthdata:environment": spec.environment,
        "owner": spec.tags.owner,
        "cost-centre": spec.tags.cost_centre,
        "managed-by": "synthdata-constructs",
    }
    tags.update(spec.tags.extra)
    return tags
