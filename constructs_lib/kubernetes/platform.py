"""`SyntheticDataPlatform` on Kubernetes: the whole platform on any cluster, one spec.

Composes, in one namespace (labelled for the 'restricted' Pod Security Standard):
generated Secrets (the API-key pepper; the in-cluster MinIO's keys), the `SecureBucket`
(with its setup Job), the `MetadataStore`, the `JobRunner` (Kubernetes Jobs for training
and large samples) and the `ServerlessGenerator`; plus, when `kubernetes.on_prem` asks,
MinIO, PostgreSQL (CloudNativePG) and Prometheus as pinned Helm releases.

    from cdktn import App, TerraformStack
    from constructs_lib import PlatformSpec
    from constructs_lib.kubernetes import SyntheticDataPlatform, providers

    spec = PlatformSpec.from_file("examples/dev.yaml")
    app = App()
    stack = TerraformStack(app, "synth-demo-dev-k8s")
    providers(stack)                      # kubernetes + helm, from KUBE_CONFIG_PATH
    SyntheticDataPlatform(stack, "Synth", spec=spec)
    app.synth()
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdktn import TerraformBackend, TerraformOutput, TerraformStack
from constructs import Construct

from ..naming import kubernetes_stack_name
from ..spec import PlatformSpec
from ..types import OUTPUTS, PhysicalNames, RemovalPolicy, UnsupportedOnCloud, output_id
from . import identity
from .bucket import SecureBucket
from .defaults import refuse_cloud_arguments
from .dependencies import MINIO_KMS_KEY, InClusterMinio, InClusterPostgres, InClusterPrometheus
from .generator import ServerlessGenerator
from .jobs import JobRunner
from .metadata_store import MetadataStore
from .namespace import PlatformNamespace, object_name, resolve_namespace
from .secrets import GeneratedSecrets, PepperSecret

__all__ = ["KubernetesBackend", "SyntheticDataPlatform", "kubernetes_backend", "platform_stack",
           "providers"]


class SyntheticDataPlatform(Construct):
    """The synthetic data platform on any Kubernetes cluster.

    Public attributes: `spec`, `namespace` (`PlatformNamespace`), `bucket`
    (`SecureBucket`), `metadata_store` (`MetadataStore`), `job_runner` (`JobRunner`, or
    None with `jobs.long_running` off: jobs then run in the API pods), `generator`
    (`ServerlessGenerator`), `api_keys_secret` (`PepperSecret`), `secrets`
    (`GeneratedSecrets`), `minio` / `postgres` / `prometheus` (the on-prem releases, or
    None), `endpoint_url`, `encryption_key`, `outputs` (name -> `TerraformOutput`, empty
    unless `outputs=True`), `cloud_bindings` (what to bind on the cloud side for workload
    identity).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        encryption_key: str | None = None,
        vpc: Any = None,
        vpc_subnets: Any = None,
        bucket: SecureBucket | None = None,
        metadata_store: MetadataStore | None = None,
        image: str | None = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
        outputs: bool = False,
        namespace: PlatformNamespace | str | None = None,
        bucket_props: Mapping[str, Any] | None = None,
        store_props: Mapping[str, Any] | None = None,
        deployment_props: Mapping[str, Any] | None = None,
        chart_values: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Arguments (all keyword-only):

        spec: the platform spec; every object, name, label and limit derives from it.
        encryption_key: the bucket's key (see `SecureBucket`). Default: the spec's.
        vpc / vpc_subnets: refused on Kubernetes (set `network.vpc` / `network.cidr`: the
            pods' egress is then limited to that range).
        bucket / metadata_store: bring your own (`SecureBucket` / `MetadataStore`, or
            their `from_*` imports); nothing the platform would make for them is made.
        image: the service image. Default: `generator.image`, else
            `synthdata-service:<version>`.
        environment: further variables for the service (may not replace the contract's).
        physical_names: GENERATED (default) or FROM_SPEC names for every object.
        outputs: publish `types.OUTPUTS` as Terraform outputs (ids scoped by `id`).
        namespace: the namespace (a `PlatformNamespace` or a name). Default:
            `kubernetes.namespace`, else one per `physical_names`.
        bucket_props / store_props / deployment_props: passed to the bucket, the store
            and the generator (merged over the secure defaults; replacing one warns).
        chart_values: per on-prem release ('minio', 'postgresql', 'prometheus'), values
            deep-merged over the platform's.
        """
        super().__init__(scope, id)
        k8s = spec.kubernetes
        on_prem = k8s.on_prem
        refuse_cloud_arguments("SyntheticDataPlatform", vpc=vpc, vpc_subnets=vpc_subnets)
        if on_prem.minio and (k8s.storage.endpoint or k8s.workload_identity.provider != "none"):
            raise ValueError(
                "kubernetes.on_prem.minio: the in-cluster MinIO is the bucket, so "
                "kubernetes.storage.endpoint and kubernetes.workload_identity must be unset")
        if spec.network.vpc and k8s.workload_identity.provider == "aks":
            raise UnsupportedOnCloud(
                "network.vpc", "kubernetes with workload identity 'aks'", "Entra ID's token "
                "endpoint is on the internet", "turn network.vpc off on AKS")
        names_mode = PhysicalNames.resolve(physical_names)
        removal = RemovalPolicy.resolve(None, spec)
        chart_values = dict(chart_values or {})
        self.spec = spec
        self.namespace = resolve_namespace(self, spec, namespace, names_mode,
                                           removal_policy=removal)
        ns = self.namespace.name

        # Secrets generated in the cluster: the pepper, and the in-cluster MinIO's keys.
        self.api_keys_secret = PepperSecret(
            self, "ApiKeysSecret",
            secret_name=object_name(self, "ApiKeysSecret", spec, names_mode, "secret"))
        secrets: dict[str, dict[str, str]] = {
            self.api_keys_secret.secret_name: dict(self.api_keys_secret.generator)}
        namespaces = [self.namespace]
        self.minio: InClusterMinio | None = None
        minio_name = storage_secret = bucket_name = None
        if on_prem.minio and bucket is None:
            minio_name = object_name(self, "Minio", spec, names_mode, "service", suffix="-minio")
            storage_secret = k8s.storage.credentials_secret or object_name(
                self, "StorageCredentials", spec, names_mode, "storage_secret")
            bucket_name = SecureBucket.default_name(f"{self.node.path}/Bucket", spec, ns,
                                                    names_mode)
            namespaces.append(PlatformNamespace(
                self, "MinioNamespace", spec=spec,
                name=InClusterMinio.namespace_name(ns), create=True, removal_policy=removal,
                pod_security="baseline"))
            secrets[storage_secret] = InClusterMinio.credentials(spec)
        self.secrets = GeneratedSecrets(
            self, "Secrets", spec=spec, namespaces=namespaces, secrets=secrets,
            name=object_name(self, "Secrets", spec, names_mode, "bootstrap"), image=image)
        ready = [self.secrets.job]

        # The bucket: yours, the in-cluster MinIO, or an S3-compatible / cloud bucket.
        if bucket is None and on_prem.minio:
            self.minio = InClusterMinio(
                self, "Minio", spec=spec, name=minio_name, platform_namespace=ns,
                bucket=bucket_name, credentials_secret=storage_secret, removal_policy=removal,
                depends_on=[self.secrets.job, *namespaces[1].depends],
                values=chart_values.get("minio"))
            bucket = SecureBucket(
                self, "Bucket", spec=spec, namespace=self.namespace, bucket_name=bucket_name,
                endpoint=self.minio.endpoint, credentials_secret=storage_secret,
                encryption_key=encryption_key or MINIO_KMS_KEY, image=image,
                physical_names=names_mode, bucket_props=bucket_props,
                in_cluster_selector=self.minio.selector,
                depends_on=[self.minio.release, self.secrets.job])
        elif bucket is None:
            bucket = SecureBucket(
                self, "Bucket", spec=spec, namespace=self.namespace,
                encryption_key=encryption_key, image=image, physical_names=names_mode,
                bucket_props=bucket_props)
        self.bucket = bucket
        self.encryption_key = bucket.encryption_key
        if bucket.setup_job is not None:
            ready.append(bucket.setup_job)

        # The metadata store: yours, the in-cluster PostgreSQL, or one reached by Secret.
        self.postgres: InClusterPostgres | None = None
        if metadata_store is None and on_prem.postgresql:
            database = k8s.postgres.database or "synthdata"
            cluster = object_name(self, "Postgres", spec, names_mode, "service", suffix="-pg")
            self.postgres = InClusterPostgres(
                self, "Postgres", spec=spec, name=cluster, namespace=ns, database=database,
                removal_policy=removal, deletion_protection=spec.is_production,
                backup=self._backup(bucket, spec),
                client_selector={"app.kubernetes.io/part-of": "synthdata"},
                depends_on=[*self.namespace.depends, *ready],
                values=chart_values.get("postgresql"))
            metadata_store = MetadataStore(
                self, "MetadataStore", spec=spec, namespace=self.namespace,
                store_name=database, host=self.postgres.host,
                credentials_secret=self.postgres.credentials_secret,
                ca_secret=self.postgres.ca_secret, store_props=store_props,
                in_cluster_selector=self.postgres.selector, managed=True,
                point_in_time_recovery=self.postgres.point_in_time_recovery,
                removal_policy=removal)
            ready.append(self.postgres.release)
        elif metadata_store is None:
            metadata_store = MetadataStore(self, "MetadataStore", spec=spec,
                                           namespace=self.namespace, physical_names=names_mode,
                                           store_props=store_props, removal_policy=removal)
        self.metadata_store = metadata_store

        self.job_runner: JobRunner | None = None
        if spec.jobs.long_running:
            self.job_runner = JobRunner(
                self, "JobRunner", spec=spec, bucket=bucket, metadata_store=metadata_store,
                api_keys_secret=self.api_keys_secret, image=image, environment=environment,
                physical_names=names_mode, namespace=self.namespace)
        self.generator = ServerlessGenerator(
            self, "Generator", spec=spec, bucket=bucket, metadata_store=metadata_store,
            api_keys_secret=self.api_keys_secret, image=image, job_runner=self.job_runner,
            environment=environment, physical_names=names_mode, namespace=self.namespace,
            depends_on=ready, deployment_props=deployment_props)
        self.endpoint_url: str = self.generator.endpoint_url

        self.prometheus: InClusterPrometheus | None = None
        if on_prem.prometheus:
            self.prometheus = InClusterPrometheus.of(
                self, spec=spec, platform_namespace=ns,
                monitoring=self.generator.monitoring, depends_on=self.namespace.depends,
                values=chart_values.get("prometheus"))

        accounts = [self.generator.identity.service_account]
        if self.job_runner is not None:
            accounts.append(self.job_runner.identity.service_account)
        self.cloud_bindings = identity.cloud_bindings(spec, ns, accounts)
        self.outputs: dict[str, TerraformOutput] = {}
        if outputs:
            values = {
                "endpoint_url": self.endpoint_url,
                "bucket_name": bucket.bucket_name,
                "storage_url": bucket.storage_url,
                "metadata_url": metadata_store.metadata_url,
                "api_keys_secret": f"{ns}/{self.api_keys_secret.secret_name}",
                "jobs_url": self.generator.runtime_environment["SYNTH_JOBS_URL"],
                "identity": f"system:serviceaccount:{ns}:"
                            f"{self.generator.identity.service_account}",
            }
            for name, value in values.items():
                output = TerraformOutput(self, name, value=value, description=OUTPUTS[name])
                output.override_logical_id(output_id(id, name, style="snake"))
                self.outputs[name] = output

    @staticmethod
    def _backup(bucket: SecureBucket, spec: PlatformSpec) -> dict[str, Any] | None:
        """CloudNativePG's WAL archive and base backups in the platform's bucket."""
        if bucket.scheme != "s3":
            return None  # GCS / Azure archives need the operator's cloud credentials setup
        backup: dict[str, Any] = {
            "provider": "s3",
            "s3": {"region": spec.region, "bucket": bucket.bucket_name,
                   "path": f"/{bucket.purpose}/postgres/",
                   "inheritFromIAMRole": not identity.uses_static_keys(spec)},
            "wal": {"compression": "gzip", "encryption": ""},
            "data": {"compression": "gzip", "encryption": ""},
            "retentionPolicy": f"{max(7, spec.storage.retention_days)}d",
            "scheduledBackups": [{"name": "daily", "schedule": "0 0 2 * * *",
                                  "backupOwnerReference": "self", "method": "barmanObjectStore"}],
        }
        if bucket.endpoint:
            backup["endpointURL"] = bucket.endpoint
        if identity.uses_static_keys(spec):
            backup["secret"] = {"create": False, "name": bucket.credentials_secret}
        return backup


class KubernetesBackend(TerraformBackend):
    """Terraform's `kubernetes` backend: the stack's state in a Secret of the cluster."""

    def __init__(self, scope: Construct, *, secret_suffix: str, namespace: str) -> None:
        super().__init__(scope, "backend", "kubernetes")
        self._config = {"secret_suffix": secret_suffix, "namespace": namespace}

    def _synthesize_attributes(self) -> dict[str, str]:
        return dict(self._config)

    def get_remote_state_data_source(self, scope, name, from_stack):  # noqa: ANN001
        raise NotImplementedError("read another stack's outputs with its own kubernetes "
                                  "backend configuration (terraform_remote_state)")


def kubernetes_backend(stack: TerraformStack, spec: PlatformSpec, *,
                       namespace: str = "default") -> KubernetesBackend:
    """Keep the stack's state in the cluster: Secret `tfstate-default-synthdata-<name>-<env>`
    in `namespace` (which must exist; not the platform's own, which the stack manages)."""
    return KubernetesBackend(stack, secret_suffix=f"synthdata-{spec.name}-{spec.environment}",
                             namespace=namespace)


def providers(stack: TerraformStack, *, config_path: str | None = None,
              config_context: str | None = None) -> tuple[Any, Any]:
    """The kubernetes and helm providers of a stack, both from one kubeconfig (default:
    the providers' own lookup, `KUBE_CONFIG_PATH`)."""
    from cdktn_provider_helm.provider import HelmProvider, HelmProviderKubernetes
    from cdktn_provider_kubernetes.provider import KubernetesProvider

    kubernetes = KubernetesProvider(stack, "kubernetes", config_path=config_path,
                                    config_context=config_context)
    helm = HelmProvider(stack, "helm", kubernetes=HelmProviderKubernetes(
        config_path=config_path, config_context=config_context))
    return kubernetes, helm


def platform_stack(app: Any, spec: PlatformSpec) -> TerraformStack:
    """The ready-made stack: the providers, the state in the cluster, and the platform
    with its outputs (what `apps/terraform.py` and `synthctl manifests` build)."""
    stack = TerraformStack(app, kubernetes_stack_name(spec))
    providers(stack)
    kubernetes_backend(stack, spec)
    SyntheticDataPlatform(stack, "Synth", spec=spec, outputs=True)
    return stack
