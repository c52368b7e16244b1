"""`PlatformSpec`: the provider-agnostic description of one synthetic data platform.

Every cloud's `SyntheticDataPlatform` is built from a `PlatformSpec`. The spec is plain
pydantic: it imports no cloud package, loads from YAML or JSON, and rejects bad input
with an error that names the field and says what is allowed.

    spec = PlatformSpec(name="demo")                 # complete and valid
    spec = PlatformSpec.from_file("examples/prod.yaml")
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "ApiSpec",
    "AzureSpec",
    "GcpSpec",
    "GeneratorSpec",
    "JobsSpec",
    "KubernetesPostgresSpec",
    "KubernetesSpec",
    "KubernetesStorageSpec",
    "MonitoringSpec",
    "NetworkSpec",
    "OnPremSpec",
    "PlatformSpec",
    "SpecError",
    "StorageSpec",
    "SYNTHESIZERS",
    "TagSpec",
    "WorkloadIdentitySpec",
]

#: The synthesizers the service ships with (SDV). Plug-in engines add their own names.
SYNTHESIZERS = ("gaussian_copula", "ctgan", "tvae", "copula_gan", "hma", "par")

_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
_REGION_RE = re.compile(r"^[a-z][a-z0-9-]{2,30}[a-z0-9]$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG_VALUE_RE = re.compile(r"^[A-Za-z0-9 _.:/=+@-]{1,128}$")


class _Section(BaseModel):
    """Base of every spec section: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TagSpec(_Section):
    """Ownership tags put on every resource (labels on GCP, tags on AWS and Azure)."""

    owner: str = Field(
        "platform-team",
        description="Team or person who owns the platform. Default: 'platform-team'.",
    )
    cost_centre: str = Field(
        "synthdata", description="Cost centre billed for the platform. Default: 'synthdata'."
    )
    extra: dict[str, str] = Field(
        default_factory=dict, description="Further tags, key -> value. Default: none."
    )

    @field_validator("owner", "cost_centre")
    @classmethod
    def _tag_value(cls, value: str) -> str:
        if not _TAG_VALUE_RE.match(value):
            raise ValueError(
                "must be 1-128 characters of letters, digits, spaces and _ . : / = + @ -"
            )
        return value

    @field_validator("extra")
    @classmethod
    def _extra_tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if not re.match(r"^[A-Za-z][A-Za-z0-9_.:/=+@-]{0,62}$", key):
                raise ValueError(
                    f"tag key {key!r} must start with a letter and hold at most 63 "
                    "letters, digits and _ . : / = + @ -"
                )
            if not _TAG_VALUE_RE.match(tag_value):
                raise ValueError(
                    f"tag value {tag_value!r} of {key!r} must be 1-128 characters of "
                    "letters, digits, spaces and _ . : / = + @ -"
                )
        return value


