"""`JobRunner` on GCP: background jobs (training, large samples, reports) on Cloud Run Jobs.

A job never runs in a thread of a request-serving instance (which Cloud Run may scale in
mid-training): the service submits each job as an execution of a Cloud Run Job through the
Cloud Run Admin API (`synthdata_service.jobs.gcp.CloudRunJobRunner`, selected by
`SYNTH_JOBS_URL=cloudrun://...`), and the execution's task runs
`python -m synthdata_service.handlers.gcp_jobs <job id>` from the same image.

Two jobs mirror AWS's queue worker and Fargate tasks:

* the worker job, sized like the API (`generator.memory_mb`), cut off after
  `jobs.worker_timeout_seconds`, for jobs estimated to fit that time; at most
  `jobs.worker_concurrency` of its executions run at once (the service counts them and
  starts a waiting job when one ends);
* with `jobs.long_running` (default), the long job: `jobs.cpu` / `jobs.memory_mb`, up to
  24 hours, for jobs that would not fit (CTGAN's 300 epochs, about 19 minutes on 2 vCPUs).

A task that dies (out of memory, timeout, a lost instance) is retried by Cloud Run up to
`jobs.max_attempts` attempts in all; the next attempt takes the job back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from cdktn_provider_google.cloud_run_v2_job import (
    CloudRunV2Job,
    CloudRunV2JobTemplate,
    CloudRunV2JobTemplateTemplate,
    CloudRunV2JobTemplateTemplateContainers,
    CloudRunV2JobTemplateTemplateContainersEnv,
    CloudRunV2JobTemplateTemplateContainersResources,
    CloudRunV2JobTemplateTemplateVpcAccess,
    CloudRunV2JobTemplateTemplateVpcAccessNetworkInterfaces,
)
from cdktn_provider_google.cloud_run_v2_job_iam_member import CloudRunV2JobIamMember
from constructs import Construct

from ..contract import RuntimeContract, merge_environment
from ..naming import gcp_labels, gcp_names
from ..spec import PlatformSpec
from ..types import PhysicalNames
from .apis import agent_key_grant, enable_apis, key_id
from .defaults import JOB_TIMEOUT_SECONDS, cpu_for_memory, job_size, required_apis
from .iam import grant, runtime_identity
from .image import ServiceImage, image_uri
from .network import Egress, egress
from .stack import physical_name, placement

__all__ = ["JobRunner", "TASK_COMMAND", "jobs_url", "secret_id"]

#: What a job task runs; each execution adds the job id as its argument.
TASK_COMMAND = ("python", "-m", "synthdata_service.handlers.gcp_jobs")
SUBMIT_ROLE = "roles/run.jobsExecutorWithOverrides"
#: Lets the submitter count the worker job's running executions (`jobs.worker_concurrency`).
VIEW_ROLE = "roles/run.viewer"


def jobs_url(project: str, region: str, worker: str, long: str | None, spec: PlatformSpec) -> str:
    """`SYNTH_JOBS_URL` of a Cloud Run Jobs runner."""
    query = {"worker_timeout": spec.jobs.worker_timeout_seconds,
             "max_concurrent": spec.jobs.worker_concurrency,
             "max_attempts": spec.jobs.max_attempts}
    if long:
        query["long_job"] = long
    return (f"cloudrun://projects/{project}/locations/{region}/jobs/{worker}?"
            f"{urlencode(query)}")


def secret_id(secret: Any) -> str:
    """A Secret Manager secret's resource id, from the secret or its id string."""
    if isinstance(secret, str):
        return secret
    return secret.id


def vpc_access(net: Egress | None) -> CloudRunV2JobTemplateTemplateVpcAccess | None:
    if net is None:
        return None
    return CloudRunV2JobTemplateTemplateVpcAccess(
        egress=net.egress,
        network_interfaces=[CloudRunV2JobTemplateTemplateVpcAccessNetworkInterfaces(
            network=net.network, subnetwork=net.subnetwork)],
    )


