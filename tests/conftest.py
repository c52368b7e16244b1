"""Fixtures shared by every part of the suite: template snapshots and checker tools."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "snapshots"

_HASH = re.compile(r"[0-9a-f]{64}")


def normalise(template: Any) -> Any:
    """A template with 64-hex asset hashes replaced, so snapshots are stable across machines."""
    return json.loads(_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True)))


class TemplateSnapshot(JSONSnapshotExtension):
    """Stores snapshots as `snapshots/<test folder>/<test file>/<test name>.json`."""

    @classmethod
    def dirname(cls, *, test_location) -> str:
        folder = Path(test_location.filepath).parent.name
        return str(SNAPSHOTS / folder / test_location.basename)


@pytest.fixture
def template_snapshot(snapshot):
    return snapshot.use_extension(TemplateSnapshot)


def checkov_binary() -> str:
    """checkov lives in its own environment (`make setup` builds `.venv-tools`)."""
    candidate = ROOT / ".venv-tools" / "bin" / "checkov"
    found = os.environ.get("CHECKOV_BIN") or (str(candidate) if candidate.exists() else None)
    found = found or shutil.which("checkov")
    if not found:
        pytest.fail("checkov is not installed: run `make setup` (it builds .venv-tools)")
    return found


def run_checkov(path: Path, *, framework: str, config: Path) -> dict[str, Any]:
    """Run checkov on one file with a reasoned skip list; return its JSON summary."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
           "LOG_LEVEL": "ERROR"}
    proc = subprocess.run(
        [checkov_binary(), "--file", str(path), "--framework", framework,
         "--config-file", str(config), "--output", "json", "--quiet", "--compact",
         "--skip-download"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    if proc.returncode not in (0, 1):
        pytest.fail(f"checkov crashed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = proc.stdout.strip() or "{}"
    data = json.loads(out)
    if isinstance(data, list):  # one entry per framework
        data = data[0] if data else {}
    return data
