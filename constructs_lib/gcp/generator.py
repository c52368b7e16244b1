"""`ServerlessGenerator` on GCP: the service on Cloud Run v2 or Cloud Functions (gen2).

`spec.generator.packaging` picks the runtime: 'container' runs an image on Cloud Run v2
(the spec's `generator.image`, or the Artifact Registry repository this construct
creates); 'source' uploads the `service/` directory as a zip (a `TerraformAsset`) to a
private source bucket and deploys it as a Cloud Functions gen2 function.

Either way the service runs as its own service account that holds only resource-level
grants: object read/write on exactly the data bucket, `roles/datastore.user` limited by
an IAM condition to exactly the platform's database, and secret access on exactly the
pepper secret. Callers need IAM: there is no `allUsers` invoker; only the members given
in `invoker_members` may invoke. Alert policies watch the 5xx count and p99 latency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from cdktn import AssetType, TerraformAsset
from cdktn_provider_google.artifact_registry_repository import (
    ArtifactRegistryRepository,
)
from cdktn_provider_google.cloud_run_v2_service import (
    CloudRunV2Service,
    CloudRunV2ServiceTemplate,
    CloudRunV2ServiceTemplateContainers,
    CloudRunV2ServiceTemplateContainersEnv,
    CloudRunV2ServiceTemplateContainersLivenessProbe,
    CloudRunV2ServiceTemplateContainersLivenessProbeHttpGet,
    CloudRunV2ServiceTemplateContainersPorts,
    CloudRunV2ServiceTemplateContainersResources,
    CloudRunV2ServiceTemplateContainersStartupProbe,
    CloudRunV2ServiceTemplateContainersStartupProbeHttpGet,
    CloudRunV2ServiceTemplateScaling,
)
from cdktn_provider_google.cloud_run_v2_service_iam_member import (
    CloudRunV2ServiceIamMember,
)
from cdktn_provider_google.cloudfunctions2_function import (
    Cloudfunctions2Function,
    Cloudfunctions2FunctionBuildConfig,
    Cloudfunctions2FunctionBuildConfigSource,
    Cloudfunctions2FunctionBuildConfigSourceStorageSource,
    Cloudfunctions2FunctionServiceConfig,
)
from cdktn_provider_google.kms_crypto_key_iam_member import KmsCryptoKeyIamMember
from cdktn_provider_google.monitoring_alert_policy import (
    MonitoringAlertPolicy,
    MonitoringAlertPolicyAlertStrategy,
    MonitoringAlertPolicyConditions,
    MonitoringAlertPolicyConditionsConditionThreshold,
    MonitoringAlertPolicyConditionsConditionThresholdAggregations,
    MonitoringAlertPolicyConditionsConditionThresholdTrigger,
    MonitoringAlertPolicyDocumentation,
)
from cdktn_provider_google.monitoring_notification_channel import (
    MonitoringNotificationChannel,
)
from cdktn_provider_google.secret_manager_secret import SecretManagerSecret
from cdktn_provider_google.secret_manager_secret_iam_member import (
    SecretManagerSecretIamMember,
)
from cdktn_provider_google.service_account import ServiceAccount
from cdktn_provider_google.service_account_iam_member import ServiceAccountIamMember
from cdktn_provider_google.storage_bucket import StorageBucket
from cdktn_provider_google.storage_bucket_object import StorageBucketObject
from constructs import Construct

from .. import contract as runtime_contract
from ..contract import RuntimeContract
from ..naming import gcp_labels, gcp_names, gcp_region
from ..spec import PlatformSpec
from .apis import enable_apis
from .bucket import SecureBucket, data_lifecycle, secure_bucket
from .defaults import (
    FUNCTION_ENTRY_POINT,
    FUNCTION_RUNTIME,
    INGRESS,
    check_choice,
    cpu_for_memory,
    latency_threshold_ms,
    required_apis,
    validate_member,
)
from .key import grant_encrypt_decrypt
from .metadata_store import MetadataStore

__all__ = ["GeneratorAlerts", "ServerlessGenerator", "default_source_dir"]

#: Port the service listens on in its container (Cloud Run sets $PORT to it).
CONTAINER_PORT = 8080
HEALTH_PATH = "/healthz"


def default_source_dir() -> Path:
    """A freshly staged function bundle (see `source.stage_function_source`)."""
    from .source import stage_function_source

    return stage_function_source()


class ServerlessGenerator(Construct):
    """The generator service, its runtime identity, grants, invokers and alerts.

    Public attributes: `endpoint_url` (HTTPS base URL), `runtime_environment` (the runtime
    contract's variables), `identity` (`ServiceAccount`), `service` (`CloudRunV2Service`,
    for 'container') or `function` (`Cloudfunctions2Function`, for 'source') - the other
    is None - `repository` (`ArtifactRegistryRepository` or None; encrypted with the
    bucket's key, `repository_key_grant`), `image` (str or None),
    `source_bucket`, `source_asset`, `source_object` (for 'source', else None),
    `bucket_grant`, `database_grant`, `secret_grant`, `signing_grant`, `invoker_grants`,
    `alerts`
    (`GeneratorAlerts`), `apis`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        bucket: SecureBucket,
        metadata_store: MetadataStore,
        api_keys_secret: SecretManagerSecret,
        environment: Mapping[str, str] | None = None,
        invoker_members: Sequence[str] = (),
        ingress: str = "all",
        requests_per_instance: int = 1,
        source_dir: str | Path | None = None,
        entry_point: str = FUNCTION_ENTRY_POINT,
    ) -> None:
        """Arguments (all keyword-only):

        spec: the platform spec: packaging, memory, timeout, instances, limits, alarms.
        bucket: the `SecureBucket` the service stores datasets, models and samples in.
        metadata_store: the `MetadataStore` holding the service's records.
        api_keys_secret: the Secret Manager secret holding the API-key pepper.
        environment: further variables for the service. Default: none. They may add
            contract variables the platform leaves unset (e.g. SYNTH_RATE_LIMIT_URL) but
            not replace ones it sets.
        invoker_members: IAM members allowed to call the service (`user:`, `group:`,
            `serviceAccount:`, `domain:`). Default: none - nobody but project owners can
            invoke until you grant `roles/run.invoker`. `allUsers` and
            `allAuthenticatedUsers` are refused.
        ingress: 'all' (reachable from the internet, IAM still required) or
            'internal-and-cloud-load-balancing'. Default: 'all'.
        requests_per_instance: concurrent requests one instance serves. Default: 1 (like
            Lambda: one SDV sample of 1M rows can use 1.25-2.5 GB).
        source_dir: directory zipped and deployed with 'source' packaging. Default: the
            repository's `service/` directory.
        entry_point: the function the source exposes to Cloud Functions. Default:
            'synth_http'.
        """
        super().__init__(scope, id)
        check_choice(ingress, tuple(INGRESS), argument="ingress")
        members = [validate_member(m, argument="invoker_members") for m in invoker_members]
        if not 1 <= requests_per_instance <= 1000:
            raise ValueError(f"requests_per_instance: {requests_per_instance} must be 1-1000")
        packaging = spec.generator.packaging
        if packaging == "source" and spec.generator.image:
            raise ValueError(
                "generator.image is set but generator.packaging is 'source': Cloud Functions "
                "builds from source and cannot run a prebuilt image; set packaging to "
                "'container' to run the image on Cloud Run, or remove generator.image"
            )
        if packaging == "source":
            source_dir = Path(source_dir) if source_dir is not None else default_source_dir()
            if not source_dir.is_dir():
                raise ValueError(
                    f"source_dir: {source_dir} is not a directory; 'source' packaging zips "
                    "the service's source directory (it must hold main.py)"
                )
        # every contract variable but the optional shared rate-limit store is set below
        platform_set = set(runtime_contract.ALL_VARIABLES) - {runtime_contract.RATE_LIMIT_URL}
        clashes = sorted(set(environment or {}) & platform_set)
        if clashes:
            raise ValueError(
                f"environment: {', '.join(clashes)} are set by the platform from the spec and "
                "its resources; change the spec instead of overriding them"
            )
        self.spec = spec
        names = gcp_names(spec)
        project = spec.gcp.project
        region = gcp_region(spec)
        labels = gcp_labels(spec)
        self.apis = enable_apis(self, project, required_apis(spec, "identity", packaging))

        self.identity = ServiceAccount(
            self, "Identity",
            project=project,
            account_id=names.service_account,
            display_name=f"Synthdata generator ({spec.name} {spec.environment})",
            description="Runtime identity of the synthetic data service; resource-level "
            "grants only",
            depends_on=self.apis,
        )
        self.bucket_grant = bucket.grant_read_write(self.identity)
        self.database_grant = metadata_store.grant_read_write(self.identity)
        self.secret_grant = SecretManagerSecretIamMember(
            self, "SecretGrant",
            project=project,
            secret_id=api_keys_secret.id,
            role="roles/secretmanager.secretAccessor",
            member=f"serviceAccount:{self.identity.email}",
        )
        # Lets the identity sign blobs as itself (and only itself), so the service can hand
        # out V4-signed GCS download links without a key file.
        self.signing_grant = ServiceAccountIamMember(
            self, "SigningGrant",
            service_account_id=self.identity.name,
            role="roles/iam.serviceAccountTokenCreator",
            member=f"serviceAccount:{self.identity.email}",
        )
        grants = [self.bucket_grant, self.database_grant, self.secret_grant,
                  self.signing_grant]

        contract = RuntimeContract.for_spec(
            spec,
            storage_url=bucket.storage_url,
            metadata_url=metadata_store.metadata_url,
            api_keys_secret=api_keys_secret.id,
            jobs_url="inline://",
        ).to_env()
        self.runtime_environment: dict[str, str] = {**contract, **(environment or {})}

        self.service: CloudRunV2Service | None = None
        self.function: Cloudfunctions2Function | None = None
        self.repository: ArtifactRegistryRepository | None = None
        self.repository_key_grant: KmsCryptoKeyIamMember | None = None
        self.image: str | None = None
        self.source_bucket: StorageBucket | None = None
        self.source_asset: TerraformAsset | None = None
        self.source_object: StorageBucketObject | None = None
        run_ingress, function_ingress = INGRESS[ingress]
        generator = spec.generator
        if packaging == "container":
            self.image = generator.image
            if self.image is None:
                repository_depends = list(self.apis)
                if bucket.encryption_key is not None:
                    # Artifact Registry encrypts with its service agent, which needs the key.
                    self.repository_key_grant = grant_encrypt_decrypt(
                        self, "RegistryAgentKeyGrant", bucket.encryption_key,
                        f"serviceAccount:service-{metadata_store.project_info.number}"
                        "@gcp-sa-artifactregistry.iam.gserviceaccount.com",
                    )
                    repository_depends.append(self.repository_key_grant)
                self.repository = ArtifactRegistryRepository(
                    self, "Repository",
                    project=project,
                    location=region,
                    repository_id=names.artifact_repository,
                    format="DOCKER",
                    description="Images of the synthetic data service",
                    kms_key_name=bucket.encryption_key.id if bucket.encryption_key else None,
                    labels=labels,
                    depends_on=repository_depends,
                )
                self.image = (f"{region}-docker.pkg.dev/{project}/"
                              f"{names.artifact_repository}/synth-service:latest")
            self.service = CloudRunV2Service(
                self, "Service",
                project=project,
                location=region,
                name=names.service,
                ingress=run_ingress,
                invoker_iam_disabled=False,
                deletion_protection=spec.removal_policy == "retain",
                labels=labels,
                template=CloudRunV2ServiceTemplate(
                    service_account=self.identity.email,
                    execution_environment="EXECUTION_ENVIRONMENT_GEN2",
                    timeout=f"{generator.timeout_seconds}s",
                    max_instance_request_concurrency=requests_per_instance,
                    scaling=CloudRunV2ServiceTemplateScaling(
                        min_instance_count=generator.min_instances,
                        max_instance_count=generator.concurrency,
                    ),
                    labels=labels,
                    containers=[CloudRunV2ServiceTemplateContainers(
                        image=self.image,
                        ports=CloudRunV2ServiceTemplateContainersPorts(
                            container_port=CONTAINER_PORT),
                        resources=CloudRunV2ServiceTemplateContainersResources(
                            limits={"cpu": cpu_for_memory(generator.memory_mb),
                                    "memory": f"{generator.memory_mb}Mi"},
                            # inline:// jobs keep training after the response is sent
                            cpu_idle=False,
                            startup_cpu_boost=True,
                        ),
                        env=[CloudRunV2ServiceTemplateContainersEnv(name=k, value=v)
                             for k, v in sorted(self.runtime_environment.items())],
                        startup_probe=CloudRunV2ServiceTemplateContainersStartupProbe(
                            http_get=CloudRunV2ServiceTemplateContainersStartupProbeHttpGet(
                                path=HEALTH_PATH, port=CONTAINER_PORT),
                            period_seconds=5,
                            failure_threshold=24,
                        ),
                        liveness_probe=CloudRunV2ServiceTemplateContainersLivenessProbe(
                            http_get=CloudRunV2ServiceTemplateContainersLivenessProbeHttpGet(
                                path=HEALTH_PATH, port=CONTAINER_PORT),
                            period_seconds=30,
                        ),
                    )],
                ),
                depends_on=[*self.apis, *grants],
            )
            self.endpoint_url: str = self.service.uri
            invoked_name = self.service.name
        else:
            self.source_bucket = secure_bucket(
                self, "SourceBucket",
                spec=spec,
                name=names.source_bucket,
                removal_policy="destroy",  # holds only build inputs, re-uploaded on deploy
                lifecycle_rules=data_lifecycle(30, 7, None),
                kms_key_id=bucket.encryption_key.id if bucket.encryption_key else None,
                log_bucket=bucket.access_log_bucket,
                depends_on=[*self.apis, *([bucket.key_grant] if bucket.key_grant else [])],
            )
            self.source_asset = TerraformAsset(
                self, "Source", path=str(source_dir), type=AssetType.ARCHIVE,
            )
            self.source_object = StorageBucketObject(
                self, "SourceObject",
                bucket=self.source_bucket.name,
                name=f"generator/{self.source_asset.asset_hash}.zip",
                source=self.source_asset.path,
                content_type="application/zip",
            )
            self.function = Cloudfunctions2Function(
                self, "Function",
                project=project,
                location=region,
                name=names.service,
                description="Synthetic data service (Cloud Functions gen2)",
                labels=labels,
                build_config=Cloudfunctions2FunctionBuildConfig(
                    runtime=FUNCTION_RUNTIME,
                    entry_point=entry_point,
                    source=Cloudfunctions2FunctionBuildConfigSource(
                        storage_source=Cloudfunctions2FunctionBuildConfigSourceStorageSource(
                            bucket=self.source_bucket.name,
                            object=self.source_object.name,
                        ),
                    ),
                ),
                service_config=Cloudfunctions2FunctionServiceConfig(
                    service_account_email=self.identity.email,
                    available_memory=f"{generator.memory_mb}Mi",
                    available_cpu=cpu_for_memory(generator.memory_mb),
                    timeout_seconds=generator.timeout_seconds,
                    min_instance_count=generator.min_instances,
                    max_instance_count=generator.concurrency,
                    max_instance_request_concurrency=requests_per_instance,
                    ingress_settings=function_ingress,
                    all_traffic_on_latest_revision=True,
                    environment_variables=dict(sorted(self.runtime_environment.items())),
                ),
                depends_on=[*self.apis, *grants],
            )
            self.endpoint_url = self.function.url
            # A gen2 function is served by a Cloud Run service of the same name, and
            # invocation is checked against that service's run.invoker binding.
            invoked_name = self.function.name

        self.invoker_grants = [
            CloudRunV2ServiceIamMember(
                self, f"Invoker{index}",
                project=project,
                location=region,
                name=invoked_name,
                role="roles/run.invoker",
                member=member,
            )
            for index, member in enumerate(members)
        ]
        self.alerts = GeneratorAlerts(self, "Alerts", spec=spec, service_name=names.service)


