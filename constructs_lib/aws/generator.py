"""`ServerlessGenerator` on AWS: the service as a Lambda container image behind an HTTP API.

Why an API Gateway HTTP API rather than a Lambda Function URL: the platform needs
per-stage throttling (the spec's rate limit and burst) and access logs at the edge, which
Function URLs lack. Callers authenticate with the service's own API keys
(`Authorization: Bearer ...`, hashed and scoped in the metadata store); with the spec's
`api.auth: iam` the route additionally requires SigV4-signed IAM callers. See
docs/aws.md for the comparison.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import jsii
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
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
from .jobs import JobRunner
from .metadata_store import MetadataStore
from .roles import acknowledge_service_grants, service_role

__all__ = ["ServerlessGenerator"]

API_HANDLER = "synthdata_service.handlers.aws_lambda.handler"

class ServerlessGenerator(Construct):
    """The generator service: Lambda (container image, Mangum handler) + HTTP API.

    Attributes: `function`, `role` (= `identity`), `log_group`, `dead_letter_queue`,
    `http_api`, `stage`, `access_log_group`, `endpoint_url`, `runtime_environment` (the
    runtime contract's variables as set on the function) and `vpc` / `security_group`
    when the spec asks for a private network.
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
        environment: Mapping[str, str] | None = None,
        image_directory: str | Path | None = None,
        image: ServiceImage | None = None,
        job_runner: JobRunner | None = None,
        vpc: ec2.IVpc | None = None,
    ) -> None:
        """
        :param spec: the platform spec (memory, timeout, concurrency, limits, rate limits).
        :param bucket: where the service stores data; the function may read and write it.
        :param metadata_store: the service's records; the function may read and write it.
        :param api_keys_secret: the pepper for hashing API keys; the function may read it.
        :param environment: extra variables for the function, merged over the contract's.
            Default: none.
        :param image_directory: build context of the service image (holding
            `service/Dockerfile`). Default: this repository's root. Ignored when the spec
            names a prebuilt `generator.image`, or when `image` is given.
        :param image: the service image, shared with a job runner. Default: one built here.
        :param job_runner: where background jobs go (queue worker, Fargate task); the
            function may submit to it. Default: none, jobs run in process (`inline://`).
        :param vpc: run the function in this VPC's private subnets. Default: none, or the
            platform's own VPC when the spec's `network.vpc` is on.
        """
        super().__init__(scope, id)
        names = aws_names(spec)
        key = bucket.encryption_key
        self.spec = spec

        self.image = image or ServiceImage(self, "Image", spec=spec,
                                           image_directory=image_directory)
        self.job_runner = job_runner
        self.role = service_role(self, "Role", spec, "generator")
        self.identity = self.role

        self.log_group = logs.LogGroup(
            self, "Logs",
            log_group_name=names.log_group,
            retention=log_retention(spec),
            encryption_key=key,
            removal_policy=removal_policy(spec),
        )
        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetterQueue",
            queue_name=names.dead_letter_queue,
            encryption=sqs.QueueEncryption.KMS if key else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy(spec),
        )
        acknowledge(self.dead_letter_queue, "AwsSolutions-SQS3",
                    "This queue is itself the dead-letter queue of the generator's "
                    "asynchronous invocations.")

        contract = RuntimeContract.for_spec(
            spec,
            storage_url=bucket.storage_url,
            metadata_url=metadata_store.metadata_url,
            api_keys_secret=api_keys_secret.secret_arn,
            **({"jobs_url": job_runner.jobs_url} if job_runner else {}),
        )
        self.runtime_environment: dict[str, str] = {**contract.to_env(), **(environment or {})}

        self.vpc = vpc
        self.security_group: ec2.SecurityGroup | None = None
        vpc_options = {}
        if vpc is not None:
            self.security_group = ec2.SecurityGroup(
                self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
                description="Generator: HTTPS to the VPC endpoints only",
            )
            self.security_group.add_egress_rule(
                ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443),
                "HTTPS to interface endpoints inside the VPC",
            )
            vpc_options = dict(
                vpc=vpc,
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                security_groups=[self.security_group],
            )
            # Gateway endpoints (S3, DynamoDB) are reached through prefix lists.
            self.security_group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
                "HTTPS to S3 and DynamoDB gateway endpoints (no internet route exists)",
            )

        self.function = lambda_.DockerImageFunction(
            self, "Function",
            function_name=names.function,
            description=f"Synthdata generator service ({spec.environment})",
            code=self.image.lambda_code(API_HANDLER),
            role=self.role,
            memory_size=spec.generator.memory_mb,
            timeout=Duration.seconds(spec.generator.timeout_seconds),
            reserved_concurrent_executions=spec.generator.concurrency,
            environment=self.runtime_environment,
            environment_encryption=key,
            dead_letter_queue=self.dead_letter_queue,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            architecture=lambda_.Architecture.X86_64,
            **vpc_options,
        )
        if vpc is None:
            checkov_skip(self.function, "CKV_AWS_117",
                         "The spec runs the generator without a private network "
                         "(network.vpc: false); set it to true to place it in a VPC.")
        checkov_skip(self.function, "CKV_AWS_272",
                     "Code signing applies to zip packages; this function runs a container "
                     "image whose digest CloudFormation pins.")

        for check, resource in (("CKV_AWS_158", self.log_group), ("CKV_AWS_27",
                                self.dead_letter_queue), ("CKV_AWS_173", self.function)):
            skip_unless_customer_managed(key, {check: resource})
        bucket.grant_read_write(self.role)
        metadata_store.grant_read_write(self.role)
        api_keys_secret.grant_read(self.role)
        if job_runner is not None:
            job_runner.grant_submit(self.role)
        if key is not None:
            key.grant(self.role, "kms:Decrypt")  # environment variables and the secret

        self._key = key
        self._add_endpoint(spec)
        acknowledge_service_grants(self.role, bucket)

    def _add_endpoint(self, spec: PlatformSpec) -> None:
        self.access_log_group = logs.LogGroup(
            self, "ApiAccessLogs",
            retention=log_retention(spec),
            encryption_key=self._key,
            removal_policy=removal_policy(spec),
        )
        skip_unless_customer_managed(self._key, {"CKV_AWS_158": self.access_log_group})
        authorizer = authorizers.HttpIamAuthorizer() if spec.api.auth == "iam" else None
        cors = None
        if spec.api.cors_origins:
            cors = apigwv2.CorsPreflightOptions(
                allow_origins=list(spec.api.cors_origins),
                allow_methods=[apigwv2.CorsHttpMethod.ANY],
                allow_headers=["authorization", "content-type"],
                max_age=Duration.hours(1),
            )
        self.http_api = apigwv2.HttpApi(
            self, "HttpApi",
            api_name=aws_names(spec).function,
            description="Synthdata generator API",
            create_default_stage=False,
            cors_preflight=cors,
            default_integration=integrations.HttpLambdaIntegration(
                "Generator", self.function,
                payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
            ),
            default_authorizer=authorizer,
        )
        self.stage = apigwv2.HttpStage(
            self, "Stage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=spec.api.rate_limit_per_second,
                burst_limit=spec.api.burst,
            ),
            access_log_settings=_AccessLogSettings(self.access_log_group),
        )
        self.endpoint_url: str = self.stage.url
        if spec.api.auth != "iam":
            for route in self.http_api.node.find_all():
                if isinstance(route, apigwv2.HttpRoute):
                    acknowledge(route, "AwsSolutions-APIG4",
                                "Every route but /healthz and /readyz is authenticated by the "
                                "service itself: Bearer API keys, stored hashed with a pepper "
                                "from Secrets Manager, scoped read/write/admin. Set "
                                "api.auth: iam to also require IAM at the gateway.")


#: One JSON line per request. Only context fields: no headers, so no keys, reach the logs.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime", "method": "$context.httpMethod",
    "path": "$context.path", "routeKey": "$context.routeKey", "status": "$context.status",
    "protocol": "$context.protocol", "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
}, separators=(",", ":"))


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """HTTP API access logs to a log group, in `ACCESS_LOG_FORMAT`."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(ACCESS_LOG_FORMAT)
