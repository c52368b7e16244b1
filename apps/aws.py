"""The AWS app (`cdk.json` runs it): dev and prod stacks from the example specs.

    npx cdk synth            # both stacks into cdk.out/
    npx cdk deploy synth-synthdemo-dev

Set SYNTH_SPECS to a comma-separated list of spec files to deploy your own platforms.
"""

from __future__ import annotations

import os
from pathlib import Path

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from constructs_lib import PlatformSpec
from constructs_lib.aws import PlatformStack

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = (ROOT / "examples" / "dev.yaml", ROOT / "examples" / "prod.yaml")


def spec_files() -> list[Path]:
    listed = os.environ.get("SYNTH_SPECS")
    return [Path(p) for p in listed.split(",") if p] if listed else list(DEFAULT_SPECS)


def build_app(
    specs: list[PlatformSpec] | None = None, **app_props
) -> tuple[App, list[PlatformStack]]:
    """The app with one stack per spec and cdk-nag's AwsSolutions checks attached."""
    specs = specs if specs is not None else [PlatformSpec.from_file(p) for p in spec_files()]
    app = App(**app_props)
    stacks = [PlatformStack(app, spec=spec) for spec in specs]
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stacks


def main() -> None:
    # Every spec is validated before anything is synthesized.
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