class GeneratorSpec(_Section):
    """Limits of the generator service (the serverless function or the pods)."""

    memory_mb: int = Field(
        3008, ge=512, le=10240,
        description="Memory of one generator instance in MiB. Default: 3008 (SDV fits; CTGAN "
        "sampling of 1M rows in one call needs about 2.5 GB).",
    )
    timeout_seconds: int = Field(
        300, ge=10, le=900,
        description="Longest request the generator may run, seconds. Default: 300. AWS Lambda "
        "allows at most 900.",
    )
    concurrency: int | None = Field(
        None, ge=1, le=1000,
        description="Most API instances that run at once (reserved concurrency on AWS, max "
        "instances on GCP and Azure, the HPA maximum on Kubernetes). Default: none - the "
        "cloud's own limit (AWS: the account's unreserved pool, since a new account's "
        "quota of 10 leaves nothing to reserve; GCP / Azure: 100; Kubernetes: 10). The "
        "edge rate limit (`api`) bounds load either way.",
    )
    min_instances: int = Field(
        0, ge=0, le=100,
        description="Instances kept warm. Default: 0 (scale to zero).",
    )
    max_rows: int = Field(
        1_000_000, ge=1, le=100_000_000,
        description="Most rows one sample request may ask for. Default: 1,000,000.",
    )
    max_upload_mb: int = Field(
        100, ge=1, le=5120,
        description="Largest dataset upload in MiB. Default: 100.",
    )
    synthesizers: tuple[str, ...] = Field(
        ("gaussian_copula", "ctgan", "tvae", "copula_gan"),
        min_length=1,
        description="Synthesizers callers may train. Default: the four single-table SDV "
        f"synthesizers. Built in: {', '.join(SYNTHESIZERS)}; plug-in engines add names.",
    )
    packaging: Literal["container", "source"] = Field(
        "container",
        description="How the service ships: 'container' (an image: Lambda image, Cloud Run, "
        "Container Apps, Kubernetes) or 'source' (Cloud Functions / Function App source). "
        "Default: 'container'.",
    )
    image: str | None = Field(
        None,
        description="A prebuilt service image to run instead of building one from the "
        "service's Dockerfile. Default: build from `service/Dockerfile` (AWS) or use "
        "the registry path the cloud's construct derives.",
    )

    @model_validator(mode="after")
    def _warm_within_cap(self) -> GeneratorSpec:
        if self.concurrency is not None and self.min_instances > self.concurrency:
            raise ValueError(
                f"min_instances {self.min_instances} (instances kept warm) exceeds concurrency "
                f"{self.concurrency} (the most that may run); lower min_instances or raise "
                "concurrency")
        return self

    @field_validator("synthesizers")
    @classmethod
    def _synthesizer_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for synth in value:
            if not re.match(r"^[a-z][a-z0-9_]{1,40}$", synth):
                raise ValueError(
                    f"synthesizer {synth!r} is not a valid engine name (lowercase letters, "
                    f"digits, _); built-in names: {', '.join(SYNTHESIZERS)}"
                )
        if len(set(value)) != len(value):
            raise ValueError("lists a synthesizer twice; name each once")
        return value


class StorageSpec(_Section):
    """The dataset / model / sample bucket and the metadata store."""

    retention_days: int = Field(
        30, ge=1, le=3650,
        description="Days generated samples are kept before the bucket deletes them. "
        "Default: 30. Minimum 1.",
    )
    noncurrent_version_days: int = Field(
        30, ge=1, le=3650,
        description="Days an overwritten or deleted object's old version is kept (versioning "
        "is always on). Default: 30. Minimum 1.",
    )
    encryption: Literal["customer_managed", "provider_managed"] = Field(
        "customer_managed",
        description="'customer_managed': a key the platform creates in the cloud's KMS "
        "(AWS KMS, Cloud KMS, Key Vault). 'provider_managed': the provider's default "
        "encryption at rest. Default: 'customer_managed'.",
    )
    access_logs: bool = Field(
        True, description="Write bucket access logs to a separate log bucket. Default: on."
    )


class ApiSpec(_Section):
    """How callers reach the generator."""

    auth: Literal["api_key", "iam"] = Field(
        "api_key",
        description="'api_key': the service checks `Authorization: Bearer <key>` against its "
        "hashed keys on every call but health. 'iam': additionally require the cloud's "
        "signed identity (IAM SigV4, Google ID token, Entra ID) at the endpoint. "
        "Default: 'api_key'.",
    )
    rate_limit_per_second: float = Field(
        10.0, gt=0, le=10_000,
        description="Sustained requests per second allowed at the endpoint (and per key in "
        "the service). Default: 10.",
    )
    burst: int = Field(
        20, ge=1, le=100_000,
        description="Requests allowed in a burst above the sustained rate. Default: 20.",
    )
    cors_origins: tuple[str, ...] = Field(
        (), description="Browser origins allowed to call the API. Default: none (no CORS)."
    )

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin == "*" or not re.match(r"^https://[A-Za-z0-9.-]+(:\d+)?$", origin):
                raise ValueError(
                    f"origin {origin!r} is not allowed: give full https origins such as "
                    "'https://app.example.com' (no wildcards, no paths)"
                )
        return value


