"""Session fixtures for the Azure construct tests: every app is synthesized once.

The azurerm provider takes seconds to import and each synth a few more, so three apps are
built per session and shared: the ready-made app's Azure stacks (`apps.terraform`), one app
holding a stack per spec variant (the facts and the every-field tests), and one app of
users' own stacks (composition, bring-your-own, cross-stack grants). TMPDIR points into
the session's temp dir first, so cdktn leaves nothing behind in /tmp.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import PlatformSpec

ROOT = Path(__file__).resolve().parents[2]
#: An Azure-valid base spec (front-end timeout, Log Analytics retention) for the variants.
BASE = {"name": "azsynth", "region": "westeurope",
        "generator": {"timeout_seconds": 230, "memory_mb": 2048},
        "monitoring": {"log_retention_days": 30}}
KEY_ID = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"


@dataclass
class Synthesized:
    outdir: Path
    stacks: dict[str, Any]
    templates: dict[str, dict[str, Any]]
    warnings: list[str]


def _load(outdir: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {name: json.loads((outdir / entry["synthesizedStackPath"]).read_text())
            for name, entry in manifest["stacks"].items()}


@pytest.fixture(scope="session")
def azure_tmp(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("azure")
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(path)
    tempfile.tempdir = None
    yield path
    if previous is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = previous
    tempfile.tempdir = None


def provider(stack) -> None:
    from cdktn_provider_azurerm.provider import AzurermProvider

    AzurermProvider(stack, "azurerm", features=[{}], storage_use_azuread=True)


@pytest.fixture(scope="session")
def app_synth(azure_tmp) -> Synthesized:
    """`apps.terraform`'s Azure stacks (dev and prod from the example specs)."""
    from apps.terraform import build_app

    outdir = azure_tmp / "app.out"
    app, stacks = build_app(outdir=outdir, clouds=["azure"])
    app.synth()
    return Synthesized(outdir, {s.node.id: s for s in stacks}, _load(outdir), [])


@pytest.fixture(scope="session")
def dev(app_synth) -> dict[str, Any]:
    return app_synth.templates["synth-synthdemo-dev-azure"]


@pytest.fixture(scope="session")
def prod(app_synth) -> dict[str, Any]:
    return app_synth.templates["synth-synthdemo-prod-azure"]


def spec_of(**changes: Any) -> PlatformSpec:
    """The base spec with nested `changes` (section -> fields) applied."""
    data = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return PlatformSpec.from_dict(data)


@dataclass
class Variant:
    spec: PlatformSpec | None
    error: Exception | None


#: Named spec variants, each synthesized as one stack with one platform "Synth".
def variant_specs() -> dict[str, dict[str, Any]]:
    from tests.azure.test_facts import FACT_SPECS
    from tests.azure.test_spec_fields import FIELD_VARIANTS

    return {**FACT_SPECS, **{f"field-{k}": v for k, v in FIELD_VARIANTS.items()},
            "checkov-private": {"network": {"vpc": True}}}


@pytest.fixture(scope="session")
def variants(azure_tmp) -> tuple[Synthesized, dict[str, Variant]]:
    """One app, one stack per variant (refusals recorded instead of built)."""
    from cdktn import App, TerraformStack

    from constructs_lib.azure import SyntheticDataPlatform
    from constructs_lib.types import PhysicalNames, UnsupportedOnCloud

    outdir = azure_tmp / "variants.out"
    app = App(outdir=str(outdir))
    built: dict[str, Variant] = {}
    stacks = {}
    for label, changes in variant_specs().items():
        try:
            spec = spec_of(**changes)
            stack = TerraformStack(app, label)
            provider(stack)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                SyntheticDataPlatform(stack, "Synth", spec=spec,
                                      physical_names=PhysicalNames.FROM_SPEC,
                                      entra_client_id="33333333-3333-3333-3333-333333333333")
            stacks[label] = stack
            built[label] = Variant(spec, None)
        except (UnsupportedOnCloud, ValueError) as exc:
            built[label] = Variant(None, exc)
            if label in stacks:
                del stacks[label]
    app.synth()
    return Synthesized(outdir, stacks, _load(outdir), []), built


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return template.get("resource", {}).get(kind, {})


