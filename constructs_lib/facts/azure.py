"""Behaviour facts of an Azure platform, read from its synthesized Terraform JSON.

Plain JSON reading (no provider import): resources are found by type and by the construct
path cdktn records in each resource's `//.metadata.path`. `path` is the platform's path
(`<stack>/<platform id>`).

Where a value is enforced rather than configured at an edge, the reader reports it where
it is enforced: the rate limit, row and upload limits and synthesizers are enforced by
the service from the runtime contract's variables in the generator's environment (Azure
has no edge in front of Container Apps or Flex Consumption that the platform configures).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .. import contract

__all__ = ["facts"]

#: A job runner whose executions may run longer than a queue worker's longest run (900 s
#: on every cloud) takes the jobs that outgrow it.
_WORKER_LIMIT_SECONDS = 900


def _resources(template: dict[str, Any], kind: str, prefix: str) -> list[dict[str, Any]]:
    return [r for r in template.get("resource", {}).get(kind, {}).values()
            if r.get("//", {}).get("metadata", {}).get("path", "").startswith(prefix)]


def _first(template: dict[str, Any], kind: str, prefix: str) -> dict[str, Any] | None:
    found = _resources(template, kind, prefix)
    return found[0] if found else None


def _one(block: Any) -> dict[str, Any]:
    """A nested block, whether synthesized as an object or a one-element list."""
    if isinstance(block, list):
        return block[0] if block else {}
    return block or {}


def _many(block: Any) -> list[dict[str, Any]]:
    if block is None:
        return []
    return block if isinstance(block, list) else [block]


def _memory_mb(value: str) -> int:
    match = re.fullmatch(r"([0-9.]+)Gi", str(value))
    if not match:
        raise ValueError(f"unreadable container memory {value!r}")
    return round(float(match.group(1)) * 1024)


def _timespan_seconds(value: str) -> int:
    hours, minutes, seconds = (int(part) for part in str(value).split(":"))
    return hours * 3600 + minutes * 60 + seconds


def facts(template: dict[str, Any], path: str) -> dict[str, Any]:
    """Every key of `constructs_lib.facts.FACT_KEYS` for the platform at `path`."""
    prefix = path.rstrip("/") + "/"
    app = _first(template, "azurerm_container_app", prefix + "Generator/")
    function = _first(template, "azurerm_function_app_flex_consumption", prefix + "Generator/")
    if app is None and function is None:
        raise ValueError(f"no generator (Container App or Function App) under {path!r}")

    if app is not None:
        spec_template = _one(app["template"])
        container = _many(spec_template["container"])[0]
        env = {e["name"]: e.get("value") for e in _many(container.get("env"))}
        ingress = _one(app.get("ingress"))
        environment = _first(template, "azurerm_container_app_environment", prefix)
        serving = {
            "memory_mb": _memory_mb(container["memory"]),
            "timeout_seconds": spec_template["termination_grace_period_seconds"],
            "max_instances": spec_template.get("max_replicas"),
            "min_instances": spec_template.get("min_replicas", 0),
            "cors_origins": sorted(_one(ingress.get("cors")).get("allowed_origins", [])),
            "private_network": bool(environment and environment.get("infrastructure_subnet_id")),
        }
        auth = _first(template, "azurerm_container_app_auth_config", prefix + "Generator/") \
            if "azurerm_container_app_auth_config" in template.get("resource", {}) else None
        serving["auth"] = "iam" if auth is not None or any(
            "Auth" in r["//"]["metadata"]["path"]
            for r in _resources(template, "azapi_resource", prefix + "Generator/")) else "api_key"
    else:
        settings = function.get("app_settings", {})
        env = dict(settings)
        site = _one(function.get("site_config"))
        auth = _one(function.get("auth_settings_v2"))
        serving = {
            "memory_mb": function["instance_memory_in_mb"],
            "timeout_seconds": _timespan_seconds(
                settings["AzureFunctionsJobHost__functionTimeout"]),
            "max_instances": function.get("maximum_instance_count"),
            "min_instances": sum(a.get("instance_count", 0)
                                 for a in _many(function.get("always_ready"))),
            "cors_origins": sorted(_one(site.get("cors")).get("allowed_origins", [])),
            "private_network": bool(function.get("virtual_network_subnet_id")),
            "auth": "iam" if auth.get("require_authentication") else "api_key",
        }

    account = _first(template, "azurerm_storage_account", prefix + "Bucket/")
    if account is None:
        raise ValueError(f"no data storage account under {path!r}/Bucket")
    blob = _one(account.get("blob_properties"))
    policy = _first(template, "azurerm_storage_management_policy", prefix + "Bucket/") or {}
    samples_days = version_days = None
    for rule in _many(policy.get("rule")):
        actions = _one(rule.get("actions"))
        prefixes = _one(rule.get("filters")).get("prefix_match", [])
        base = _one(actions.get("base_blob"))
        if any(p.endswith("/samples/") for p in prefixes):
            samples_days = base.get("delete_after_days_since_modification_greater_than")
        version = _one(actions.get("version"))
        if "delete_after_days_since_creation" in version:
            version_days = version["delete_after_days_since_creation"]
    diagnostics = _resources(template, "azurerm_monitor_diagnostic_setting", prefix + "Bucket/")
    cmk = _first(template, "azurerm_storage_account_customer_managed_key", prefix + "Bucket/")

    cosmos = _first(template, "azurerm_cosmosdb_account", prefix + "MetadataStore/")
    if cosmos is None:
        raise ValueError(f"no Cosmos DB account under {path!r}/MetadataStore")
    lock = _first(template, "azurerm_management_lock", prefix + "MetadataStore/")

    job = _first(template, "azurerm_container_app_job", prefix + "JobRunner/")
    job_container = _many(_one(job["template"])["container"])[0] if job else {}
    job_env = {e["name"]: e.get("value") for e in _many(job_container.get("env"))}
    jobs_url = job_env.get(contract.JOBS_URL) or env.get(contract.JOBS_URL, "")
    attempts = dict(parse_qsl(urlsplit(jobs_url).query)).get("max_attempts")
    long_running = bool(job) and job["replica_timeout_in_seconds"] > _WORKER_LIMIT_SECONDS

    group = _first(template, "azurerm_monitor_action_group", prefix)
    alerts = {a["//"]["metadata"]["path"].rsplit("/", 1)[-1]: a
              for a in _resources(template, "azurerm_monitor_metric_alert", prefix)}
    workspace = _first(template, "azurerm_log_analytics_workspace", prefix)

    def threshold(name: str) -> Any:
        alert = alerts.get(name)
        if not alert:
            return None
        criteria = _many(alert.get("criteria"))[0]
        if criteria["metric_name"] == "HttpResponseTime":  # Functions measure seconds
            return round(criteria["threshold"] * 1000)
        return criteria["threshold"]

    return {
        **serving,
        "encryption": "customer_managed"
        if cmk is not None or account.get("customer_managed_key") else "provider_managed",
        "versioned": bool(blob.get("versioning_enabled")),
        "access_logs": bool(diagnostics),
        "public_access_blocked": account.get("allow_nested_items_to_be_public") is False,
        "sample_retention_days": samples_days,
        "noncurrent_version_days": version_days,
        "point_in_time_recovery": _one(cosmos.get("backup")).get("type") == "Continuous",
        "deletion_protection": lock is not None and lock.get("lock_level") == "CanNotDelete",
        "removal_policy": "retain" if _one(account.get("lifecycle")).get("prevent_destroy")
        else "destroy",
        "long_running_jobs": long_running,
        "job_max_attempts": int(attempts) if attempts else None,
        "job_memory_mb": _memory_mb(job_container["memory"]) if long_running else None,
        "job_vcpu": float(job_container["cpu"]) if long_running else None,
        "rate_limit_per_second": float(env[contract.RATE_LIMIT_PER_SECOND]),
        "rate_limit_burst": int(env[contract.RATE_LIMIT_BURST]),
        "max_rows": int(env[contract.MAX_ROWS]),
        "max_upload_mb": int(env[contract.MAX_UPLOAD_MB]),
        "synthesizers": env[contract.SYNTHESIZERS],
        "alarm_emails": sorted(r["email_address"]
                               for r in _many((group or {}).get("email_receiver"))),
        "error_threshold": threshold("Errors"),
        "latency_threshold_ms": threshold("Latency"),
        "log_retention_days": (workspace or {}).get("retention_in_days"),
    }
