"""`ServerlessGenerator` on GCP: the service on Cloud Run v2 or Cloud Functions (gen2).

`generator.packaging` picks the runtime: 'container' runs the service image on Cloud Run
v2 with uvicorn (`SYNTH_SERVER=uvicorn`); 'source' uploads the function bundle
(`source.stage_function_source`) to a private source bucket and deploys a Cloud Functions
gen2 function from it. Background jobs never run in the serving instance: they go to the
`JobRunner` (Cloud Run Jobs), which this construct creates when none is given.

`api.auth` decides who may reach the endpoint: 'api_key' - anyone may connect (Cloud Run's
IAM check is off) and the service checks `Authorization: Bearer <key>` on every call but
health; 'iam' - Cloud Run IAM requires `roles/run.invoker` (`invoker_members`,
`grant_invoke`) as well, callers sending a Google ID token in `X-Serverless-Authorization`.
CORS and the rate limit are the service's: `api.cors_origins` reaches it as
`SYNTH_CORS_ORIGINS`, the rate limit as `SYNTH_RATE_LIMIT_PER_SECOND` / `_BURST`, enforced
per API key in each instance (shared by all instances through `SYNTH_RATE_LIMIT_URL`).

The service runs as its own service account with resource-level grants only. Its logs go
to a log bucket that keeps them `monitoring.log_retention_days`; alert policies watch the
5xx count and p99 latency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cdktn import AssetType, TerraformAsset
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
    CloudRunV2ServiceTemplateVpcAccess,
    CloudRunV2ServiceTemplateVpcAccessNetworkInterfaces,
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
    Cloudfunctions2FunctionServiceConfigDirectVpcNetworkInterface,
)
from cdktn_provider_google.logging_project_bucket_config import LoggingProjectBucketConfig
from cdktn_provider_google.logging_project_exclusion import LoggingProjectExclusion
from cdktn_provider_google.logging_project_sink import LoggingProjectSink
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
from cdktn_provider_google.service_account_iam_member import ServiceAccountIamMember
from cdktn_provider_google.storage_bucket import StorageBucket
from cdktn_provider_google.storage_bucket_object import StorageBucketObject
from constructs import Construct

from ..contract import RuntimeContract, merge_environment
from ..naming import gcp_labels, gcp_names
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .apis import agent_key_grant, enable_apis, key_id
from .bucket import data_lifecycle, storage_bucket
from .defaults import (
    FUNCTION_ENTRY_POINT,
    FUNCTION_RUNTIME,
    INGRESS,
    SECURE_SERVICE,
    check_choice,
    cpu_for_memory,
    latency_threshold_ms,
    required_apis,
    validate_member,
)
from .iam import grant, runtime_identity
from .image import ServiceImage, image_uri
from .jobs import JobRunner, secret_id
from .network import Egress, PrivateNetwork, egress
from .stack import Placement, merged, physical_name, placement

__all__ = ["GeneratorAlerts", "ServerlessGenerator", "ServiceLogs", "default_source_dir"]

#: Port the service listens on in its container (Cloud Run sets $PORT to it).
CONTAINER_PORT = 8080
HEALTH_PATH = "/healthz"
#: What the image's entrypoint reads to serve the ASGI app with uvicorn (not the Lambda
#: runtime), and the proxies uvicorn trusts for X-Forwarded-*: on Cloud Run only Google's
#: front end can reach the container, so its forwarded scheme and client address are true.
SERVER_ENVIRONMENT = {"SYNTH_SERVER": "uvicorn", "FORWARDED_ALLOW_IPS": "*"}


def default_source_dir() -> Path:
    """A freshly staged function bundle (see `source.stage_function_source`)."""
    from .source import stage_function_source

    return stage_function_source()


class ServerlessGenerator(Construct):
    """The generator service, its runtime identity, grants, invokers, logs and alerts.

    Public attributes: `endpoint_url` (HTTPS base URL), `runtime_environment` (the runtime
    contract's variables), `identity` (`ServiceAccount`), `service` (`CloudRunV2Service`,
    for 'container') or `function` (`Cloudfunctions2Function`, for 'source') - the other
    is None - `job_runner` (`JobRunner`), `image` (the image URI jobs and Cloud Run run),
    `built_image` (`ServiceImage` or None), `source_bucket`, `source_asset`,
    `source_object` (for 'source', else None), `bucket_grant`, `database_grant`,
    `secret_grant`, `signing_grant`, `invoker_grants`, `logs` (`ServiceLogs`), `alerts`
    (`GeneratorAlerts`), `apis`, `placement`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        bucket: Any,
        metadata_store: Any,
        api_keys_secret: Any,
        image: ServiceImage | str | None = None,
        job_runner: JobRunner | None = None,
        encryption_key: Any = None,
        vpc: Any = None,
        vpc_subnets: Any = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
        invoker_members: Sequence[str] = (),
        ingress: str = "all",
        requests_per_instance: int = 1,
        source_dir: str | Path | None = None,
        entry_point: str = FUNCTION_ENTRY_POINT,
        service_props: Mapping[str, Any] | None = None,
    ) -> None:
        """Arguments (all keyword-only):

        spec: packaging, memory, timeout, instances, limits, auth, CORS, rate limit,
            alarms, log retention; project and region (or the stack's google provider).
        bucket: the `SecureBucket` (or an imported one) for datasets, models and samples.
        metadata_store: the `MetadataStore` (or an imported one) holding the records.
        api_keys_secret: the pepper's `SecretManagerSecret` (or its id string).
        image: a `ServiceImage` or an image URI (by digest, ideally) for Cloud Run and the
            jobs. Default: `generator.image`, else a `ServiceImage` built by the deploy.
        job_runner: the `JobRunner` jobs are submitted to. Default: a new one.
        encryption_key: a Cloud KMS key for Cloud Run (CMEK; the Cloud Run agent is
            granted it) and the source bucket. Default: none (Google-managed).
        vpc, vpc_subnets: network and subnetwork for Direct VPC egress. Default: a new
            private network when `network.vpc` is on, else none.
        environment: further variables for the service; they may add variables but not
            replace the contract's (`contract.merge_environment`) or SYNTH_SERVER.
        physical_names: GENERATED (default) or FROM_SPEC service and account names.
        invoker_members: IAM members given `roles/run.invoker` (needed with `api.auth:
            iam`). Default: none. `allUsers` / `allAuthenticatedUsers` are refused.
        ingress: 'all' or 'internal-and-cloud-load-balancing' (behind your own load
            balancer). Default: 'all'.
        requests_per_instance: concurrent requests one instance serves. Default: 1 (like
            Lambda: one SDV sample of 1M rows can use 1.25-2.5 GB).
        source_dir: the function bundle for 'source' packaging. Default: the staged
            bundle of the installed service (`source.stage_function_source`).
        entry_point: the function the bundle exposes. Default: 'synth_http'.
        service_props: `CloudRunV2Service` arguments merged over the defaults (container
            packaging); replacing a secure default warns.
        """
        super().__init__(scope, id)
        check_choice(ingress, tuple(INGRESS), argument="ingress")
        members = [validate_member(m, argument="invoker_members") for m in invoker_members]
        if not 1 <= requests_per_instance <= 1000:
            raise ValueError(f"requests_per_instance: {requests_per_instance} must be 1-1000")
        packaging = spec.generator.packaging
        if packaging == "source":
            source_dir = Path(source_dir) if source_dir is not None else default_source_dir()
            if not (source_dir / "main.py").is_file():
                raise ValueError(
                    f"source_dir: {source_dir} is not a function bundle (no main.py at its "
                    "root); 'source' packaging deploys the staged bundle "
                    "(constructs_lib.gcp.source.stage_function_source)"
                )
        if service_props is not None and packaging != "container":
            raise ValueError("service_props: applies to the Cloud Run service of 'container' "
                             "packaging; this generator deploys a Cloud Function ('source')")
        extra = dict(environment or {})
        clashes = sorted(set(extra) & set(SERVER_ENVIRONMENT))
        if clashes:
            raise ValueError(f"environment: {', '.join(clashes)} are set by the platform (the "
                             "image serves the API with uvicorn on Cloud Run); remove them")
        self.spec = spec
        self.placement = where = placement(self, spec)
        naming = PhysicalNames.resolve(physical_names)
        names = gcp_names(spec, project=where.project, region=where.region)
        labels = gcp_labels(spec)
        self.apis = enable_apis(self, where, required_apis("identity", packaging))

        runtime = runtime_identity(
            self, project=where.project,
            account_id=physical_name(self, "service_account", where, part="Identity",
                                     from_spec=names.service_account, names=naming),
            display_name=f"Synthdata generator ({spec.name} {spec.environment})",
            description="Runtime identity of the synthetic data service; resource-level "
            "grants only",
            bucket=bucket, metadata_store=metadata_store, secret=secret_id(api_keys_secret),
            depends_on=self.apis)
        self.identity = runtime.account
        self.bucket_grant, self.database_grant, self.secret_grant = runtime.grants
        # Lets the identity sign blobs as itself (and only itself) through the IAM
        # Credentials API, so the service hands out V4-signed download links without a key.
        self.signing_grant = ServiceAccountIamMember(
            self, "SigningGrant",
            service_account_id=self.identity.name,
            role="roles/iam.serviceAccountTokenCreator",
            member=f"serviceAccount:{self.identity.email}",
        )

        if vpc is None and spec.network.vpc:  # one network for the service and its jobs
            vpc = PrivateNetwork(self, "Network", spec=spec, physical_names=naming)
        net = egress(self, spec, vpc, vpc_subnets, physical_names=naming)
        image = image if image is not None else spec.generator.image
        self.built_image: ServiceImage | None = image if isinstance(image, ServiceImage) \
            else None
        if image is None and (packaging == "container" or job_runner is None):
            self.built_image = ServiceImage(self, "Image", spec=spec,
                                            encryption_key=encryption_key,
                                            physical_names=naming)
            image = self.built_image
        self.image: str | None = image_uri(image) if image is not None else None
        if job_runner is None:
            job_runner = JobRunner(
                self, "Jobs", spec=spec, bucket=bucket, metadata_store=metadata_store,
                api_keys_secret=api_keys_secret, image=image, encryption_key=encryption_key,
                vpc=vpc, vpc_subnets=vpc_subnets, environment=environment,
                physical_names=naming)
        self.job_runner = job_runner
        self.submit_grants = job_runner.grant_submit(self.identity)
        grants = [self.bucket_grant, self.database_grant, self.secret_grant,
                  self.signing_grant, *self.submit_grants]

        contract = RuntimeContract.for_spec(
            spec,
            storage_url=bucket.storage_url,
            metadata_url=metadata_store.metadata_url,
            api_keys_secret=secret_id(api_keys_secret),
            jobs_url=job_runner.jobs_url,
            cors_origins=tuple(spec.api.cors_origins),
        ).to_env()
        self.runtime_environment: dict[str, str] = merge_environment(contract, extra)

        self.service: CloudRunV2Service | None = None
        self.function: Cloudfunctions2Function | None = None
        self.source_bucket: StorageBucket | None = None
        self.source_asset: TerraformAsset | None = None
        self.source_object: StorageBucketObject | None = None
        run_ingress, function_ingress = INGRESS[ingress]
        removal = RemovalPolicy.resolve(None, spec)
        service_name = physical_name(self, "service", where, part="Service",
                                     from_spec=names.service, names=naming)
        depends: list[Any] = [*self.apis, *grants]
        if encryption_key is not None and packaging == "container":
            depends.append(agent_key_grant(self, where, encryption_key, "run.googleapis.com"))
        if packaging == "container":
            self.service = self._cloud_run(
                where, service_name, labels, run_ingress, requests_per_instance, net,
                encryption_key, removal, depends, service_props)
            self.endpoint_url: str = self.service.uri
        else:
            self.function = self._function(
                where, names, naming, service_name, labels, function_ingress,
                requests_per_instance, net, encryption_key, bucket, source_dir, entry_point,
                depends)
            self.endpoint_url = self.function.url

        # A gen2 function is served by a Cloud Run service of the same name; invocation is
        # checked against that service's run.invoker binding.
        self.invoker_grants = [
            CloudRunV2ServiceIamMember(
                self, f"Invoker{index}",
                project=where.project, location=where.region,
                name=self.service.name if self.service else self.function.name,
                role="roles/run.invoker", member=member,
            )
            for index, member in enumerate(members)
        ]
        if spec.api.auth == "api_key" and self.function is not None:
            # Cloud Functions has no switch for Cloud Run's IAM check: opening the endpoint
            # to API keys is the public invoker on the function's service.
            self.invoker_grants.append(CloudRunV2ServiceIamMember(
                self, "PublicInvoker",
                project=where.project, location=where.region, name=self.function.name,
                role="roles/run.invoker", member="allUsers",
            ))
        jobs = [j.name for j in job_runner.jobs] if isinstance(job_runner, JobRunner) else []
        self.logs = ServiceLogs(self, "Logs", spec=spec, service_name=service_name,
                                job_names=jobs, physical_names=naming)
        self.alerts = GeneratorAlerts(self, "Alerts", spec=spec, service_name=service_name)

    def _cloud_run(self, where: Placement, name: str, labels: dict[str, str], ingress: str,
                   requests_per_instance: int, net: Egress | None, encryption_key: Any,
                   removal: RemovalPolicy, depends: list[Any],
                   service_props: Mapping[str, Any] | None) -> CloudRunV2Service:
        generator = self.spec.generator
        defaults = {
            "ingress": ingress,
            "invoker_iam_disabled": self.spec.api.auth == "api_key",
            "deletion_protection": removal is RemovalPolicy.RETAIN,
            "labels": labels,
            "description": f"Synthetic data service ({self.spec.name} "
                           f"{self.spec.environment})",
        }
        values = merged(self, defaults, service_props, SECURE_SERVICE,
                        fixed=("name", "project", "location", "template"),
                        argument="service_props")
        env = {**self.runtime_environment, **SERVER_ENVIRONMENT}
        return CloudRunV2Service(
            self, "Service",
            project=where.project,
            location=where.region,
            name=name,
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
                encryption_key=key_id(encryption_key) if encryption_key is not None else None,
                vpc_access=CloudRunV2ServiceTemplateVpcAccess(
                    egress=net.egress,
                    network_interfaces=[CloudRunV2ServiceTemplateVpcAccessNetworkInterfaces(
                        network=net.network, subnetwork=net.subnetwork)],
                ) if net is not None else None,
                containers=[CloudRunV2ServiceTemplateContainers(
                    image=self.image,
                    ports=CloudRunV2ServiceTemplateContainersPorts(
                        container_port=CONTAINER_PORT),
                    resources=CloudRunV2ServiceTemplateContainersResources(
                        limits={"cpu": cpu_for_memory(generator.memory_mb),
                                "memory": f"{generator.memory_mb}Mi"},
                        cpu_idle=True,  # CPU only while requests run: jobs run elsewhere
                        startup_cpu_boost=True,
                    ),
                    env=[CloudRunV2ServiceTemplateContainersEnv(name=k, value=v)
                         for k, v in sorted(env.items())],
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
            depends_on=depends,
            **values,
        )

    def _function(self, where: Placement, names: Any, naming: PhysicalNames, name: str,
                  labels: dict[str, str], ingress: str, requests_per_instance: int,
                  net: Egress | None, encryption_key: Any, bucket: Any, source_dir: Path,
                  entry_point: str, depends: list[Any]) -> Cloudfunctions2Function:
        generator = self.spec.generator
        self.source_bucket = storage_bucket(
            self, "SourceBucket",
            spec=self.spec, where=where,
            name=physical_name(self, "bucket", where, part="SourceBucket",
                               from_spec=names.source_bucket, names=naming),
            removal_policy=RemovalPolicy.DESTROY,  # build inputs only, uploaded every deploy
            lifecycle_rules=data_lifecycle(30, 7, None),
            kms_key=encryption_key,
            log_bucket=getattr(bucket, "access_log_bucket", None),
            depends_on=[*self.apis, *([agent_key_grant(self, where, encryption_key,
                                                       "storage.googleapis.com")]
                                      if encryption_key is not None else [])],
        )
        self.source_asset = TerraformAsset(self, "Source", path=str(source_dir),
                                           type=AssetType.ARCHIVE)
        self.source_object = StorageBucketObject(
            self, "SourceObject",
            bucket=self.source_bucket.name,
            name=f"generator/{self.source_asset.asset_hash.lower()}.zip",
            source=self.source_asset.path,
            content_type="application/zip",
        )
        return Cloudfunctions2Function(
            self, "Function",
            project=where.project,
            location=where.region,
            name=name,
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
                ingress_settings=ingress,
                all_traffic_on_latest_revision=True,
                environment_variables=dict(sorted(self.runtime_environment.items())),
                direct_vpc_network_interface=[
                    Cloudfunctions2FunctionServiceConfigDirectVpcNetworkInterface(
                        network=net.network, subnetwork=net.subnetwork)]
                if net is not None else None,
                direct_vpc_egress=f"VPC_EGRESS_{net.egress}" if net is not None else None,
            ),
            depends_on=depends,
        )

    def grant_invoke(self, grantee: Any) -> CloudRunV2ServiceIamMember:
        """Let `grantee` call the endpoint through Cloud Run IAM (`roles/run.invoker` on
        the service, or on a gen2 function's service); needed with `api.auth: iam`. The
        grant is created in the grantee's scope."""
        where = self.placement
        name = self.service.name if self.service is not None else self.function.name

        def make(scope: Construct, construct_id: str, member: str) -> CloudRunV2ServiceIamMember:
            return CloudRunV2ServiceIamMember(scope, construct_id, project=where.project,
                                              location=where.region, name=name,
                                              role="roles/run.invoker", member=member)

        return grant(self, grantee, "Invoke", make)


class ServiceLogs(Construct):
    """The service's and its jobs' logs, kept exactly `monitoring.log_retention_days`.

    A log bucket in the region with that retention, a sink routing the service's (and its
    jobs') entries into it, and an exclusion keeping them out of the project's `_Default`
    bucket (30 days), so no copy outlives the retention. Public attributes: `bucket`
    (`LoggingProjectBucketConfig`), `sink`, `exclusion`, `filter`.
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, service_name: str,
                 job_names: Sequence[str] = (),
                 physical_names: PhysicalNames | str | None = None) -> None:
        super().__init__(scope, id)
        where = placement(self, spec)
        naming = PhysicalNames.resolve(physical_names)
        names = gcp_names(spec, project=where.project, region=where.region)
        apis = enable_apis(self, where, required_apis("logging"))
        parts = [f'(resource.type="cloud_run_revision" AND '
                 f'resource.labels.service_name="{service_name}")',
                 f'(resource.type="cloud_function" AND '
                 f'resource.labels.function_name="{service_name}")']
        if job_names:
            jobs = " OR ".join(f'"{name}"' for name in job_names)
            parts.append(f'(resource.type="cloud_run_job" AND resource.labels.job_name=({jobs}))')
        self.filter = " OR ".join(parts)
        bucket_id = physical_name(self, "log_bucket", where, part="Bucket",
                                  from_spec=names.log_bucket, names=naming)
        self.bucket = LoggingProjectBucketConfig(
            self, "Bucket",
            project=where.project,
            location=where.region,
            bucket_id=bucket_id,
            retention_days=spec.monitoring.log_retention_days,
            description=f"Logs of the synthetic data service {spec.name} ({spec.environment})",
            depends_on=apis,
        )
        self.sink = LoggingProjectSink(
            self, "Sink",
            project=where.project,
            name=bucket_id,
            destination=f"logging.googleapis.com/{self.bucket.id}",
            filter=self.filter,
            unique_writer_identity=True,
        )
        self.exclusion = LoggingProjectExclusion(
            self, "DefaultExclusion",
            project=where.project,
            name=bucket_id,
            description="Kept in the service's own log bucket for its retention instead",
            filter=self.filter,
            depends_on=[self.sink],
        )


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
        where = placement(self, spec)
        labels = gcp_labels(spec)
        apis = enable_apis(self, where, required_apis("monitoring"))
        self.channels = [
            MonitoringNotificationChannel(
                self, f"Email{index}",
                project=where.project,
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
        title = f"synth {spec.name} {spec.environment} ({service_name})"
        self.error_alert = MonitoringAlertPolicy(
            self, "Errors",
            project=where.project,
            display_name=f"{title}: 5xx responses",
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
            project=where.project,
            display_name=f"{title}: p99 latency",
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
