"""The toolchain `make setup` installs is the one the suite runs on: Node.js 22 first on
PATH (jsii prints an end-of-life banner under Node 20), and the two CLIs users run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_node_on_path_is_the_projects_node_22():
    node = shutil.which("node")
    assert node is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    assert int(version.lstrip("v").split(".")[0]) >= 22, (
        f"{node} is {version}: run the tests through make (it puts node_modules/.bin, with "
        "Node 22 from package.json, first on PATH)")


def test_both_clis_come_from_the_pinned_node_modules():
    for cli in ("cdk", "cdktn"):
        assert (ROOT / "node_modules" / ".bin" / cli).exists(), f"run `make setup`: no {cli}"
