"""The AWS app (`cdk.json` runs it): dev and prod stacks from the example specs.

    npx cdk synth            # both stacks into cdk.out/
    npx cdk synth -c nag=true   # ... checked by cdk-nag's AwsSolutions rules as well
    npx cdk deploy synth-synthdemo-dev

Set SYNTH_SPECS to a comma-separated list of spec files to deploy your own platforms.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from aws_cdk import App, Validations

from constructs_lib import PlatformSpec
from constructs_lib.aws import PlatformStack

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = (ROOT / "examples" / "dev.yaml", ROOT / "examples" / "prod.yaml")


def spec_files() -> list[Path]:
    listed = os.environ.get("SYNTH_SPECS")
    return [Path(p) for p in listed.split(",") if p] if listed else list(DEFAULT_SPECS)


def build_app(
    specs: list[PlatformSpec] | None = None, *, nag: bool | None = None, **app_props
) -> tuple[App, list[PlatformStack]]:
    """The app with one stack per spec.

    `nag`: attach cdk-nag's AwsSolutions checks, which make `synth()` raise on any
    unacknowledged finding. Default: the `nag` context value (`cdk synth -c nag=true`).
    Like CDK's built-in template validation, the checks are a test concern: they cost
    about 40% of a synth, so `make test` and `make demo` run them and a plain
    `cdk synth` does not.
    """
    specs = specs if specs is not None else [PlatformSpec.from_file(p) for p in spec_files()]
    app = App(**app_props)
    stacks = [PlatformStack(app, spec=spec) for spec in specs]
    if nag is None:
        nag = str(app.node.try_get_context("nag")).lower() == "true"
    if nag:
        from cdk_nag import AwsSolutionsChecks  # loads its own jsii assembly: only when asked

        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stacks


def summarize(outdir: Path | str = "cdk.out") -> str:
    """What a synthesized app would deploy: per stack, resources by type and the outputs."""
    outdir = Path(outdir)
    manifest = json.loads((outdir / "manifest.json").read_text())
    lines = []
    for name, artifact in sorted(manifest["artifacts"].items()):
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        types = Counter(r["Type"] for r in template["Resources"].values())
        lines.append(f"{name} ({artifact.get('environment', '')}): "
                     f"{sum(types.values())} resources")
        lines += [f"  {count:3d}  {type_}" for type_, count in sorted(types.items())]
        for key, output in sorted(template.get("Outputs", {}).items()):
            lines.append(f"  output {key}: {output.get('Description', '')}".rstrip(": "))
    return "\n".join(lines)


def main() -> None:
    # Every spec is validated before anything is synthesized. CDK's built-in
    # CloudFormation validation triples synth time and duplicates cfn-lint, which the
    # tests run on every template: it is off unless CDK_VALIDATION=true asks for it.
    validate = os.environ.get("CDK_VALIDATION", "false").lower() == "true"
    app, _ = build_app(builtin_cloud_formation_validation=validate)
    app.synth()


if __name__ == "__main__":
    main()
