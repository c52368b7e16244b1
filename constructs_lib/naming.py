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
from dataclasses import dataclass, fields, replace

from .spec import PlatformSpec

__all__ = [
    "AwsNames",
    "AzureNames",
    "GcpNames",
    "KubernetesNames",
    "RULES",
    "aws_bucket_name",
    "aws_names",
    "aws_tags",
    "azure_location",
    "azure_names",
    "azure_placement",
    "azure_tags",
    "gcp_bucket_name",
    "gcp_labels",
    "gcp_names",
    "gcp_region",
    "gcp_spec_region",
    "generated_name",
    "kubernetes_labels",
    "kubernetes_name",
    "kubernetes_names",
    "kubernetes_stack_name",
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


# -- generated names (PhysicalNames.GENERATED on the Terraform clouds) --------------------


def generated_name(
    path: str,
    *,
    max_len: int,
    unique: str = "",
    separator: str = "-",
    lowercase: bool = True,
    keep: str = "a-z0-9",
) -> str:
    """A physical name for the construct at `path`, unique per path and stable across synths.

    CloudFormation generates names on AWS; Terraform does not, so the Terraform clouds call
    this instead. The name is the construct path's readable tail (`stack/Synth/Bucket/
    Bucket` -> `synth-bucket`) plus an 8-character hash of the whole path and `unique`
    (pass the project / account and region for globally unique names such as buckets),
    cut to `max_len` from the left so the most specific parts survive. `keep` is the
    character class allowed besides the separator; the name starts with a letter.
    """
    parts = [p for p in path.split("/") if p and p not in ("Default", "Resource")]
    deduped: list[str] = []
    for part in parts[1:] or parts:  # the first part is the stack: it is in the hash
        if not deduped or deduped[-1].lower() != part.lower():
            deduped.append(part)
    text = separator.join(deduped)
    if lowercase:
        text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", separator, text).lower()
    text = re.sub(rf"[^{keep}]+", separator, text).strip(separator) if separator else re.sub(
        rf"[^{keep}]+", "", text)
    suffix = _hash(path, unique, length=8)
    room = max_len - len(suffix) - len(separator)
    head = text[-room:] if room > 0 else ""
    if separator and len(text) > room > 0 and text[-room - 1] != separator and separator in head:
        head = head.split(separator, 1)[1]  # cut between words, not inside one
    head = head.lstrip(separator + "_.")
    name = f"{head}{separator}{suffix}" if head else suffix
    if not name[0].isalpha():
        name = ("s" + name)[:max_len] if len(name) < max_len else "s" + name[1:]
    return name


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
    "gcp.cloud_run_job": lambda n: re.fullmatch(r"[a-z][a-z0-9-]{0,47}[a-z0-9]", n)
    is not None,
    "gcp.network": lambda n: re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", n) is not None,
    "gcp.log_bucket": lambda n: re.fullmatch(r"[A-Za-z0-9_-]{1,100}", n) is not None,
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
    "azure.cosmos_database": lambda n: re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,254}", n)
    is not None,
    "azure.container_app": lambda n: re.fullmatch(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", n)
    is not None and "--" not in n,
    "azure.storage_queue": lambda n: re.fullmatch(r"[a-z0-9](-?[a-z0-9])*", n) is not None
    and 3 <= len(n) <= 63,
    "azure.container_registry": lambda n: re.fullmatch(r"[a-zA-Z0-9]{5,50}", n) is not None,
    "azure.log_analytics": lambda n: re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]", n)
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


_ACCOUNT_ID = re.compile(r"\d{12}")


def aws_bucket_name(spec: PlatformSpec, purpose: str, *, account: str | None = None,
                    region: str | None = None) -> str:
    """Spec-derived S3 bucket name `synth-<name>-<env>-<purpose>-...` (for
    `PhysicalNames.FROM_SPEC`), unique per account and region.

    `account` (default: `spec.account`) may be a 12-digit id, giving a name that ends in
    a hash of account, region and spec; or a deploy-time token (CDK's `Aws.ACCOUNT_ID` in an
    environment-agnostic stack), giving `<base>-<account id>`, so the same spec in two
    accounts never asks for one name. Without any account the hash covers region and spec
    only. `region` defaults to `spec.region`.
    """
    return _aws_bucket(spec, purpose, account, region)[0]


