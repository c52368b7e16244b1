"""checkov's Kubernetes checks on every app stack's objects (as `synthctl manifests` writes
them) and the Job the `k8s://` runner starts: no failure outside checkov/kubernetes.yaml."""

from __future__ import annotations

import json

import yaml

from constructs_lib.kubernetes.manifests import render
from tests.conftest import run_checkov

from .conftest import ROOT

CONFIG = ROOT / "checkov" / "kubernetes.yaml"


def test_skip_list_is_short_and_every_skip_has_a_reason():
    text = CONFIG.read_text()
    skips = yaml.safe_load(text)["skip-check"]
    assert len(skips) <= 4
    lines = text.splitlines()
    for check in skips:
        index = next(i for i, line in enumerate(lines) if line.strip() == f"- {check}")
        assert lines[index - 1].lstrip().startswith("#"), f"{check} has no reason above it"


def test_app_stacks_pass_checkov(app_synth, k8s_tmp):
    documents = []
    for template in app_synth.templates.values():  # one run over every stack (~10 s each)
        objects, _releases = render(template)
        [config] = [o for o in objects if "template.json" in o.get("data", {})]
        job = json.loads(config["data"]["template.json"])
        job["metadata"]["name"] = job["metadata"].pop("generateName") + "run"
        documents += [*objects, job]
    path = k8s_tmp / "stacks.yaml"
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    result = run_checkov(path, framework="kubernetes", config=CONFIG)
    summary = result.get("summary", {})
    assert summary.get("passed", 0) > 400, f"checkov checked almost nothing: {summary}"
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}"
              for c in result.get("results", {}).get("failed_checks", [])]
    assert failed == []
