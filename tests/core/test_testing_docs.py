"""docs/testing.md's example runs as written: a user's CI snapshotting their own app."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing.md"

pytestmark = pytest.mark.slow


def _code_blocks() -> dict[str, str]:
    """The doc's Python blocks, keyed by the file name in their first comment line."""
    blocks = re.findall(r"```python\n# (\S+)\n(.*?)```", DOC.read_text(), re.S)
    return {name: code for name, code in blocks}


def test_the_documented_user_test_passes_and_stores_normalised_snapshots(tmp_path):
    blocks = _code_blocks()
    assert set(blocks) == {"conftest.py", "test_my_platform.py"}
    for name, code in blocks.items():
        (tmp_path / name).write_text(code)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    first = subprocess.run([*command, "--snapshot-update"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    stored = list((tmp_path / "__snapshots__").rglob("*.json"))
    assert len(stored) == 1
    text = stored[0].read_text()
    assert "<asset-hash>" in text and not re.search(r"[0-9a-f]{64}", text)
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
