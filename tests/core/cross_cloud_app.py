"""One user app per cloud, built from the same specs, printing the behaviour facts each
cloud's template shows: `python -m tests.core.cross_cloud_app <cloud> <outdir> < specs.json`.

Each cloud runs in its own process, as a user's app would (a process that synthesizes one
cloud imports only that cloud's provider). `test_cross_cloud_parity.py` compares the four.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from constructs_lib import PhysicalNames, PlatformSpec, UnsupportedOnCloud

STACK = "parity"


def _each(specs: list[PlatformSpec], build) -> list[str | None]:
    """Build every spec's platform (`build(construct_id, spec)`); per spec, None or the
    field the cloud refused by name (`UnsupportedOnCloud`), which the test compares."""
    refused: list[str | None] = []
    for index, spec in enumerate(specs):
        try:
            build(f"P{index}", spec)
            refused.append(None)
        except UnsupportedOnCloud as exc:
            refused.append(exc.field)
    return refused


def _read(facts, template: dict[str, Any], refused: list[str | None]) -> list[dict[str, Any]]:
    return [{"refused": field} if field else facts(template, f"{STACK}/P{index}")
            for index, field in enumerate(refused)]


def aws(specs: list[PlatformSpec], outdir: str) -> list[dict[str, Any]]:
    from aws_cdk import App, Stack

    from constructs_lib.aws import SyntheticDataPlatform
    from constructs_lib.facts.aws import facts

    app = App(outdir=outdir, context={"aws:cdk:enable-path-metadata": True})
    stack = Stack(app, STACK)
    refused = _each(specs, lambda id_, spec: SyntheticDataPlatform(
        stack, id_, spec=spec, physical_names=PhysicalNames.FROM_SPEC))
    return _read(facts, app.synth().get_stack_by_name(STACK).template, refused)


def _terraform(outdir: str, specs: list[PlatformSpec], provider, build, facts) -> list:
    from cdktn import App, TerraformStack

    app = App(outdir=outdir)
    stack = TerraformStack(app, STACK)
    provider(stack)
    refused = _each(specs, lambda id_, spec: build(stack, id_, spec))
    app.synth()
    manifest = json.loads((Path(outdir) / "manifest.json").read_text())
    template = json.loads((Path(outdir) / manifest["stacks"][STACK]["synthesizedStackPath"])
                          .read_text())
    return _read(facts, template, refused)


def gcp(specs: list[PlatformSpec], outdir: str) -> list[dict[str, Any]]:
    from constructs_lib.facts.gcp import facts
    from constructs_lib.gcp import SyntheticDataPlatform

    def provider(stack):
        from cdktn_provider_google.provider import GoogleProvider

        GoogleProvider(stack, "google", project="parity-project", region="europe-west1")

    def build(stack, id_, spec):
        SyntheticDataPlatform(stack, id_, spec=spec, physical_names=PhysicalNames.FROM_SPEC)

    return _terraform(outdir, specs, provider, build, facts)


def azure(specs: list[PlatformSpec], outdir: str) -> list[dict[str, Any]]:
    from constructs_lib.azure import SyntheticDataPlatform
    from constructs_lib.facts.azure import facts

    def provider(stack):
        from cdktn_provider_azurerm.provider import AzurermProvider

        AzurermProvider(stack, "azurerm", features=[{}], storage_use_azuread=True)

    def build(stack, id_, spec):
        SyntheticDataPlatform(stack, id_, spec=spec, physical_names=PhysicalNames.FROM_SPEC,
                              entra_client_id="33333333-3333-3333-3333-333333333333")

    return _terraform(outdir, specs, provider, build, facts)


def kubernetes(specs: list[PlatformSpec], outdir: str) -> list[dict[str, Any]]:
    from constructs_lib.facts.kubernetes import facts
    from constructs_lib.kubernetes import SyntheticDataPlatform, providers

    def build(stack, id_, spec):
        data = spec.model_dump(mode="json")
        data.setdefault("kubernetes", {})["namespace"] = f"parity-{id_.lower()}"
        SyntheticDataPlatform(stack, id_, spec=PlatformSpec.from_dict(data),
                              physical_names=PhysicalNames.FROM_SPEC)

    return _terraform(outdir, specs, providers, build, facts)


CLOUDS = {"aws": aws, "gcp": gcp, "azure": azure, "kubernetes": kubernetes}


def main(argv: list[str]) -> None:
    cloud, outdir = argv
    specs = [PlatformSpec.from_dict(data) for data in json.load(sys.stdin)]
    json.dump(CLOUDS[cloud](specs, outdir), sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