def only(template: dict[str, Any], kind: str, path_part: str = "") -> dict[str, Any]:
    found = [r for r in resources(template, kind).values()
             if path_part in r["//"]["metadata"]["path"]]
    assert len(found) == 1, f"expected one {kind} matching {path_part!r}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="session")
def user_apps(azure_tmp) -> Synthesized:
    """Users' own stacks, written as the apps they stand for, in one app synthesized once:

    * `two-platforms`: two platforms from one spec side by side;
    * `standalone`: a SecureBucket and a MetadataStore from one spec, on their own;
    * `bring-your-own`: a platform given its resource group, key, network, image and an
      imported bucket and store, with `bucket_props` overriding a secure default;
    * `platform` + `consumer`: a consumer stack granting its own identity access to the
      platform in the other stack.
    """
    from cdktn import App, TerraformStack
    from cdktn_provider_azurerm.key_vault_key import KeyVaultKey
    from cdktn_provider_azurerm.resource_group import ResourceGroup
    from cdktn_provider_azurerm.user_assigned_identity import UserAssignedIdentity
    from cdktn_provider_azurerm.virtual_network import VirtualNetwork

    from constructs_lib.azure import MetadataStore, SecureBucket, SyntheticDataPlatform

    spec = spec_of()
    outdir = azure_tmp / "user-apps.out"
    app = App(outdir=str(outdir))
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        two = TerraformStack(app, "two-platforms")
        provider(two)
        SyntheticDataPlatform(two, "First", spec=spec, outputs=True)
        SyntheticDataPlatform(two, "Second", spec=spec, outputs=True)

        alone = TerraformStack(app, "standalone")
        provider(alone)
        SecureBucket(alone, "Data", spec=spec)
        MetadataStore(alone, "Records", spec=spec)

        byo = TerraformStack(app, "bring-your-own")
        provider(byo)
        group = ResourceGroup(byo, "Group", name="rg-mine", location="westeurope")
        key = KeyVaultKey(byo, "Key", name="mine", key_vault_id=KEY_ID, key_type="RSA-HSM",
                          key_size=3072, key_opts=["wrapKey", "unwrapKey"])
        network = VirtualNetwork(byo, "Network", name="vnet-mine", location="westeurope",
                                 resource_group_name="rg-mine", address_space=["10.9.0.0/16"])
        bucket = SecureBucket.from_bucket_name(byo, "TheirBucket", "theirdata", spec=spec,
                                               resource_group="rg-data")
        store = MetadataStore.from_store_name(byo, "TheirStore", "their-cosmos", spec=spec,
                                              resource_group="rg-data")
        SyntheticDataPlatform(byo, "Synth", spec=spec_of(network={"vpc": True}),
                              resource_group=group, encryption_key=key, vpc=network,
                              vpc_subnets=["/subnets/apps", "/subnets/endpoints"],
                              image="mine.azurecr.io/synth@sha256:" + "c" * 64,
                              bucket=bucket, metadata_store=store)
        SecureBucket(byo, "Weakened", spec=spec, encryption_key=key,
                     bucket_props={"min_tls_version": "TLS1_0"})

        home = TerraformStack(app, "platform")
        provider(home)
        platform = SyntheticDataPlatform(home, "Synth", spec=spec)
        consumer = TerraformStack(app, "consumer")
        provider(consumer)
        reader = UserAssignedIdentity(consumer, "Reader", name="id-reader",
                                      location="westeurope", resource_group_name="rg-mine")
        platform.bucket.grant_read(reader)
        platform.metadata_store.grant_read(reader)
        platform.job_runner.grant_submit(reader)
        caught = [str(w.message) for w in seen]
    app.synth()
    stacks = {s: app.node.find_child(s) for s in
              ("two-platforms", "standalone", "bring-your-own", "platform", "consumer")}
    result = Synthesized(outdir, stacks, _load(outdir), caught)
    result.platform = platform  # type: ignore[attr-defined]
    result.spec = spec  # type: ignore[attr-defined]
    return result
