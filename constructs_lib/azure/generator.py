"""`ServerlessGenerator` on Azure: the service as a Container App (packaging 'container',
the service image under uvicorn) or as a Function App on the Flex Consumption plan
(packaging 'source', Python 3.11, the FastAPI app through `AsgiFunctionApp`).

Either way it runs as a user-assigned managed identity holding only data-plane roles on
exactly the platform's blob container, Cosmos DB database, vault and job queue; HTTPS
only; with `network.vpc` its egress goes through the private network. A Function App has
no FTP, basic publishing credentials off, its own host storage account (Entra ID, no
keys), and Entra ID authentication in front when `api.auth` is 'iam'. Metric alerts
watch 5xx responses and response time; their action group mails `monitoring.alarm_emails`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cdktn import AssetType, TerraformAsset
from cdktn_provider_azurerm.container_app import (
    ContainerApp,
    ContainerAppIdentity,
    ContainerAppIngress,
    ContainerAppIngressCors,
    ContainerAppIngressTrafficWeight,
    ContainerAppRegistry,
    ContainerAppTemplate,
    ContainerAppTemplateContainer,
    ContainerAppTemplateContainerEnv,
    ContainerAppTemplateContainerLivenessProbe,
    ContainerAppTemplateContainerStartupProbe,
    ContainerAppTemplateHttpScaleRule,
)
from cdktn_provider_azurerm.function_app_flex_consumption import (
    FunctionAppFlexConsumption,
    FunctionAppFlexConsumptionAlwaysReady,
    FunctionAppFlexConsumptionAuthSettingsV2,
    FunctionAppFlexConsumptionAuthSettingsV2ActiveDirectoryV2,
    FunctionAppFlexConsumptionAuthSettingsV2Login,
    FunctionAppFlexConsumptionIdentity,
    FunctionAppFlexConsumptionSiteConfig,
    FunctionAppFlexConsumptionSiteConfigCors,
)
from cdktn_provider_azurerm.monitor_metric_alert import (
    MonitorMetricAlert,
    MonitorMetricAlertAction,
    MonitorMetricAlertCriteria,
    MonitorMetricAlertCriteriaDimension,
)
from cdktn_provider_azurerm.service_plan import ServicePlan
from cdktn_provider_azurerm.storage_container import StorageContainer
from cdktn_provider_azurerm.user_assigned_identity import UserAssignedIdentity
from constructs import Construct

from ..contract import RuntimeContract, merge_environment
from ..naming import azure_names, azure_tags
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .base import grant_role, merged, physical_name, resolve_group
from .defaults import (
    CONTAINER_PORT,
    HEALTH_PATH,
    ROLES,
    container_size,
    function_timeout,
)

__all__ = ["GeneratorAlerts", "ServerlessGenerator"]

FUNCTION_RUNTIME = ("python", "3.11")
SECURE_FUNCTION = {"https_only": "HTTPS only",
                   "webdeploy_publish_basic_authentication_enabled": "basic publishing off",
                   "public_network_access_enabled": "no public access with network.vpc"}
SECURE_APP = {"allow_insecure_connections": "HTTPS only"}


class ServerlessGenerator(Construct):
    """The generator service, its identity, grants and alerts.

    Public attributes: `endpoint_url`, `runtime_environment`, `identity`
    (`UserAssignedIdentity`), `app` (`ContainerApp`, for 'container') or `function`
    (`FunctionAppFlexConsumption`, for 'source') - the other is None -, `service_plan`,
    `host_storage` and `package` (for 'source'), `grants`, `alerts` (`GeneratorAlerts`).
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
        image: Any = None,
        job_runner: Any = None,
        encryption_key: Any = None,
        vpc: Any = None,
        vpc_subnets: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
        apps_environment: Any = None,
        resource_group: Any = None,
        network: Any = None,
        log_workspace_id: str | None = None,
        application_insights: Any = None,
        action_group: Any = None,
        entra_client_id: str | None = None,
        source_dir: str | Path | None = None,
        service_props: Mapping[str, Any] | None = None,
    ) -> None:
        """Arguments (keyword-only):

        spec, bucket, metadata_store: as on every cloud.
        api_keys_secret: the `PlatformVault` holding the pepper.
        image: 'container': a `ServiceImage` or an image reference. Default: the build.
        job_runner: the `JobRunner` jobs go to. Default: none (`inline://` jobs in the
            API's replicas - only for small jobs; the platform always passes its runner).
        encryption_key: unused (each store encrypts itself); accepted for the interface.
        vpc / vpc_subnets / network: the private network (network.vpc).
        environment: variables added to the contract's (never replacing them).
        apps_environment: Azure only, 'container': the `AppsEnvironment`. Default: new.
        log_workspace_id / application_insights / action_group: Azure only: where logs,
            telemetry and alerts go. Default: new ones.
        entra_client_id: Azure only, 'source' with `api.auth: iam`: the client id of the
            Entra ID app registration callers get tokens for (required then).
        source_dir: 'source': the Functions bundle. Default: staged from the installed
            service (`source.stage_function_source`).
        service_props: `ContainerApp` / `FunctionAppFlexConsumption` properties merged
            over the secure defaults; each replaced secure default warns.
        """
        super().__init__(scope, id)
        from .apps import AppsEnvironment, ServiceImage
        from .bucket import log_workspace
        from .defaults import check_spec

        check_spec(spec)
        names = PhysicalNames.resolve(physical_names)
        packaging = spec.generator.packaging
        if packaging == "source" and spec.api.auth == "iam" and not entra_client_id:
            raise ValueError(
                "entra_client_id: api.auth 'iam' puts Entra ID authentication in front of the "
                "Function App; give the client id of the app registration callers request "
                "tokens for (az ad app create --display-name synth-api)")
        self.spec = spec
        group = resolve_group(self, spec, resource_group or bucket.resource_group, names)
        self.resource_group = group
        if network is None and (spec.network.vpc or vpc is not None):
            from .network import PrivateNetwork

            network = PrivateNetwork(self, "Network", spec=spec, group=group, vpc=vpc,
                                     vpc_subnets=vpc_subnets)
        if log_workspace_id is None:
            log_workspace_id = log_workspace(self, spec, group).id
        if application_insights is None:
            from .monitoring import application_insights as make_insights

            application_insights = make_insights(self, spec, group, log_workspace_id)

        self.identity = UserAssignedIdentity(
            self, "Identity",
            name=physical_name(self, "Identity", max_len=90, prefix="id-"),
            location=group.location, resource_group_name=group.name, tags=azure_tags(spec))
        self.grants = [
            bucket.grant_read_write(self.identity),
            metadata_store.grant_read_write(self.identity),
            api_keys_secret.grant_secret_read(self.identity),
        ]
        jobs_url = "inline://"
        if job_runner is not None:
            self.grants.append(job_runner.grant_submit(self.identity))
            jobs_url = job_runner.jobs_url
        contract = RuntimeContract.for_spec(
            spec, storage_url=bucket.storage_url, metadata_url=metadata_store.metadata_url,
            api_keys_secret=api_keys_secret.pepper_url, jobs_url=jobs_url).to_env()
        self.runtime_environment: dict[str, str] = merge_environment(contract, environment)
        identity_env = {"AZURE_CLIENT_ID": self.identity.client_id}

        self.app: ContainerApp | None = None
        self.function: FunctionAppFlexConsumption | None = None
        self.service_plan = self.host_storage = self.package = None
        generator = spec.generator
        if packaging == "container":
            cpu, memory, profile = container_size(spec)
            if image is None or isinstance(image, str):
                image = ServiceImage(self, "Image", spec=spec, group=group,
                                     physical_names=names, image=image, network=network)
            pull = image.grant_pull(self.identity)
            if pull is not None:
                self.grants.append(pull)
            if apps_environment is None:
                apps_environment = AppsEnvironment(self, "Apps", spec=spec, group=group,
                                                   log_workspace_id=log_workspace_id,
                                                   profiles=[profile], network=network)
            env = {**self.runtime_environment, **identity_env, "SYNTH_SERVER": "uvicorn",
                   "PORT": str(CONTAINER_PORT),
                   "APPLICATIONINSIGHTS_CONNECTION_STRING":
                       application_insights.connection_string}
            cors = ContainerAppIngressCors(
                allowed_origins=sorted(spec.api.cors_origins),
                allowed_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allowed_headers=["Authorization", "Content-Type"],
                max_age_in_seconds=600) if spec.api.cors_origins else None
            values = merged(self, {"allow_insecure_connections": False}, service_props,
                            SECURE_APP, argument="service_props")
            self.app = ContainerApp(
                self, "App",
                name=azure_names(spec).container_app if names == PhysicalNames.FROM_SPEC
                else physical_name(self, "App", max_len=32, prefix="ca-"),
                resource_group_name=group.name,
                container_app_environment_id=apps_environment.id,
                workload_profile_name=profile.name,
                revision_mode="Single",
                identity=ContainerAppIdentity(type="UserAssigned",
                                              identity_ids=[self.identity.id]),
                registry=[ContainerAppRegistry(server=image.server, identity=self.identity.id)]
                if image.server else None,
                ingress=ContainerAppIngress(
                    external_enabled=True, target_port=CONTAINER_PORT, transport="auto",
                    allow_insecure_connections=values.pop("allow_insecure_connections"),
                    cors=cors,
                    traffic_weight=[ContainerAppIngressTrafficWeight(
                        latest_revision=True, percentage=100)]),
                template=ContainerAppTemplate(
                    min_replicas=generator.min_instances,
                    max_replicas=generator.concurrency,
                    termination_grace_period_seconds=generator.timeout_seconds,
                    http_scale_rule=[ContainerAppTemplateHttpScaleRule(
                        name="one-request-per-replica", concurrent_requests="1")],
                    container=[ContainerAppTemplateContainer(
                        name="service", image=image.reference, cpu=cpu, memory=memory,
                        env=[ContainerAppTemplateContainerEnv(name=k, value=v)
                             for k, v in sorted(env.items())],
                        startup_probe=[ContainerAppTemplateContainerStartupProbe(
                            transport="HTTP", port=CONTAINER_PORT, path=HEALTH_PATH,
                            interval_seconds=5, failure_count_threshold=24)],
                        liveness_probe=[ContainerAppTemplateContainerLivenessProbe(
                            transport="HTTP", port=CONTAINER_PORT, path=HEALTH_PATH,
                            interval_seconds=30)],
                    )],
                ),
                tags=azure_tags(spec),
                depends_on=[*self.grants, *image.dependables],
                **values,
            )
            self.endpoint_url: str = f"https://{self.app.ingress.fqdn}"
            metric_scope, kind = self.app.id, "container"
        else:
            self._function(spec, group, names, network, application_insights, identity_env,
                           entra_client_id, source_dir, service_props)
            self.endpoint_url = f"https://{self.function.default_hostname}"
            metric_scope, kind = self.function.id, "source"
        self.image = image
        self.alerts = GeneratorAlerts(self, "Alerts", spec=spec, group=group,
                                      target_id=metric_scope, kind=kind,
                                      action_group=action_group)

    def _function(self, spec, group, names, network, insights, identity_env,
                  entra_client_id, source_dir, service_props) -> None:
        from .bucket import secure_account
        from .source import stage_function_source

        generator = spec.generator
        self.host_storage = secure_account(
            self, "HostStorage", spec=spec, group=group,
            name=physical_name(self, "HostStorage", max_len=24, separator="", unique=True,
                               spec=spec),
            removal_policy=RemovalPolicy.DESTROY,  # the host's own state and the package
            private=False, versioned=False)
        deployments = StorageContainer(self, "Deployments", name="deployments",
                                       storage_account_id=self.host_storage.id,
                                       container_access_type="private")
        host_roles = [grant_role(self, self.identity, ROLES[role], self.host_storage.id)
                      for role in ("blob_owner", "queue_work", "table_work")]
        self.grants.extend(host_roles)
        bundle = Path(source_dir) if source_dir is not None else stage_function_source()
        from .apps import _content_hash

        self.package = TerraformAsset(self, "Package", path=str(bundle),
                                      type=AssetType.ARCHIVE, asset_hash=_content_hash(bundle))
        self.service_plan = ServicePlan(
            self, "Plan", name=physical_name(self, "Plan", max_len=60, prefix="asp-"),
            location=group.location, resource_group_name=group.name, os_type="Linux",
            sku_name="FC1", tags=azure_tags(spec))
        settings = {
            **self.runtime_environment, **identity_env,
            "AzureWebJobsStorage__accountName": self.host_storage.name,
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": self.identity.client_id,
            "AzureFunctionsJobHost__functionTimeout": function_timeout(generator.timeout_seconds),
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING":
                f"ClientId={self.identity.client_id};Authorization=AAD",
        }
        auth = None
        if spec.api.auth == "iam":
            auth = FunctionAppFlexConsumptionAuthSettingsV2(
                auth_enabled=True, require_authentication=True, require_https=True,
                unauthenticated_action="Return401", default_provider="azureactivedirectory",
                excluded_paths=["/healthz", "/readyz"],
                active_directory_v2=FunctionAppFlexConsumptionAuthSettingsV2ActiveDirectoryV2(
                    client_id=entra_client_id,
                    tenant_auth_endpoint=f"https://login.microsoftonline.com/"
                                         f"{_tenant(self)}/v2.0",
                    allowed_audiences=[f"api://{entra_client_id}", entra_client_id]),
                login=FunctionAppFlexConsumptionAuthSettingsV2Login(token_store_enabled=False))
        values = merged(self, {"https_only": True,
                               "webdeploy_publish_basic_authentication_enabled": False,
                               "public_network_access_enabled": True},
                        service_props, SECURE_FUNCTION, argument="service_props")
        self.function = FunctionAppFlexConsumption(
            self, "Function",
            name=azure_names(spec).function_app if names == PhysicalNames.FROM_SPEC
            else physical_name(self, "Function", max_len=60, prefix="func-", unique=True,
                               spec=spec),
            location=group.location, resource_group_name=group.name,
            service_plan_id=self.service_plan.id,
            runtime_name=FUNCTION_RUNTIME[0], runtime_version=FUNCTION_RUNTIME[1],
            instance_memory_in_mb=generator.memory_mb,
            maximum_instance_count=generator.concurrency,
            always_ready=[FunctionAppFlexConsumptionAlwaysReady(
                name="http", instance_count=generator.min_instances)]
            if generator.min_instances else None,
            http_concurrency=1,
            storage_container_type="blobContainer",
            storage_container_endpoint=(f"{self.host_storage.primary_blob_endpoint}"
                                        f"{deployments.name}"),
            storage_authentication_type="UserAssignedIdentity",
            storage_user_assigned_identity_id=self.identity.id,
            identity=FunctionAppFlexConsumptionIdentity(type="UserAssigned",
                                                        identity_ids=[self.identity.id]),
            virtual_network_subnet_id=network.apps_subnet_id if network is not None else None,
            client_certificate_mode="Optional",
            site_config=FunctionAppFlexConsumptionSiteConfig(
                minimum_tls_version="1.2", scm_minimum_tls_version="1.2",
                http2_enabled=True, remote_debugging_enabled=False,
                application_insights_connection_string=insights.connection_string,
                health_check_path=HEALTH_PATH, health_check_eviction_time_in_min=10,
                cors=FunctionAppFlexConsumptionSiteConfigCors(
                    allowed_origins=sorted(spec.api.cors_origins))
                if spec.api.cors_origins else None,
                vnet_route_all_enabled=network is not None,
            ),
            app_settings=dict(sorted(settings.items())),
            auth_settings_v2=auth,
            zip_deploy_file=self.package.path,
            tags=azure_tags(spec),
            depends_on=list(self.grants),
            **values,
        )
        self.image = None

    def grant_invoke(self, grantee: Any) -> Any:
        """Azure's endpoints take the service's bearer keys (and, with `api.auth: iam` on a
        Function App, an Entra ID token for the app registration - assign app roles
        there); there is no per-resource invoke role to grant. Returns None."""
        return None