def _aws_bucket(spec: PlatformSpec, purpose: str, account: str | None,
                region: str | None) -> tuple[str, str]:
    """(name, the name with a token account replaced by 12 digits, as validated)."""
    account = account or spec.account
    region = region or spec.region
    stem = _stem(spec)
    base = f"synth-{stem}-{purpose}"
    if account is None or _ACCOUNT_ID.fullmatch(account):
        name = _fit(base, 63, unique=f"aws/{account or 'any'}/{region}/{stem}")
        checked = name
    else:  # a token: CloudFormation puts the 12-digit account id in at deploy
        name = f"{_fit(base, 50, unique=f'aws/{region}/{stem}')}-{account}"
        checked = name.replace(account, "0" * 12)
    if not RULES["aws.s3_bucket"](checked):
        raise ValueError(
            f"bucket purpose {purpose!r} gives the invalid bucket name {checked!r}: use "
            "lowercase letters, digits and '-' (for example 'data' or 'exports')"
        )
    return name, checked


def aws_names(spec: PlatformSpec, *, account: str | None = None,
              region: str | None = None) -> AwsNames:
    """Spec-derived physical names for the AWS platform (`PhysicalNames.FROM_SPEC`).

    Bucket names are global: they carry the account (see `aws_bucket_name`; the constructs
    pass their stack's account, a token when the stack is environment-agnostic). Every
    other name is unique per account and region only, so two platforms from one spec in
    one account need `PhysicalNames.GENERATED` (the default).
    """
    stem = _stem(spec)
    data, data_checked = _aws_bucket(spec, "data", account, region)
    logs, logs_checked = _aws_bucket(spec, "data-logs", account, region)
    names = AwsNames(
        stack=_fit(f"synth-{stem}", 128),
        data_bucket=data,
        access_log_bucket=logs,
        metadata_table=_fit(f"synth-{stem}-metadata", 255),
        function=_fit(f"synth-{stem}-generator", 64),
        secret=f"synth/{stem}/api-pepper",
        log_group=f"/synth/{stem}/generator",
        dead_letter_queue=_fit(f"synth-{stem}-dlq", 80),
        job_queue=_fit(f"synth-{stem}-jobs", 80),
        job_dead_letter_queue=_fit(f"synth-{stem}-jobs-dlq", 80),
        kms_alias=f"alias/synth/{stem}",
    )
    _check(replace(names, data_bucket=data_checked, access_log_bucket=logs_checked),
           _AWS_KINDS)
    return names


def aws_tags(spec: PlatformSpec) -> dict[str, str]:
    """Tags for every AWS resource (keys up to 128, values up to 256 characters)."""
    return _common_tags(spec)


# -- GCP ----------------------------------------------------------------------------------

#: A GCP region id: `europe-west1`, `us-central1`, `northamerica-northeast2` (AWS writes
#: `eu-west-1`, Azure `westeurope`, so neither matches).
_GCP_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
DEFAULT_GCP_REGION = "europe-west1"


def gcp_spec_region(spec: PlatformSpec) -> str | None:
    """The GCP region the spec names: `spec.gcp.region`, else `spec.region` if it is a GCP
    region id, else None (the constructs then take the stack's google provider's region)."""
    if spec.gcp.region:
        return spec.gcp.region
    if _GCP_REGION.match(spec.region):
        return spec.region
    return None


def gcp_region(spec: PlatformSpec) -> str:
    """`gcp_spec_region(spec)`, else 'europe-west1': the region spec-derived names are
    hashed with when no other is known. The constructs never deploy to this fallback: they
    resolve the region from the spec or the stack's google provider
    (`constructs_lib.gcp.stack.placement`) and refuse a stack that names neither."""
    return gcp_spec_region(spec) or DEFAULT_GCP_REGION


@dataclass(frozen=True)
class GcpNames:
    data_bucket: str
    access_log_bucket: str
    source_bucket: str
    state_bucket: str
    firestore_database: str
    service: str
    service_account: str
    jobs_service_account: str
    worker_job: str
    long_job: str
    secret: str
    key_ring: str
    crypto_key: str
    metadata_key_ring: str
    metadata_crypto_key: str
    artifact_repository: str
    network: str
    subnetwork: str
    log_bucket: str


_GCP_KINDS = {
    "data_bucket": "gcp.bucket",
    "access_log_bucket": "gcp.bucket",
    "source_bucket": "gcp.bucket",
    "state_bucket": "gcp.bucket",
    "firestore_database": "gcp.firestore_database",
    "service": "gcp.cloud_run_service",
    "service_account": "gcp.service_account_id",
    "jobs_service_account": "gcp.service_account_id",
    "worker_job": "gcp.cloud_run_job",
    "long_job": "gcp.cloud_run_job",
    "secret": "gcp.secret_id",
    "key_ring": "gcp.kms_key_ring",
    "crypto_key": "gcp.kms_key_ring",
    "metadata_key_ring": "gcp.kms_key_ring",
    "metadata_crypto_key": "gcp.kms_key_ring",
    "artifact_repository": "gcp.artifact_repository",
    "network": "gcp.network",
    "subnetwork": "gcp.network",
    "log_bucket": "gcp.log_bucket",
}


