"""`SyntheticDataPlatform` on AWS: every piece composed from one `PlatformSpec`."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from ..naming import aws_names, aws_tags
from ..spec import PlatformSpec
from .bucket import SecureBucket
from .defaults import acknowledge, log_retention, removal_policy, skip_unless_customer_managed
from .generator import ServerlessGenerator
from .image import ServiceImage
from .jobs import JobRunner
from .key import platform_key
from .metadata_store import MetadataStore

__all__ = ["SyntheticDataPlatform"]


class SyntheticDataPlatform(Construct):
    """The whole platform: bucket, metadata table, pepper secret, generator, alarms.

        platform = SyntheticDataPlatform(stack, "Synth", spec=PlatformSpec(name="demo"))
        platform.endpoint_url        # also the stack output `EndpointUrl`

    Attributes: `spec`, `encryption_key`, `bucket`, `metadata_store`, `api_keys_secret`,
    `generator`, `image`, `job_runner`, `endpoint_url`, `alarm_topic`, `alarms` (name ->
    alarm), `vpc`, and the stack outputs in `outputs`.
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec) -> None:
        """:param spec: the provider-agnostic description; see `constructs_lib.PlatformSpec`."""
        super().__init__(scope, id)
        self.spec = spec
        names = aws_names(spec)
        for key, value in aws_tags(spec).items():
            Tags.of(self).add(key, value)

        self.encryption_key: kms.Key | None = (
            platform_key(self, "Key", spec)
            if spec.storage.encryption == "customer_managed" else None
        )
        self.bucket = SecureBucket(self, "Storage", spec=spec, encryption_key=self.encryption_key)
        self.metadata_store = MetadataStore(
            self, "Metadata", spec=spec, encryption_key=self.encryption_key)
        self.api_keys_secret = secretsmanager.Secret(
            self, "ApiKeysSecret",
            secret_name=names.secret,
            description="Pepper for hashing the generator's API keys (never leaves AWS)",
            encryption_key=self.encryption_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True),
            removal_policy=removal_policy(spec),
        )
        acknowledge(self.api_keys_secret, "AwsSolutions-SMG4",
                    "The pepper is mixed into every stored API key hash; rotating it would "
                    "invalidate all keys at once. Rotate by issuing new keys instead "
                    "(docs/aws.md, 'Key rotation').")

        skip_unless_customer_managed(self.encryption_key, {"CKV_AWS_149": self.api_keys_secret})
        # The private network holds the long-running job tasks, and the API function too
        # when the spec asks for it.
        needs_network = spec.network.vpc or spec.jobs.long_running
        self.vpc: ec2.Vpc | None = self._private_network(spec) if needs_network else None
        self.image = ServiceImage(self, "Image", spec=spec)
        self.job_runner = JobRunner(
            self, "Jobs", spec=spec, bucket=self.bucket, metadata_store=self.metadata_store,
            api_keys_secret=self.api_keys_secret, image=self.image,
            vpc=self.vpc, encryption_key=self.encryption_key,
        )
        self.generator = ServerlessGenerator(
            self, "Generator", spec=spec, bucket=self.bucket,
            metadata_store=self.metadata_store, api_keys_secret=self.api_keys_secret,
            image=self.image, job_runner=self.job_runner,
            vpc=self.vpc if spec.network.vpc else None,
        )
        self.endpoint_url: str = self.generator.endpoint_url
        self._alarms(spec)
        self.outputs = {
            "EndpointUrl": CfnOutput(self, "EndpointUrl", value=self.endpoint_url,
                                     description="Base URL of the generator API"),
            "BucketName": CfnOutput(self, "BucketName", value=self.bucket.bucket_name),
            "MetadataTableName": CfnOutput(self, "MetadataTableName",
                                           value=self.metadata_store.table_name),
            "FunctionName": CfnOutput(self, "FunctionName",
                                      value=self.generator.function.function_name),
            "ApiKeysSecretArn": CfnOutput(self, "ApiKeysSecretArn",
                                          value=self.api_keys_secret.secret_arn),
            "JobQueueUrl": CfnOutput(self, "JobQueueUrl",
                                     value=self.job_runner.queue.queue_url),
            "WorkerFunctionName": CfnOutput(self, "WorkerFunctionName",
                                            value=self.job_runner.worker.function_name),
        }
        for output in self.outputs.values():
            output.override_logical_id(f"{id}{output.node.id}")

    def _alarms(self, spec: PlatformSpec) -> None:
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic",
            display_name=f"Synthdata {spec.name} {spec.environment} alarms",
            master_key=self.encryption_key,
            enforce_ssl=True,
        )
        # Alarms cannot publish to a topic under the AWS-managed SNS key, so without a
        # platform key the topic stays unencrypted (it carries alarm names only).
        skip_unless_customer_managed(self.encryption_key, {"CKV_AWS_26": self.alarm_topic})
        for email in spec.monitoring.alarm_emails:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(email))
        function = self.generator.function
        five_minutes = Duration.minutes(5)
        timeout_ms = spec.generator.timeout_seconds * 1000
        self.alarms = {
            "Errors": function.metric_errors(period=five_minutes, statistic="Sum").create_alarm(
                self, "ErrorsAlarm",
                alarm_description="Generator invocations failing",
                threshold=spec.monitoring.error_threshold, evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING),
            "Throttles": function.metric_throttles(period=five_minutes, statistic="Sum")
            .create_alarm(
                self, "ThrottlesAlarm",
                alarm_description="Generator at its reserved concurrency: callers are refused",
                threshold=1, evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING),
            "Duration": function.metric_duration(period=five_minutes, statistic="p99")
            .create_alarm(
                self, "DurationAlarm",
                alarm_description="Generator p99 duration close to its timeout",
                threshold=round(timeout_ms * spec.monitoring.latency_threshold_ratio),
                evaluation_periods=3, datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING),
        }
        action = cw_actions.SnsAction(self.alarm_topic)
        for alarm in self.alarms.values():
            alarm.add_alarm_action(action)

    def _private_network(self, spec: PlatformSpec) -> ec2.Vpc:
        """Isolated subnets only: the function reaches AWS services through endpoints."""
        vpc = ec2.Vpc(
            self, "Network",
            ip_addresses=ec2.IpAddresses.cidr(spec.network.cidr),
            max_azs=2, nat_gateways=0,
            subnet_configuration=[ec2.SubnetConfiguration(
                name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)],
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=log_retention(spec),
                                  encryption_key=self.encryption_key,
                                  removal_policy=removal_policy(spec))
        skip_unless_customer_managed(self.encryption_key, {"CKV_AWS_158": flow_logs})
        vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(
            flow_logs))
        vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        vpc.add_gateway_endpoint("DynamoDB", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
        for name, service in (
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
            ("Kms", ec2.InterfaceVpcEndpointAwsService.KMS),
            ("Sqs", ec2.InterfaceVpcEndpointAwsService.SQS),
            ("XRay", ec2.InterfaceVpcEndpointAwsService.XRAY),
            # Fargate pulls the image and ships logs through these.
            ("Ecr", ec2.InterfaceVpcEndpointAwsService.ECR),
            ("EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
            ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
            # Functions in the network start job tasks through this.
            ("Ecs", ec2.InterfaceVpcEndpointAwsService.ECS),
        ):
            endpoint = vpc.add_interface_endpoint(
                name, service=service, private_dns_enabled=True, open=False)
            # HTTPS from inside the platform's own address range only.
            endpoint.connections.allow_default_port_from(
                ec2.Peer.ipv4(spec.network.cidr), "HTTPS from the platform's private subnets")
        return vpc
