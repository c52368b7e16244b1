"""The CDK Terrain app (`cdktf.json` runs it; `npx cdktn synth`): GCP, Azure and Kubernetes
stacks.

    npx cdktn synth                     # every stack into cdktf.out/stacks/<stack>/
    .venv/bin/python -m apps.terraform  # the same without the CLI
    .venv/bin/python -c "from apps.terraform import summarize; print(summarize())"

Stacks are `synth-<name>-<environment>-gcp` and `...-azure`, one of each per spec in
`examples/dev.yaml` and `examples/prod.yaml` (or the comma-separated SYNTH_SPECS), and
`synth-<name>-<environment>-k8s`, one per spec in `examples/kubernetes.yaml` (EKS with
IAM roles for service accounts) and `examples/onprem.yaml` (OpenShift with MinIO,
PostgreSQL and Prometheus from Helm) - or SYNTH_KUBERNETES_SPECS. Each is a
`SyntheticDataPlatform` with its outputs. SYNTH_CLOUDS (comma-separated, default
`gcp,azure,kubernetes`) picks the clouds. Each cloud's providers are imported only inside
the function that builds that cloud's stack, so this module itself imports no provider.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from cdktn import App, TerraformStack

from constructs_lib import PlatformSpec

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = (ROOT / "examples" / "dev.yaml", ROOT / "examples" / "prod.yaml")
DEFAULT_KUBERNETES_SPECS = (ROOT / "examples" / "kubernetes.yaml",
                            ROOT / "examples" / "onprem.yaml")

__all__ = [
    "CLOUDS",
    "azure_spec",
    "azure_stack",
    "azure_stack_name",
    "build_app",
    "gcp_stack",
    "gcp_stack_name",
    "kubernetes_spec_files",
    "kubernetes_stack",
    "main",
    "spec_files",
    "summarize",
]


def spec_files() -> list[Path]:
    """The spec files to build: SYNTH_SPECS (comma-separated) or the two examples."""
    listed = os.environ.get("SYNTH_SPECS")
    return [Path(p) for p in listed.split(",") if p] if listed else list(DEFAULT_SPECS)


def kubernetes_spec_files() -> list[Path]:
    """The specs of the Kubernetes stacks: SYNTH_KUBERNETES_SPECS (comma-separated) or the
    two Kubernetes examples."""
    listed = os.environ.get("SYNTH_KUBERNETES_SPECS")
    return [Path(p) for p in listed.split(",") if p] if listed else list(DEFAULT_KUBERNETES_SPECS)


def gcp_stack_name(spec: PlatformSpec) -> str:
    return f"synth-{spec.name}-{spec.environment}-gcp"


def gcp_stack(app: App, spec: PlatformSpec) -> TerraformStack:
    """One stack holding a GCP `SyntheticDataPlatform` (with its outputs), the google
    provider and the GCS backend.

    The GCP providers (a few seconds to import) are imported here and nowhere else in the
    app, so building only other clouds' stacks never loads them. The provider's project
    and region are the spec's (`gcp.project`, `gcp.region`): the example specs name both.
    """
    from cdktn_provider_google.provider import GoogleProvider

    from constructs_lib.gcp import SyntheticDataPlatform, gcs_backend
    from constructs_lib.naming import gcp_spec_region

    stack = TerraformStack(app, gcp_stack_name(spec))
    GoogleProvider(
        stack, "google",
        project=spec.gcp.project,
        region=gcp_spec_region(spec),
        add_terraform_attribution_label=True,
    )
    gcs_backend(stack, spec)
    SyntheticDataPlatform(stack, "Synth", spec=spec, outputs=True)
    return stack


def azure_stack_name(spec: PlatformSpec) -> str:
    return f"synth-{spec.name}-{spec.environment}-azure"


def azure_spec(spec: PlatformSpec) -> PlatformSpec:
    """The example spec as the Azure stacks deploy it, within two limits Azure sets and the
    constructs refuse by name rather than ignore: HTTP front ends end requests at 240 s
    (Container Apps) and Log Analytics keeps logs 30-730 days. Longer work runs as jobs.
    """
    from constructs_lib.azure.defaults import FRONT_END_TIMEOUT

    limit = FRONT_END_TIMEOUT[spec.generator.packaging]
    data = spec.model_dump(mode="json")
    data["generator"]["timeout_seconds"] = min(spec.generator.timeout_seconds, limit)
    days = spec.monitoring.log_retention_days
    data["monitoring"]["log_retention_days"] = days if days >= 30 else 30
    return PlatformSpec.from_dict(data)


def azure_stack(app: App, spec: PlatformSpec) -> TerraformStack:
    """One stack holding an Azure `SyntheticDataPlatform` (with its outputs), the azurerm
    provider and the azurerm backend. The azurerm provider is imported here and nowhere
    else in the app.

    The provider uses Entra ID for storage data-plane calls (`storage_use_azuread`): the
    platform's storage accounts have shared keys turned off.
    """
    from cdktn_provider_azurerm.provider import (
        AzurermProvider,
        AzurermProviderFeatures,
        AzurermProviderFeaturesKeyVault,
    )

    from constructs_lib.azure import SyntheticDataPlatform, azurerm_backend

    spec = azure_spec(spec)
    stack = TerraformStack(app, azure_stack_name(spec))
    AzurermProvider(
        stack, "azurerm",
        subscription_id=spec.azure.subscription_id,
        storage_use_azuread=True,
        features=[AzurermProviderFeatures(key_vault=[AzurermProviderFeaturesKeyVault(
            purge_soft_delete_on_destroy=False, recover_soft_deleted_key_vaults=True)])],
    )
    azurerm_backend(stack, spec)
    SyntheticDataPlatform(stack, "Synth", spec=spec, outputs=True)
    return stack


def kubernetes_stack(app: App, spec: PlatformSpec) -> TerraformStack:
    """One stack holding a Kubernetes `SyntheticDataPlatform` (with its outputs), the
    kubernetes and helm providers (from KUBE_CONFIG_PATH) and the state in the cluster
    (`constructs_lib.kubernetes.platform_stack`, which `synthctl manifests` builds too).

    The providers (a few seconds to import) are imported here and nowhere else in the app.
    """
    from constructs_lib.kubernetes import platform_stack

    return platform_stack(app, spec)


CLOUDS = {"gcp": gcp_stack, "azure": azure_stack, "kubernetes": kubernetes_stack}


def build_app(
    specs: list[PlatformSpec] | None = None, *, outdir: str | Path | None = None,
    clouds: list[str] | None = None, kubernetes_specs: list[PlatformSpec] | None = None,
) -> tuple[App, list[TerraformStack]]:
    """The app with one stack per spec and cloud (`clouds`, else SYNTH_CLOUDS, else every
    cloud in `CLOUDS`). GCP and Azure stacks come from `specs` (default: the spec files);
    Kubernetes stacks from `kubernetes_specs` (default: their own files, when `specs` is
    not given either). Every spec is validated before any stack is built. `outdir`
    defaults to CDKTF_OUTDIR (set by the CLI) or 'cdktf.out'."""
    if clouds is None:
        clouds = [c for c in os.environ.get("SYNTH_CLOUDS", ",".join(CLOUDS)).split(",") if c]
    unknown = sorted(set(clouds) - set(CLOUDS))
    if unknown:
        raise ValueError(f"SYNTH_CLOUDS: unknown cloud(s) {unknown}; use {', '.join(CLOUDS)}")
    if kubernetes_specs is None and specs is None and "kubernetes" in clouds:
        kubernetes_specs = [PlatformSpec.from_file(p) for p in kubernetes_spec_files()]
    if specs is None and set(clouds) - {"kubernetes"}:
        specs = [PlatformSpec.from_file(p) for p in spec_files()]
    app = App(outdir=str(outdir)) if outdir is not None else App()
    stacks = [CLOUDS[cloud](app, spec) for cloud in clouds if cloud != "kubernetes"
              for spec in specs or ()]
    if "kubernetes" in clouds:
        stacks += [kubernetes_stack(app, spec) for spec in kubernetes_specs or ()]
    return app, stacks


def summarize(outdir: Path | str = "cdktf.out") -> str:
    """A short human summary of a synthesized app: per stack, resources by type with
    counts, data sources, the backend and the outputs."""
    outdir = Path(outdir)
    manifest_path = outdir / "manifest.json"
    if not manifest_path.exists():
        return f"{outdir}: nothing synthesized yet (run `npx cdktn synth`)"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    lines = []
    for name, entry in sorted(manifest.get("stacks", {}).items()):
        template = json.loads((outdir / entry["synthesizedStackPath"]).read_text("utf-8"))
        resources = template.get("resource", {})
        counts = Counter({kind: len(items) for kind, items in resources.items()})
        data = template.get("data", {})
        backend = next(iter(template.get("terraform", {}).get("backend", {}).items()), None)
        lines.append(f"{name}: {sum(counts.values())} resources, "
                     f"{sum(len(v) for v in data.values())} data sources")
        for kind, count in sorted(counts.items()):
            lines.append(f"  {count:3d} x {kind}")
        if backend:
            kind, config = backend
            where = "/".join(str(config[k]) for k in (
                "bucket", "prefix", "path", "storage_account_name", "container_name", "key")
                if k in config)
            lines.append(f"  backend: {kind} {where}")
        outputs = template.get("output", {})
        if outputs:
            lines.append("  outputs: " + ", ".join(sorted(outputs)))
    return "\n".join(lines)


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
