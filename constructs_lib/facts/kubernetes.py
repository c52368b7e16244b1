"""Behaviour facts of a Kubernetes platform, read from its synthesized Terraform JSON.

Reads the `kubernetes_manifest` objects (and `helm_release` values) whose construct path
starts with `path`: the API Deployment (memory, grace period, environment), its
HorizontalPodAutoscaler, the NetworkPolicies, the bucket's setup Job (the bucket settings
are its arguments), the Job template, the alert rules and the in-cluster PostgreSQL's
release. Plain JSON and YAML reading; no provider is imported.

Where Kubernetes differs from the other clouds by nature, `expected(spec)` says what this
platform must show instead of `expected_facts(spec)`, and `DIFFERENCES` says why.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from . import FACT_KEYS, expected_facts

__all__ = ["DIFFERENCES", "expected", "facts", "objects"]

#: Facts whose Kubernetes value differs from `expected_facts`, and why.
DIFFERENCES: dict[str, str] = {
    "max_instances": "an HPA always has a maximum: without generator.concurrency it is 10 "
                     "(the spec's documented Kubernetes default), not 'the cloud's own limit'",
    "min_instances": "the HPA keeps max(kubernetes.replicas, generator.min_instances) pods: a "
                     "Deployment cannot scale to zero, and kubernetes.replicas (default 2) "
                     "keeps one serving through a node drain",
    "point_in_time_recovery": "known only for the in-cluster PostgreSQL (WAL archived to the "
                              "bucket); an external database's backups are its operator's "
                              "(None)",
    "deletion_protection": "known only for the in-cluster PostgreSQL (Terraform "
                           "prevent_destroy in production); None for an external database",
    "log_retention_days": "pods log to stdout and the cluster's logging stack keeps the logs "
                          "(None; a non-default value is refused)",
    "job_max_attempts": "with jobs.long_running off, jobs run once in the API pods (1)",
}


def objects(template: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The Kubernetes manifests under construct `path`, in the order of the template."""
    return [resource for resource in
            template.get("resource", {}).get("kubernetes_manifest", {}).values()
            if _under(resource, path)]


def _under(resource: dict[str, Any], path: str) -> bool:
    """The resource's construct path is `path` or below it (not a sibling sharing a prefix)."""
    here, path = _path(resource), path.rstrip("/")
    return not path or here == path or here.startswith(path + "/")


def _path(resource: dict[str, Any]) -> str:
    return resource.get("//", {}).get("metadata", {}).get("path", "")


def _find(manifests: list[dict[str, Any]], kind: str, component: str | None = None) -> list:
    out = []
    for resource in manifests:
        manifest = resource["manifest"]
        labels = manifest.get("metadata", {}).get("labels", {})
        if manifest.get("kind") == kind and (
                component is None or labels.get("app.kubernetes.io/component") == component):
            out.append(resource)
    return out


def _one(items: list[Any], what: str) -> Any:
    if len(items) != 1:
        raise ValueError(f"expected one {what} in the platform, found {len(items)}")
    return items[0]


def _mebibytes(quantity: str) -> int:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", quantity)
    if not match:
        raise ValueError(f"unexpected memory quantity {quantity!r}")
    return int(match[1]) * (1024 if match[2] == "Gi" else 1)


