"""`JobRunner` on Azure: background jobs as Container Apps Jobs started through a Storage
queue, from the service image.

The service sends each job id to a queue in the data storage account (`azqueue://`); the
job's KEDA `azure-queue` rule (authenticated as the job's managed identity) starts one
execution per message, up to `jobs.worker_concurrency` at once. An execution runs
`python -m synthdata_service.handlers.azure_worker`: it takes one message, keeps it
invisible while the job runs, reports progress and failure through the metadata store,
and deletes the message when done. A message delivered more than `jobs.max_attempts`
times (its workers died) ends its job `failed` with the reason. With `jobs.long_running`
an execution may run 24 hours at `jobs.cpu` / `jobs.memory_mb` (CTGAN's 300 epochs);
without, `jobs.worker_timeout_seconds` at the API's size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cdktn_provider_azurerm.container_app_job import (
    ContainerAppJob,
    ContainerAppJobEventTriggerConfig,
    ContainerAppJobEventTriggerConfigScale,
    ContainerAppJobEventTriggerConfigScaleRules,
    ContainerAppJobIdentity,
    ContainerAppJobRegistry,
    ContainerAppJobTemplate,
    ContainerAppJobTemplateContainer,
    ContainerAppJobTemplateContainerEnv,
)
from cdktn_provider_azurerm.storage_queue import StorageQueue
from cdktn_provider_azurerm.user_assigned_identity import UserAssignedIdentity
from constructs import Construct

from ..contract import RuntimeContract, merge_environment
from ..naming import azure_names, azure_tags
from ..spec import PlatformSpec
from ..types import PhysicalNames
from .base import grant_role, physical_name, resolve_group
from .defaults import JOB_TIMEOUT_SECONDS, ROLES, WORKER_COMMAND, job_size

__all__ = ["JobRunner", "VISIBILITY_SECONDS"]

#: How long a taken message stays invisible between the worker's renewals.
VISIBILITY_SECONDS = 300


class JobRunner(Construct):
    """Queue + Container Apps Job + its identity and grants.

    Public attributes: `queue` (`StorageQueue`), `job` (`ContainerAppJob`), `identity`
    (`UserAssignedIdentity`), `jobs_url` (the runtime contract's SYNTH_JOBS_URL),
    `environment` (the variables the executions get), `queue_resource_id`.
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
        encryption_key: Any = None,
        vpc: Any = None,
        vpc_subnets: Sequence[str] | None = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
        apps_environment: Any = None,
        resource_group: Any = None,
    ) -> None:
        """Arguments (keyword-only):

        spec: `jobs.*` sizes, attempts and concurrency.
        bucket / metadata_store: the platform's (or imported) bucket and store; the queue
            lives in the bucket's storage account.
        api_keys_secret: the `PlatformVault` holding the pepper.
        image: a `ServiceImage` (or an image reference string) the executions run.
            Default: the platform's build (`ServiceImage`).
        encryption_key: unused on Azure (the queue is encrypted with the storage
            account's key); accepted for the shared interface.
        vpc / vpc_subnets: the network (through `apps_environment`).
        environment: variables added to the contract's (never replacing them).
        apps_environment: Azure only: the `AppsEnvironment` to run in. Default: a new
            one (with its own Log Analytics workspace).
        """
        super().__init__(scope, id)
        from .apps import AppsEnvironment, ServiceImage
        from .bucket import log_workspace

        names = PhysicalNames.resolve(physical_names)
        group = resolve_group(self, spec, resource_group or bucket.resource_group, names)
        cpu, memory, profile = job_size(spec)
        network = None
        if apps_environment is None and (spec.network.vpc or vpc is not None):
            from .network import PrivateNetwork

            network = PrivateNetwork(self, "Network", spec=spec, group=group, vpc=vpc,
                                     vpc_subnets=vpc_subnets)
        if image is None or isinstance(image, str):
            image = ServiceImage(self, "Image", spec=spec, group=group, physical_names=names,
                                 image=image, network=network)
        if apps_environment is None:
            workspace = log_workspace(self, spec, group)
            apps_environment = AppsEnvironment(self, "Apps", spec=spec, group=group,
                                               log_workspace_id=workspace.id,
                                               profiles=[profile], network=network)
        self.queue = StorageQueue(
            self, "Queue",
            name=azure_names(spec).job_queue if names == PhysicalNames.FROM_SPEC
            else physical_name(self, "Queue", max_len=63),
            storage_account_id=bucket.account.id,
        )
        self.queue_resource_id: str = (
            f"{bucket.account.id}/queueServices/default/queues/{self.queue.name}")
        self.identity = UserAssignedIdentity(
            self, "Identity",
            name=physical_name(self, "Identity", max_len=90, prefix="id-"),
            location=group.location, resource_group_name=group.name, tags=azure_tags(spec))
        grants = [
            bucket.grant_read_write(self.identity),
            metadata_store.grant_read_write(self.identity),
            api_keys_secret.grant_secret_read(self.identity),
            grant_role(self, self.identity, ROLES["queue_work"], self.queue_resource_id),
        ]
        pull = image.grant_pull(self.identity)
        if pull is not None:
            grants.append(pull)
        self.jobs_url: str = (
            f"azqueue://{bucket.bucket_name}/{self.queue.name}"
            f"?max_attempts={spec.jobs.max_attempts}&visibility_seconds={VISIBILITY_SECONDS}")
        contract = RuntimeContract.for_spec(
            spec, storage_url=bucket.storage_url, metadata_url=metadata_store.metadata_url,
            api_keys_secret=api_keys_secret.pepper_url, jobs_url=self.jobs_url).to_env()
        self.environment: dict[str, str] = {
            **merge_environment(contract, environment),
            "AZURE_CLIENT_ID": self.identity.client_id,
        }
        timeout = JOB_TIMEOUT_SECONDS if spec.jobs.long_running \
            else spec.jobs.worker_timeout_seconds
        self.job = ContainerAppJob(
            self, "Job",
            name=azure_names(spec).container_app_job if names == PhysicalNames.FROM_SPEC
            else physical_name(self, "Job", max_len=32, prefix="job-"),
            location=group.location, resource_group_name=group.name,
            container_app_environment_id=apps_environment.id,
            workload_profile_name=profile.name,
            replica_timeout_in_seconds=timeout,
            replica_retry_limit=0,  # retried through the queue, counted by the worker
            identity=ContainerAppJobIdentity(type="UserAssigned",
                                             identity_ids=[self.identity.id]),
            registry=[ContainerAppJobRegistry(server=image.server, identity=self.identity.id)]
            if image.server else None,
            event_trigger_config=ContainerAppJobEventTriggerConfig(
                parallelism=1, replica_completion_count=1,
                scale=[ContainerAppJobEventTriggerConfigScale(
                    min_executions=0, max_executions=spec.jobs.worker_concurrency,
                    polling_interval_in_seconds=30,
                    rules=[ContainerAppJobEventTriggerConfigScaleRules(
                        name="job-queue", custom_rule_type="azure-queue",
                        metadata={"accountName": bucket.bucket_name,
                                  "queueName": self.queue.name, "queueLength": "1"},
                        identity_id=self.identity.id)],
                )],
            ),
            template=ContainerAppJobTemplate(container=[ContainerAppJobTemplateContainer(
                name="worker", image=image.reference, cpu=cpu, memory=memory,
                command=list(WORKER_COMMAND),
                env=[ContainerAppJobTemplateContainerEnv(name=k, value=v)
                     for k, v in sorted(self.environment.items())],
            )]),
            tags=azure_tags(spec),
            depends_on=[*grants, *image.dependables],
        )
        self.image = image

    def grant_submit(self, grantee: Any) -> Any:
        """Let `grantee` add messages to exactly this queue (and nothing else)."""
        return grant_role(self, grantee, ROLES["queue_send"], self.queue_resource_id)
