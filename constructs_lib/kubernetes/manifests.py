"""Plain manifests: the Kubernetes platform as YAML for kubectl and GitOps (`synthctl
manifests`), from the same definition as the Terraform stack.

`synthesize` builds the stack exactly as `apps/terraform.py` does and synthesizes it;
`render` reads the objects back out of the synthesized Terraform JSON - every
`kubernetes_manifest` holds a plain manifest - so the YAML and the Terraform stack can
only ever hold the same objects. Helm releases (`kubernetes.on_prem`) become a values file
each and an install script with the pinned chart versions.

    synthctl manifests examples/onprem.yaml -o deploy/
    kubectl apply -f deploy/synth-synthlab-dev-k8s/manifests.yaml
    deploy/synth-synthlab-dev-k8s/helm/install.sh
"""

from __future__ import annotations

import json
import shlex
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..spec import PlatformSpec

__all__ = ["KIND_ORDER", "render", "synthesize", "write_manifests"]

#: kubectl applies a file top to bottom: what others need comes first.
KIND_ORDER = ("Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap",
              "NetworkPolicy", "Job", "Service", "Deployment", "HorizontalPodAutoscaler",
              "PodDisruptionBudget", "Ingress", "Route", "ServiceMonitor", "PrometheusRule",
              "AlertmanagerConfig")


def synthesize(spec: PlatformSpec, outdir: Path | None = None) -> tuple[str, dict[str, Any]]:
    """(stack name, Terraform JSON) of the spec's Kubernetes stack, as the app builds it."""
    from cdktn import App

    from .platform import platform_stack

    outdir = Path(outdir or tempfile.mkdtemp(prefix="synth-k8s-"))
    app = App(outdir=str(outdir))
    stack = platform_stack(app, spec)
    app.synth()
    name = stack.node.id
    return name, json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())


def render(template: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Kubernetes objects of a synthesized stack (in apply order) and its Helm
    releases (`name`, `namespace`, `chart`, `repository`, `version`, `values`)."""
    resources = template.get("resource", {})
    objects = [r["manifest"] for r in resources.get("kubernetes_manifest", {}).values()]
    order = {kind: index for index, kind in enumerate(KIND_ORDER)}
    objects.sort(key=lambda o: (order.get(o["kind"], len(order)),
                                o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    releases = [{"name": r["name"], "namespace": r["namespace"], "chart": r["chart"],
                 "repository": r["repository"], "version": r["version"],
                 "create_namespace": r.get("create_namespace", False),
                 "values": yaml.safe_load(r["values"][0]) if r.get("values") else {}}
                for r in resources.get("helm_release", {}).values()]
    return objects, releases


def _install_script(releases: list[dict[str, Any]]) -> str:
    lines = ["#!/bin/sh", "# The on-prem dependencies at their pinned chart versions (run after "
             "`kubectl apply -f manifests.yaml`:", "# their credentials come from Secrets its "
             "bootstrap Job generates).", "set -eu", 'cd "$(dirname "$0")"']
    for release in releases:
        command = ["helm", "upgrade", "--install", release["name"], release["chart"],
                   "--repo", release["repository"], "--version", release["version"],
                   "--namespace", release["namespace"], "--atomic", "--wait",
                   "--values", f"{release['name']}.values.yaml"]
        if release["create_namespace"]:
            command.append("--create-namespace")
        lines.append(shlex.join(command))
    return "\n".join(lines) + "\n"


def write_manifests(spec: PlatformSpec, output: Path) -> Path:
    """Write `<output>/<stack>/manifests.yaml` (and `helm/` when there are releases);
    return the stack's directory."""
    name, template = synthesize(spec)
    objects, releases = render(template)
    directory = Path(output) / name
    directory.mkdir(parents=True, exist_ok=True)
    header = (f"# {name}: the objects of the Terraform stack synthesized from the spec, for "
              "kubectl / GitOps.\n")
    (directory / "manifests.yaml").write_text(
        header + yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True))
    if releases:
        helm = directory / "helm"
        helm.mkdir(exist_ok=True)
        for release in releases:
            (helm / f"{release['name']}.values.yaml").write_text(
                yaml.safe_dump(release["values"], sort_keys=True))
        script = helm / "install.sh"
        script.write_text(_install_script(releases))
        script.chmod(0o755)
    return directory
