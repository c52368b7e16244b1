"""On-prem dependencies for a cluster that has none: Helm releases, chart versions pinned.

Off by default (`kubernetes.on_prem`). Each is a `helm_release` of a pinned chart:

* `InClusterMinio` - MinIO (standalone, one volume) in its own namespace, holding the
  platform's bucket (versioned), a user limited to that bucket, and MinIO's built-in KMS
  key (every object encrypted). Root and user credentials and the KMS key are generated
  inside the cluster (`GeneratedSecrets`) and passed by Secret name only.
* `InClusterPostgres` - the CloudNativePG operator and one PostgreSQL cluster in the
  platform's namespace. The operator generates the database credentials (the
  `<cluster>-app` Secret); WAL and base backups go to the bucket (point-in-time recovery).
* `InClusterPrometheus` - kube-prometheus-stack, scraping the service and carrying its
  alert rules and e-mail route in the chart's values (its CRDs are the chart's, so no
  object of theirs can be planned before the chart exists).

No chart can be downloaded where this project is built: the values below follow the
charts' documented values at the pinned versions (docs/kubernetes.md lists them) and are
rendered by Helm at `terraform apply`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from cdktn import TerraformResourceLifecycle, TerraformStack
from cdktn_provider_helm.release import Release
from constructs import Construct

from ..naming import kubernetes_labels
from ..spec import PlatformSpec
from ..types import RemovalPolicy
from .defaults import merge_manifest, network_policy, ports
from .namespace import kube_object

__all__ = ["CHARTS", "Chart", "InClusterMinio", "InClusterPostgres", "InClusterPrometheus"]


@dataclass(frozen=True)
class Chart:
    repository: str
    chart: str
    version: str


#: The pinned charts (bump deliberately: a chart's values change between majors).
CHARTS = {
    "minio": Chart("https://charts.min.io/", "minio", "5.4.0"),
    "cloudnative-pg": Chart("https://cloudnative-pg.github.io/charts", "cloudnative-pg",
                            "0.26.1"),
    "cnpg-cluster": Chart("https://cloudnative-pg.github.io/charts", "cluster", "0.4.0"),
    "kube-prometheus-stack": Chart("https://prometheus-community.github.io/helm-charts",
                                   "kube-prometheus-stack", "92.11.0"),
}
MINIO_USER = "synthdata"
MINIO_KMS_KEY = "synthdata"
MINIO_PORT = 9000


def _release(scope: Construct, id: str, key: str, *, name: str, namespace: str,
             values: Mapping[str, Any], create_namespace: bool = False,
             depends_on: Sequence[Any] = (), prevent_destroy: bool = False,
             overrides: Mapping[str, Any] | None = None) -> Release:
    chart = CHARTS[key]
    return Release(
        scope, id,
        name=name, namespace=namespace, create_namespace=create_namespace,
        repository=chart.repository, chart=chart.chart, version=chart.version,
        values=[yaml.safe_dump(merge_manifest(dict(values), overrides), sort_keys=True)],
        atomic=True, cleanup_on_fail=True, wait=True, timeout=900, max_history=5,
        depends_on=list(depends_on) or None,
        lifecycle=TerraformResourceLifecycle(prevent_destroy=True) if prevent_destroy else None,
    )


def _keep(removal: RemovalPolicy) -> dict[str, str]:
    """Helm leaves resources annotated like this behind on uninstall (their data)."""
    return {"helm.sh/resource-policy": "keep"} if removal == RemovalPolicy.RETAIN else {}


class InClusterMinio(Construct):
    """MinIO for the platform's bucket.

    Public attributes: `release`, `namespace` (its own, 'baseline' Pod Security: the
    chart's setup jobs are not 'restricted'), `endpoint` (in-cluster URL), `selector`
    (labels of its pods), `secrets` (Secret name -> key -> generator, for
    `GeneratedSecrets`: the same credentials in MinIO's and the platform's namespace),
    `network_policy`.
    """

    @staticmethod
    def namespace_name(platform_namespace: str) -> str:
        return f"{platform_namespace[:56]}-minio"

    @staticmethod
    def credentials(spec: PlatformSpec) -> dict[str, str]:
        """The keys of MinIO's credentials Secret and how each value is generated."""
        return {
            "rootUser": "literal:root", "rootPassword": "alnum:40",
            "access_key_id": f"literal:{MINIO_USER}", "secret_access_key": "alnum:40",
            # CloudNativePG's backup credentials: the same user, under the keys it reads.
            "ACCESS_KEY_ID": f"literal:{MINIO_USER}",
            "ACCESS_SECRET_KEY": "copy:secret_access_key",
            "Region": f"literal:{spec.region}",
            "config.env": f"minio-kms:{MINIO_KMS_KEY}",
        }

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, name: str,
                 platform_namespace: str, bucket: str, credentials_secret: str,
                 removal_policy: RemovalPolicy, depends_on: Sequence[Any] = (),
                 values: Mapping[str, Any] | None = None) -> None:
        """depends_on: the generated credentials' Job (the chart reads them by name)."""
        super().__init__(scope, id)
        on_prem = spec.kubernetes.on_prem
        self.namespace = self.namespace_name(platform_namespace)
        self.endpoint = f"http://{name}.{self.namespace}.svc.cluster.local:{MINIO_PORT}"
        self.selector = {"app": "minio", "release": name}
        self.secrets = {credentials_secret: self.credentials(spec)}
        persistence: dict[str, Any] = {"enabled": True, "size": f"{on_prem.minio_volume_gi}Gi",
                                       "annotations": _keep(removal_policy)}
        if on_prem.storage_class:
            persistence["storageClass"] = on_prem.storage_class
        arn = f"arn:aws:s3:::{bucket}"
        chart_values = {
            "mode": "standalone", "replicas": 1,
            "existingSecret": credentials_secret,
            "extraSecret": credentials_secret,  # config.env: MINIO_KMS_SECRET_KEY
            "environment": {"MINIO_KMS_AUTO_ENCRYPTION": "on", "MINIO_BROWSER": "off",
                            "MINIO_SITE_REGION": spec.region},
            "persistence": persistence,
            "resources": {"requests": {"memory": "1Gi", "cpu": "250m"},
                          "limits": {"memory": "2Gi"}},
            "buckets": [{"name": bucket, "policy": "none", "purge": False,
                         "versioning": True, "objectlocking": False}],
            "policies": [{"name": "synthdata-bucket", "statements": [
                {"resources": [arn, f"{arn}/*"], "actions": ["s3:*"]}]}],
            "users": [{"accessKey": MINIO_USER, "existingSecret": credentials_secret,
                       "existingSecretKey": "secret_access_key", "policy": "synthdata-bucket"}],
            "consoleService": {"type": "ClusterIP"},
            "networkPolicy": {"enabled": False},  # replaced by the policy below
            "securityContext": {"enabled": not spec.kubernetes.openshift_route,
                                "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
            "containerSecurityContext": {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                "readOnlyRootFilesystem": False},
            "podDisruptionBudget": {"enabled": False},
        }
        self.release = _release(self, "Release", "minio", name=name, namespace=self.namespace,
                                values=chart_values, depends_on=depends_on, overrides=values)
        labels = kubernetes_labels(spec)
        # Only the platform's pods (and MinIO's own setup jobs) may reach the S3 port.
        self.network_policy = kube_object(self, "NetworkPolicy", network_policy(
            f"{name[:50]}-clients", self.namespace, labels, pod_selector=self.selector,
            ingress=[{"from": [
                {"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": platform_namespace}},
                 "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "synthdata"}}},
                {"podSelector": {}},
            ], "ports": ports(MINIO_PORT)}]), depends_on=[self.release])