class NetworkSpec(_Section):
    """Optional private networking for the generator."""

    vpc: bool = Field(
        False,
        description="Run the generator in a private network with no internet egress, "
        "reaching storage, metadata and secrets through private endpoints. Default: off "
        "(the managed runtime's own network).",
    )
    cidr: str = Field(
        "10.42.0.0/16",
        description="Address range of the private network when `vpc` is on. "
        "Default: 10.42.0.0/16.",
    )

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        import ipaddress

        try:
            net = ipaddress.ip_network(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a CIDR block; write it as '10.42.0.0/16'") from None
        if not net.is_private or net.prefixlen > 24 or net.prefixlen < 16:
            raise ValueError(
                f"{value!r} must be a private range between /16 and /24, e.g. '10.42.0.0/16'"
            )
        return value


class MonitoringSpec(_Section):
    """Alarms on the generator."""

    alarm_emails: tuple[str, ...] = Field(
        (), description="Addresses notified when an alarm fires. Default: none (alarms still "
        "exist and show in the console).",
    )
    error_threshold: int = Field(
        5, ge=1,
        description="Errors in 5 minutes that raise the error alarm. Default: 5.",
    )
    latency_threshold_ratio: float = Field(
        0.8, gt=0, le=1,
        description="Alarm when p99 duration exceeds this share of the timeout. Default: 0.8.",
    )
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545,
                                731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] = Field(
        30, description="Days logs are kept. Default: 30.",
    )

    @field_validator("alarm_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for email in value:
            if not _EMAIL_RE.match(email):
                raise ValueError(f"{email!r} is not an email address")
        return value


class JobsSpec(_Section):
    """Background jobs: training and large samples never run inside an API request."""

    worker_timeout_seconds: int = Field(
        900, ge=60, le=900,
        description="Longest job the queue worker (AWS Lambda) runs; longer jobs go to the "
        "container job runner (ECS Fargate, Cloud Run Jobs, Kubernetes Jobs). Default: 900.",
    )
    worker_concurrency: int = Field(
        2, ge=2, le=1000,
        description="Background jobs that run at once (the queue worker's maximum "
        "concurrency; SQS event sources allow 2-1000). Default: 2.",
    )
    max_attempts: int = Field(
        3, ge=1, le=10,
        description="Deliveries of a job message before it is dead-lettered and the job "
        "marked failed with the reason. Default: 3.",
    )
    long_running: bool = Field(
        True,
        description="Create the container job runner for jobs beyond the worker's timeout "
        "(e.g. CTGAN with its default 300 epochs, about 19 minutes on 2 cores): ECS "
        "Fargate, Cloud Run Jobs, Container Apps Jobs or Kubernetes Jobs. Its tasks reach "
        "the cloud's APIs over HTTPS with no inbound access; with `network.vpc` they run "
        "in the private network instead. Default: on.",
    )
    cpu: Literal[1024, 2048, 4096, 8192, 16384] = Field(
        2048, description="CPU units of one long-running job task (1024 = 1 vCPU). "
        "Default: 2048.",
    )
    memory_mb: int = Field(
        8192, ge=2048, le=122880,
        description="Memory of one long-running job task in MiB. Default: 8192.",
    )

    @model_validator(mode="after")
    def _fargate_size(self) -> JobsSpec:
        low, high = _FARGATE_MEMORY[self.cpu]
        if not low <= self.memory_mb <= high:
            raise ValueError(
                f"memory_mb {self.memory_mb} does not fit cpu {self.cpu}: Fargate allows "
                f"{low}-{high} MiB with {self.cpu} CPU units"
            )
        return self


_FARGATE_MEMORY = {1024: (2048, 8192), 2048: (4096, 16384), 4096: (8192, 30720),
                   8192: (16384, 61440), 16384: (32768, 122880)}


class GcpSpec(_Section):
    """Google Cloud placement (used only by `constructs_lib.gcp`)."""

    project: str | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
        description="Project id to deploy into. Default: the stack's google provider's "
        "`project`; one of the two must name it.",
    )
    region: str | None = Field(
        None, description="Region; default: the spec's `region` if it is a GCP region, "
        "else 'europe-west1'.",
    )


class AzureSpec(_Section):
    """Azure placement (used only by `constructs_lib.azure`)."""

    subscription_id: str | None = Field(
        None,
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="Subscription to deploy into; it also makes globally unique "
        "spec-derived names (storage accounts, vaults) differ between subscriptions. "
        "Default: the stack's azurerm provider's subscription.",
    )
    location: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9]{2,30}$",
        description="Azure region (location) such as 'westeurope'; default: the spec's "
        "`region` if it is an Azure location, else 'westeurope'.",
    )

