"""Secure defaults of the Kubernetes constructs, as small pure functions over plain dicts.

Every Kubernetes object the constructs create is built here (or from these pieces) as the
plain manifest `kubectl apply` takes; the constructs hand each one to the Terraform
kubernetes provider unchanged (`kubernetes_manifest`) and `manifests.render` writes the
same dicts as YAML. Nothing here imports a provider, so these functions are the single
definition both outputs come from.

The pod defaults satisfy the 'restricted' Pod Security Standard and OpenShift's
restricted-v2 SCC without change: non-root with no fixed UID (the image runs as a numeric
non-root user; OpenShift assigns one from the namespace's range, group 0), a read-only
root filesystem with an emptyDir at /tmp, every capability dropped, no privilege
escalation, the runtime's default seccomp profile, no host namespaces or host paths.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..types import override_message, warn_override

__all__ = [
    "API_PORT",
    "HEALTH_PATH",
    "METRICS_PATH",
    "PRESTOP_SECONDS",
    "READY_PATH",
    "SUPPORTED_VERSIONS",
    "TMP_PATH",
    "PodSettings",
    "container_security_context",
    "cpu_for_memory",
    "env_literal",
    "env_secret",
    "merge_manifest",
    "metadata",
    "network_policy",
    "pod_security_context",
    "pod_spec",
    "probes",
    "resources",
    "warn_and_note",
]

#: Kubernetes minor versions every object is validated against (oldest and newest): the
#: oldest still supported by EKS / GKE / AKS extended support, and the newest released.
SUPPORTED_VERSIONS = ("1.31.0", "1.37.0")

API_PORT = 8080
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
TMP_PATH = "/tmp"
#: Seconds a terminating API pod keeps serving while endpoints controllers and ingress
#: controllers stop sending it traffic (preStop), before uvicorn drains in-flight requests.
PRESTOP_SECONDS = 10
#: /tmp of every pod (spooled uploads and downloads, SDV's scratch files): a memory-backed
#: emptyDir would count against the memory limit, so it is disk-backed with a size limit.
TMP_SIZE_MI = 2048


def metadata(name: str, labels: Mapping[str, str], *, namespace: str | None = None,
             annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    out["labels"] = dict(labels)
    if annotations:
        out["annotations"] = dict(sorted(annotations.items()))
    return out


def env_literal(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def env_secret(name: str, secret: str, key: str, *, optional: bool = False) -> dict[str, Any]:
    """An env var from a Secret key: the value reaches the pod, never the manifest."""
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def container_security_context() -> dict[str, Any]:
    """restricted PSS / restricted-v2 SCC: nothing to escalate, nothing to write."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> dict[str, Any]:
    """No runAsUser / fsGroup: the image's numeric non-root user runs on plain clusters and
    OpenShift assigns an arbitrary UID (group 0) from the namespace's range."""
    return {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def cpu_for_memory(memory_mb: int) -> str:
    """CPU request sized like the managed runtimes: about one vCPU per 2 GiB, at least 0.5."""
    millis = max(500, min(8000, int(math.ceil(memory_mb / 2048 * 1000 / 250) * 250)))
    return f"{millis}m"


def resources(memory_mb: int, cpu: str, *, cpu_limit: str | None = None) -> dict[str, Any]:
    """Requests equal limits for memory (no overcommit: an SDV sample can use most of it);
    CPU may burst to `cpu_limit` (default twice the request)."""
    if cpu_limit is None:
        cpu_limit = _scale_cpu(cpu, 2)
    return {
        "requests": {"cpu": cpu, "memory": f"{memory_mb}Mi",
                     "ephemeral-storage": f"{TMP_SIZE_MI}Mi"},
        "limits": {"cpu": cpu_limit, "memory": f"{memory_mb}Mi",
                   "ephemeral-storage": f"{TMP_SIZE_MI * 2}Mi"},
    }


def _scale_cpu(cpu: str, factor: int) -> str:
    millis = int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000)
    return f"{millis * factor}m"


