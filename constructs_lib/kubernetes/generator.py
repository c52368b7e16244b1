"""`ServerlessGenerator` on Kubernetes: the service as a Deployment behind a Service.

Creates, in the platform's namespace: a ServiceAccount (workload identity annotations; an
API token only when it starts Jobs), the Deployment (uvicorn, `SYNTH_SERVER=uvicorn`),
a ClusterIP Service, a HorizontalPodAutoscaler, a PodDisruptionBudget, NetworkPolicies
(default deny for every pod of the platform, then the flows it needs: in to the API port;
out to DNS, the bucket, the database and - for the API pods that start Jobs - the
Kubernetes API), optionally an Ingress with TLS or an OpenShift Route, and the alert rules
(a PrometheusRule and ServiceMonitor for a Prometheus Operator, else a ConfigMap holding
the same rules for any Prometheus).

Every pod runs non-root with a read-only root filesystem, all capabilities dropped,
seccomp RuntimeDefault, requests and limits, and startup / liveness / readiness probes;
the same manifests run under OpenShift's restricted-v2 SCC.

`timeout_seconds` is honoured where a request can be cut: the Ingress / Route timeouts,
and the pod's termination grace period (preStop pause + timeout), so a rollout or a
scale-in lets every request up to that length finish.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from cdktn_provider_kubernetes.manifest import Manifest
from constructs import Construct

from .. import contract as runtime_contract
from ..contract import RuntimeContract, merge_environment
from ..naming import kubernetes_labels, kubernetes_name
from ..spec import PlatformSpec
from ..types import PhysicalNames, UnsupportedOnCloud
from . import identity
from .bucket import SecureBucket
from .defaults import (
    API_PORT,
    METRICS_PATH,
    PRESTOP_SECONDS,
    PodSettings,
    cpu_for_memory,
    dns_egress,
    merge_manifest,
    metadata,
    network_policy,
    pod_spec,
    ports,
    probes,
    refuse_cloud_arguments,
    resources,
    service_environment,
    warn_and_note,
)
from .image import service_image
from .jobs import JobRunner
from .metadata_store import MetadataStore
from .monitoring import alert_rules, alertmanager_config, alerts_config_map, service_monitor
from .namespace import PlatformNamespace, kube_object, object_name, resolve_namespace
from .secrets import PepperSecret
from .workload import Workload

__all__ = ["DEFAULT_MAX_REPLICAS", "ServerlessGenerator"]

#: HPA maximum when `generator.concurrency` is unset (the spec's documented default).
DEFAULT_MAX_REPLICAS = 10
SERVICE_PORT = 80
_SECURE_PROPS = {"automount_token": "no API token unless the pod starts Jobs"}


def _cors_environment(spec: PlatformSpec, contract: Mapping[str, str]) -> dict[str, str]:
    """`api.cors_origins` for the service (the service answers CORS itself: no edge in
    front of a cluster does), unless the contract already carries it."""
    variable = getattr(runtime_contract, "CORS_ORIGINS", "SYNTH_CORS_ORIGINS")
    if not spec.api.cors_origins or variable in contract:
        return {}
    return {variable: ",".join(spec.api.cors_origins)}


def _contract_extras(spec: PlatformSpec) -> dict[str, Any]:
    """Contract fields only some versions of the contract carry (CORS origins)."""
    names = {f.name for f in dataclasses.fields(RuntimeContract)}
    return {"cors_origins": tuple(spec.api.cors_origins)} if "cors_origins" in names else {}


class ServerlessGenerator(Construct):
    """The generator service on any cluster.

    Public attributes: `endpoint_url` (https://<ingress_host>, else the Service's
    in-cluster URL), `runtime_environment` (the runtime contract's variables), `identity`
    (`Workload`: service account and pod labels), `deployment`, `service`,
    `autoscaler`, `disruption_budget`, `service_account`, `network_policies`, `ingress`
    / `route` (or None), `alerts` (`kubernetes_manifest` resources), `manifests` (name ->
    the dicts they hold), `min_replicas`, `max_replicas`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        bucket: SecureBucket,
        metadata_store: MetadataStore,
        api_keys_secret: PepperSecret,
        image: str | None = None,
        job_runner: JobRunner | None = None,
        encryption_key: Any = None,
        vpc: Any = None,
        vpc_subnets: Any = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
        namespace: PlatformNamespace | str | None = None,
        pod_env: Sequence[Mapping[str, Any]] = (),
        depends_on: Sequence[Any] = (),
        deployment_props: Mapping[str, Any] | None = None,
    ) -> None:
        """Arguments (all keyword-only):

        spec: limits (`generator.*`), exposure and placement (`kubernetes.*`), alerts.
        bucket / metadata_store / api_keys_secret: the stores and the pepper's Secret.
        image: the service image. Default: `generator.image`, else
            `synthdata-service:<version>`.
        job_runner: the `JobRunner` training and large samples go to. Default: none -
            jobs run in the API pods (`inline://`).
        encryption_key / vpc / vpc_subnets: refused on Kubernetes (see `JobRunner`).
        environment: further variables (may not replace the contract's).
        physical_names / namespace: as for `SecureBucket`.
        pod_env: further env entries (Secret references) for the service.
        depends_on: what must exist before the pods start (setup and bootstrap Jobs).
        deployment_props: deep-merged into the Deployment manifest; replacing a secure
            setting (security context, probes, limits) warns.
        """
        super().__init__(scope, id)
        refuse_cloud_arguments("ServerlessGenerator", encryption_key=encryption_key, vpc=vpc,
                               vpc_subnets=vpc_subnets)
        if spec.generator.packaging == "source":
            raise UnsupportedOnCloud(
                "generator.packaging", "kubernetes", "pods run container images",
                "set generator.packaging: container (the default)",
            )
        if spec.api.auth == "iam":
            raise UnsupportedOnCloud(
                "api.auth", "kubernetes", "a cluster has no cloud identity to require at "
                "its endpoint", "use api_key, and put an authenticating proxy in front of "
                "the Ingress if callers must also sign in",
            )
        if spec.monitoring.log_retention_days != 30:
            raise UnsupportedOnCloud(
                "monitoring.log_retention_days", "kubernetes", "the containers log to "
                "stdout and the cluster's logging stack keeps those logs",
                "leave it at 30 and set retention in your log pipeline",
            )
        if spec.jobs.long_running and spec.jobs.worker_timeout_seconds != 900:
            raise UnsupportedOnCloud(
                "jobs.worker_timeout_seconds", "kubernetes", "every job runs as a Kubernetes "
                "Job with no time limit; there is no time-limited queue worker",
                "leave it at 900",
            )
        names_mode = PhysicalNames.resolve(physical_names)
        generator = spec.generator
        self.spec = spec
        self.namespace = resolve_namespace(self, spec, namespace, names_mode)
        ns = self.namespace.name
        labels = {**kubernetes_labels(spec), "app.kubernetes.io/part-of": "synthdata"}
        selector = {"app.kubernetes.io/name": labels["app.kubernetes.io/name"],
                    "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"],
                    "app.kubernetes.io/component": "api"}
        name = object_name(self, "Deployment", spec, names_mode, "deployment")
        service_name = object_name(self, "Service", spec, names_mode, "service")
        account = object_name(self, "ServiceAccount", spec, names_mode, "service_account")
        pod_labels = {**labels, **selector, **identity.pod_labels(spec), **bucket.pod_labels}
        self.identity = Workload(self, ns, account, pod_labels)

        jobs_url = (job_runner.jobs_url if job_runner is not None
                    else f"inline://?workers={spec.jobs.worker_concurrency}")
        contract = RuntimeContract.for_spec(
            spec, storage_url=bucket.storage_url, metadata_url=metadata_store.metadata_url,
            api_keys_secret=api_keys_secret.reference, jobs_url=jobs_url,
            **_contract_extras(spec),
        ).to_env()
        contract.update(_cors_environment(spec, contract))
        self.runtime_environment: dict[str, str] = merge_environment(contract, environment)
        server_env = {"SYNTH_SERVER": "uvicorn", "PORT": str(API_PORT), "HOME": "/tmp",
                      "FORWARDED_ALLOW_IPS": "*"}
        env = service_environment({**self.runtime_environment, **server_env}, bucket,
                                  metadata_store, api_keys_secret, extra=pod_env)
        volumes = list(metadata_store.volumes) + (list(job_runner.volumes) if job_runner else [])
        mounts = list(metadata_store.mounts) + (list(job_runner.mounts) if job_runner else [])
        annotations = {"synthdata.io/job-template": job_runner.template_hash} if job_runner \
            else {}
        settings = PodSettings(image=service_image(spec, image), service_account=account,
                               env=env, labels=pod_labels, annotations=annotations,
                               image_pull_secrets=spec.kubernetes.image_pull_secrets,
                               volumes=volumes, mounts=mounts)
        self.min_replicas = max(spec.kubernetes.replicas, generator.min_instances)
        self.max_replicas = max(generator.concurrency or DEFAULT_MAX_REPLICAS, self.min_replicas)
        cpu = cpu_for_memory(generator.memory_mb)
        depends = [*self.namespace.depends, *depends_on]

        manifests: dict[str, dict[str, Any]] = {}
        manifests["ServiceAccount"] = {
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": metadata(account, labels, namespace=ns,
                                 annotations=identity.service_account_annotations(spec)),
            "automountServiceAccountToken": False,
        }
        deployment = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": metadata(name, {**labels, **selector}, namespace=ns),
            "spec": {
                "selector": {"matchLabels": selector},
                "revisionHistoryLimit": 5,
                "progressDeadlineSeconds": 600,
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": pod_labels, "annotations": annotations} if annotations
                    else {"labels": pod_labels},
                    "spec": pod_spec(
                        settings,
                        automount_token=job_runner is not None,
                        termination_grace_seconds=generator.timeout_seconds + PRESTOP_SECONDS,
                        container={
                            "name": "api",
                            "ports": [{"name": "http", "containerPort": API_PORT,
                                       "protocol": "TCP"}],
                            "resources": resources(generator.memory_mb, cpu),
                            "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SECONDS}}},
                            **probes(),
                        },
                        extra={"topologySpreadConstraints": [
                            {"maxSkew": 1, "topologyKey": key,
                             "whenUnsatisfiable": "ScheduleAnyway",
                             "labelSelector": {"matchLabels": selector}}
                            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
                        ]},
                    ),
                },
            },
        }
        self._check_props(deployment_props)
        manifests["Deployment"] = merge_manifest(deployment, deployment_props)
        manifests["Service"] = {
            "apiVersion": "v1", "kind": "Service",
            "metadata": metadata(service_name, {**labels, **selector}, namespace=ns),
            "spec": {"type": "ClusterIP", "selector": selector,
                     "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http",
                                "protocol": "TCP"}]},
        }
        manifests["HorizontalPodAutoscaler"] = {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": metadata(name, {**labels, **selector}, namespace=ns),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": self.min_replicas,
                "maxReplicas": self.max_replicas,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "policies": [
                    {"type": "Pods", "value": 1, "periodSeconds": 60}]}},
            },
        }
        manifests["PodDisruptionBudget"] = {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": metadata(name, {**labels, **selector}, namespace=ns),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector},
                     "unhealthyPodEvictionPolicy": "AlwaysAllow"},
        }
        manifests.update(self._network_policies(name, ns, labels, selector, job_runner))
        manifests.update(self._exposure(spec, name, service_name, ns, labels))
        manifests.update(self._monitoring(spec, name, service_name, ns, labels, selector))
        self.manifests = manifests

        self.service_account: Manifest = kube_object(self, "ServiceAccount",
                                                     manifests["ServiceAccount"],
                                                     depends_on=self.namespace.depends)
        objects: dict[str, Manifest] = {"ServiceAccount": self.service_account}
        for key, manifest in manifests.items():
            if key in objects:
                continue
            after = [*depends, self.service_account] if key == "Deployment" else \
                self.namespace.depends
            objects[key] = kube_object(self, key, manifest, depends_on=after)
        self.objects = objects
        self.deployment = objects["Deployment"]
        self.service = objects["Service"]
        self.autoscaler = objects["HorizontalPodAutoscaler"]
        self.disruption_budget = objects["PodDisruptionBudget"]
        self.network_policies = [v for k, v in objects.items() if k.startswith("NetworkPolicy")]
        self.ingress: Manifest | None = objects.get("Ingress")
        self.route: Manifest | None = objects.get("Route")
        self.alerts = [v for k, v in objects.items() if k.startswith("Alert")]

        host = spec.kubernetes.ingress_host
        self.endpoint_url: str = (f"https://{host}" if host else
                                  f"http://{service_name}.{ns}.svc.cluster.local")
        self.grants = [bucket.grant_read_write(self.identity),
                       metadata_store.grant_read_write(self.identity)]
        if job_runner is not None:
            self.grants.append(job_runner.grant_submit(self.identity))

    def grant_invoke(self, grantee: Any) -> Manifest:
        """Let `grantee`'s pods call the API (a NetworkPolicy in its scope letting them
        reach the API pods' port); every call still needs an API key."""
        from .defaults import content_hash
        from .workload import as_workload

        workload = as_workload(grantee)
        selector = {k: v for k, v in self.identity.pod_labels.items()
                    if k in ("app.kubernetes.io/name", "app.kubernetes.io/instance",
                             "app.kubernetes.io/component")}
        name = kubernetes_name(f"{workload.scope.node.path}/{self.node.path}/invoke")
        return kube_object(
            workload.scope, f"Invoke-{content_hash(self.node.path)}",
            network_policy(name, workload.namespace, kubernetes_labels(self.spec),
                           pod_selector=workload.pod_labels, egress=[{
                               "to": [{"namespaceSelector": {"matchLabels": {
                                   "kubernetes.io/metadata.name": self.namespace.name}},
                                       "podSelector": {"matchLabels": selector}}],
                               "ports": ports(API_PORT)}]),
            depends_on=self.namespace.depends,
        )

    def _check_props(self, props: Mapping[str, Any] | None) -> None:
        """Say out loud when `deployment_props` touches the pod template's secure parts."""
        template = ((props or {}).get("spec") or {}).get("template") or {}
        pod = template.get("spec") or {}
        for key in ("securityContext", "containers", "automountServiceAccountToken",
                    "hostNetwork", "hostPID", "hostIPC", "volumes"):
            if key in pod:
                warn_and_note(self, f"deployment_props spec.template.spec.{key}",
                              "the restricted pod security settings, probes and limits")

    # -- network policies: default deny, then the flows the service needs -------------

    def _network_policies(self, name: str, ns: str, labels: dict[str, str],
                          selector: dict[str, str], job_runner: JobRunner | None,
                          ) -> dict[str, dict[str, Any]]:
        platform_pods = {"app.kubernetes.io/instance": labels["app.kubernetes.io/instance"],
                         "app.kubernetes.io/part-of": "synthdata"}
        out = {
            # Every pod of the platform: nothing in, nothing out but DNS - unless allowed.
            "NetworkPolicyDefaultDeny": network_policy(
                f"{name[:44]}-default-deny", ns, labels, pod_selector=platform_pods,
                ingress=[], egress=[dns_egress()]),
            # The API port, from any namespace (ingress controllers, in-cluster callers,
            # Prometheus); every call but the health checks needs an API key.
            "NetworkPolicyApiIngress": network_policy(
                f"{name[:44]}-api-ingress", ns, labels, pod_selector=selector,
                ingress=[{"from": [{"namespaceSelector": {}}], "ports": ports(API_PORT)}]),
        }
        api_talkers: list[dict[str, str]] = []
        if job_runner is not None:
            api_talkers.append(selector)
        api_talkers.append({**platform_pods, "app.kubernetes.io/component": "bootstrap"})
        cidr = self.spec.network.cidr if self.spec.network.vpc else "0.0.0.0/0"
        for index, pods in enumerate(api_talkers):
            out[f"NetworkPolicyKubernetesApi{index}"] = network_policy(
                f"{name[:40]}-kube-api-{index}", ns, labels, pod_selector=pods,
                egress=[{"to": [{"ipBlock": {"cidr": cidr}}], "ports": ports(443, 6443)}])
        return out

    # -- exposure: an Ingress with TLS, or an OpenShift Route --------------------------

    def _exposure(self, spec: PlatformSpec, name: str, service_name: str, ns: str,
                  labels: dict[str, str]) -> dict[str, dict[str, Any]]:
        k8s = spec.kubernetes
        host = k8s.ingress_host
        if host is None:
            return {}
        timeout = str(spec.generator.timeout_seconds)
        tls_secret = k8s.tls_secret or f"{service_name[:59]}-tls"
        if k8s.openshift_route:
            tls: dict[str, Any] = {"termination": "edge",
                                   "insecureEdgeTerminationPolicy": "Redirect"}
            if k8s.tls_secret:
                tls["externalCertificate"] = {"name": k8s.tls_secret}
            return {"Route": {
                "apiVersion": "route.openshift.io/v1", "kind": "Route",
                "metadata": metadata(service_name, labels, namespace=ns, annotations={
                    "haproxy.router.openshift.io/timeout": f"{timeout}s",
                    "haproxy.router.openshift.io/hsts_header": "max-age=31536000",
                }),
                "spec": {"host": host, "to": {"kind": "Service", "name": service_name,
                                              "weight": 100},
                         "port": {"targetPort": "http"}, "tls": tls, "wildcardPolicy": "None"},
            }}
        annotations = {
            "nginx.ingress.kubernetes.io/proxy-body-size": f"{spec.generator.max_upload_mb}m",
            "nginx.ingress.kubernetes.io/proxy-read-timeout": timeout,
            "nginx.ingress.kubernetes.io/proxy-send-timeout": timeout,
            "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
        }
        if k8s.cert_manager_issuer:
            annotations["cert-manager.io/cluster-issuer"] = k8s.cert_manager_issuer
        ingress_spec: dict[str, Any] = {
            "tls": [{"hosts": [host], "secretName": tls_secret}],
            "rules": [{"host": host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": service_name, "port": {"name": "http"}}},
            }]}}],
        }
        if k8s.ingress_class:
            ingress_spec = {"ingressClassName": k8s.ingress_class, **ingress_spec}
        return {"Ingress": {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": metadata(service_name, labels, namespace=ns, annotations=annotations),
            "spec": ingress_spec,
        }}

    # -- alerts and scraping ------------------------------------------------------------

    def _monitoring(self, spec: PlatformSpec, name: str, service_name: str, ns: str,
                    labels: dict[str, str], selector: dict[str, str],
                    ) -> dict[str, dict[str, Any]]:
        rules = alert_rules(spec, namespace=ns, job=service_name)
        # The in-cluster Prometheus (kubernetes.on_prem.prometheus) takes these through its
        # chart's values: its CRDs do not exist yet when Terraform plans this stack.
        self.monitoring = {
            "rules": rules,
            "service_monitor": service_monitor(f"{name[:50]}-metrics", ns, labels, selector,
                                               metrics_path=METRICS_PATH),
            "alert_emails": list(spec.monitoring.alarm_emails),
        }
        if spec.kubernetes.on_prem.prometheus:
            return {}
        if not spec.kubernetes.service_monitor:
            return {"AlertRules": alerts_config_map(f"{name[:50]}-alerts", ns, labels, rules,
                                                    spec)}
        out = {
            "AlertRules": {
                "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": metadata(f"{name[:50]}-alerts", labels, namespace=ns),
                "spec": {"groups": [rules]},
            },
            "AlertScrape": self.monitoring["service_monitor"],
        }
        if spec.monitoring.alarm_emails:
            out["AlertRouting"] = alertmanager_config(f"{name[:50]}-routing", ns, labels, spec)
        return out
