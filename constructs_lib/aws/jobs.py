"""`JobRunner` on AWS: background jobs off the request path.

Jobs that fit a Lambda run (training GaussianCopula, writing a large sample to the bucket)
go through an SQS queue to a worker function from the same image. Jobs that cannot (CTGAN
with its default 300 epochs is about 19 minutes on 2 cores, beyond Lambda's 15) run as ECS
Fargate tasks from the same image, started by the service. Why a queue rather than an
asynchronous self-invoke: the queue gives retries with a visible receive count, a
dead-letter queue whose consumer marks the job failed with the reason, back-pressure by
the worker's concurrency, and messages a second replica can never both claim.
"""

from __future__ import annotations

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

from ..contract import RuntimeContract
from ..naming import aws_names
from ..spec import PlatformSpec
from .bucket import SecureBucket
from .defaults import (
    acknowledge,
    checkov_skip,
    log_retention,
    removal_policy,
    skip_unless_customer_managed,
)
from .image import ServiceImage
from .metadata_store import MetadataStore
from .roles import acknowledge_service_grants, service_role

__all__ = ["JobRunner"]

WORKER_HANDLER = "synthdata_service.handlers.aws_worker.handler"
DEAD_LETTER_HANDLER = "synthdata_service.handlers.aws_worker.dead_letter_handler"
TASK_STOPPED_HANDLER = "synthdata_service.handlers.aws_worker.task_stopped_handler"
CONTAINER_NAME = "worker"
DEAD_LETTER_TIMEOUT = 60