def gcp_bucket_name(spec: PlatformSpec, purpose: str, *, project: str | None = None,
                    region: str | None = None) -> str:
    """Globally unique bucket name `synth-<name>-<env>-<purpose>-<placement hash>`; the hash
    covers the project (default `spec.gcp.project`) and region (default `gcp_region(spec)`),
    so the same spec in two projects asks for two names."""
    stem = _stem(spec)
    placement = f"gcp/{project or spec.gcp.project}/{region or gcp_region(spec)}/{stem}"
    name = _fit(f"synth-{stem}-{purpose}", 63, unique=placement)
    if not RULES["gcp.bucket"](name):
        raise ValueError(
            f"bucket purpose {purpose!r} gives the invalid bucket name {name!r}: use lowercase "
            "letters, digits and '-' (for example 'data' or 'exports')"
        )
    return name


def gcp_names(spec: PlatformSpec, *, project: str | None = None,
              region: str | None = None) -> GcpNames:
    """Spec-derived physical names for the GCP platform (`PhysicalNames.FROM_SPEC`).

    Buckets are global: their names carry a hash of project and region (see
    `gcp_bucket_name`). Every other name is unique per project only, so two platforms from
    one spec in one project need `PhysicalNames.GENERATED` (the default). KMS key rings and
    keys can never be deleted on GCP, so a destroyed and re-created stack meets its old
    ones again under these names (import them, or keep generated names).
    """
    stem = _stem(spec)

    def bucket(purpose: str) -> str:
        return gcp_bucket_name(spec, purpose, project=project, region=region)

    names = GcpNames(
        data_bucket=bucket("data"),
        access_log_bucket=bucket("logs"),
        source_bucket=bucket("source"),
        state_bucket=bucket("tfstate"),
        firestore_database=_fit(f"synth-{stem}", 63),
        service=_fit(f"synth-{stem}", 49),
        service_account=_fit(f"synth-{stem}", 30),
        jobs_service_account=_fit(f"synth-{stem}-jobs", 30),
        worker_job=_fit(f"synth-{stem}-worker", 49),
        long_job=_fit(f"synth-{stem}-long", 49),
        secret=_fit(f"synth-{stem}-api-pepper", 255),
        key_ring=_fit(f"synth-{stem}", 63),
        crypto_key=_fit(f"synth-{stem}-data", 63),
        metadata_key_ring=_fit(f"synth-{stem}-metadata", 63),
        metadata_crypto_key=_fit(f"synth-{stem}-metadata", 63),
        artifact_repository=_fit(f"synth-{stem}", 63),
        network=_fit(f"synth-{stem}", 63),
        subnetwork=_fit(f"synth-{stem}", 63),
        log_bucket=_fit(f"synth-{stem}-service-logs", 100),
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

#: An Azure location id: `westeurope`, `eastus2`, `swedencentral` (no '-': AWS writes
#: `eu-west-1`, GCP `europe-west1`).
_AZURE_LOCATION = re.compile(r"^[a-z]+[0-9]?[a-z]*[0-9]?$")
DEFAULT_AZURE_LOCATION = "westeurope"


def azure_location(spec: PlatformSpec) -> str:
    """The Azure location: `spec.azure.location`, else `spec.region` if it is an Azure
    location id, else 'westeurope'. Every Azure construct and name takes it from here."""
    if spec.azure.location:
        return spec.azure.location
    if _AZURE_LOCATION.match(spec.region) and "-" not in spec.region:
        return spec.region
    return DEFAULT_AZURE_LOCATION


@dataclass(frozen=True)
class AzureNames:
    resource_group: str
    storage_account: str
    data_container: str
    key_vault: str
    function_app: str
    cosmos_account: str
    cosmos_database: str
    identity: str
    container_app: str
    container_app_environment: str
    container_app_job: str
    job_queue: str
    container_registry: str
    log_analytics: str
    state_storage_account: str


_AZURE_KINDS = {
    "resource_group": "azure.resource_group",
    "storage_account": "azure.storage_account",
    "data_container": "azure.storage_container",
    "key_vault": "azure.key_vault",
    "function_app": "azure.function_app",
    "cosmos_account": "azure.cosmos_account",
    "cosmos_database": "azure.cosmos_database",
    "identity": "azure.resource_group",
    "container_app": "azure.container_app",
    "container_app_environment": "azure.container_app",
    "container_app_job": "azure.container_app",
    "job_queue": "azure.storage_queue",
    "container_registry": "azure.container_registry",
    "log_analytics": "azure.log_analytics",
    "state_storage_account": "azure.storage_account",
}


def azure_placement(spec: PlatformSpec) -> str:
    """What makes a globally unique Azure name differ between deployments of one spec."""
    return f"azure/{spec.azure.subscription_id or 'any'}/{azure_location(spec)}/{_stem(spec)}"


def azure_names(spec: PlatformSpec) -> AzureNames:
    """Physical names for `PhysicalNames.FROM_SPEC` on Azure. Globally unique names
    (storage accounts, key vault, Cosmos DB account, registry, function app) carry a hash
    of subscription, location, name and environment."""
    stem = _stem(spec)
    placement = azure_placement(spec)
    compact = re.sub(r"[^a-z0-9]", "", f"synth{spec.name}{spec.environment}")
    names = AzureNames(
        resource_group=_fit(f"rg-synth-{stem}", 90),
        storage_account=_fit(compact, 24, unique=placement, sep=""),
        data_container="synth-data",
        key_vault=_fit(f"kv-{stem}", 24, unique=placement),
        function_app=_fit(f"synth-{stem}", 60, unique=placement),
        cosmos_account=_fit(f"synth-{stem}", 44, unique=placement),
        cosmos_database="synth",
        identity=_fit(f"id-synth-{stem}", 90),
        container_app=_fit(f"synth-{stem}", 32),
        container_app_environment=_fit(f"cae-synth-{stem}", 32),
        container_app_job=_fit(f"job-synth-{stem}", 32),
        job_queue=_fit(f"synth-{stem}-jobs", 63),
        container_registry=_fit(compact, 50, unique=placement + "/acr", sep=""),
        log_analytics=_fit(f"log-synth-{stem}", 63),
        state_storage_account=_fit(compact + "tf", 24, unique=placement + "/tfstate", sep=""),
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
    job_service_account: str
    job_template: str
    storage_secret: str
    postgres_secret: str
    bootstrap: str
    bucket: str


_KUBERNETES_KINDS = {f.name: "kubernetes.dns_label" for f in fields(KubernetesNames)}
_KUBERNETES_KINDS["bucket"] = "aws.s3_bucket"


def kubernetes_names(spec: PlatformSpec) -> KubernetesNames:
    """Object names for `PhysicalNames.FROM_SPEC`, all DNS-1123 labels (at most 63
    lowercase alphanumerics and '-'). The bucket (S3-compatible, so often globally unique)
    carries a hash of the placement (account, region, namespace) like the clouds' buckets."""
    stem = _stem(spec)
    namespace = spec.kubernetes.namespace or _fit(f"synth-{stem}", 63)
    placement = f"kubernetes/{spec.account or 'any'}/{spec.region}/{namespace}/{stem}"
    names = KubernetesNames(
        namespace=namespace,
        deployment=_fit(f"synth-{stem}-generator", 63),
        service=_fit(f"synth-{stem}", 63),
        service_account=_fit(f"synth-{stem}-generator", 63),
        secret=_fit(f"synth-{stem}-api-pepper", 63),
        config_map=_fit(f"synth-{stem}-contract", 63),
        job_service_account=_fit(f"synth-{stem}-jobs", 63),
        job_template=_fit(f"synth-{stem}-job-template", 63),
        storage_secret=spec.kubernetes.storage.credentials_secret
        or _fit(f"synth-{stem}-storage", 63),
        postgres_secret=spec.kubernetes.postgres.credentials_secret
        or _fit(f"synth-{stem}-postgres", 63),
        bootstrap=_fit(f"synth-{stem}-bootstrap", 63),
        bucket=spec.kubernetes.storage.bucket or _fit(f"synth-{stem}-data", 63, unique=placement),
    )
    _check(names, _KUBERNETES_KINDS)
    return names


def kubernetes_stack_name(spec: PlatformSpec) -> str:
    """`synth-<name>-<environment>-k8s`: the ready-made Kubernetes stack of a spec."""
    return f"synth-{_stem(spec)}-k8s"


def kubernetes_name(path: str, *, unique: str = "", max_len: int = 63) -> str:
    """`PhysicalNames.GENERATED` on Kubernetes: a DNS-1123 label unique per construct path
    (`generated_name` with Kubernetes' rules); `unique` adds placement for names that must
    differ across clusters (buckets)."""
    name = generated_name(path, max_len=max_len, unique=unique)
    if not RULES["kubernetes.dns_label"](name):  # generated_name keeps [a-z0-9-] already
        raise AssertionError(f"generated Kubernetes name {name!r} breaks the DNS-1123 rules")
    return name


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