def _cpus(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _args(job: dict[str, Any]) -> dict[str, Any]:
    """The setup Job's `--flag value` / `--flag` / `--no-flag` arguments as a dict."""
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    out: dict[str, Any] = {}
    index = 0
    while index < len(args):
        flag = args[index].removeprefix("--")
        if index + 1 < len(args) and not args[index + 1].startswith("--"):
            out[flag] = args[index + 1]
            index += 2
            continue
        if flag.startswith("no-"):
            out[flag[3:]] = False
        elif flag == "allow-public-access":
            out["block-public-access"] = False
        else:
            out[flag] = True
        index += 1
    return out


def _helm(template: dict[str, Any], path: str, chart: str) -> dict[str, Any] | None:
    for resource in template.get("resource", {}).get("helm_release", {}).values():
        if _under(resource, path) and resource.get("chart") == chart:
            return resource
    return None


def _alert_rules(manifests: list[dict[str, Any]], template: dict[str, Any], platform: str):
    """The platform's alert rules and the e-mail addresses they go to, wherever they are
    published (a ConfigMap, Prometheus Operator objects, or the values of the stack's
    in-cluster Prometheus, which every platform of the stack shares)."""
    groups, emails = [], []
    for resource in _find(manifests, "ConfigMap"):
        data = resource["manifest"].get("data", {})
        if "synthdata-alerts.yaml" in data:
            groups += yaml.safe_load(data["synthdata-alerts.yaml"])["groups"]
            route = yaml.safe_load(data.get("alertmanager-route.yaml", "null")) or {}
            for receiver in route.get("receivers", []):
                emails += [c["to"] for c in receiver.get("emailConfigs", [])]
    for resource in _find(manifests, "PrometheusRule"):
        groups += resource["manifest"]["spec"]["groups"]
    for resource in _find(manifests, "AlertmanagerConfig"):
        for receiver in resource["manifest"]["spec"].get("receivers", []):
            emails += [c["to"] for c in receiver.get("emailConfigs", [])]
    prometheus = _helm(template, "", "kube-prometheus-stack")
    if prometheus is not None:
        values = yaml.safe_load(prometheus["values"][0])
        rules_map = values.get("additionalPrometheusRulesMap", {})
        groups += rules_map.get(platform, {}).get("groups", [])
        config = values.get("alertmanager", {}).get("config", {})
        for receiver in config.get("receivers", []):
            if receiver["name"] == f"synthdata-{platform}":
                emails += [c["to"] for c in receiver.get("email_configs", [])]
    rules = {rule["alert"]: rule for group in groups for rule in group["rules"]}
    return rules, sorted(set(emails))


def _threshold(rule: dict[str, Any]) -> float:
    return float(re.search(r"(?:>=|>)\s*([0-9.]+)\s*$", rule["expr"])[1])


def facts(template: dict[str, Any], path: str) -> dict[str, Any]:
    """Every fact of `FACT_KEYS` for the Kubernetes platform at construct `path`."""
    manifests = objects(template, path)
    deployment = _one(_find(manifests, "Deployment", "api"), "API Deployment")["manifest"]
    pod = deployment["spec"]["template"]["spec"]
    container = _one([c for c in pod["containers"] if c["name"] == "api"], "api container")
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    prestop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    hpa = _one(_find(manifests, "HorizontalPodAutoscaler"), "HPA")["manifest"]["spec"]
    policies = [r["manifest"] for r in _find(manifests, "NetworkPolicy")]
    open_egress = any(peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"
                      for policy in policies for rule in policy["spec"].get("egress", [])
                      for peer in rule.get("to", []))
    setup = _find(manifests, "Job", "bucket-setup")
    settings = _args(_one(setup, "bucket setup Job")["manifest"]) if setup else {}
    storage_url = env.get("SYNTH_STORAGE_URL", "")
    kms = parse_qs(urlsplit(storage_url).query).get("kms_key")
    encryption = settings.get("encryption") or ("customer_managed" if kms
                                                 else "provider_managed")
    template_maps = [r for r in _find(manifests, "ConfigMap")
                     if "template.json" in r["manifest"].get("data", {})]
    job_template = json.loads(template_maps[0]["manifest"]["data"]["template.json"]) \
        if template_maps else None
    postgres = _helm(template, path, "cluster")
    namespaces = _find(manifests, "Namespace")
    if namespaces:
        retain = namespaces[0].get("lifecycle", {}).get("prevent_destroy", False)
        removal = "retain" if retain else "destroy"
    else:
        removal = settings.get("removal-policy")
    platform = deployment["metadata"]["labels"]["app.kubernetes.io/instance"]
    rules, emails = _alert_rules(manifests, template, platform)
    error_rule = rules.get("SynthdataServerErrors")
    latency_rule = rules.get("SynthdataLatencyNearTimeout")
    jobs_limits = job_template["spec"]["template"]["spec"]["containers"][0]["resources"][
        "limits"] if job_template else None
    out = {
        "memory_mb": _mebibytes(container["resources"]["limits"]["memory"]),
        "timeout_seconds": pod["terminationGracePeriodSeconds"] - prestop,
        "max_instances": hpa["maxReplicas"],
        "min_instances": hpa["minReplicas"],
        "auth": "api_key",  # `iam` is refused on Kubernetes; the service checks keys
        "cors_origins": sorted(o for o in env.get("SYNTH_CORS_ORIGINS", "").split(",") if o),
        "private_network": not open_egress,
        "encryption": encryption,
        "versioned": settings.get("versioning"),
        "access_logs": settings.get("access-logs"),
        "public_access_blocked": settings.get("block-public-access"),
        "sample_retention_days": int(settings["retention-days"]) if settings else None,
        "noncurrent_version_days": int(settings["noncurrent-days"]) if settings else None,
        "point_in_time_recovery": (yaml.safe_load(postgres["values"][0])["backups"]["enabled"]
                                   if postgres else None),
        "deletion_protection": (postgres.get("lifecycle", {}).get("prevent_destroy", False)
                                if postgres else None),
        "removal_policy": removal,
        "long_running_jobs": job_template is not None,
        "job_max_attempts": job_template["spec"]["backoffLimit"] + 1 if job_template else 1,
        "job_memory_mb": _mebibytes(jobs_limits["memory"]) if jobs_limits else None,
        "job_vcpu": _cpus(jobs_limits["cpu"]) if jobs_limits else None,
        "rate_limit_per_second": float(env["SYNTH_RATE_LIMIT_PER_SECOND"]),
        "rate_limit_burst": int(env["SYNTH_RATE_LIMIT_BURST"]),
        "max_rows": int(env["SYNTH_MAX_ROWS"]),
        "max_upload_mb": int(env["SYNTH_MAX_UPLOAD_MB"]),
        "synthesizers": env["SYNTH_SYNTHESIZERS"],
        "alarm_emails": emails,
        "error_threshold": int(_threshold(error_rule)) if error_rule else None,
        "latency_threshold_ms": round(_threshold(latency_rule) * 1000) if latency_rule else None,
        "log_retention_days": None,
    }
    assert set(out) == set(FACT_KEYS), "the reader must return every fact"
    return out


def expected(spec: Any) -> dict[str, Any]:
    """What a Kubernetes platform built from `spec` (with its secure defaults) must show:
    `expected_facts(spec)` with the `DIFFERENCES` applied."""
    out = expected_facts(spec)
    k8s = spec.kubernetes
    out["max_instances"] = max(spec.generator.concurrency or 10,
                               k8s.replicas, spec.generator.min_instances)
    out["min_instances"] = max(k8s.replicas, spec.generator.min_instances)
    in_cluster_db = k8s.on_prem.postgresql
    out["point_in_time_recovery"] = (k8s.workload_identity.provider not in ("gke", "aks")
                                     if in_cluster_db else None)
    out["deletion_protection"] = spec.is_production if in_cluster_db else None
    out["log_retention_days"] = None
    if not spec.jobs.long_running:
        out["job_max_attempts"] = 1
    return out
