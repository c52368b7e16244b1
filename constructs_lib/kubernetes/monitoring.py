"""Alerts and scraping: the same rules for a Prometheus Operator or any Prometheus.

The service exports `synth_http_requests_total` and `synth_http_request_seconds` on
`/metrics` (a read-scope API key is required). Two rules watch them, from the spec's
`monitoring` section: 5xx responses in 5 minutes at or above `error_threshold`, and p99
latency above `latency_threshold_ratio` of `generator.timeout_seconds`. With a Prometheus
Operator they are a PrometheusRule, scraped through a ServiceMonitor (bearer token from
the Secret `<service>-metrics-key`, key `token`) and routed to `alarm_emails` by an
AlertmanagerConfig (the Alertmanager's global SMTP settings send them); otherwise the
same rule file and route are published in a ConfigMap for whatever Prometheus runs.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..spec import PlatformSpec
from .defaults import metadata

__all__ = ["alert_rules", "alertmanager_config", "alerts_config_map", "service_monitor"]

ERROR_ALERT = "SynthdataServerErrors"
LATENCY_ALERT = "SynthdataLatencyNearTimeout"
RULES_FILE = "synthdata-alerts.yaml"
ROUTE_FILE = "alertmanager-route.yaml"


def _platform_label(spec: PlatformSpec) -> str:
    return f"{spec.name}-{spec.environment}"


def alert_rules(spec: PlatformSpec, *, namespace: str, job: str) -> dict[str, Any]:
    """A Prometheus rule group with the error and latency alerts."""
    threshold_s = spec.generator.timeout_seconds * spec.monitoring.latency_threshold_ratio
    where = f'namespace="{namespace}"'
    labels = {"synthdata_platform": _platform_label(spec)}
    return {
        "name": f"synthdata-{_platform_label(spec)}",
        "rules": [
            {
                "alert": ERROR_ALERT,
                "expr": f'sum(increase(synth_http_requests_total{{{where},status=~"5.."}}[5m]))'
                        f" >= {spec.monitoring.error_threshold}",
                "labels": {**labels, "severity": "critical"},
                "annotations": {
                    "summary": f"{job}: 5xx responses in the last 5 minutes",
                    "description": "The generator answered at least "
                                   f"{spec.monitoring.error_threshold} requests with 5xx in 5 "
                                   "minutes. Read its pods' logs.",
                },
            },
            {
                "alert": LATENCY_ALERT,
                "expr": "histogram_quantile(0.99, sum by (le) (rate("
                        f"synth_http_request_seconds_bucket{{{where}}}[5m]))) > {threshold_s:g}",
                "for": "5m",
                "labels": {**labels, "severity": "warning"},
                "annotations": {
                    "summary": f"{job}: p99 latency near the request timeout",
                    "description": f"p99 latency is above {threshold_s:g} s of the "
                                   f"{spec.generator.timeout_seconds} s timeout. Ask for "
                                   "fewer rows per request or raise the timeout.",
                },
            },
        ],
    }


def _route(spec: PlatformSpec) -> dict[str, Any]:
    return {
        "route": {"receiver": "synthdata-email", "groupBy": ["alertname"],
                  "matchers": [{"name": "synthdata_platform", "value": _platform_label(spec),
                                "matchType": "="}]},
        "receivers": [{"name": "synthdata-email", "emailConfigs": [
            {"to": email, "sendResolved": True} for email in spec.monitoring.alarm_emails]}],
    }


def alerts_config_map(name: str, namespace: str, labels: dict[str, str],
                      rules: dict[str, Any], spec: PlatformSpec) -> dict[str, Any]:
    """The rule file (and the Alertmanager route for `alarm_emails`) for any Prometheus."""
    data = {RULES_FILE: yaml.safe_dump({"groups": [rules]}, sort_keys=False)}
    if spec.monitoring.alarm_emails:
        data[ROUTE_FILE] = yaml.safe_dump(_route(spec), sort_keys=False)
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": metadata(name, {**labels, "synthdata.io/alerts": "true"},
                                 namespace=namespace),
            "data": data}


def service_monitor(name: str, namespace: str, labels: dict[str, str],
                    selector: dict[str, str], *, metrics_path: str) -> dict[str, Any]:
    """Scrape the service's /metrics with a read key (Secret `<name>-key`, key `token`)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": metadata(name, labels, namespace=namespace),
        "spec": {
            "selector": {"matchLabels": selector},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{
                "port": "http", "path": metrics_path, "interval": "30s",
                "authorization": {"type": "Bearer",
                                  "credentials": {"name": f"{name[:55]}-key", "key": "token"}},
            }],
        },
    }


def alertmanager_config(name: str, namespace: str, labels: dict[str, str],
                        spec: PlatformSpec) -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1alpha1", "kind": "AlertmanagerConfig",
            "metadata": metadata(name, labels, namespace=namespace),
            "spec": _route(spec)}
