"""The AWS documentation's Python examples run as written: every block of docs/aws.md and
the README's blocks that use `constructs_lib.aws`.

Each runs in a fresh directory holding `platform.yaml` (the dev example spec), with CDK's
built-in template validation off (cfn-lint checks the templates elsewhere; it triples a
synth).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import aws_cdk
import pytest

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def python_blocks(path: Path, *, containing: str = "") -> list[tuple[str, str]]:
    text = path.read_text()
    return [(f"{path.name}:{text[:m.start()].count(chr(10)) + 2}", m.group(1))
            for m in _BLOCK.finditer(text) if containing in m.group(1)]


BLOCKS = [*python_blocks(ROOT / "docs" / "aws.md"),
          *python_blocks(ROOT / "README.md", containing="constructs_lib.aws")]


class _App(aws_cdk.App):
    def __init__(self, **props):
        props.setdefault("builtin_cloud_formation_validation", False)
        super().__init__(**props)


def test_the_aws_docs_have_examples():
    assert len([b for b in BLOCKS if b[0].startswith("aws.md")]) >= 3
    assert any(b[0].startswith("README.md") for b in BLOCKS)


@pytest.mark.parametrize("where,code", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_example_runs_as_written(where, code, tmp_path, monkeypatch):
    shutil.copy(ROOT / "examples" / "dev.yaml", tmp_path / "platform.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(aws_cdk, "App", _App)
    exec(compile(code, where, "exec"), {"__name__": "__main__"})