class InClusterPostgres(Construct):
    """The CloudNativePG operator and one PostgreSQL cluster.

    Public attributes: `operator`, `release`, `cluster_name`, `host` (its read-write
    Service), `credentials_secret` (`<cluster>-app`, made by the operator), `ca_secret`,
    `selector`, `point_in_time_recovery`, `deletion_protection`, `network_policy`.
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, name: str,
                 namespace: str, database: str, removal_policy: RemovalPolicy,
                 deletion_protection: bool, backup: Mapping[str, Any] | None,
                 client_selector: Mapping[str, str], depends_on: Sequence[Any] = (),
                 values: Mapping[str, Any] | None = None) -> None:
        """backup: the chart's `backups` values (WAL archiving to the bucket: point-in-time
        recovery), or None for none."""
        super().__init__(scope, id)
        on_prem = spec.kubernetes.on_prem
        self.cluster_name = name
        self.host = f"{name}-rw.{namespace}.svc"
        self.credentials_secret = f"{name}-app"
        self.ca_secret = f"{name}-ca"
        self.selector = {"cnpg.io/cluster": name}
        self.point_in_time_recovery = backup is not None
        self.deletion_protection = deletion_protection
        self.operator = _cluster_singleton(
            self, "cloudnative-pg", lambda: _release(
                self, "Operator", "cloudnative-pg", name="cnpg", namespace="cnpg-system",
                create_namespace=True, values={"crds": {"create": True}},
                depends_on=depends_on))
        storage: dict[str, Any] = {"size": f"{on_prem.postgresql_volume_gi}Gi"}
        if on_prem.storage_class:
            storage["storageClass"] = on_prem.storage_class
        chart_values: dict[str, Any] = {
            "fullnameOverride": name,
            "type": "postgresql", "mode": "standalone",
            "version": {"postgresql": "17"},
            "cluster": {
                "instances": 3 if spec.is_production else 1,
                "storage": storage,
                "initdb": {"database": database, "owner": database},
                "enableSuperuserAccess": False,
                "annotations": _keep(removal_policy),
                "monitoring": {"enabled": on_prem.prometheus,
                               "podMonitor": {"enabled": on_prem.prometheus}},
                "resources": {"requests": {"memory": "1Gi", "cpu": "500m"},
                              "limits": {"memory": "1Gi"}},
            },
            "backups": {"enabled": False},
        }
        if backup is not None:
            chart_values["backups"] = {"enabled": True, **backup}
        self.release = _release(self, "Release", "cnpg-cluster", name=name, namespace=namespace,
                                values=chart_values, depends_on=[self.operator, *depends_on],
                                prevent_destroy=deletion_protection, overrides=values)
        labels = kubernetes_labels(spec)
        self.network_policy = kube_object(self, "NetworkPolicy", network_policy(
            f"{name[:50]}-clients", namespace, labels, pod_selector=self.selector,
            ingress=[
                {"from": [{"podSelector": {"matchLabels": dict(client_selector)}},
                          {"podSelector": {"matchLabels": self.selector}}],
                 "ports": ports(5432)},
                # the operator's status checks, and metrics for Prometheus
                {"from": [{"namespaceSelector": {}}], "ports": ports(8000, 9187)},
            ]), depends_on=[self.release])


class InClusterPrometheus(Construct):
    """kube-prometheus-stack, scraping the service and alerting from the spec.

    One per stack (it is cluster-wide: CRDs, operator): `of` returns the stack's, and
    each further platform adds its ServiceMonitor, rules and e-mail route to its values.

    Public attributes: `release`, `namespace`, `values` (the chart values it holds).
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec,
                 platform_namespace: str, monitoring: Mapping[str, Any],
                 depends_on: Sequence[Any] = (), values: Mapping[str, Any] | None = None,
                 ) -> None:
        """monitoring: the generator's `monitoring` (rules, ServiceMonitor, e-mails)."""
        super().__init__(scope, id)
        self.namespace = f"{platform_namespace[:52]}-monitoring"
        storage: dict[str, Any] = {}
        if spec.kubernetes.on_prem.storage_class:
            storage = {"storageSpec": {"volumeClaimTemplate": {"spec": {
                "storageClassName": spec.kubernetes.on_prem.storage_class,
                "resources": {"requests": {"storage": "20Gi"}}}}}}
        self._overrides = values
        self._base = {
            "grafana": {"enabled": False},
            "alertmanager": {"enabled": True},
            "prometheus": {
                "prometheusSpec": {
                    "retention": "15d",
                    "serviceMonitorSelectorNilUsesHelmValues": False,
                    "ruleSelectorNilUsesHelmValues": False,
                    "podMonitorSelectorNilUsesHelmValues": False,
                    **storage,
                },
                "additionalServiceMonitors": [],
            },
            "additionalPrometheusRulesMap": {},
        }
        self._routes: list[dict[str, Any]] = []
        self._receivers: list[dict[str, Any]] = []
        self.values: dict[str, Any] = {}
        self.release = _release(self, "Release", "kube-prometheus-stack", name="monitoring",
                                namespace=self.namespace, create_namespace=True,
                                values={}, depends_on=depends_on)
        self.add(spec, monitoring)

    @classmethod
    def of(cls, scope: Construct, **kwargs: Any) -> InClusterPrometheus:
        """The stack's Prometheus: created on first use, then extended by `add`."""
        existing = _SINGLETONS.get((id(TerraformStack.of(scope)), "kube-prometheus-stack"))
        if existing is not None:
            existing[1].add(kwargs["spec"], kwargs["monitoring"])
            return existing[1]
        return _cluster_singleton(scope, "kube-prometheus-stack",
                                  lambda: cls(scope, "Prometheus", **kwargs))

    def add(self, spec: PlatformSpec, monitoring: Mapping[str, Any]) -> None:
        """Scrape and alert for one more platform."""
        platform = f"{spec.name}-{spec.environment}"
        monitor = monitoring["service_monitor"]
        self._base["prometheus"]["additionalServiceMonitors"].append(
            {"name": monitor["metadata"]["name"], **monitor["spec"]})
        self._base["additionalPrometheusRulesMap"][platform] = {"groups": [monitoring["rules"]]}
        emails = list(monitoring["alert_emails"])
        if emails:
            receiver = f"synthdata-{platform}"
            self._routes.append({"receiver": receiver,
                                 "matchers": [f'synthdata_platform="{platform}"']})
            self._receivers.append({"name": receiver, "email_configs": [
                {"to": email, "send_resolved": True} for email in emails]})
        values = dict(self._base)
        if self._routes:
            values["alertmanager"] = {"enabled": True, "config": {
                "route": {"receiver": "null", "routes": list(self._routes)},
                "receivers": [{"name": "null"}, *self._receivers]}}
        self.values = merge_manifest(values, self._overrides)
        self.release.values = [yaml.safe_dump(self.values, sort_keys=True)]


#: Cluster-wide releases by stack: one operator / Prometheus per stack.
_SINGLETONS: dict[tuple[int, str], tuple[Any, Any]] = {}


def _cluster_singleton(scope: Construct, key: str, make) -> Any:
    stack = TerraformStack.of(scope)
    entry = _SINGLETONS.get((id(stack), key))
    if entry is None:
        entry = (stack, make())
        _SINGLETONS[(id(stack), key)] = entry
    return entry[1]
