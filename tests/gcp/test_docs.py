"""The Python examples in docs/gcp.md run as written: each block is executed on its own, and
the app it synthesizes is read back. Only the output directory is redirected (`App()` ->
`App(outdir=...)`): the jsii kernel's node process keeps the working directory it started
in, so a relative `cdktf.out` would land wherever the session's first cdktn import ran."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "gcp.md").read_text(), re.S)


def run(block: str, where: Path) -> dict[str, dict]:
    assert block.count("App()") == 1
    where.mkdir()
    code = block.replace("App()", f"App(outdir={str(where / 'cdktf.out')!r})")
    exec(compile(code, "docs/gcp.md", "exec"), {"__name__": "docs_example"})  # noqa: S102
    manifest = json.loads((where / "cdktf.out" / "manifest.json").read_text())
    return {name: json.loads((where / "cdktf.out" / entry["synthesizedStackPath"]).read_text())
            for name, entry in manifest["stacks"].items()}


def test_the_page_has_its_examples():
    assert len(BLOCKS) == 2


def test_the_quick_start_synthesizes_a_platform_with_outputs(gcp_tmp):
    stacks = run(BLOCKS[0], gcp_tmp / "doc-quick-start")
    template = stacks["acme-synth-dev"]
    assert "synth_endpoint_url" in template["output"]
    projects = {body["project"] for items in template["resource"].values()
                for body in items.values() if "project" in body}
    assert projects == {"acme-data-dev"}


def test_the_composition_example_brings_its_own_and_grants_across_stacks(gcp_tmp):
    stacks = run(BLOCKS[1], gcp_tmp / "doc-compose")
    shared, analytics = stacks["acme-shared"], stacks["acme-analytics"]
    assert "google_storage_bucket" not in shared["resource"]
    assert "google_firestore_database" not in shared["resource"]
    members = [body["member"] for items in analytics["resource"].values()
               for body in items.values() if "member" in body]
    assert len(members) == 6 and set(members) == {
        "serviceAccount:${google_service_account.Analyst.email}"}


@pytest.mark.parametrize("page", ["gcp.md", "gcp-runtime.md"])
def test_every_module_the_page_names_exists(page):
    text = (ROOT / "docs" / page).read_text()
    for module in set(re.findall(r"`((?:constructs_lib|synthdata_service)(?:\.[a-z_0-9]+)+)",
                                 text)):
        parts = module.split(".")
        path = ROOT / ("service" if parts[0] == "synthdata_service" else parts[0])
        for index in range(1, len(parts) + 1):
            candidate = path.joinpath(*parts[1:index])
            if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
                found = True
                break
        else:
            found = False
        assert found, f"{page} names {module}, which does not exist"
