"""Snapshot tests of synthesized platforms, for users' own CI - the way this project tests
itself.

A template holds values that change from run to run without changing what deploys:
asset hashes (they follow the service's source), image tags derived from them, the
engine's version stamp, temporary paths. `normalise` replaces them with stable
placeholders; `aws_template` / `terraform_template` synthesize one stack to plain JSON;
the pytest plugin adds a `template_snapshot` fixture (syrupy) that stores normalised
templates as readable JSON files.

    # conftest.py of your project
    pytest_plugins = ["constructs_lib.testing"]

    # test_platform.py
    from constructs_lib.testing import aws_template

    def test_my_platform(template_snapshot):
        assert aws_template(build_my_stack()) == template_snapshot

Needs the `testing` extra (`pip install 'synthdata-platform[testing]'`: pytest, syrupy).
Each engine is imported only by the function that uses it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = [
    "aws_template",
    "normalise",
    "template_snapshot",
    "terraform_template",
]

#: (pattern, placeholder) pairs, applied in order to the JSON text of a template.
_VOLATILE: tuple[tuple[re.Pattern[str], str], ...] = (
    # CDK asset hashes, image tags and Terraform asset hashes (sha256, 64 hex)
    (re.compile(r"[0-9a-f]{64}"), "<asset-hash>"),
    # CDK Terrain's TerraformAsset hashes (MD5, 32 hex): upper case in asset paths, lower
    # case in the GCP image tag derived from the staged build context
    (re.compile(r"[0-9A-F]{32}|(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])"), "<asset-hash>"),
    # a Lambda version's logical id ends in a hash of the function's configuration, which
    # includes the image asset's hash
    (re.compile(r"(?<=CurrentVersion[0-9A-F]{8})[0-9a-f]{32}"), "<asset-hash>"),
    # staged build contexts and bundles live in a temporary directory
    (re.compile(r"(?:/[^\"/\s]+)*/synthdata-build/(?:image|function)-[0-9a-f]{16}"),
     "<build-context>"),
)


def normalise(template: Any) -> Any:
    """`template` (a dict from either engine) with run-to-run noise replaced, keys sorted."""
    text = json.dumps(template, sort_keys=True)
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    data = json.loads(text)
    # cdktn stamps its own version into every stack's metadata
    metadata = data.get("//", {}).get("metadata") if isinstance(data, dict) else None
    if isinstance(metadata, dict) and "version" in metadata:
        metadata["version"] = "<version>"
    return data


def aws_template(stack: Any) -> dict[str, Any]:
    """The normalised CloudFormation template of an aws-cdk-lib `Stack`.

    Synthesizes through `aws_cdk.assertions.Template` (no `AWS::CDK::Metadata`). CDK's
    built-in CloudFormation validation runs here too and costs most of the time: build
    the stack on `App(builtin_cloud_formation_validation=False)` in tests and run
    cfn-lint on the template instead.
    """
    from aws_cdk.assertions import Template

    return normalise(Template.from_stack(stack).to_json())


def terraform_template(stack: Any) -> dict[str, Any]:
    """The normalised Terraform JSON of a CDK Terrain (`cdktn`) `TerraformStack`."""
    from cdktn import Testing

    return normalise(json.loads(Testing.synth(stack)))


def _snapshot_extension():
    from syrupy.extensions.json import JSONSnapshotExtension

    class TemplateSnapshotExtension(JSONSnapshotExtension):
        """Stores each snapshot as `__snapshots__/<test file>/<test name>.json`."""

        @classmethod
        def dirname(cls, *, test_location) -> str:
            return str(Path(test_location.filepath).parent / "__snapshots__"
                       / test_location.basename)

        def serialize(self, data, **kwargs):
            return super().serialize(normalise(data), **kwargs)

    return TemplateSnapshotExtension


try:  # the fixture exists only where pytest and syrupy are installed (the testing extra)
    import pytest

    @pytest.fixture
    def template_snapshot(snapshot):
        """syrupy's `snapshot`, storing normalised templates as JSON files."""
        return snapshot.use_extension(_snapshot_extension())
except ImportError:  # pragma: no cover - imported without the testing extra
    template_snapshot = None  # type: ignore[assignment]
