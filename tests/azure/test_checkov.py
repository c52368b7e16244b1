"""checkov on the synthesized Azure stacks: no failed check outside checkov/azure.yaml (and,
for stacks without network.vpc, the public-network checks below, which the private
variant passes)."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import run_checkov

from .conftest import ROOT

CONFIG = ROOT / "checkov" / "azure.yaml"
#: Without network.vpc the runtime has no fixed addresses (Consumption / Flex), so storage,
#: Cosmos DB, Key Vault and the registry keep public network access - Entra ID only, with
#: shared keys and local auth off. network.vpc: true turns all of these off.
PUBLIC_NETWORK_CHECKS = (
    "CKV_AZURE_59", "CKV_AZURE_35", "CKV2_AZURE_33",  # storage account
    "CKV_AZURE_101", "CKV_AZURE_99",  # Cosmos DB
    "CKV_AZURE_109", "CKV_AZURE_189", "CKV2_AZURE_32",  # Key Vault
    "CKV_AZURE_139",  # Container Registry
)


def _failures(path, *, public: bool) -> list[str]:
    result = run_checkov(path, framework="terraform_json", config=CONFIG)
    failed = result.get("results", {}).get("failed_checks", [])
    summary = result.get("summary", {})
    assert summary.get("passed", 0) > 20, f"checkov checked almost nothing: {summary}"
    allowed = set(PUBLIC_NETWORK_CHECKS) if public else set()
    return [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed
            if c["check_id"] not in allowed]


def test_every_skip_has_a_reason_and_the_list_is_short():
    text = CONFIG.read_text()
    skips = yaml.safe_load(text)["skip-check"]
    assert len(skips) <= 7
    lines = text.splitlines()
    for check in skips:
        index = next(i for i, line in enumerate(lines) if line.strip() == f"- {check}")
        assert lines[index - 1].lstrip().startswith("#"), f"{check} has no reason above it"


@pytest.mark.parametrize("stack", ["synth-synthdemo-dev-azure", "synth-synthdemo-prod-azure"])
def test_app_stacks_pass_checkov(app_synth, stack):
    path = app_synth.outdir / "stacks" / stack / "cdk.tf.json"
    assert _failures(path, public=True) == []


def test_the_private_network_variant_passes_the_public_network_checks_too(variants):
    synthesized, _ = variants
    label = "checkov-private"
    assert _failures(synthesized.outdir / "stacks" / label / "cdk.tf.json",
                     public=False) == []
