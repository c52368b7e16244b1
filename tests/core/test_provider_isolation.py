"""A process that builds one cloud's platform loads no other cloud's provider package.

Each cloud's provider is heavy to import (the google provider's jsii assembly alone is
most of a GCP synth), so an AWS-only user must never pay for Terraform providers and a
GCP stack must never load aws-cdk-lib. Each case builds real stacks in a fresh
interpreter and lists the provider packages it ended up importing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

#: Top-level modules of each cloud's engine / provider packages.
PROVIDERS = {
    "aws": ("aws_cdk", "cdk_nag"),
    "gcp": ("cdktn_provider_google", "cdktn_provider_google_beta"),
    "azure": ("cdktn_provider_azurerm", "cdktn_provider_azuread"),
    "kubernetes": ("cdktn_provider_kubernetes", "cdktn_provider_helm"),
}

_REPORT = """
import json, sys
loaded = sorted({name.split('.')[0] for name in sys.modules})
print(json.dumps(loaded))
"""


def _loaded_after(code: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", code + _REPORT], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _others(cloud: str) -> set[str]:
    return {m for other, mods in PROVIDERS.items() if other != cloud for m in mods}


def test_building_the_aws_app_loads_no_terraform_provider(tmp_path):
    loaded = _loaded_after(
        "from apps.aws import build_app\n"
        f"build_app(outdir={str(tmp_path)!r}, builtin_cloud_formation_validation=False)\n")
    assert "aws_cdk" in loaded
    assert not loaded & _others("aws")
    assert "cdktn" not in loaded


def test_building_a_gcp_stack_loads_only_the_google_providers(tmp_path):
    loaded = _loaded_after(
        "from cdktn import App\n"
        "from apps.terraform import gcp_stack\n"
        "from constructs_lib import PlatformSpec\n"
        f"app = App(outdir={str(tmp_path)!r})\n"
        "gcp_stack(app, PlatformSpec.from_file('examples/dev.yaml'))\n")
    assert "cdktn_provider_google" in loaded
    assert not loaded & _others("gcp")
    # google-beta's one resource type is declared without its bindings: loading that
    # assembly would double the synth's time and memory (docs/benchmarks.md).
    assert "cdktn_provider_google_beta" not in loaded


def test_building_an_azure_stack_loads_only_the_azurerm_provider(tmp_path):
    loaded = _loaded_after(
        "from cdktn import App\n"
        "from apps.terraform import azure_stack\n"
        "from constructs_lib import PlatformSpec\n"
        f"app = App(outdir={str(tmp_path)!r})\n"
        "azure_stack(app, PlatformSpec.from_file('examples/dev.yaml'))\n")
    assert "cdktn_provider_azurerm" in loaded
    assert not loaded & _others("azure")


def test_the_cloud_free_core_loads_no_engine_at_all():
    loaded = _loaded_after(
        "import constructs_lib, constructs_lib.naming, constructs_lib.parity\n"
        "import constructs_lib.facts, constructs_lib.build_context, constructs_lib.testing\n")
    engines = {m for mods in PROVIDERS.values() for m in mods} | {"cdktn", "constructs", "jsii"}
    assert not loaded & engines