_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_NAME_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                          r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_AWS_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
_GCP_SA_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]"
                        r"\.iam\.gserviceaccount\.com$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _dns_label(value: str | None, what: str) -> str | None:
    if value is not None and not _DNS_LABEL_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid {what}: use at most 63 lowercase letters, digits and "
            "'-', starting and ending with a letter or digit (a DNS-1123 label)"
        )
    return value


class WorkloadIdentitySpec(_Section):
    """How the pods reach the cloud's bucket without static keys (Kubernetes only)."""

    provider: Literal["none", "eks_pod_identity", "eks_irsa", "gke", "aks"] = Field(
        "none",
        description="'none': credentials come from the storage Secret (MinIO, any "
        "S3-compatible store). 'eks_pod_identity': EKS Pod Identity (associate "
        "`aws_role_arn` with the service accounts on the AWS side; nothing is annotated). "
        "'eks_irsa': IAM roles for service accounts (the service accounts are annotated "
        "with `aws_role_arn`). 'gke': GKE Workload Identity (annotated with "
        "`gcp_service_account`, or bound directly as a principal when it is unset). "
        "'aks': Azure Workload Identity (annotated with `azure_client_id`, pods labelled "
        "`azure.workload.identity/use`). Default: 'none'.",
    )
    aws_role_arn: str | None = Field(
        None, description="IAM role the pods assume (EKS). Required for 'eks_irsa' and "
        "'eks_pod_identity'. Default: none.",
    )
    gcp_service_account: str | None = Field(
        None, description="Google service account the pods act as (GKE), e.g. "
        "'synth@my-project.iam.gserviceaccount.com'. Default: none (grant roles to the "
        "Kubernetes service account's Workload Identity principal directly).",
    )
    azure_client_id: str | None = Field(
        None, description="Client id of the user-assigned managed identity the pods use "
        "(AKS). Required for 'aks'. Default: none.",
    )

    @field_validator("aws_role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value is not None and not _AWS_ROLE_ARN_RE.match(value):
            raise ValueError(f"{value!r} is not an IAM role ARN "
                             "(arn:aws:iam::111122223333:role/name)")
        return value

    @field_validator("gcp_service_account")
    @classmethod
    def _gcp_sa(cls, value: str | None) -> str | None:
        if value is not None and not _GCP_SA_RE.match(value):
            raise ValueError(f"{value!r} is not a service account e-mail "
                             "(name@project.iam.gserviceaccount.com)")
        return value

    @field_validator("azure_client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        if value is not None and not _UUID_RE.match(value):
            raise ValueError(f"{value!r} is not a client id (a lowercase UUID)")
        return value

    @model_validator(mode="after")
    def _required(self) -> WorkloadIdentitySpec:
        needs = {"eks_pod_identity": "aws_role_arn", "eks_irsa": "aws_role_arn",
                 "aks": "azure_client_id"}
        field = needs.get(self.provider)
        if field and getattr(self, field) is None:
            raise ValueError(f"provider {self.provider!r} needs {field}; set it")
        return self


class KubernetesStorageSpec(_Section):
    """The bucket on Kubernetes: an S3-compatible endpoint, or the cloud's own bucket."""

    endpoint: str | None = Field(
        None, description="S3-compatible endpoint URL (MinIO, Ceph RGW, ...), e.g. "
        "'https://minio.storage.svc:9000'. Default: the storage Secret's optional "
        "`endpoint` key, else AWS S3 itself (or GCS / Azure Blob with workload identity "
        "'gke' / 'aks'); the in-cluster MinIO when `on_prem.minio` is on.",
    )
    bucket: str | None = Field(
        None, description="Bucket (GCS bucket, Azure container) name. Default: derived "
        "from the construct path (or the spec with PhysicalNames.FROM_SPEC); the setup "
        "Job creates it when it does not exist.",
    )
    azure_account: str | None = Field(
        None, description="Storage account holding the container (workload identity "
        "'aks'). Required there. Default: none.",
    )
    credentials_secret: str | None = Field(
        None, description="Secret holding `access_key_id` and `secret_access_key` "
        "(and optionally `endpoint` and `kms_key`). Default: a name derived from the "
        "platform; unused with workload identity. The platform never writes it, except "
        "for the in-cluster MinIO, whose credentials it generates inside the cluster.",
    )
    kms_key: str | None = Field(
        None, description="Key every object is encrypted with when `storage.encryption` "
        "is 'customer_managed': an AWS KMS key ARN (S3), a KES key name (MinIO) or a "
        "Cloud KMS key name (GCS). Default: the storage Secret's `kms_key` key (the pods "
        "do not start without it); a key generated in the cluster for the in-cluster "
        "MinIO.",
    )
    configure: bool = Field(
        True, description="Apply the spec's bucket settings (versioning, lifecycle, "
        "encryption, access logs, public access block) with a setup Job through the "
        "storage API. Turning it off means the bucket's owner guarantees them. "
        "Default: on.",
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[A-Za-z0-9.-]+(:\d+)?/?$", value):
            raise ValueError(f"{value!r} is not an endpoint URL such as "
                             "'https://minio.example.com:9000'")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", value):
            raise ValueError(f"{value!r} is not a bucket name: 3-63 lowercase letters, "
                             "digits, '.' and '-'")
        return value

    @field_validator("credentials_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return _dns_label(value, "Secret name")


class KubernetesPostgresSpec(_Section):
    """The metadata store on Kubernetes: PostgreSQL, reached through libpq's variables."""

    host: str | None = Field(
        None, description="Database host. Default: the credentials Secret's `host` key "
        "(the in-cluster PostgreSQL's when `on_prem.postgresql` is on).",
    )
    port: int = Field(5432, ge=1, le=65535, description="Port. Default: 5432.")
    database: str | None = Field(
        None, description="Database name. Default: the credentials Secret's `dbname` key.",
    )
    sslmode: Literal["require", "verify-ca", "verify-full"] = Field(
        "verify-full", description="libpq sslmode: the connection is always encrypted. "
        "Default: 'verify-full' (the server certificate and host name are checked).",
    )
    credentials_secret: str | None = Field(
        None, description="Secret with `username` and `password` (and `host`, `dbname` "
        "when not named here; CloudNativePG's `<cluster>-app` Secret has this shape). "
        "Default: a name derived from the platform.",
    )
    ca_secret: str | None = Field(
        None, description="Secret whose `ca.crt` signed the server's certificate (an RDS or "
        "Cloud SQL CA bundle, your own CA). Default: the system's CAs.",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _DNS_NAME_RE.match(value):
            raise ValueError(f"{value!r} is not a host name")
        return value

    @field_validator("database")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z_][a-z0-9_]{0,62}$", value):
            raise ValueError(f"{value!r} is not a database name (lowercase letters, digits, _)")
        return value

    @field_validator("credentials_secret", "ca_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return _dns_label(value, "Secret name")


class OnPremSpec(_Section):
    """Dependencies the platform installs with Helm when the cluster has none (all off)."""

    minio: bool = Field(False, description="Install MinIO for the bucket. Default: off.")
    postgresql: bool = Field(
        False, description="Install PostgreSQL (the CloudNativePG operator and one "
        "cluster) for the metadata store. Default: off.",
    )
    prometheus: bool = Field(
        False, description="Install Prometheus (kube-prometheus-stack) and scrape the "
        "service through a ServiceMonitor. Default: off.",
    )
    storage_class: str | None = Field(
        None, description="StorageClass of their volumes. Default: the cluster's default.",
    )
    minio_volume_gi: int = Field(100, ge=1, le=100_000,
                                 description="MinIO volume size (GiB). Default: 100.")
    postgresql_volume_gi: int = Field(20, ge=1, le=10_000,
                                      description="PostgreSQL volume size (GiB). Default: 20.")


class KubernetesSpec(_Section):
    """Options of the Kubernetes fallback (any cluster)."""

    namespace: str | None = Field(
        None, description="Namespace; default: derived from the spec's name and environment.",
    )
    replicas: int = Field(2, ge=1, le=100, description="Replicas kept running. Default: 2.")
    ingress_host: str | None = Field(
        None, description="Host name of an Ingress in front of the service. Default: no "
        "Ingress (ClusterIP only).",
    )
    create_namespace: bool = Field(
        True, description="Create the namespace (labelled for the 'restricted' Pod "
        "Security Standard). Turn off when it exists already (an OpenShift project). "
        "Default: on.",
    )
    ingress_class: str | None = Field(
        None, description="IngressClass of the Ingress. Default: the cluster's default.",
    )
    tls_secret: str | None = Field(
        None, description="Secret holding the TLS certificate of `ingress_host`. Default: "
        "'<service>-tls' (issued by cert-manager when `cert_manager_issuer` is set).",
    )
    cert_manager_issuer: str | None = Field(
        None, description="cert-manager ClusterIssuer that issues the Ingress certificate. "
        "Default: none (you provide `tls_secret`).",
    )
    openshift_route: bool = Field(
        False, description="Expose `ingress_host` through an OpenShift Route (edge TLS, "
        "HTTP redirected) instead of an Ingress. Default: off.",
    )
    workload_identity: WorkloadIdentitySpec = Field(
        default_factory=WorkloadIdentitySpec, description="Cloud identity of the pods.",
    )
    storage: KubernetesStorageSpec = Field(
        default_factory=KubernetesStorageSpec, description="The bucket.",
    )
    postgres: KubernetesPostgresSpec = Field(
        default_factory=KubernetesPostgresSpec, description="The metadata store.",
    )
    on_prem: OnPremSpec = Field(default_factory=OnPremSpec,
                                description="Dependencies installed with Helm.")
    service_monitor: bool = Field(
        False, description="Create a ServiceMonitor and PrometheusRule for a Prometheus "
        "Operator the cluster already runs (implied by `on_prem.prometheus`). Default: "
        "off (alert rules are published in a ConfigMap).",
    )
    image_pull_secrets: tuple[str, ...] = Field(
        (), description="Secrets the pods pull the image with. Default: none.",
    )
    job_ttl_seconds: int = Field(
        86_400, ge=60, le=30 * 86_400,
        description="Seconds a finished Kubernetes Job (and its pods' logs) is kept. "
        "Default: 86400 (one day).",
    )
    sample_part_rows: int = Field(
        1_000_000, ge=10_000, le=100_000_000,
        description="Rows per pod of a large sample: a request for more rows runs as an "
        "Indexed Job of ceil(rows / sample_part_rows) pods. Part of the seed contract: "
        "changing it changes the rows a given seed produces. Default: 1,000,000.",
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        return _dns_label(value, "namespace")

    @field_validator("ingress_host")
    @classmethod
    def _ingress_host(cls, value: str | None) -> str | None:
        if value is not None and not _DNS_NAME_RE.match(value):
            raise ValueError(f"{value!r} is not a host name such as 'synth.example.com'")
        return value

    @field_validator("tls_secret", "cert_manager_issuer", "ingress_class")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return _dns_label(value, "name")

    @field_validator("image_pull_secrets")
    @classmethod
    def _pull_secrets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            _dns_label(name, "Secret name")
        return value

    @model_validator(mode="after")
    def _exposure(self) -> KubernetesSpec:
        if self.openshift_route and self.ingress_host is None:
            raise ValueError("openshift_route needs ingress_host (the Route's host name)")
        if self.workload_identity.provider == "aks" and self.storage.azure_account is None:
            raise ValueError("workload_identity 'aks' needs storage.azure_account (the "
                             "storage account holding the container)")
        return self


class PlatformSpec(_Section):
    """The whole platform. Every field but `name` has a secure default."""

    name: str = Field(
        ...,
        description="Platform name: 3-24 characters, lowercase letters, digits and '-', "
        "starting with a letter and ending with a letter or digit. Every resource name "
        "derives from it.",
    )
    environment: Literal["dev", "staging", "prod"] = Field(
        "dev", description="Deployment stage. Default: 'dev'."
    )
    region: str = Field(
        "eu-west-1",
        description="Cloud region (AWS region, or the GCP / Azure region for those clouds). "
        "Default: 'eu-west-1'.",
    )
    account: str | None = Field(
        None, pattern=r"^\d{12}$",
        description="AWS account id to pin the stacks to. Default: environment-agnostic.",
    )
    tags: TagSpec = Field(default_factory=TagSpec, description="Ownership tags.")
    generator: GeneratorSpec = Field(default_factory=GeneratorSpec, description="Limits.")
    storage: StorageSpec = Field(default_factory=StorageSpec, description="Storage.")
    api: ApiSpec = Field(default_factory=ApiSpec, description="API access.")
    network: NetworkSpec = Field(default_factory=NetworkSpec, description="Networking.")
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec, description="Alarms.")
    jobs: JobsSpec = Field(default_factory=JobsSpec, description="Background jobs.")
    removal_policy: Literal["retain", "destroy"] = Field(
        "retain",
        description="What happens to stored data when the stack is deleted: 'retain' keeps "
        "bucket, table, key and secret; 'destroy' deletes them (for throwaway dev stacks). "
        "Default: 'retain'.",
    )
    gcp: GcpSpec = Field(default_factory=GcpSpec, description="GCP placement.")
    azure: AzureSpec = Field(default_factory=AzureSpec, description="Azure placement.")
    kubernetes: KubernetesSpec = Field(default_factory=KubernetesSpec, description="Kubernetes.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.match(value) or "--" in value:
            raise ValueError(
                f"{value!r} is not a valid platform name: use 3-24 characters of lowercase "
                "letters, digits and single '-', starting with a letter and ending with a "
                "letter or digit (for example 'acme-synth')"
            )
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION_RE.match(value):
            raise ValueError(
                f"{value!r} is not a region name: use the cloud's lowercase region id, "
                "e.g. 'eu-west-1' (AWS), 'europe-west1' (GCP), 'westeurope' (Azure)"
            )
        return value

    @property
    def is_production(self) -> bool:
        return self.environment == "prod"

    @classmethod
    def from_file(cls, path: str | Path) -> PlatformSpec:
        """Read a spec from a `.yaml`, `.yml` or `.json` file; raise `SpecError` if invalid."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecError(f"{path}: no such spec file") from None
        except UnicodeDecodeError:
            raise SpecError(f"{path}: not UTF-8 text; save the spec as UTF-8") from None
        data = _parse(path, text)
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "spec") -> PlatformSpec:
        """Validate a parsed spec; raise `SpecError` naming each bad field and the fix."""
        if not isinstance(data, dict):
            raise SpecError(
                f"{source}: the top level must be a mapping of fields (name, environment, "
                f"...), not {type(data).__name__}"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError.from_validation(exc, source) from None

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        schema = cls.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "Synthdata PlatformSpec"
        return schema


class SpecError(ValueError):
    """An invalid spec. The message lists every problem as `field: what is wrong - fix`."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]

    @classmethod
    def from_validation(cls, exc: ValidationError, source: str) -> SpecError:
        problems = [_describe(error) for error in exc.errors()]
        header = f"{source}: invalid platform spec ({len(problems)} problem(s))"
        return cls("\n  - ".join([header, *problems]), problems)


def _parse(path: Path, text: str) -> Any:
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"{path}: not valid YAML: {exc}") from None
    raise SpecError(f"{path}: unknown spec format {suffix!r}; use a .yaml, .yml or .json file")


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _allowed_fields(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = PlatformSpec
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    where = _field_path(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc)
        return f"{where}: unknown field; remove it or use one of: {', '.join(allowed)}"
    if kind == "missing":
        return f"{where}: required field is missing; add it"
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
    return f"{where}: {message}{shown}"


def main(argv: list[str] | None = None) -> int:
    """`python -m constructs_lib.spec --schema` prints the JSON Schema; `FILE` validates."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args == ["--schema"]:
        print(json.dumps(PlatformSpec.json_schema(), indent=2, sort_keys=True))
        return 0
    if len(args) == 1:
        try:
            spec = PlatformSpec.from_file(args[0])
        except SpecError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"{args[0]}: valid spec for platform {spec.name!r} ({spec.environment})")
        return 0
    print("usage: python -m constructs_lib.spec (--schema | SPEC_FILE)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
