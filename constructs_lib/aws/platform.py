"""`SyntheticDataPlatform` on AWS: every piece composed from one `PlatformSpec`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations, CfnOutput, CfnRule, Duration, Fn, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from ..spec import PlatformSpec
from ..types import OUTPUTS, PhysicalNames, output_id
from .bucket import SecureBucket, SecureBucketBase
from .defaults import (
    acknowledge,
    cdk_removal_policy,
    skip_unless_customer_managed,
    spec_names,
    tag,
)
from .generator import ServerlessGenerator
from .image import ServiceImage, service_image
from .jobs import JobRunner
from .key import platform_key
from .metadata_store import MetadataStore, MetadataStoreBase
from .network import Placement, check_subnets, private_network

__all__ = ["SyntheticDataPlatform"]


class SyntheticDataPlatform(Construct):
    """The whole platform: key, bucket, metadata table, pepper secret, job runner,
    generator and alarms, from one spec - each piece created, or brought in.

        platform = SyntheticDataPlatform(stack, "Synth", spec=PlatformSpec(name="demo"))
        platform.endpoint_url
        platform.bucket.grant_read(analyst_role)

    Attributes: `spec`, `encryption_key`, `bucket`, `metadata_store`, `api_keys_secret`,
    `image`, `job_runner`, `generator`, `endpoint_url`, `vpc`, `alarm_topic`, `alarms`
    (name -> alarm), and `outputs` (name -> `CfnOutput`, empty unless `outputs=True`).
    Every resource it creates is tagged from the spec.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        encryption_key: kms.IKey | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        bucket: SecureBucketBase | s3.IBucket | None = None,
        metadata_store: MetadataStoreBase | dynamodb.ITable | None = None,
        image: ServiceImage | None = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
        outputs: bool = False,
        api_keys_secret: secretsmanager.ISecret | None = None,
        role: iam.IRole | None = None,
        bucket_props: Mapping[str, Any] | None = None,
        store_props: Mapping[str, Any] | None = None,
        function_props: Mapping[str, Any] | None = None,
    ) -> None:
        """
        :param spec: the provider-agnostic description; see `constructs_lib.PlatformSpec`.
        :param encryption_key: the KMS key for bucket, table, queues, logs, secret, topic and
            the functions' environment. Default: one new rotating key when the spec asks
            for customer-managed encryption, else each service's own encryption.
        :param vpc: the network for the generator, the queue workers and the job tasks.
            Default: with `network.vpc` a private network (isolated subnets, endpoints);
            else a public-subnet network for the job tasks only (no NAT, no endpoints).
        :param vpc_subnets: the subnets of `vpc`. Default: CDK's default selection (the
            private ones if any). With public subnets only the job tasks run there.
        :param bucket: the data bucket, brought in (`SecureBucket.from_bucket_name`, a
            `SecureBucket`, or any `s3.IBucket`). Default: a new `SecureBucket`.
        :param metadata_store: the metadata table, brought in (`MetadataStore.
            from_store_name`, a `MetadataStore`, or any `dynamodb.ITable` with `pk` / `sk`
            string keys). Default: a new `MetadataStore`.
        :param image: the service image (`ServiceImage`, or its `from_image_uri` /
            `from_ecr_repository`). Default: built from the staged build context.
        :param environment: extra variables for the service; they may add variables but
            not replace the runtime contract's. Default: none.
        :param physical_names: GENERATED (default: CloudFormation names everything, so any
            number of platforms fit one account) or FROM_SPEC (`synth-<name>-<env>-...`).
        :param outputs: write stack outputs (`<id>EndpointUrl`, `<id>BucketName`, ...).
            Default: off - nothing is written into your stack unasked.
        :param api_keys_secret: the secret holding the pepper. Default: a new generated one.
        :param role: the API function's execution role. Default: a new, empty role.
        :param bucket_props: passed to the new `SecureBucket` (see there).
        :param store_props: passed to the new `MetadataStore` (see there).
        :param function_props: passed to the generator's function (see `ServerlessGenerator`).
        """
        super().__init__(scope, id)
        self.spec = spec
        check_subnets(vpc, vpc_subnets)
        tag(self, spec)
        self._check_placement(spec)
        names = spec_names(self, spec, physical_names)
        policy = cdk_removal_policy(None, spec)

        if encryption_key is None and spec.storage.encryption == "customer_managed":
            encryption_key = platform_key(
                self, "Key", spec, what="data, metadata, queues, logs and secrets",
                alias=names.kms_alias if names else None, removal_policy=policy)
        self.encryption_key: kms.IKey | None = encryption_key

        self.bucket: SecureBucketBase = self._bucket(spec, bucket, physical_names,
                                                     bucket_props)
        self.metadata_store: MetadataStoreBase = self._store(spec, metadata_store,
                                                             physical_names, store_props)
        self.api_keys_secret: secretsmanager.ISecret = api_keys_secret or self._secret(
            spec, names, policy)

        self.vpc: ec2.IVpc | None = vpc
        if vpc is None and spec.network.vpc:
            self.vpc = private_network(self, "Network", spec, encryption_key)
        self.image = service_image(self, spec, image)
        self.job_runner = JobRunner(
            self, "Jobs", spec=spec, bucket=self.bucket, metadata_store=self.metadata_store,
            api_keys_secret=self.api_keys_secret, image=self.image,
            encryption_key=encryption_key, vpc=self.vpc, vpc_subnets=vpc_subnets,
            environment=environment, physical_names=physical_names,
        )
        generator_vpc = self.vpc
        if self.vpc is not None and Placement(self.vpc, vpc_subnets).public:
            generator_vpc = None  # a function in a public subnet has no route out
            Annotations.of(self).add_info(
                "vpc_subnets selects public subnets: the job tasks run there with a public "
                "IP; the generator function stays in Lambda's own network")
        self.generator = ServerlessGenerator(
            self, "Generator", spec=spec, bucket=self.bucket,
            metadata_store=self.metadata_store, api_keys_secret=self.api_keys_secret,
            image=self.image, job_runner=self.job_runner, encryption_key=encryption_key,
            vpc=generator_vpc, vpc_subnets=vpc_subnets if generator_vpc else None,
            environment=environment, physical_names=physical_names, role=role,
            function_props=function_props,
        )
        self.endpoint_url: str = self.generator.endpoint_url
        self._alarms(spec)
        self.outputs: dict[str, CfnOutput] = self._outputs(id) if outputs else {}

    def _check_placement(self, spec: PlatformSpec) -> None:
        """`region` and `account` place the stack on AWS: a stack pinned elsewhere is
        refused by name; an environment-agnostic stack refuses, at deploy, to go elsewhere."""
        stack = Stack.of(self)
        checks = {"region": (stack.region, spec.region), "account": (stack.account,
                                                                       spec.account)}
        rule: CfnRule | None = None
        for field, (actual, wanted) in checks.items():
            if wanted is None:
                continue
            if not Token.is_unresolved(actual):
                if actual != wanted:
                    raise ValueError(
                        f"{field}: the spec says {wanted!r} but the stack {stack.stack_name!r} "
                        f"deploys to {actual!r}; change the spec's {field} or the stack's env")
                continue
            rule = rule or CfnRule(self, "Placement")
            rule.add_assertion(Fn.condition_equals(actual, wanted),
                               f"This platform's spec places it in {field} {wanted}")

    def _bucket(self, spec: PlatformSpec, bucket, physical_names, props) -> SecureBucketBase:
        if bucket is None:
            return SecureBucket(self, "Storage", spec=spec, encryption_key=self.encryption_key,
                                physical_names=physical_names, bucket_props=props)
        if props:
            raise ValueError("bucket_props: applies only to a bucket the platform creates; "
                             "set the properties on the bucket you pass as bucket=")
        if isinstance(bucket, SecureBucketBase):
            return bucket
        return SecureBucket.from_bucket(self, "Storage", bucket, spec=spec)

    def _store(self, spec: PlatformSpec, store, physical_names, props) -> MetadataStoreBase:
        if store is None:
            return MetadataStore(self, "Metadata", spec=spec,
                                 encryption_key=self.encryption_key,
                                 physical_names=physical_names, store_props=props)
        if props:
            raise ValueError("store_props: applies only to a table the platform creates; "
                             "set the properties on the table you pass as metadata_store=")
        if isinstance(store, MetadataStoreBase):
            return store
        return MetadataStore.from_table(self, "Metadata", store, spec=spec)

    def _secret(self, spec: PlatformSpec, names, policy) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self, "ApiKeysSecret",
            secret_name=names.secret if names else None,
            description="Pepper for hashing the generator's API keys (never leaves AWS)",
            encryption_key=self.encryption_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True),
            removal_policy=policy,
        )
        acknowledge(secret, "AwsSolutions-SMG4",
                    "The pepper is mixed into every stored API key hash; rotating it would "
                    "invalidate all keys at once. Rotate by issuing new keys instead "
                    "(docs/aws.md, 'Key rotation').")
        skip_unless_customer_managed(self.encryption_key, {"CKV_AWS_149": secret})
        return secret

    def _outputs(self, id: str) -> dict[str, CfnOutput]:
        values = {
            "endpoint_url": self.endpoint_url,
            "bucket_name": self.bucket.bucket_name,
            "storage_url": self.bucket.storage_url,
            "metadata_url": self.metadata_store.metadata_url,
            "api_keys_secret": self.api_keys_secret.secret_arn,
            "jobs_url": self.job_runner.jobs_url,
            "identity": self.generator.role.role_arn,
        }
        outputs = {}
        for name, value in values.items():
            output = CfnOutput(self, f"Output{name.title().replace('_', '')}", value=value,
                               description=OUTPUTS[name])
            output.override_logical_id(output_id(id, name, style="camel"))
            outputs[name] = output
        return outputs

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
        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        not_breaching = cloudwatch.TreatMissingData.NOT_BREACHING
        self.alarms = {
            "Errors": function.metric_errors(period=five_minutes, statistic="Sum").create_alarm(
                self, "ErrorsAlarm", alarm_description="Generator invocations failing",
                threshold=spec.monitoring.error_threshold, evaluation_periods=1,
                comparison_operator=at_least, treat_missing_data=not_breaching),
            "Throttles": function.metric_throttles(period=five_minutes, statistic="Sum")
            .create_alarm(
                self, "ThrottlesAlarm",
                alarm_description="Generator throttled: callers are refused",
                threshold=1, evaluation_periods=1,
                comparison_operator=at_least, treat_missing_data=not_breaching),
            "Duration": function.metric_duration(period=five_minutes, statistic="p99")
            .create_alarm(
                self, "DurationAlarm",
                alarm_description="Generator p99 duration close to its timeout",
                threshold=round(timeout_ms * spec.monitoring.latency_threshold_ratio),
                evaluation_periods=3, datapoints_to_alarm=2,
                comparison_operator=at_least, treat_missing_data=not_breaching),
        }
        action = cw_actions.SnsAction(self.alarm_topic)
        for alarm in self.alarms.values():
            alarm.add_alarm_action(action)
