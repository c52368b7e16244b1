"""Behaviour facts of a GCP platform, read from its synthesized Terraform JSON.

Plain JSON reading (no provider import): the platform is every resource and data source
whose `//.metadata.path` starts with `path` (the platform's construct path, e.g.
`my-stack/Synth`). The reader starts where callers start - the Cloud Run service (or the
gen2 function) - and follows the template's own references from there: to the bucket and
database named in the service's runtime contract, to the Cloud Run Jobs named in its
`SYNTH_JOBS_URL`, to its alert policies, their notification channels and its log bucket.
A fact therefore shows what the deployed resources will do, not what the spec said.

Where a behaviour is enforced by the service rather than a resource (the rate limit, CORS,
the row and upload limits), the fact is read from the variables the service is given: on
GCP the rate limit is enforced by the service per API key in each instance, and CORS is
answered by the service.

    from constructs_lib.facts.gcp import facts
    facts(json.loads(Path("cdktf.out/stacks/my-stack/cdk.tf.json").read_text()),
          "my-stack/Synth")
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["facts"]

_REF = re.compile(r"\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)\}")


class _Platform:
    """The resources of one platform in a template, and how to follow references."""

    def __init__(self, template: dict[str, Any], path: str) -> None:
        prefix = path.rstrip("/") + "/"
        self.path = path
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        for kind, items in template.get("resource", {}).items():
            for logical, body in items.items():
                if str(body.get("//", {}).get("metadata", {}).get("path", "")).startswith(prefix):
                    self.resources.setdefault(kind, {})[logical] = body
        if not self.resources:
            raise ValueError(f"path: no resource of the template has a construct path under "
                             f"{path!r}; give the platform's path, e.g. 'my-stack/Synth'")

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.resources.get(kind, {})

    def one(self, kind: str, what: str) -> dict[str, Any]:
        found = list(self.of_type(kind).values())
        if len(found) != 1:
            raise ValueError(f"{self.path}: expected one {kind} ({what}), found {len(found)}")
        return found[0]

    def referenced(self, value: Any, kind: str) -> dict[str, Any] | None:
        """The first resource of `kind` that `value` (a string with references) names."""
        for ref_kind, logical, _ in _REF.findall(str(value)):
            if ref_kind == kind and logical in self.of_type(kind):
                return self.of_type(kind)[logical]
        return None

    def named(self, kind: str, name: str) -> dict[str, Any] | None:
        for body in self.of_type(kind).values():
            if body.get("name") == name:
                return body
        return None


def _mib(value: str) -> int:
    match = re.fullmatch(r"(\d+)(Mi|Gi|M|G)?", str(value))
    if not match:
        raise ValueError(f"memory {value!r} is not in MiB or GiB")
    number, unit = int(match.group(1)), match.group(2) or "Mi"
    return number * 1024 if unit in ("Gi", "G") else number


def _seconds(value: str) -> int:
    return int(float(str(value).rstrip("s")))


def _api(platform: _Platform) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(the serving resource's facts, its environment, the resource) for the service or
    the gen2 function."""
    services = platform.of_type("google_cloud_run_v2_service")
    if services:
        service = platform.one("google_cloud_run_v2_service", "the generator")
        template = service["template"]
        container = template["containers"][0]
        env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
        scaling = template.get("scaling", {})
        access = template.get("vpc_access") or {}
        served = {
            "memory_mb": _mib(container["resources"]["limits"]["memory"]),
            "timeout_seconds": _seconds(template["timeout"]),
            "max_instances": scaling.get("max_instance_count"),
            "min_instances": scaling.get("min_instance_count", 0),
            "auth": "api_key" if service.get("invoker_iam_disabled") else "iam",
            "private_network": access.get("egress") == "ALL_TRAFFIC",
        }
        return served, env, service
    function = platform.one("google_cloudfunctions2_function", "the generator")
    config = function["service_config"]
    env = dict(config.get("environment_variables", {}))
    public = any(g.get("member") == "allUsers" and g.get("role") == "roles/run.invoker"
                 for g in platform.of_type("google_cloud_run_v2_service_iam_member").values())
    served = {
        "memory_mb": _mib(config["available_memory"]),
        "timeout_seconds": int(config["timeout_seconds"]),
        "max_instances": config.get("max_instance_count"),
        "min_instances": config.get("min_instance_count", 0),
        "auth": "api_key" if public else "iam",
        "private_network": config.get("direct_vpc_egress") == "VPC_EGRESS_ALL_TRAFFIC",
    }
    return served, env, function


def _lifecycle_days(bucket: dict[str, Any]) -> tuple[int | None, int | None]:
    samples = versions = None
    for rule in bucket.get("lifecycle_rule", []):
        condition = rule.get("condition", {})
        if rule.get("action", {}).get("type") != "Delete":
            continue
        if any(p.endswith("/samples/") for p in condition.get("matches_prefix", [])):
            samples = condition.get("age")
        if "days_since_noncurrent_time" in condition:
            versions = condition["days_since_noncurrent_time"]
    return samples, versions