class JobRunner(Construct):
    """Cloud Run Jobs for the service's background jobs, and the identity they run as.

    Public attributes: `jobs_url` (the runtime contract's `SYNTH_JOBS_URL`), `identity`
    (`ServiceAccount`), `worker_job` and `long_job` (`CloudRunV2Job`; `long_job` is None
    without `jobs.long_running`), `image` (the image URI), `built_image`
    (`ServiceImage` or None), `runtime_environment`, `bucket_grant`, `database_grant`,
    `secret_grant`, `placement`.
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
        encryption_key: Any = None,
        vpc: Any = None,
        vpc_subnets: Any = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
    ) -> None:
        """Arguments (all keyword-only):

        spec: `jobs.*` (sizes, timeouts, attempts, concurrency), `generator.memory_mb` (the
            worker's size), labels, project and region.
        bucket: the `SecureBucket` (or `SecureBucket.from_bucket_name`) jobs read and write.
        metadata_store: the `MetadataStore` (or `from_store_name`) holding job records.
        api_keys_secret: the pepper's `SecretManagerSecret` (or its id string).
        image: a `ServiceImage` or an image URI (by digest, ideally). Default: a
            `ServiceImage` built and pushed by the deploy.
        encryption_key: a Cloud KMS key for the jobs (Cloud Run CMEK; the Cloud Run agent
            is granted the key). Default: none (Google-managed).
        vpc, vpc_subnets: a network and subnetwork for Direct VPC egress (see
            `network.egress`). Default: a new private network when `network.vpc` is on.
        environment: extra variables for the job tasks; the contract's variables cannot
            be replaced (`contract.merge_environment`).
        physical_names: GENERATED (default) or FROM_SPEC job and account names.
        """
        super().__init__(scope, id)
        self.spec = spec
        self.placement = where = placement(self, spec)
        naming = PhysicalNames.resolve(physical_names)
        names = gcp_names(spec, project=where.project, region=where.region)
        labels = gcp_labels(spec)
        long_size = job_size(spec) if spec.jobs.long_running else None
        apis = enable_apis(self, where, required_apis("identity", "jobs"))

        runtime = runtime_identity(
            self, project=where.project,
            account_id=physical_name(self, "service_account", where, part="Identity",
                                     from_spec=names.jobs_service_account, names=naming),
            display_name=f"Synthdata jobs ({spec.name} {spec.environment})",
            description="Runs the synthetic data service's background jobs; resource-level "
            "grants only",
            bucket=bucket, metadata_store=metadata_store, secret=secret_id(api_keys_secret),
            depends_on=apis)
        self.identity = runtime.account
        self.bucket_grant, self.database_grant, self.secret_grant = runtime.grants
        self.built_image = image if isinstance(image, ServiceImage) else None
        if image is None:
            self.built_image = ServiceImage(self, "Image", spec=spec,
                                            encryption_key=encryption_key,
                                            physical_names=naming)
            image = self.built_image
        self.image: str = image_uri(image)
        net = egress(self, spec, vpc, vpc_subnets, physical_names=naming)

        worker_name = physical_name(self, "job", where, part="Worker",
                                    from_spec=names.worker_job, names=naming)
        long_name = physical_name(self, "job", where, part="Long", from_spec=names.long_job,
                                  names=naming) if long_size else None
        self.jobs_url: str = jobs_url(where.project, where.region, worker_name, long_name, spec)
        contract = RuntimeContract.for_spec(
            spec, storage_url=bucket.storage_url, metadata_url=metadata_store.metadata_url,
            api_keys_secret=secret_id(api_keys_secret), jobs_url=self.jobs_url).to_env()
        self.runtime_environment: dict[str, str] = merge_environment(contract, environment)

        depends: list[Any] = [*apis, self.bucket_grant, self.database_grant, self.secret_grant]
        self.key_grant = None
        if encryption_key is not None:
            self.key_grant = agent_key_grant(self, where, encryption_key, "run.googleapis.com")
            depends.append(self.key_grant)

        def job(construct_id: str, name: str, cpu: str, memory_mb: int,
                timeout_seconds: int) -> CloudRunV2Job:
            return CloudRunV2Job(
                self, construct_id,
                project=where.project,
                location=where.region,
                name=name,
                deletion_protection=False,  # holds no data; a destroy must be able to go
                labels=labels,
                template=CloudRunV2JobTemplate(
                    task_count=1,
                    labels=labels,
                    template=CloudRunV2JobTemplateTemplate(
                        service_account=self.identity.email,
                        execution_environment="EXECUTION_ENVIRONMENT_GEN2",
                        timeout=f"{timeout_seconds}s",
                        max_retries=spec.jobs.max_attempts - 1,
                        encryption_key=key_id(encryption_key)
                        if encryption_key is not None else None,
                        vpc_access=vpc_access(net),
                        containers=[CloudRunV2JobTemplateTemplateContainers(
                            image=self.image,
                            command=list(TASK_COMMAND),
                            env=[CloudRunV2JobTemplateTemplateContainersEnv(name=k, value=v)
                                 for k, v in sorted(self.runtime_environment.items())],
                            resources=CloudRunV2JobTemplateTemplateContainersResources(
                                limits={"cpu": cpu, "memory": f"{memory_mb}Mi"}),
                        )],
                    ),
                ),
                depends_on=depends,
            )

        memory = spec.generator.memory_mb
        self.worker_job = job("WorkerJob", worker_name, cpu_for_memory(memory), memory,
                              spec.jobs.worker_timeout_seconds)
        self.long_job: CloudRunV2Job | None = None
        if long_size and long_name:
            vcpu, long_memory = long_size
            self.long_job = job("LongJob", long_name, str(vcpu), long_memory,
                                JOB_TIMEOUT_SECONDS)
        # A worker that finishes starts the next job waiting for a worker slot.
        self.submit_grants = self.grant_submit(self.identity)

    @property
    def jobs(self) -> list[CloudRunV2Job]:
        return [j for j in (self.worker_job, self.long_job) if j is not None]

    def grant_submit(self, grantee: Any) -> list[CloudRunV2JobIamMember]:
        """Let `grantee` start executions of these jobs with a job id
        (`roles/run.jobsExecutorWithOverrides` on each job) and count the worker job's
        running executions (`roles/run.viewer` on it). Created in the grantee's scope."""
        where = self.placement
        grants = []
        for role, kind, job in [(SUBMIT_ROLE, "JobsSubmit", j) for j in self.jobs] + \
                [(VIEW_ROLE, "JobsView", self.worker_job)]:
            def make(scope: Construct, construct_id: str, member: str, role=role, job=job):
                return CloudRunV2JobIamMember(scope, construct_id, project=where.project,
                                              location=where.region, name=job.name,
                                              role=role, member=member)
            grants.append(grant(self, grantee,
                                f"{kind}{'Long' if job is self.long_job else ''}", make))
        return grants