def _tenant(scope: Construct) -> str:
    from .base import client_config

    return client_config(scope).tenant_id


class GeneratorAlerts(Construct):
    """Metric alerts on the generator: 5xx responses in 5 minutes at or above
    `monitoring.error_threshold`, and average response time above `latency_threshold_ratio`
    of the timeout (Azure's platform metrics have no p99); an action group mailing
    `monitoring.alarm_emails`.

    Attributes: `action_group`, `error_alert`, `latency_alert`.
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, group: Any,
                 target_id: str, kind: str, action_group: Any = None) -> None:
        super().__init__(scope, id)
        if action_group is None:
            from .monitoring import action_group as make_group

            action_group = make_group(self, spec, group)
        self.action_group = action_group
        threshold_ms = round(spec.generator.timeout_seconds * 1000
                             * spec.monitoring.latency_threshold_ratio)
        if kind == "container":
            namespace = "Microsoft.App/containerApps"
            errors = MonitorMetricAlertCriteria(
                metric_namespace=namespace, metric_name="Requests", aggregation="Total",
                operator="GreaterThanOrEqual", threshold=spec.monitoring.error_threshold,
                dimension=[MonitorMetricAlertCriteriaDimension(
                    name="statusCodeCategory", operator="Include", values=["5xx"])])
            latency = MonitorMetricAlertCriteria(
                metric_namespace=namespace, metric_name="ResponseTime", aggregation="Average",
                operator="GreaterThan", threshold=threshold_ms)
        else:
            namespace = "Microsoft.Web/sites"
            errors = MonitorMetricAlertCriteria(
                metric_namespace=namespace, metric_name="Http5xx", aggregation="Total",
                operator="GreaterThanOrEqual", threshold=spec.monitoring.error_threshold)
            latency = MonitorMetricAlertCriteria(
                metric_namespace=namespace, metric_name="HttpResponseTime",
                aggregation="Average", operator="GreaterThan", threshold=threshold_ms / 1000)
        common = dict(resource_group_name=group.name, scopes=[target_id], frequency="PT1M",
                      window_size="PT5M", auto_mitigate=True, tags=azure_tags(spec),
                      action=[MonitorMetricAlertAction(action_group_id=action_group.id)])
        self.error_alert = MonitorMetricAlert(
            self, "Errors", name=physical_name(self, "Errors", max_len=80),
            description=f"At least {spec.monitoring.error_threshold} 5xx responses in 5 "
                        "minutes: check the generator's logs in Log Analytics",
            severity=1, criteria=[errors], **common)
        self.latency_alert = MonitorMetricAlert(
            self, "Latency", name=physical_name(self, "Latency", max_len=80),
            description=f"Response time above {spec.monitoring.latency_threshold_ratio:.0%} "
                        f"of the {spec.generator.timeout_seconds} s timeout",
            severity=2, criteria=[latency], **common)

