"""Behaviour facts of an AWS platform, read from its synthesized CloudFormation template.

Plain JSON reading (no aws-cdk import): the platform is every resource whose
`aws:cdk:path` metadata starts with `path` (the platform's construct path, e.g.
`MyStack/Synth`). The reader starts where callers start - the HTTP API's integration -
and follows the template's own references from there: to the function it invokes (and
its alias), to the bucket, table and queue named in that function's runtime contract,
to the Fargate task definition, the stage's throttling, the alarms and the topic's
subscriptions. A fact therefore shows what the deployed resources will do, not what the
spec said.

    from constructs_lib.facts.aws import facts
    facts(json.loads(Path("cdk.out/MyStack.template.json").read_text()), "MyStack/Synth")
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["facts"]

_STORAGE_URL = "SYNTH_STORAGE_URL"
_METADATA_URL = "SYNTH_METADATA_URL"
_JOBS_URL = "SYNTH_JOBS_URL"


class _Platform:
    """The resources of one platform in a template, and how to follow references."""

    def __init__(self, template: dict[str, Any], path: str) -> None:
        prefix = path.rstrip("/") + "/"
        self.resources = {
            logical: resource for logical, resource in template.get("Resources", {}).items()
            if str(resource.get("Metadata", {}).get("aws:cdk:path", "")).startswith(prefix)
        }
        if not self.resources:
            raise ValueError(f"path: no resource of the template has a construct path under "
                             f"{path!r}; give the platform's path, e.g. 'MyStack/Synth'")
        self.path = path

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == type_}

    def one(self, type_: str, what: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(type_)
        if len(found) != 1:
            raise ValueError(f"{self.path}: expected one {type_} ({what}), found {len(found)}")
        return next(iter(found.items()))

    def props(self, logical: str) -> dict[str, Any]:
        return self.resources[logical].get("Properties", {})

    def referenced(self, value: Any, type_: str) -> str | None:
        """The logical id of the first resource of `type_` that `value` refers to."""
        for logical in _references(value):
            if self.resources.get(logical, {}).get("Type") == type_:
                return logical
        return None


def _references(value: Any) -> list[str]:
    """Logical ids named by `Ref` / `Fn::GetAtt` anywhere inside `value`, in order."""
    found: list[str] = []
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.append(value["Ref"])
        if "Fn::GetAtt" in value:
            found.append(value["Fn::GetAtt"][0])
        for item in value.values():
            found += _references(item)
    elif isinstance(value, list):
        for item in value:
            found += _references(item)
    return found


def facts(template: dict[str, Any], path: str) -> dict[str, Any]:
    """Every fact of `constructs_lib.facts.FACT_KEYS` for the platform at `path`; a
    ValueError names what is missing when `path` holds no complete platform."""
    platform = _Platform(template, path)

    # The endpoint: integration -> function (or the alias that keeps instances warm).
    _, integration = platform.one("AWS::ApiGatewayV2::Integration", "the API's integration")
    target = integration["Properties"]["IntegrationUri"]
    alias = platform.referenced(target, "AWS::Lambda::Alias")
    function_id = platform.referenced(
        platform.props(alias)["FunctionName"] if alias else target, "AWS::Lambda::Function")
    if function_id is None:
        raise ValueError(f"{path}: the API's integration invokes no function of the platform")
    function = platform.props(function_id)
    environment = function.get("Environment", {}).get("Variables", {})
    min_instances = 0
    if alias:
        provisioned = platform.props(alias).get("ProvisionedConcurrencyConfig", {})
        min_instances = int(provisioned.get("ProvisionedConcurrentExecutions", 0))

    _, route = platform.one("AWS::ApiGatewayV2::Route", "the API's route")
    _, api = platform.one("AWS::ApiGatewayV2::Api", "the HTTP API")
    _, stage = platform.one("AWS::ApiGatewayV2::Stage", "the API's stage")
    throttle = stage["Properties"].get("DefaultRouteSettings", {})

    bucket_id = platform.referenced(environment.get(_STORAGE_URL), "AWS::S3::Bucket")
    bucket = platform.props(bucket_id) if bucket_id else {}
    bucket_resource = platform.resources.get(bucket_id, {})
    table_id = platform.referenced(environment.get(_METADATA_URL), "AWS::DynamoDB::Table")
    table = platform.props(table_id) if table_id else {}
    queue_id = platform.referenced(environment.get(_JOBS_URL), "AWS::SQS::Queue")
    queue = platform.props(queue_id) if queue_id else {}
    task = _fargate_task(platform, environment.get(_JOBS_URL))

    log_group_id = platform.referenced(function.get("LoggingConfig", {}).get("LogGroup"),
                                       "AWS::Logs::LogGroup")
    alarms = {alarm["Properties"].get("MetricName"): alarm["Properties"]
              for alarm in platform.of_type("AWS::CloudWatch::Alarm").values()
              if _references(alarm["Properties"].get("Dimensions")) in ([function_id],)}
    emails = sorted(s["Properties"]["Endpoint"]
                    for s in platform.of_type("AWS::SNS::Subscription").values()
                    if s["Properties"].get("Protocol") == "email")

    result = {
        "memory_mb": function.get("MemorySize", 128),
        "timeout_seconds": function.get("Timeout", 3),
        "max_instances": function.get("ReservedConcurrentExecutions"),
        "min_instances": min_instances,
        "auth": "iam" if route["Properties"].get("AuthorizationType") == "AWS_IAM"
        else "api_key",
        "cors_origins": sorted(api["Properties"].get("CorsConfiguration", {})
                               .get("AllowOrigins", [])),
        "private_network": bool(function.get("VpcConfig", {}).get("SubnetIds")),
        "encryption": _encryption(bucket),
        "versioned": bucket.get("VersioningConfiguration", {}).get("Status") == "Enabled",
        "access_logs": "LoggingConfiguration" in bucket,
        "public_access_blocked": bucket.get("PublicAccessBlockConfiguration") == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True},
        "sample_retention_days": _lifecycle(bucket, "ExpirationInDays", samples=True),
        "noncurrent_version_days": _lifecycle(bucket, "NoncurrentDays"),
        "point_in_time_recovery": bool(table.get("PointInTimeRecoverySpecification", {})
                                       .get("PointInTimeRecoveryEnabled")),
        "deletion_protection": bool(table.get("DeletionProtectionEnabled", False)),
        "removal_policy": "destroy" if bucket_resource.get("DeletionPolicy") == "Delete"
        else "retain",
        "long_running_jobs": task is not None,
        "job_max_attempts": queue.get("RedrivePolicy", {}).get("maxReceiveCount"),
        "job_memory_mb": int(task["Memory"]) if task else None,
        "job_vcpu": int(task["Cpu"]) / 1024 if task else None,
        "rate_limit_per_second": float(throttle.get("ThrottlingRateLimit", 0)),
        "rate_limit_burst": throttle.get("ThrottlingBurstLimit"),
        "max_rows": int(environment["SYNTH_MAX_ROWS"]),
        "max_upload_mb": int(environment["SYNTH_MAX_UPLOAD_MB"]),
        "synthesizers": environment["SYNTH_SYNTHESIZERS"],
        "alarm_emails": emails,
        "error_threshold": alarms.get("Errors", {}).get("Threshold"),
        "latency_threshold_ms": alarms.get("Duration", {}).get("Threshold"),
        "log_retention_days": platform.props(log_group_id).get("RetentionInDays")
        if log_group_id else None,
    }
    return result


def _encryption(bucket: dict[str, Any]) -> str:
    rules = bucket.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    defaults = [r.get("ServerSideEncryptionByDefault", {}) for r in rules]
    kms = any(d.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse") and d.get("KMSMasterKeyID")
              for d in defaults)
    return "customer_managed" if kms else "provider_managed"


def _lifecycle(bucket: dict[str, Any], field: str, *, samples: bool = False) -> int | None:
    for rule in bucket.get("LifecycleConfiguration", {}).get("Rules", []):
        if rule.get("Status", "Enabled") != "Enabled":
            continue
        if samples and str(rule.get("Prefix", "")).endswith("samples/") and field in rule:
            return rule[field]
        noncurrent = rule.get("NoncurrentVersionExpiration", {})
        if not samples and field in noncurrent:
            return noncurrent[field]
    return None


def _fargate_task(platform: _Platform, jobs_url: Any) -> dict[str, Any] | None:
    """The task definition the jobs URL names (`ecs_task_definition=`), if any."""
    if "ecs_task_definition=" not in json.dumps(jobs_url):
        return None
    task_id = platform.referenced(jobs_url, "AWS::ECS::TaskDefinition")
    return platform.props(task_id) if task_id else None