class JobRunner(Construct):
    """Queue + worker function + dead-letter handler, and the Fargate job task.

    Attributes: `queue`, `dead_letter_queue`, `worker` and `dead_letter_function` (Lambda),
    `worker_role`, `cluster`, `task_definition`, `task_role`, `security_group`,
    `task_log_group`, `task_stopped_function` and `task_stopped_rule` (None without
    `jobs.long_running`), and `jobs_url` (the runtime contract's SYNTH_JOBS_URL).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        bucket: SecureBucket,
        metadata_store: MetadataStore,
        api_keys_secret: secretsmanager.ISecret,
        image: ServiceImage,
        vpc: ec2.IVpc | None = None,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        """
        :param image: the service image the worker and the task run.
        :param vpc: network of the Fargate tasks (isolated subnets), and of the worker
            functions too when the spec's `network.vpc` is on. Required when
            `jobs.long_running` is on.
        :param encryption_key: key for queues and logs. Default: the bucket's key.
        """
        super().__init__(scope, id)
        if spec.jobs.long_running and vpc is None:
            raise ValueError("JobRunner: jobs.long_running needs a vpc= for the Fargate tasks")
        key = encryption_key or bucket.encryption_key
        self.encryption_key: kms.IKey | None = key
        names = aws_names(spec)
        policy = removal_policy(spec)
        timeout = spec.jobs.worker_timeout_seconds

        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetterQueue", queue_name=names.job_dead_letter_queue,
            encryption=sqs.QueueEncryption.KMS if key else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=key, enforce_ssl=True,
            visibility_timeout=Duration.seconds(6 * DEAD_LETTER_TIMEOUT),
            retention_period=Duration.days(14), removal_policy=policy,
        )
        acknowledge(self.dead_letter_queue, "AwsSolutions-SQS3",
                    "This queue is itself the dead-letter queue of the job queue.")
        self.queue = sqs.Queue(
            self, "Queue", queue_name=names.job_queue,
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
        self.cluster: ecs.Cluster | None = None
        self.task_definition: ecs.FargateTaskDefinition | None = None
        self.task_role: iam.Role | None = None
        self.security_group: ec2.SecurityGroup | None = None
        self.task_log_group: logs.LogGroup | None = None
        ecs_query = ""
        if spec.jobs.long_running:
            ecs_query = self._fargate(spec, bucket, metadata_store, api_keys_secret, image,
                                      vpc, key)

        queue_url = (f"sqs://sqs.{Aws.REGION}.{Aws.URL_SUFFIX}/{Aws.ACCOUNT_ID}/"
                     f"{self.queue.queue_name}?worker_timeout={timeout}")
        self.jobs_url: str = queue_url + ecs_query

        def environment(jobs_url: str) -> dict[str, str]:
            return RuntimeContract.for_spec(
                spec, storage_url=bucket.storage_url,
                metadata_url=metadata_store.metadata_url,
                api_keys_secret=api_keys_secret.secret_arn, jobs_url=jobs_url,
            ).to_env()

        self.environment: dict[str, str] = environment(self.jobs_url)
        if self.task_definition is not None:
            # A task never starts other tasks (and naming its own definition would be a
            # cycle): it gets the queue only.
            container = self.task_definition.find_container(CONTAINER_NAME)
            for name, value in environment(queue_url).items():
                container.add_environment(name, value)

        self.worker_security_group: ec2.SecurityGroup | None = None
        self._function_network: dict = {}
        if spec.network.vpc and vpc is not None:
            self.worker_security_group = _https_only_group(self, "WorkerSecurityGroup", vpc,
                                                           "Job workers")
            self._function_network = dict(
                vpc=vpc, security_groups=[self.worker_security_group],
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))
        self.worker_role = service_role(self, "WorkerRole", spec, "queue worker")
        self.worker = self._function(
            "Worker", spec, image, WORKER_HANDLER, self.worker_role, key,
            timeout=timeout, memory=spec.generator.memory_mb,
            concurrency=spec.jobs.worker_concurrency, log_name=names.log_group + "-worker",
        )
        self.worker.add_event_source(event_sources.SqsEventSource(
            self.queue, batch_size=1, report_batch_item_failures=True))
        self.dead_letter_function = self._function(
            "DeadLetterHandler", spec, image, DEAD_LETTER_HANDLER, self.worker_role, key,
            timeout=DEAD_LETTER_TIMEOUT, memory=512, concurrency=1,
            log_name=names.log_group + "-dead-letters",
        )
        self.dead_letter_function.add_event_source(event_sources.SqsEventSource(
            self.dead_letter_queue, batch_size=1, report_batch_item_failures=True))
        for grantee in (self.worker_role, *([self.task_role] if self.task_role else [])):
            bucket.grant_read_write(grantee)
            metadata_store.grant_read_write(grantee)
            api_keys_secret.grant_read(grantee)
            if key is not None:
                key.grant(grantee, "kms:Decrypt")
        # A job that outgrows the worker's timeout moves on to a Fargate task.
        self.grant_submit(self.worker_role)
        self.task_stopped_function: lambda_.DockerImageFunction | None = None
        if self.cluster is not None:
            self._watch_stopped_tasks(spec, image, key)
        for role in (self.worker_role, self.task_role):
            if role is not None:
                acknowledge_service_grants(role, bucket)

    def grant_submit(self, grantee: iam.IGrantable) -> None:
        """Let `grantee` enqueue jobs and start job tasks (and nothing else)."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["sqs:SendMessage", "sqs:GetQueueAttributes"],
            resource_arns=[self.queue.queue_arn])
        if self.encryption_key is not None:  # SSE-KMS queues need the key to send
            iam.Grant.add_to_principal(
                grantee=grantee, actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resource_arns=[self.encryption_key.key_arn])
        if self.task_definition is None or self.cluster is None:
            return
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["ecs:RunTask"],
            resource_arns=[self.task_definition.task_definition_arn],
            conditions={"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}},
        )
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["iam:PassRole"],
            resource_arns=[self.task_definition.task_role.role_arn,
                           self.task_definition.obtain_execution_role().role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        )

    def _watch_stopped_tasks(self, spec: PlatformSpec, image: ServiceImage,
                             key: kms.IKey | None) -> None:
        """A task that stops before its job ends (out of memory, image pull failure, killed)
        fails its job with ECS's reason, instead of leaving it queued or running."""
        self.task_stopped_function = self._function(
            "TaskStoppedHandler", spec, image, TASK_STOPPED_HANDLER, self.worker_role, key,
            timeout=DEAD_LETTER_TIMEOUT, memory=512, concurrency=1,
            log_name=aws_names(spec).log_group + "-stopped-tasks",
        )
        self.task_stopped_rule = events.Rule(
            self, "TaskStoppedRule",
            description="Job tasks that stopped: fail their job if it had not ended",
            event_pattern=events.EventPattern(
                source=["aws.ecs"], detail_type=["ECS Task State Change"],
                detail={"clusterArn": [self.cluster.cluster_arn], "lastStatus": ["STOPPED"]},
            ),
            targets=[targets.LambdaFunction(self.task_stopped_function, retry_attempts=4)],
        )

    def _function(self, id: str, spec: PlatformSpec, image: ServiceImage, handler: str,
                  role: iam.Role, key: kms.IKey | None, *, timeout: int, memory: int,
                  concurrency: int, log_name: str) -> lambda_.DockerImageFunction:
        log_group = logs.LogGroup(self, f"{id}Logs", log_group_name=log_name,
                                  retention=log_retention(spec), encryption_key=key,
                                  removal_policy=removal_policy(spec))
        log_group.grant_write(role)
        function = lambda_.DockerImageFunction(
            self, id,
            description=f"Synthdata {id} ({spec.environment})",
            code=image.lambda_code(handler),
            role=role,
            memory_size=memory,
            timeout=Duration.seconds(timeout),
            reserved_concurrent_executions=concurrency,
            environment=self.environment,
            environment_encryption=key,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            **self._function_network,
        )
        skip_unless_customer_managed(key, {"CKV_AWS_173": function, "CKV_AWS_158": log_group})
        checkov_skip(function, "CKV_AWS_116",
                     "Invoked only by its SQS event source; failed messages return to the "
                     "queue and go to the queue's own dead-letter queue.")
        if not self._function_network:
            checkov_skip(function, "CKV_AWS_117",
                         "The spec runs functions without a private network (network.vpc: "
                         "false); they reach only AWS APIs over TLS with IAM.")
        checkov_skip(function, "CKV_AWS_272",
                     "Code signing applies to zip packages; this runs a container image "
                     "pinned by digest.")
        return function

    def _fargate(self, spec: PlatformSpec, bucket: SecureBucket, metadata_store: MetadataStore,
                 api_keys_secret: secretsmanager.ISecret, image: ServiceImage,
                 vpc: ec2.IVpc, key: kms.IKey | None) -> str:
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc,
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
            self, "TaskLogs", log_group_name=aws_names(spec).log_group + "-jobs",
            retention=log_retention(spec), encryption_key=key,
            removal_policy=removal_policy(spec))
        skip_unless_customer_managed(key, {"CKV_AWS_158": self.task_log_group})
        # Read-only root filesystem; SDV and torch write caches under a scratch /tmp.
        self.task_definition.add_volume(name="scratch")
        container = self.task_definition.add_container(
            CONTAINER_NAME,
            image=image.container_image(),
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
        self.security_group = _https_only_group(self, "TaskSecurityGroup", vpc, "Job tasks")
        subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids
        return (
            f"&ecs_cluster={self.cluster.cluster_arn}"
            f"&ecs_task_definition={self.task_definition.task_definition_arn}"
            f"&ecs_container={CONTAINER_NAME}"
            f"&ecs_subnets={','.join(subnets)}"
            f"&ecs_security_groups={self.security_group.security_group_id}"
        )


def _https_only_group(scope: Construct, id: str, vpc: ec2.IVpc,
                      what: str) -> ec2.SecurityGroup:
    """No inbound rules; HTTPS out to the VPC's endpoints (no internet route exists)."""
    group = ec2.SecurityGroup(scope, id, vpc=vpc, allow_all_outbound=False,
                              description=f"{what}: HTTPS to AWS endpoints only, no inbound")
    group.add_egress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443),
                          "interface endpoints")
    group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
                          "S3 and DynamoDB gateway endpoints (the subnets have no internet route)")
    acknowledge(group, "AwsSolutions-EC23",
                "No inbound rules; egress is HTTPS only in isolated subnets.")
    return group
