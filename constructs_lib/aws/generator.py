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
from typing import Any

import jsii
from aws_cdk import Duration, Names
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..contract import RuntimeContract, merge_environment
from ..spec import PlatformSpec
from ..types import PhysicalNames, UnsupportedOnCloud
from .bucket import SecureBucketBase
from .defaults import (
    acknowledge,
    cdk_removal_policy,
    checkov_skip,
    grant,
    log_retention,
    merge_overrides,
    skip_unless_customer_managed,
    spec_names,
    tag,
)
from .image import ServiceImage, service_image
from .jobs import JobRunner
from .metadata_store import MetadataStoreBase
from .network import Placement, check_subnets, https_only_group
from .roles import acknowledge_service_grants, service_role

__all__ = ["API_HANDLER", "FUNCTION_SECURE_DEFAULTS", "ServerlessGenerator"]

API_HANDLER = "synthdata_service.handlers.aws_lambda.handler"
#: The alias the HTTP API invokes when instances are kept warm (`generator.min_instances`).
LIVE_ALIAS = "live"

#: The API function's secure defaults (`function_props` keys): replacing one is said out loud.
FUNCTION_SECURE_DEFAULTS = {
    "tracing": "X-Ray tracing active",
    "environment_encryption": "environment encrypted with the customer-managed key",
    "dead_letter_queue": "failed asynchronous invocations kept in an encrypted queue",
    "logging_format": "JSON logs",
}
#: Set from the spec or the construct's own arguments; `function_props` may not name them.
_FUNCTION_FIXED = ("code", "role", "environment", "memory_size", "timeout",
                   "reserved_concurrent_executions", "vpc", "vpc_subnets", "security_groups",
                   "log_group")


