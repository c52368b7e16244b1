"""`npx cdk synth` through cdk.json works from the repository root, as users run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_cdk_cli_synthesizes_both_stacks(tmp_path):
    if not (ROOT / "node_modules" / ".bin" / "cdk").exists() and not shutil.which("cdk"):
        pytest.fail("the cdk CLI is not installed: run `make setup` (npm ci)")
    env = {**os.environ, "CDK_DISABLE_VERSION_CHECK": "1"}
    env.pop("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", None)
    proc = subprocess.run(["npx", "--no-install", "cdk", "synth", "--quiet", "-o", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "end-of-life" not in (proc.stdout + proc.stderr).lower()  # Node 22, not 20
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stacks = {k for k, a in manifest["artifacts"].items()
              if a["type"] == "aws:cloudformation:stack"}
    assert stacks == {"synth-synthdemo-dev", "synth-synthdemo-prod"}
