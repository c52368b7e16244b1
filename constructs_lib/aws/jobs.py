"""`JobRunner` on AWS: background jobs off the request path.

Jobs that fit a Lambda run (training GaussianCopula, writing a large sample to the bucket)
go through an SQS queue to a worker function from the same image. Jobs that cannot (CTGAN
with its default 300 epochs is about 19 minutes on 2 cores, beyond Lambda's 15) run as ECS
Fargate tasks from the same image, started by the service. Why a queue rather than an
asynchronous self-invoke: the queue gives retries with a visible receive count, a
dead-letter queue whose consumer marks the job failed with the reason, back-pressure by
the event source's maximum concurrency, and messages a second replica can never both
claim.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..contract import RuntimeContract, merge_environment
from ..spec import PlatformSpec
from ..types import PhysicalNames
from .bucket import SecureBucketBase
from .defaults import (
    acknowledge,
    cdk_removal_policy,
    checkov_skip,
    grant,
    log_retention,
    skip_unless_customer_managed,
    spec_names,
    tag,
)
from .image import ServiceImage, service_image
from .metadata_store import MetadataStoreBase
from .network import Placement, check_subnets, https_only_group, private_network, public_job_network
from .roles import acknowledge_service_grants, service_role

__all__ = ["JobRunner"]

WORKER_HANDLER = "synthdata_service.handlers.aws_worker.handler"
DEAD_LETTER_HANDLER = "synthdata_service.handlers.aws_worker.dead_letter_handler"
TASK_STOPPED_HANDLER = "synthdata_service.handlers.aws_worker.task_stopped_handler"
CONTAINER_NAME = "worker"
DEAD_LETTER_TIMEOUT = 60
#: SQS event sources run at least two concurrent invocations.
MIN_EVENT_SOURCE_CONCURRENCY = 2

_NO_RESERVED = ("No reserved concurrency: a new account's quota of 10 leaves nothing to "
                "reserve (AWS keeps 10 unreserved). {bound}")


class JobRunner(Construct):
    """Queue + worker function + dead-letter handler, and the Fargate job task.

        runner = JobRunner(stack, "Jobs", spec=spec, bucket=bucket, metadata_store=store,
                           api_keys_secret=secret)
        runner.grant_submit(my_function)          # and give it `runner.jobs_url`

    Attributes: `queue`, `dead_letter_queue`, `worker` and `dead_letter_function` (Lambda),
    `worker_role`, `image`, `environment` (the runtime contract the workers get),
    `jobs_url` (the runtime contract's SYNTH_JOBS_URL for services that submit here),
    `vpc` (where the tasks run) and, with `jobs.long_running`: `cluster`,
    `task_definition`, `task_role`, `security_group`, `task_log_group`,
    `task_stopped_function`, `task_stopped_rule` (else None). Tagged from the spec.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        bucket: SecureBucketBase,
        metadata_store: MetadataStoreBase,
        api_keys_secret: secretsmanager.ISecret,
        image: ServiceImage | None = None,
        encryption_key: kms.IKey | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
    ) -> None:
        """
        :param spec: the platform spec (`jobs.*`, limits, log retention).
        :param bucket: where jobs read datasets and write models and samples.
        :param metadata_store: the service's records (jobs, models, ...).
        :param api_keys_secret: the pepper the service reads at start.
        :param image: the service image the workers and the task run. Default: one built
            here from the staged build context.
        :param encryption_key: key for the queues and logs. Default: the bucket's key.
        :param vpc: where the Fargate tasks run (and the worker functions too, when the
            selected subnets are private). Default: with `network.vpc` a private network
            of isolated subnets and interface endpoints; else, with `jobs.long_running`,
            a network of public subnets with no NAT (tasks get a public IP and a security
            group that admits nothing inbound); else none.
        :param vpc_subnets: the subnets of `vpc` to use. Default: CDK's default selection
            (private subnets if the VPC has them, else public).
        :param environment: extra variables for the workers and the task; they may add
            variables but not replace the runtime contract's. Default: none.
        :param physical_names: GENERATED (default) or FROM_SPEC names for queues and logs.
        """
        super().__init__(scope, id)
        tag(self, spec)
        check_subnets(vpc, vpc_subnets)
        key = encryption_key or bucket.encryption_key
        self.encryption_key: kms.IKey | None = key
        self.spec = spec
        names = spec_names(self, spec, physical_names)
        policy = cdk_removal_policy(None, spec)
        timeout = spec.jobs.worker_timeout_seconds
        self.image = service_image(self, spec, image)

        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetterQueue",
            queue_name=names.job_dead_letter_queue if names else None,
            encryption=sqs.QueueEncryption.KMS if key else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=key, enforce_ssl=True,
            visibility_timeout=Duration.seconds(6 * DEAD_LETTER_TIMEOUT),
            retention_period=Duration.days(14), removal_policy=policy,
        )
        acknowledge(self.dead_letter_queue, "AwsSolutions-SQS3",
                    "This queue is itself the dead-letter queue of the job queue.")
        self.queue = sqs.Queue(
            self, "Queue",
            queue_name=names.job_queue if names else None,
            encryption=sqs.QueueEncryption.KMS if key else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=key, enforce_ssl=True,
            # AWS's guidance for Lambda consumers: six times the function timeout.
            visibility_timeout=Duration.seconds(min(6 * timeout, 43200)),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=spec.jobs.max_attempts, queue=self.dead_letter_queue),
            removal_policy=policy,
        )
        skip_unless_customer_managed(key, {"CKV_AWS_27": self.queue})
        skip_unless_customer_managed(key, {"CKV_AWS_27": self.dead_letter_queue})

        placement = self._placement(spec, vpc, vpc_subnets, key)
        self.vpc: ec2.IVpc | None = placement.vpc if placement else None
        self.cluster: ecs.Cluster | None = None
        self.task_definition: ecs.FargateTaskDefinition | None = None
        self.task_role: iam.Role | None = None
        self.security_group: ec2.SecurityGroup | None = None
        self.task_log_group: logs.LogGroup | None = None
        ecs_query = ""
        if spec.jobs.long_running and placement is not None:
            ecs_query = self._fargate(spec, placement, key, names)

        queue_url = (f"sqs://sqs.{Aws.REGION}.{Aws.URL_SUFFIX}/{Aws.ACCOUNT_ID}/"
                     f"{self.queue.queue_name}?worker_timeout={timeout}")
        self.jobs_url: str = queue_url + ecs_query

        def contract(jobs_url: str) -> dict[str, str]:
            return merge_environment(RuntimeContract.for_spec(
                spec, storage_url=bucket.storage_url,
                metadata_url=metadata_store.metadata_url,
                api_keys_secret=api_keys_secret.secret_arn, jobs_url=jobs_url,
            ).to_env(), environment)

        self.environment: dict[str, str] = contract(self.jobs_url)
        if self.task_definition is not None:
            # A task never starts other tasks (and naming its own definition would be a
            # cycle): it gets the queue only.
            container = self.task_definition.find_container(CONTAINER_NAME)
            for name, value in contract(queue_url).items():
                container.add_environment(name, value)

        self.worker_security_group: ec2.SecurityGroup | None = None
        self._function_network: dict = {}
        if placement is not None and not placement.public:
            self.worker_security_group = https_only_group(
                self, "WorkerSecurityGroup", placement.vpc, "Job workers")
            self._function_network = dict(
                vpc=placement.vpc, vpc_subnets=placement.subnets,
                security_groups=[self.worker_security_group])
        self.worker_role = service_role(self, "WorkerRole", spec, "queue worker")
        log_name = names.log_group if names else None
        self.worker = self._function(
            "Worker", spec, WORKER_HANDLER, key, timeout=timeout,
            memory=spec.generator.memory_mb,
            log_name=f"{log_name}-worker" if log_name else None,
            bound=f"The SQS event source runs at most jobs.worker_concurrency "
                  f"({spec.jobs.worker_concurrency}) at once.")
        self.worker.add_event_source(event_sources.SqsEventSource(
            self.queue, batch_size=1, report_batch_item_failures=True,
            max_concurrency=spec.jobs.worker_concurrency))
        self.dead_letter_function = self._function(
            "DeadLetterHandler", spec, DEAD_LETTER_HANDLER, key,
            timeout=DEAD_LETTER_TIMEOUT, memory=512,
            log_name=f"{log_name}-dead-letters" if log_name else None,
            bound="Its SQS event source runs at most two at once.")
        self.dead_letter_function.add_event_source(event_sources.SqsEventSource(
            self.dead_letter_queue, batch_size=1, report_batch_item_failures=True,
            max_concurrency=MIN_EVENT_SOURCE_CONCURRENCY))
        for grantee in (self.worker_role, *([self.task_role] if self.task_role else [])):
            bucket.grant_read_write(grantee)
            metadata_store.grant_read_write(grantee)
            api_keys_secret.grant_read(grantee)
            if key is not None:  # the secret and the encrypted environment
                grant(grantee, (["kms:Decrypt"], [key.key_arn]))
        # A job that outgrows the worker's timeout moves on to a Fargate task.
        self.grant_submit(self.worker_role)
        self.task_stopped_function: lambda_.DockerImageFunction | None = None
        self.task_stopped_rule: events.Rule | None = None
        if self.cluster is not None:
            self._watch_stopped_tasks(spec, key, log_name)
        for role in (self.worker_role, self.task_role):
            if role is not None:
                acknowledge_service_grants(role, bucket)

    def grant_submit(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` enqueue jobs and start job tasks (and nothing else). The
        statements go to the grantee's own policy, in the grantee's stack."""
        key = [self.encryption_key.key_arn] if self.encryption_key is not None else []
        statements: list = [
            (["sqs:SendMessage", "sqs:GetQueueAttributes"], [self.queue.queue_arn]),
            (["kms:GenerateDataKey", "kms:Decrypt"], key),  # SSE-KMS queues need the key
        ]
        if self.task_definition is not None and self.cluster is not None:
            statements += [
                (["ecs:RunTask"], [self.task_definition.task_definition_arn],
                 {"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}}),
                (["iam:PassRole"], [self.task_definition.task_role.role_arn,
                                    self.task_definition.obtain_execution_role().role_arn],
                 {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
            ]
        return grant(grantee, *statements)

    def _placement(self, spec: PlatformSpec, vpc: ec2.IVpc | None,
                   subnets: ec2.SubnetSelection | None,
                   key: kms.IKey | None) -> Placement | None:
        if vpc is not None:
            return Placement(vpc, subnets)
        if spec.network.vpc:
            return Placement(private_network(self, "Network", spec, key))
        if spec.jobs.long_running:
            return Placement(public_job_network(self, "Network", spec, key))
        return None

    def _watch_stopped_tasks(self, spec: PlatformSpec, key: kms.IKey | None,
                             log_name: str | None) -> None:
        """A task that stops before its job ends (out of memory, image pull failure, killed)
        fails its job with ECS's reason, instead of leaving it queued or running."""
        self.task_stopped_function = self._function(
            "TaskStoppedHandler", spec, TASK_STOPPED_HANDLER, key,
            timeout=DEAD_LETTER_TIMEOUT, memory=512,
            log_name=f"{log_name}-stopped-tasks" if log_name else None,
            bound="It runs once per stopped job task.")
        self.task_stopped_rule = events.Rule(
            self, "TaskStoppedRule",
            description="Job tasks that stopped: fail their job if it had not ended",
            event_pattern=events.EventPattern(
                source=["aws.ecs"], detail_type=["ECS Task State Change"],
                detail={"clusterArn": [self.cluster.cluster_arn], "lastStatus": ["STOPPED"]},
            ),
            targets=[targets.LambdaFunction(self.task_stopped_function, retry_attempts=4)],
        )

    def _function(self, id: str, spec: PlatformSpec, handler: str, key: kms.IKey | None, *,
                  timeout: int, memory: int, log_name: str | None,
                  bound: str) -> lambda_.DockerImageFunction:
        log_group = logs.LogGroup(self, f"{id}Logs", log_group_name=log_name,
                                  retention=log_retention(spec), encryption_key=key,
                                  removal_policy=cdk_removal_policy(None, spec))
        log_group.grant_write(self.worker_role)
        function = lambda_.DockerImageFunction(
            self, id,
            description=f"Synthdata {id} ({spec.environment})",
            code=self.image.lambda_code(handler),
            role=self.worker_role,
            memory_size=memory,
            timeout=Duration.seconds(timeout),
            environment=self.environment,
            environment_encryption=key,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            **self._function_network,
        )
        skip_unless_customer_managed(key, {"CKV_AWS_173": function, "CKV_AWS_158": log_group})
        checkov_skip(function, "CKV_AWS_115", _NO_RESERVED.format(bound=bound))
        checkov_skip(function, "CKV_AWS_116",
                     "Not invoked asynchronously by callers: its event source returns failed "
                     "messages to the queue, and the queue has its own dead-letter queue.")
        if not self._function_network:
            checkov_skip(function, "CKV_AWS_117",
                         "Outside a VPC: it reaches only AWS APIs over TLS with IAM (set "
                         "network.vpc, or give a VPC with private subnets, to place it in one).")
        checkov_skip(function, "CKV_AWS_272",
                     "Code signing applies to zip packages; this runs a container image "
                     "pinned by digest.")
        return function

    def _fargate(self, spec: PlatformSpec, placement: Placement, key: kms.IKey | None,
                 names) -> str:
        self.cluster = ecs.Cluster(self, "Cluster", vpc=placement.vpc,
                                   container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.task_role = service_role(self, "TaskRole", spec, "long-running job task",
                                      principal="ecs-tasks.amazonaws.com")
        self.task_definition = ecs.FargateTaskDefinition(
            self, "TaskDefinition", cpu=spec.jobs.cpu, memory_limit_mib=spec.jobs.memory_mb,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX),
        )
        self.task_log_group = logs.LogGroup(
            self, "TaskLogs", log_group_name=f"{names.log_group}-jobs" if names else None,
            retention=log_retention(spec), encryption_key=key,
            removal_policy=cdk_removal_policy(None, spec))
        skip_unless_customer_managed(key, {"CKV_AWS_158": self.task_log_group})
        # Read-only root filesystem; SDV and torch write caches under a scratch /tmp.
        self.task_definition.add_volume(name="scratch")
        container = self.task_definition.add_container(
            CONTAINER_NAME,
            image=self.image.container_image(),
            # The image's entrypoint runs commands that start with `python` directly; the
            # service overrides it per task: `python -m synthdata_service.worker run-job <id>`.
            command=["python", "-m", "synthdata_service.worker", "--help"],
            cpu=spec.jobs.cpu,
            memory_limit_mib=spec.jobs.memory_mb,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="job", log_group=self.task_log_group),
            readonly_root_filesystem=True,
            user="1000",
            environment={"HOME": "/tmp"},
            essential=True,
        )
        container.add_mount_points(ecs.MountPoint(
            container_path="/tmp", source_volume="scratch", read_only=False))
        acknowledge(self.task_definition, "AwsSolutions-ECS2",
                    "Environment variables hold only the runtime contract (resource names, "
                    "limits, the secret's ARN); the pepper itself is read from Secrets "
                    "Manager at run time.")
        execution_policy = self.task_definition.obtain_execution_role().node.try_find_child(
            "DefaultPolicy")
        if execution_policy is not None:
            acknowledge(execution_policy, "AwsSolutions-IAM5[Resource::*]",
                        "ecr:GetAuthorizationToken supports no resource-level permissions.")
        self.security_group = https_only_group(self, "TaskSecurityGroup", placement.vpc,
                                               "Job tasks")
        public = "&ecs_public_ip=true" if placement.public else ""
        return (
            f"&ecs_cluster={self.cluster.cluster_arn}"
            f"&ecs_task_definition={self.task_definition.task_definition_arn}"
            f"&ecs_container={CONTAINER_NAME}"
            f"&ecs_subnets={','.join(placement.selected.subnet_ids)}"
            f"&ecs_security_groups={self.security_group.security_group_id}"
            f"{public}"
        )