class ServerlessGenerator(Construct):
    """The generator service: Lambda (container image, Mangum handler) + HTTP API.

        generator = ServerlessGenerator(stack, "Generator", spec=spec, bucket=bucket,
                                        metadata_store=store, api_keys_secret=secret)
        generator.endpoint_url
        generator.grant_invoke(caller_role)     # execute-api:Invoke (for api.auth: iam)

    Attributes: `function`, `alias` (with `generator.min_instances`, else None), `role` =
    `identity`, `log_group`, `dead_letter_queue`, `http_api`, `stage`, `access_log_group`,
    `endpoint_url`, `runtime_environment` (the runtime contract's variables as set on the
    function), `image`, `job_runner`, and `vpc` / `security_group` when it runs in a
    network. Tagged from the spec.
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
        job_runner: JobRunner | None = None,
        encryption_key: kms.IKey | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
        role: iam.IRole | None = None,
        function_props: Mapping[str, Any] | None = None,
    ) -> None:
        """
        :param spec: the platform spec (memory, timeout, instances, limits, rate limits,
            auth, CORS, log retention).
        :param bucket: where the service stores data; the function may read and write it.
        :param metadata_store: the service's records; the function may read and write it.
        :param api_keys_secret: the pepper for hashing API keys; the function may read it.
        :param image: the service image. Default: one built here from the staged build
            context (or the spec's prebuilt `generator.image`).
        :param job_runner: where background jobs go (queue worker, Fargate task); the
            function may submit to it. Default: none, jobs run in process (`inline://`).
        :param encryption_key: key for the logs, the dead-letter queue and the function's
            environment. Default: the bucket's key.
        :param vpc: run the function in this VPC. Default: none (Lambda's own network).
        :param vpc_subnets: the subnets of `vpc`; they must be private (with egress, or
            isolated with endpoints). Default: CDK's default selection, the private ones.
        :param environment: extra variables for the function; they may add variables but
            not replace the runtime contract's. Default: none.
        :param physical_names: GENERATED (default) or FROM_SPEC names (function, logs, API).
        :param role: the function's execution role (its grants are added to it). Default: a
            new role with nothing but the platform's grants.
        :param function_props: `lambda_.DockerImageFunction` properties merged over the
            secure defaults; each secure default replaced is warned and annotated.
        """
        super().__init__(scope, id)
        tag(self, spec)
        check_subnets(vpc, vpc_subnets)
        if spec.generator.packaging != "container":
            raise UnsupportedOnCloud(
                "generator.packaging", "AWS",
                "the service runs on Lambda as a container image (with SDV and torch it "
                "exceeds the 250 MB limit of a zip package)",
                "use packaging: container (the default)")
        names = spec_names(self, spec, physical_names)
        key = encryption_key or bucket.encryption_key
        policy = cdk_removal_policy(None, spec)
        self.spec = spec
        self._key = key
        self._names = names

        self.image = service_image(self, spec, image)
        self.job_runner = job_runner
        self.role: iam.IRole = role or service_role(self, "Role", spec, "generator")
        self.identity = self.role

        self.log_group = logs.LogGroup(
            self, "Logs",
            log_group_name=names.log_group if names else None,
            retention=log_retention(spec),
            encryption_key=key,
            removal_policy=policy,
        )
        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetterQueue",
            queue_name=names.dead_letter_queue if names else None,
            encryption=sqs.QueueEncryption.KMS if key else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=policy,
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
        self.runtime_environment: dict[str, str] = merge_environment(contract.to_env(),
                                                                     environment)

        self.vpc: ec2.IVpc | None = vpc
        self.security_group: ec2.SecurityGroup | None = None
        network = {}
        if vpc is not None:
            placement = Placement(vpc, vpc_subnets)
            if placement.public:
                raise ValueError(
                    "vpc_subnets: selects public subnets, where a Lambda function has no "
                    "route out; select private subnets (ec2.SubnetType.PRIVATE_WITH_EGRESS, "
                    "or PRIVATE_ISOLATED with VPC endpoints), or leave vpc= unset")
            self.security_group = https_only_group(self, "SecurityGroup", vpc, "Generator")
            network = dict(vpc=vpc, vpc_subnets=vpc_subnets,
                           security_groups=[self.security_group])

        defaults = dict(
            function_name=names.function if names else None,
            description=f"Synthdata generator service ({spec.environment})",
            tracing=lambda_.Tracing.ACTIVE,
            environment_encryption=key,
            dead_letter_queue=self.dead_letter_queue,
            logging_format=lambda_.LoggingFormat.JSON,
            architecture=lambda_.Architecture.X86_64,
        )
        props = merge_overrides(self, "function_props", defaults, function_props,
                                FUNCTION_SECURE_DEFAULTS, fixed=_FUNCTION_FIXED)
        self.function = lambda_.DockerImageFunction(
            self, "Function",
            code=self.image.lambda_code(API_HANDLER),
            role=self.role,
            memory_size=spec.generator.memory_mb,
            timeout=Duration.seconds(spec.generator.timeout_seconds),
            reserved_concurrent_executions=spec.generator.concurrency,
            environment=self.runtime_environment,
            log_group=self.log_group,
            **network,
            **props,
        )
        self.alias: lambda_.Alias | None = None
        if spec.generator.min_instances:
            self.alias = lambda_.Alias(
                self, "Live", alias_name=LIVE_ALIAS, version=self.function.current_version,
                provisioned_concurrent_executions=spec.generator.min_instances)
        if spec.generator.concurrency is None:
            checkov_skip(self.function, "CKV_AWS_115",
                         "No reserved concurrency (generator.concurrency unset): a new "
                         "account's quota of 10 leaves nothing to reserve; the stage's rate "
                         "limit and burst bound the load. Set generator.concurrency to "
                         "reserve.")
        if vpc is None:
            checkov_skip(self.function, "CKV_AWS_117",
                         "The generator runs in Lambda's own network (network.vpc: false and "
                         "no vpc= given); it reaches only AWS APIs over TLS with IAM.")
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
        if key is not None:  # the encrypted environment and the secret
            grant(self.role, (["kms:Decrypt"], [key.key_arn]))
        self._add_endpoint(spec)
        acknowledge_service_grants(self.role, bucket)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` call the API through the gateway (`execute-api:Invoke` on every
        route of the stage): what `api.auth: iam` requires of callers, beside a key. The
        statement goes to the grantee's own policy, in the grantee's stack."""
        return grant(grantee, (["execute-api:Invoke"],
                               [self.http_api.arn_for_execute_api(stage=self.stage.stage_name)]))

    def _add_endpoint(self, spec: PlatformSpec) -> None:
        self.access_log_group = logs.LogGroup(
            self, "ApiAccessLogs",
            retention=log_retention(spec),
            encryption_key=self._key,
            removal_policy=cdk_removal_policy(None, spec),
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
            # API names need not be unique; this one says which platform it belongs to.
            api_name=self._names.function if self._names else Names.unique_resource_name(
                self, max_length=128, separator="-"),
            description=f"Synthdata generator API ({spec.name}, {spec.environment})",
            create_default_stage=False,
            cors_preflight=cors,
            default_integration=integrations.HttpLambdaIntegration(
                "Generator", self.alias or self.function,
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
