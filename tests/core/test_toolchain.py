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


def test_nothing_imports_the_archived_cdktf():
    # cdktf is archived with frozen providers; its constructs cannot mix with cdktn's.
    import ast

    offenders = []
    for folder in ("constructs_lib", "service", "apps", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                              if n == "cdktf" or n.startswith(("cdktf.", "cdktf_"))]
    assert offenders == []
