"""The synthetic data platform on any Kubernetes cluster, with CDK Terrain (cdktn) and the
kubernetes and helm providers.

Same class names, constructor arguments and public attributes as `constructs_lib.aws` and
`constructs_lib.gcp` (see `constructs_lib.interface`); every Kubernetes object is a plain
manifest (`kubernetes_manifest`), so `constructs_lib.kubernetes.manifests` writes the
same objects as YAML for kubectl / GitOps. The constructs import the providers (a few
seconds), so they load on first use; the pure builders (`defaults`, `templates`) import
none:

    from cdktn import App, TerraformStack
    from constructs_lib import PlatformSpec
    from constructs_lib.kubernetes import SyntheticDataPlatform, providers

    stack = TerraformStack(App(), "synth-demo-dev-k8s")
    providers(stack)
    SyntheticDataPlatform(stack, "Synth", spec=PlatformSpec.from_file("examples/dev.yaml"))
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "GeneratedSecrets",
    "InClusterMinio",
    "InClusterPostgres",
    "InClusterPrometheus",
    "JobRunner",
    "KubernetesBackend",
    "MetadataStore",
    "PepperSecret",
    "PlatformNamespace",
    "SecureBucket",
    "ServerlessGenerator",
    "SyntheticDataPlatform",
    "Workload",
    "kubernetes_backend",
    "platform_stack",
    "providers",
]

_HOMES = {
    "GeneratedSecrets": "secrets",
    "InClusterMinio": "dependencies",
    "InClusterPostgres": "dependencies",
    "InClusterPrometheus": "dependencies",
    "JobRunner": "jobs",
    "KubernetesBackend": "platform",
    "MetadataStore": "metadata_store",
    "PepperSecret": "secrets",
    "PlatformNamespace": "namespace",
    "SecureBucket": "bucket",
    "ServerlessGenerator": "generator",
    "SyntheticDataPlatform": "platform",
    "Workload": "workload",
    "kubernetes_backend": "platform",
    "platform_stack": "platform",
    "providers": "platform",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