class GeneratorAlerts(Construct):
    """Cloud Monitoring alert policies on the generator's 5xx count and p99 latency, and
    one e-mail notification channel per `monitoring.alarm_emails` address.

    Public attributes: `channels` (list of `MonitoringNotificationChannel`),
    `error_alert`, `latency_alert` (`MonitoringAlertPolicy`).
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, service_name: str):
        """spec: thresholds and addresses; service_name: the Cloud Run service (a gen2
        function's service has the function's name)."""
        super().__init__(scope, id)
        project = spec.gcp.project
        labels = gcp_labels(spec)
        apis = enable_apis(self, project, required_apis(spec, "monitoring"))
        self.channels = [
            MonitoringNotificationChannel(
                self, f"Email{index}",
                project=project,
                type="email",
                display_name=f"Synthdata {spec.name} {spec.environment}: {email}",
                labels={"email_address": email},
                user_labels=labels,
                depends_on=apis,
            )
            for index, email in enumerate(spec.monitoring.alarm_emails)
        ]
        channel_ids = [channel.id for channel in self.channels]
        service = (f'resource.type = "cloud_run_revision" AND '
                   f'resource.labels.service_name = "{service_name}"')
        window = "300s"
        self.error_alert = MonitoringAlertPolicy(
            self, "Errors",
            project=project,
            display_name=f"synth {spec.name} {spec.environment}: 5xx responses",
            combiner="OR",
            severity="ERROR",
            notification_channels=channel_ids,
            user_labels=labels,
            documentation=MonitoringAlertPolicyDocumentation(
                mime_type="text/markdown",
                content=f"The generator answered at least {spec.monitoring.error_threshold} "
                "requests with 5xx in 5 minutes. Check its logs in Cloud Logging.",
            ),
            alert_strategy=MonitoringAlertPolicyAlertStrategy(auto_close="1800s"),
            conditions=[MonitoringAlertPolicyConditions(
                display_name="5xx responses in 5 minutes",
                condition_threshold=MonitoringAlertPolicyConditionsConditionThreshold(
                    filter=f'{service} AND metric.type = "run.googleapis.com/request_count" '
                           'AND metric.labels.response_code_class = "5xx"',
                    comparison="COMPARISON_GE",
                    threshold_value=spec.monitoring.error_threshold,
                    duration="0s",
                    aggregations=[MonitoringAlertPolicyConditionsConditionThresholdAggregations(
                        alignment_period=window,
                        per_series_aligner="ALIGN_SUM",
                        cross_series_reducer="REDUCE_SUM",
                    )],
                    trigger=MonitoringAlertPolicyConditionsConditionThresholdTrigger(count=1),
                ),
            )],
            depends_on=apis,
        )
        self.latency_alert = MonitoringAlertPolicy(
            self, "Latency",
            project=project,
            display_name=f"synth {spec.name} {spec.environment}: p99 latency",
            combiner="OR",
            severity="WARNING",
            notification_channels=channel_ids,
            user_labels=labels,
            documentation=MonitoringAlertPolicyDocumentation(
                mime_type="text/markdown",
                content=f"p99 request latency is above "
                f"{spec.monitoring.latency_threshold_ratio:.0%} of the "
                f"{spec.generator.timeout_seconds} s timeout: requests are close to being cut "
                "off. Ask for fewer rows per request or raise the timeout.",
            ),
            alert_strategy=MonitoringAlertPolicyAlertStrategy(auto_close="1800s"),
            conditions=[MonitoringAlertPolicyConditions(
                display_name="p99 latency near the timeout",
                condition_threshold=MonitoringAlertPolicyConditionsConditionThreshold(
                    filter=f'{service} AND metric.type = "run.googleapis.com/request_latencies"',
                    comparison="COMPARISON_GT",
                    threshold_value=latency_threshold_ms(spec),
                    duration="0s",
                    aggregations=[MonitoringAlertPolicyConditionsConditionThresholdAggregations(
                        alignment_period=window,
                        per_series_aligner="ALIGN_PERCENTILE_99",
                        cross_series_reducer="REDUCE_MAX",
                    )],
                    trigger=MonitoringAlertPolicyConditionsConditionThresholdTrigger(count=1),
                ),
            )],
            depends_on=apis,
        )

