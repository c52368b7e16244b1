"""`SecureBucket` on Kubernetes: an S3-compatible endpoint plus a credentials Secret
reference (MinIO on-prem, any S3-compatible store), or the cloud's own bucket reached
through workload identity (S3 on EKS, GCS on GKE, Azure Blob on AKS).

The bucket lives outside the cluster's API, so the construct does not create it as a
Terraform resource. A setup Job (the service image, `python -m
synthdata_service.jobs.kubernetes setup-bucket`) creates it when missing and applies the
spec's settings through the storage API on every change: versioning, lifecycle (samples
expire after `retention_days` under `<purpose>/samples/`, old versions after
`noncurrent_version_days`, stale multipart uploads after 7 days), default encryption
(SSE-KMS with the customer-managed key, else the store's own), public access blocked and
access logs to `<bucket>-logs`. The Job's arguments are the bucket's settings, readable
in the synthesized output; its name carries their hash, so a changed setting runs a new
Job. Credentials never appear in any manifest: pods read them from the Secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from cdktn_provider_kubernetes.manifest import Manifest
from constructs import Construct

from ..naming import kubernetes_labels, kubernetes_name, kubernetes_names
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy, UnsupportedOnCloud, merge_props
from . import identity
from .defaults import (
    PodSettings,
    content_hash,
    env_literal,
    env_secret,
    merge_manifest,
    metadata,
    network_policy,
    pod_spec,
    ports,
    resources,
    warn_and_note,
)
from .image import service_image
from .namespace import PlatformNamespace, kube_object, object_name, resolve_namespace
from .templates import setup_arguments
from .workload import Workload, as_workload

__all__ = ["SecureBucket"]

CLOUD = "kubernetes"
KMS_KEY_VARIABLE = "SYNTH_STORAGE_KMS_KEY"
#: Days before a multipart upload that never completed is aborted.
ABORT_MULTIPART_DAYS = 7
_SETUP_COMMAND = ("python", "-m", "synthdata_service.jobs.kubernetes", "setup-bucket")
#: What `bucket_props` may change on the setup Job, and the secure defaults among them.
_SECURE_PROPS = {
    "block_public_access": "public access blocked",
    "abort_multipart_days": f"stale multipart uploads aborted after {ABORT_MULTIPART_DAYS} days",
}


class SecureBucket(Construct):
    """The platform's bucket on any cluster: reached with keys from a Secret or through
    workload identity, its settings applied by a setup Job.

    Public attributes: `bucket_name`, `storage_url` (the runtime contract's
    `s3://<bucket>/<purpose>?region=..[&kms_key=..]`, `gs://..` on GKE, `az://..` on AKS),
    `encryption_key` (the key id, `$(SYNTH_STORAGE_KMS_KEY)` when the Secret holds it, or
    None), `endpoint`, `credentials_secret`, `namespace` (`PlatformNamespace`),
    `environment` (env vars a pod needs to reach the bucket), `pod_labels`, `setup_job`
    and `setup_service_account` (`kubernetes_manifest` resources, or None with
    `configure=False`), `setup_manifest` (the Job as a dict), `log_bucket_name`.
    """

    _warn_unconfigured = True

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        purpose: str = "data",
        encryption_key: str | None = None,
        versioned: bool = True,
        access_logs: bool | None = None,
        retention_days: int | None = None,
        removal_policy: RemovalPolicy | str | None = None,
        physical_names: PhysicalNames | str | None = None,
        bucket_name: str | None = None,
        bucket_props: Mapping[str, Any] | None = None,
        namespace: PlatformNamespace | str | None = None,
        endpoint: str | None = None,
        credentials_secret: str | None = None,
        image: str | None = None,
        configure: bool | None = None,
        in_cluster_selector: Mapping[str, str] | None = None,
        depends_on: Sequence[Any] = (),
    ) -> None:
        """Arguments (all keyword-only):

        spec: the platform spec; placement (`kubernetes.storage`, workload identity),
            labels and the defaults below come from it.
        purpose: the storage URL's prefix and the prefix whose `samples/` expire.
            Default: 'data'.
        encryption_key: the key objects are encrypted with (SSE-KMS key ARN / KES key
            name / Cloud KMS key name). Default: `kubernetes.storage.kms_key`, else the
            storage Secret's `kms_key` when `storage.encryption` is 'customer_managed'
            (pods do not start without it), else none.
        versioned: keep old object versions. Default: on; off warns.
        access_logs: log access to `<bucket>-logs`. Default: `storage.access_logs`; off
            warns. Not available on MinIO (refused with the in-cluster MinIO).
        retention_days: days samples are kept. Default: `storage.retention_days`.
        removal_policy: 'retain' or 'destroy' (the setup Job marks the bucket for the
            operator; destroying the stack never deletes objects). Default: the spec's.
        physical_names: GENERATED (default: bucket name from the construct path and the
            placement) or FROM_SPEC (`kubernetes_names(spec).bucket`).
        bucket_name: the bucket's name. Default: `kubernetes.storage.bucket`, else per
            `physical_names`.
        bucket_props: overrides of the setup Job's settings (`block_public_access`,
            `abort_multipart_days`) and of its manifest (`manifest`, deep-merged);
            replacing a secure default warns.
        namespace: the `PlatformNamespace` (or name) of the setup Job. Default: the
            spec's, or one per `physical_names`.
        endpoint: S3-compatible endpoint URL. Default: `kubernetes.storage.endpoint`,
            else the Secret's optional `endpoint` key, else the cloud's own.
        credentials_secret: Secret with `access_key_id` / `secret_access_key`. Default:
            `kubernetes.storage.credentials_secret`, else derived. Unused with workload
            identity.
        image: the service image the setup Job runs. Default: `generator.image`, else
            `synthdata-service:<version>` (see docs/kubernetes.md).
        configure: run the setup Job. Default: `kubernetes.storage.configure` (on); off
            warns: the bucket's owner must then guarantee its settings.
        in_cluster_selector: labels of the in-cluster store's pods (the platform's MinIO),
            so grants open the network path to them only. Default: none.
        depends_on: what the setup Job waits for (the store, the credentials' Secret).
        """
        super().__init__(scope, id)
        storage = spec.kubernetes.storage
        names_mode = PhysicalNames.resolve(physical_names)
        removal = RemovalPolicy.resolve(removal_policy, spec)
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,40}", purpose):
            raise ValueError(f"purpose: {purpose!r} must be a short lowercase prefix like 'data'")
        self.spec = spec
        self.purpose = purpose
        self.namespace = resolve_namespace(self, spec, namespace, names_mode,
                                           removal_policy=removal)
        self.scheme = identity.storage_scheme(spec)
        self.endpoint = endpoint or storage.endpoint
        self.region = spec.region
        self.credentials_secret = credentials_secret or (
            kubernetes_names(spec).storage_secret if names_mode == PhysicalNames.FROM_SPEC
            or storage.credentials_secret else kubernetes_name(f"{self.node.path}/Credentials"))
        self._in_cluster = dict(in_cluster_selector or {})
        self.bucket_name: str = bucket_name or self.default_name(
            self.node.path, spec, self.namespace.name, names_mode)
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,56}[a-z0-9]", self.bucket_name):
            raise ValueError(f"bucket_name: {self.bucket_name!r} must be 3-58 lowercase letters, "
                             "digits, '.' and '-' (its log bucket adds '-logs')")
        self.log_bucket_name = f"{self.bucket_name}-logs"

        if access_logs is False and spec.storage.access_logs:
            warn_and_note(self, "access_logs=False", "access logs on")
        if not versioned:
            warn_and_note(self, "versioned=False", "versioning on")
        access_logs = spec.storage.access_logs if access_logs is None else access_logs
        retention_days = spec.storage.retention_days if retention_days is None else retention_days
        if retention_days < 1:
            raise ValueError(f"retention_days: {retention_days} must be at least 1")
        if self._in_cluster and access_logs:
            raise UnsupportedOnCloud(
                "storage.access_logs", "kubernetes with the in-cluster MinIO",
                "MinIO has no per-bucket access log (its audit log goes to a webhook or "
                "Kafka target you run)",
                "set storage.access_logs: false, or use an external S3-compatible store",
            )
        configure = storage.configure if configure is None else configure
        if self.scheme == "az" and configure:
            raise UnsupportedOnCloud(
                "kubernetes.storage.configure", "kubernetes with workload identity 'aks'",
                "Azure Blob's versioning, soft delete and lifecycle are storage-account "
                "settings made through Azure Resource Manager, not the blob API a setup Job "
                "could call",
                "create the account with constructs_lib.azure.SecureBucket (or your own "
                "Terraform) and set kubernetes.storage.configure: false",
            )

        self.encryption_key: str | None = encryption_key or storage.kms_key
        self._kms_from_secret = (self.encryption_key is None
                                 and spec.storage.encryption == "customer_managed")
        if self._kms_from_secret:
            if not identity.uses_static_keys(spec) and self.scheme != "s3":
                raise UnsupportedOnCloud(
                    "storage.encryption", f"{CLOUD} with workload identity "
                    f"{spec.kubernetes.workload_identity.provider!r}",
                    "a GCS bucket's (or an Azure storage account's) key is set on the bucket "
                    "itself and must be named in the spec",
                    "set kubernetes.storage.kms_key (a Cloud KMS / Key Vault key id) or "
                    "storage.encryption: provider_managed",
                )
            self.encryption_key = f"$({KMS_KEY_VARIABLE})"
        if spec.storage.encryption == "provider_managed":
            self.encryption_key = None
        self.storage_url: str = self._url()

        self.environment: list[dict[str, Any]] = self._environment()
        self.pod_labels: dict[str, str] = identity.pod_labels(spec)

        props = merge_props({"block_public_access": True,
                             "abort_multipart_days": ABORT_MULTIPART_DAYS},
                            {k: v for k, v in (bucket_props or {}).items() if k != "manifest"},
                            _SECURE_PROPS, argument="bucket_props")
        for overridden in props.overridden:
            warn_and_note(self, f"bucket_props {overridden.split(' (')[0]}",
                          overridden.split(" (", 1)[1].rstrip(")"))
        if not configure and storage.configure and self._warn_unconfigured:
            warn_and_note(self, "configure=False", "bucket settings applied by the setup Job")
        self.setup_service_account: Manifest | None = None
        self.setup_job: Manifest | None = None
        self.setup_manifest: dict[str, Any] | None = None
        if configure:
            args = setup_arguments(
                storage_url=self.storage_url, versioned=versioned,
                retention_days=retention_days,
                noncurrent_days=spec.storage.noncurrent_version_days,
                samples_prefix="samples/", encryption=spec.storage.encryption,
                access_logs=access_logs, log_retention_days=spec.monitoring.log_retention_days,
                block_public_access=props.values["block_public_access"],
                abort_multipart_days=props.values["abort_multipart_days"],
                removal_policy=removal.value,
            )
            self._setup(spec, args, image, names_mode, (bucket_props or {}).get("manifest"),
                        depends_on)

    @staticmethod
    def default_name(path: str, spec: PlatformSpec, namespace: str,
                     physical_names: PhysicalNames) -> str:
        """The bucket name a `SecureBucket` at construct `path` gets when none is named."""
        if spec.kubernetes.storage.bucket:
            return spec.kubernetes.storage.bucket
        if physical_names == PhysicalNames.FROM_SPEC:
            return kubernetes_names(spec).bucket
        return kubernetes_name(f"{path}/Bucket", max_len=58,
                               unique=f"{spec.account}/{spec.region}/{namespace}")

    # -- the URL and the environment --------------------------------------------------

    def _url(self) -> str:
        key = f"?kms_key={self.encryption_key}" if self.encryption_key else ""
        if self.scheme == "gs":  # the bucket's default key encrypts; the setup Job sets it
            return f"gs://{self.bucket_name}/{self.purpose}{key}"
        if self.scheme == "az":  # the storage account's key encrypts
            account = self.spec.kubernetes.storage.azure_account
            return f"az://{account}/{self.bucket_name}/{self.purpose}{key}"
        query = f"region={self.region}"
        if self.encryption_key:
            query += f"&kms_key={self.encryption_key}"
        return f"s3://{self.bucket_name}/{self.purpose}?{query}"

    def _environment(self) -> list[dict[str, Any]]:
        env: list[dict[str, Any]] = []
        if self.scheme == "s3":
            env.append(env_literal("AWS_REGION", self.region))
            if self.endpoint:
                env.append(env_literal("AWS_ENDPOINT_URL_S3", self.endpoint.rstrip("/")))
            elif identity.uses_static_keys(self.spec):
                env.append(env_secret("AWS_ENDPOINT_URL_S3", self.credentials_secret, "endpoint",
                                      optional=True))
            if identity.uses_static_keys(self.spec):
                env.append(env_secret("AWS_ACCESS_KEY_ID", self.credentials_secret,
                                      "access_key_id"))
                env.append(env_secret("AWS_SECRET_ACCESS_KEY", self.credentials_secret,
                                      "secret_access_key"))
        if self._kms_from_secret:
            env.append(env_secret(KMS_KEY_VARIABLE, self.credentials_secret, "kms_key"))
        return env

    # -- the setup Job ----------------------------------------------------------------

    def _setup(self, spec: PlatformSpec, args: list[str], image: str | None,
               names_mode: PhysicalNames, manifest_overrides: Mapping[str, Any] | None,
               depends_on: Sequence[Any]) -> None:
        namespace = self.namespace.name
        labels = {**kubernetes_labels(spec), "app.kubernetes.io/component": "bucket-setup",
                  "app.kubernetes.io/part-of": "synthdata"}
        account = object_name(self, "Setup", spec, names_mode, "bucket", suffix="-setup")
        self.setup_service_account = kube_object(self, "SetupServiceAccount", {
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": metadata(account, labels, namespace=namespace,
                                 annotations=identity.service_account_annotations(spec)),
            "automountServiceAccountToken": False,
        }, depends_on=self.namespace.depends)
        settings = PodSettings(
            image=service_image(spec, image), service_account=account, env=self.environment,
            labels={**labels, **self.pod_labels},
            image_pull_secrets=spec.kubernetes.image_pull_secrets)
        job = {
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": metadata(f"{account[:54]}-{content_hash(args)}", labels,
                                 namespace=namespace),
            "spec": {
                "backoffLimit": 6,
                "activeDeadlineSeconds": 900,
                "template": {
                    "metadata": {"labels": settings.labels},
                    "spec": pod_spec(settings, restart_policy="Never", container={
                        "name": "setup",
                        "command": list(_SETUP_COMMAND),
                        "args": args,
                        "resources": resources(512, "250m", cpu_limit="500m"),
                    }),
                },
            },
        }
        self.setup_manifest = merge_manifest(job, manifest_overrides)
        # The setup pods' own network path to the store, before they start.
        access = self.grant_read_write(Workload(self, namespace, account, settings.labels))
        self.setup_job = kube_object(self, "SetupJob", self.setup_manifest, wait_complete=True,
                                     depends_on=[*self.namespace.depends,
                                                 self.setup_service_account, access,
                                                 *depends_on])

    # -- grants: the network path from the grantee's pods to the store ---------------

    def egress(self) -> list[dict[str, Any]]:
        """NetworkPolicy egress rules to the bucket (and to the identity's token source)."""
        rules = identity.egress_rules(self.spec)
        if self._in_cluster:
            rules.append({"to": [{"podSelector": {"matchLabels": self._in_cluster}}],
                          "ports": ports(9000)})
            return rules
        port = 443
        if self.endpoint:
            parts = urlsplit(self.endpoint)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        rules.append({"to": [_destination(self.spec)], "ports": ports(port)})
        return rules

    def _grant(self, grantee: Any, kind: str) -> Manifest:
        workload = as_workload(grantee)
        name = kubernetes_name(f"{workload.scope.node.path}/{self.node.path}/{kind}")
        return kube_object(
            workload.scope, f"BucketAccess-{content_hash(self.node.path, kind)}",
            network_policy(name, workload.namespace, kubernetes_labels(self.spec),
                           pod_selector=workload.pod_labels, egress=self.egress()),
            depends_on=self.namespace.depends,
        )

    def grant_read(self, grantee: Any) -> Manifest:
        """Let `grantee`'s pods reach the bucket (a NetworkPolicy in its scope). What they
        may do there is the credentials' (or the cloud identity's) policy."""
        return self._grant(grantee, "read")

    def grant_write(self, grantee: Any) -> Manifest:
        return self._grant(grantee, "write")

    def grant_read_write(self, grantee: Any) -> Manifest:
        return self._grant(grantee, "read-write")

    def grant_delete(self, grantee: Any) -> Manifest:
        return self._grant(grantee, "delete")

    @classmethod
    def from_bucket_name(cls, scope: Construct, id: str, bucket_name: str, *,
                         spec: PlatformSpec, purpose: str = "data",
                         namespace: PlatformNamespace | str | None = None,
                         endpoint: str | None = None, credentials_secret: str | None = None,
                         ) -> SecureBucket:
        """An existing bucket whose settings its owner manages: no setup Job."""
        return _ImportedBucket(scope, id, spec=spec, purpose=purpose, bucket_name=bucket_name,
                   namespace=namespace, endpoint=endpoint, credentials_secret=credentials_secret,
                   configure=False)


class _ImportedBucket(SecureBucket):
    """A bucket brought in by name: its owner guarantees its settings (no warning)."""

    _warn_unconfigured = False


def _destination(spec: PlatformSpec) -> dict[str, Any]:
    """Anywhere, or only the private network with `network.vpc`."""
    cidr = spec.network.cidr if spec.network.vpc else "0.0.0.0/0"
    return {"ipBlock": {"cidr": cidr}}