def probes(*, startup_seconds: int = 150) -> dict[str, Any]:
    """Startup (cold import of SDV) / liveness on /healthz, readiness on /readyz (storage,
    metadata and limiter reachable)."""
    def http(path: str, **extra: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "http"}, **extra}

    return {
        "startupProbe": http(HEALTH_PATH, periodSeconds=5, timeoutSeconds=3,
                             failureThreshold=max(1, startup_seconds // 5)),
        "livenessProbe": http(HEALTH_PATH, periodSeconds=20, timeoutSeconds=5,
                              failureThreshold=3),
        "readinessProbe": http(READY_PATH, periodSeconds=10, timeoutSeconds=5,
                               failureThreshold=3),
    }


@dataclass
class PodSettings:
    """What every pod of one platform shares: image, identity, environment."""

    image: str
    service_account: str
    env: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    """Pod labels (the platform's, plus e.g. `azure.workload.identity/use`)."""
    annotations: dict[str, str] = field(default_factory=dict)
    image_pull_secrets: tuple[str, ...] = ()
    image_pull_policy: str | None = None
    """Default: IfNotPresent for an image pinned by digest (it cannot change), Always for a
    tag (which can move)."""
    volumes: list[dict[str, Any]] = field(default_factory=list)
    """Further volumes (Secrets mounted read-only, e.g. a database's CA)."""
    mounts: list[dict[str, Any]] = field(default_factory=list)


def pod_spec(settings: PodSettings, *, container: Mapping[str, Any],
             restart_policy: str = "Always", automount_token: bool = False,
             termination_grace_seconds: int = 30,
             extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A pod spec with one container, the secure contexts, /tmp and the shared settings.

    `container` supplies name, command/args, ports, resources, probes; the security
    context, image, env and the /tmp mount are added here so no pod can miss them.
    """
    body = dict(container)
    body.update({
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy or (
            "IfNotPresent" if "@sha256:" in settings.image else "Always"),
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": TMP_PATH}, *settings.mounts],
    })
    env = [*settings.env, *body.pop("env", [])]
    if env:
        body["env"] = env
    spec: dict[str, Any] = {
        "serviceAccountName": settings.service_account,
        "automountServiceAccountToken": automount_token,
        "enableServiceLinks": False,
        "restartPolicy": restart_policy,
        "securityContext": pod_security_context(),
        "terminationGracePeriodSeconds": termination_grace_seconds,
        "containers": [dict(sorted(body.items()))],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": f"{TMP_SIZE_MI}Mi"}},
                    *settings.volumes],
    }
    if settings.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in settings.image_pull_secrets]
    spec.update(extra or {})
    return spec


def network_policy(name: str, namespace: str, labels: Mapping[str, str], *,
                   pod_selector: Mapping[str, str] | None,
                   ingress: Sequence[Mapping[str, Any]] | None = None,
                   egress: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A NetworkPolicy. `None` for a direction leaves it untouched; an empty list denies it."""
    types, spec = [], {"podSelector": {"matchLabels": dict(pod_selector)} if pod_selector
                       else {}}
    if ingress is not None:
        types.append("Ingress")
        spec["ingress"] = [dict(rule) for rule in ingress]
    if egress is not None:
        types.append("Egress")
        spec["egress"] = [dict(rule) for rule in egress]
    spec["policyTypes"] = types
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": metadata(name, labels, namespace=namespace), "spec": spec}


def ports(*numbers: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"port": n, "protocol": protocol} for n in numbers]


def dns_egress() -> dict[str, Any]:
    """DNS to the cluster resolver wherever it runs (kube-system on most clusters,
    openshift-dns on 5353 on OpenShift)."""
    return {"to": [{"namespaceSelector": {}}],
            "ports": [*ports(53, 5353, protocol="UDP"), *ports(53, 5353)]}


def merge_manifest(manifest: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict:
    """`overrides` deep-merged into `manifest` (dicts merge, anything else replaces)."""
    if not overrides:
        return manifest
    out = dict(manifest)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_manifest(dict(out[key]), value)
        else:
            out[key] = value
    return out


def content_hash(*parts: Any, length: int = 8) -> str:
    """A short stable hash of JSON-able values (names of immutable objects such as Jobs)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def refuse_cloud_arguments(construct: str, **arguments: Any) -> None:
    """Refuse, by name, the cloud arguments a cluster decides itself (`vpc`, `vpc_subnets`,
    `encryption_key` of a runner): the network is the cluster's, the key the bucket's."""
    from ..types import UnsupportedOnCloud

    for name, value in arguments.items():
        if value is not None:
            raise UnsupportedOnCloud(
                name, f"kubernetes ({construct})", "the cluster's network and the bucket's "
                "key are not chosen here", "drop it; network.vpc and network.cidr limit the "
                "pods' egress, kubernetes.storage.kms_key names the bucket's key",
            )


def service_environment(variables: Mapping[str, str], *stores: Any,
                        extra: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """A service container's env: the contract's `variables` as literals, then what each
    store (bucket, metadata store, pepper Secret) needs from its Secrets, in the order
    Kubernetes can expand them."""
    entries = [env_literal(k, v) for k, v in variables.items()]
    for store in stores:
        entries += list(store.environment)
    return sorted_env([*entries, *extra])


def warn_and_note(scope: Any, argument: str, default: str) -> str:
    """Say out loud that `argument` overrides a secure default: the shared warning class
    and a cdktn warning annotation on the construct."""
    from cdktn import Annotations

    path = scope.node.path
    warn_override(path, argument, default, stacklevel=4)
    message = override_message(path, argument, default)
    Annotations.of(scope).add_warning(message)
    return message


def sorted_env(env: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Literal variables (sorted), then Secret references, then variables that refer to
    others with `$(VAR)`: Kubernetes expands a reference only to a variable defined
    earlier in the list."""
    env = [dict(e) for e in env]
    literal = sorted((e for e in env if "$(" not in e.get("value", "$(")),
                     key=lambda e: e["name"])
    secret = [e for e in env if "valueFrom" in e]
    refers = [e for e in env if "$(" in e.get("value", "")]
    return literal + secret + refers
