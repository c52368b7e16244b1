"""The CDK Terrain app (`cdktf.json` runs it; `npx cdktn synth`): GCP dev and prod stacks.

    npx cdktn synth                     # every stack into cdktf.out/stacks/<stack>/
    .venv/bin/python -m apps.terraform  # the same without the CLI
    .venv/bin/python -c "from apps.terraform import summarize; print(summarize())"

Stacks are `synth-<name>-<environment>-gcp`, one per spec in `examples/dev.yaml` and
`examples/prod.yaml` (or the comma-separated SYNTH_SPECS). Azure and Kubernetes stacks
will join this app; each cloud's provider is imported only inside the function that
builds that cloud's stack, so this module itself imports no provider.
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

__all__ = ["build_app", "gcp_stack", "gcp_stack_name", "main", "spec_files", "summarize"]


def spec_files() -> list[Path]:
    """The spec files to build: SYNTH_SPECS (comma-separated) or the two examples."""
    listed = os.environ.get("SYNTH_SPECS")
    return [Path(p) for p in listed.split(",") if p] if listed else list(DEFAULT_SPECS)


def gcp_stack_name(spec: PlatformSpec) -> str:
    return f"synth-{spec.name}-{spec.environment}-gcp"


def gcp_stack(app: App, spec: PlatformSpec) -> TerraformStack:
    """One stack holding a GCP `SyntheticDataPlatform`, its provider and its GCS backend.

    The google provider (about 14 s to import) is imported here and nowhere else in the
    app, so building only other clouds' stacks never loads it.
    """
    from cdktn_provider_google.provider import GoogleProvider

    from constructs_lib.gcp import SyntheticDataPlatform, gcs_backend
    from constructs_lib.naming import gcp_region

    stack = TerraformStack(app, gcp_stack_name(spec))
    GoogleProvider(
        stack, "google",
        project=spec.gcp.project,
        region=gcp_region(spec),
        add_terraform_attribution_label=True,
    )
    gcs_backend(stack, spec)
    SyntheticDataPlatform(stack, "Synth", spec=spec)
    return stack


def build_app(
    specs: list[PlatformSpec] | None = None, *, outdir: str | Path | None = None
) -> tuple[App, list[TerraformStack]]:
    """The app with one GCP stack per spec. Every spec is validated before any stack is
    built. `outdir` defaults to CDKTF_OUTDIR (set by the CLI) or 'cdktf.out'."""
    specs = specs if specs is not None else [PlatformSpec.from_file(p) for p in spec_files()]
    app = App(outdir=str(outdir)) if outdir is not None else App()
    stacks = [gcp_stack(app, spec) for spec in specs]
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
            where = "/".join(str(config[k]) for k in ("bucket", "prefix", "path") if k in config)
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
