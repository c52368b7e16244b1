"""`synthctl manifests`: the same objects as the Terraform stack, as YAML for kubectl /
GitOps, with the Helm releases as values files and an install script."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from constructs_lib.kubernetes.dependencies import CHARTS
from constructs_lib.kubernetes.manifests import KIND_ORDER, render
from synthdata_service.cli import app as synthctl

from .conftest import EXAMPLES, manifests


def _key(manifest: dict) -> str:
    return json.dumps(manifest, sort_keys=True)


def test_rendering_holds_exactly_the_stacks_objects_in_apply_order(onprem):
    objects, releases = render(onprem)
    assert sorted(map(_key, objects)) == sorted(map(_key, manifests(onprem)))
    ranks = [KIND_ORDER.index(o["kind"]) for o in objects]
    assert ranks == sorted(ranks)
    assert objects[0]["kind"] == "Namespace"
    assert {(r["chart"], r["version"]) for r in releases} == {
        (c.chart, c.version) for c in CHARTS.values()}


def test_the_cli_writes_the_stacks_objects_and_helm_values(onprem, tmp_path):
    result = CliRunner().invoke(synthctl, ["manifests", str(EXAMPLES[1]), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    directory = tmp_path / "synth-synthlab-dev-k8s"
    written = list(yaml.safe_load_all((directory / "manifests.yaml").read_text()))
    assert sorted(map(_key, written)) == sorted(map(_key, manifests(onprem)))
    objects, releases = render(onprem)
    for release in releases:
        values = yaml.safe_load((directory / "helm" / f"{release['name']}.values.yaml").read_text())
        assert values == release["values"]
    script = (directory / "helm" / "install.sh").read_text()
    assert script.count("helm upgrade --install") == len(releases)
    assert "--version 5.4.0" in script and "password" not in script.lower()


def test_the_cli_names_a_bad_spec_field(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\nkubernetes:\n  namespace: Not_A_Label\n")
    result = CliRunner().invoke(synthctl, ["manifests", str(spec), "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "kubernetes.namespace" in result.output
