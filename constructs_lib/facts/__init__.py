"""Behaviour facts: what a synthesized platform will actually do, read from its template.

The parity test does not compare values that every cloud copies from the same Python
object; it reads each cloud's synthesized output (a CloudFormation template, Terraform
JSON, Kubernetes manifests) and extracts the facts a user relies on - memory, timeout,
instances, auth mode, network isolation, encryption, retention, job runner, rate limits,
alarms, data protection - then compares them with what the spec asks for
(`expected_facts`). One reader per cloud lives beside this module (`facts.aws`,
`facts.gcp`, ...): plain JSON readers that import no cloud package.

    from constructs_lib.facts import expected_facts
    from constructs_lib.facts.aws import facts as aws_facts
    assert aws_facts(template, "MyStack/Synth") == expected_facts(spec)
"""

from __future__ import annotations

from typing import Any

__all__ = ["FACT_KEYS", "expected_facts"]

#: Every fact a cloud's reader returns, and what each means.
FACT_KEYS: dict[str, str] = {
    "memory_mb": "memory of one API instance (MiB)",
    "timeout_seconds": "longest API request (s)",
    "max_instances": "most API instances at once, or None for the cloud's own limit",
    "min_instances": "API instances kept warm",
    "auth": "'api_key' (bearer keys checked by the service) or 'iam' (the cloud's signed "
            "identity required at the endpoint as well)",
    "cors_origins": "browser origins allowed at the endpoint (sorted)",
    "private_network": "the API and its workers run in a private network",
    "encryption": "'customer_managed' or 'provider_managed' (the data bucket)",
    "versioned": "the data bucket keeps old object versions",
    "access_logs": "the data bucket's access is logged",
    "public_access_blocked": "the data bucket can never be made public",
    "sample_retention_days": "days generated samples are kept",
    "noncurrent_version_days": "days old object versions are kept",
    "point_in_time_recovery": "the metadata store can be restored to a point in time",
    "deletion_protection": "the metadata store refuses deletion",
    "removal_policy": "'retain' or 'destroy': what deleting the stack does to stored data",
    "long_running_jobs": "a container job runner takes jobs beyond the worker's timeout",
    "job_max_attempts": "deliveries of a background job before it is failed",
    "job_memory_mb": "memory of one long-running job (MiB), or None without them",
    "job_vcpu": "vCPUs of one long-running job, or None without them",
    "rate_limit_per_second": "sustained requests per second allowed",
    "rate_limit_burst": "burst above the sustained rate",
    "max_rows": "most rows one sample request may ask for",
    "max_upload_mb": "largest upload (MiB)",
    "synthesizers": "synthesizers callers may train (comma-separated, in spec order)",
    "alarm_emails": "addresses alerts go to (sorted)",
    "error_threshold": "5xx responses in 5 minutes that raise the error alert",
    "latency_threshold_ms": "p99 latency that raises the latency alert (ms)",
    "log_retention_days": "days the service's logs are kept",
}


def expected_facts(spec: Any) -> dict[str, Any]:
    """The facts a platform built from `spec` must show, on every cloud."""
    generator, storage, api, jobs = spec.generator, spec.storage, spec.api, spec.jobs
    return {
        "memory_mb": generator.memory_mb,
        "timeout_seconds": generator.timeout_seconds,
        "max_instances": generator.concurrency,
        "min_instances": generator.min_instances,
        "auth": api.auth,
        "cors_origins": sorted(api.cors_origins),
        "private_network": spec.network.vpc,
        "encryption": storage.encryption,
        "versioned": True,
        "access_logs": storage.access_logs,
        "public_access_blocked": True,
        "sample_retention_days": storage.retention_days,
        "noncurrent_version_days": storage.noncurrent_version_days,
        "point_in_time_recovery": True,
        "deletion_protection": spec.is_production,
        "removal_policy": spec.removal_policy,
        "long_running_jobs": jobs.long_running,
        "job_max_attempts": jobs.max_attempts,
        "job_memory_mb": jobs.memory_mb if jobs.long_running else None,
        "job_vcpu": jobs.cpu / 1024 if jobs.long_running else None,
        "rate_limit_per_second": float(api.rate_limit_per_second),
        "rate_limit_burst": api.burst,
        "max_rows": generator.max_rows,
        "max_upload_mb": generator.max_upload_mb,
        "synthesizers": ",".join(generator.synthesizers),
        "alarm_emails": sorted(spec.monitoring.alarm_emails),
        "error_threshold": spec.monitoring.error_threshold,
        "latency_threshold_ms": round(
            generator.timeout_seconds * 1000 * spec.monitoring.latency_threshold_ratio),
        "log_retention_days": spec.monitoring.log_retention_days,
    }