def _job_size(job: dict[str, Any]) -> tuple[int, float]:
    limits = job["template"]["template"]["containers"][0]["resources"]["limits"]
    return _mib(limits["memory"]), float(limits["cpu"])


def facts(template: dict[str, Any], path: str) -> dict[str, Any]:
    """Every fact of `constructs_lib.facts.FACT_KEYS` for the platform at `path`."""
    platform = _Platform(template, path)
    served, env, api = _api(platform)

    bucket = platform.referenced(env.get("SYNTH_STORAGE_URL", ""), "google_storage_bucket")
    if bucket is None:
        raise ValueError(f"{path}: the service's SYNTH_STORAGE_URL names no bucket of the "
                         "platform (an imported bucket's facts are not in this template)")
    database = platform.referenced(env.get("SYNTH_METADATA_URL", ""),
                                   "google_firestore_database")
    if database is None:
        raise ValueError(f"{path}: the service's SYNTH_METADATA_URL names no database of "
                         "the platform")
    samples_days, version_days = _lifecycle_days(bucket)

    jobs = urlsplit(env.get("SYNTH_JOBS_URL", ""))
    if jobs.scheme != "cloudrun":
        raise ValueError(f"{path}: the service's SYNTH_JOBS_URL is not a Cloud Run Jobs runner")
    query = dict(parse_qsl(jobs.query))
    worker = platform.named("google_cloud_run_v2_job", jobs.path.rsplit("/", 1)[-1])
    long = platform.named("google_cloud_run_v2_job", query["long_job"]) \
        if query.get("long_job") else None
    if worker is None or (query.get("long_job") and long is None):
        raise ValueError(f"{path}: SYNTH_JOBS_URL names a Cloud Run Job the platform lacks")
    job_memory, job_vcpu = _job_size(long) if long is not None else (None, None)

    service_name = api["name"]
    policies = [p for p in platform.of_type("google_monitoring_alert_policy").values()
                if f'service_name = "{service_name}"'
                in p["conditions"][0]["condition_threshold"]["filter"]]
    errors = next(p for p in policies if "request_count" in
                  p["conditions"][0]["condition_threshold"]["filter"])
    latency = next(p for p in policies if "request_latencies" in
                   p["conditions"][0]["condition_threshold"]["filter"])
    channels = [platform.referenced(ref, "google_monitoring_notification_channel")
                for ref in errors.get("notification_channels", [])]
    sinks = [s for s in platform.of_type("google_logging_project_sink").values()
             if f'service_name="{service_name}"' in s.get("filter", "")]
    log_bucket = platform.referenced(sinks[0]["destination"],
                                     "google_logging_project_bucket_config") if sinks else None

    return {
        **{key: served[key] for key in ("memory_mb", "timeout_seconds", "max_instances",
                                        "min_instances", "auth")},
        "cors_origins": sorted(o for o in env.get("SYNTH_CORS_ORIGINS", "").split(",") if o),
        "private_network": served["private_network"] and all(
            (job["template"]["template"].get("vpc_access") or {}).get("egress") == "ALL_TRAFFIC"
            for job in (worker, long) if job is not None),
        "encryption": "customer_managed" if bucket.get("encryption", {}).get(
            "default_kms_key_name") else "provider_managed",
        "versioned": bool(bucket.get("versioning", {}).get("enabled")),
        "access_logs": bool(bucket.get("logging", {}).get("log_bucket")),
        "public_access_blocked": bucket.get("public_access_prevention") == "enforced",
        "sample_retention_days": samples_days,
        "noncurrent_version_days": version_days,
        "point_in_time_recovery": database.get("point_in_time_recovery_enablement")
        == "POINT_IN_TIME_RECOVERY_ENABLED",
        "deletion_protection": database.get("delete_protection_state")
        == "DELETE_PROTECTION_ENABLED",
        "removal_policy": "destroy" if bucket.get("force_destroy") else "retain",
        "long_running_jobs": long is not None,
        "job_max_attempts": int(worker["template"]["template"].get("max_retries", 3)) + 1,
        "job_memory_mb": job_memory,
        "job_vcpu": job_vcpu,
        "rate_limit_per_second": float(env["SYNTH_RATE_LIMIT_PER_SECOND"]),
        "rate_limit_burst": int(env["SYNTH_RATE_LIMIT_BURST"]),
        "max_rows": int(env["SYNTH_MAX_ROWS"]),
        "max_upload_mb": int(env["SYNTH_MAX_UPLOAD_MB"]),
        "synthesizers": env["SYNTH_SYNTHESIZERS"],
        "alarm_emails": sorted(c["labels"]["email_address"] for c in channels if c),
        "error_threshold": int(errors["conditions"][0]["condition_threshold"]["threshold_value"]),
        "latency_threshold_ms": round(
            latency["conditions"][0]["condition_threshold"]["threshold_value"]),
        "log_retention_days": log_bucket.get("retention_days") if log_bucket else None,
    }
