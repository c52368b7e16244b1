"""The CDK Terrain app: stack names, lazy provider import, config and the summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import ROOT


def test_importing_the_app_does_not_import_the_google_provider():
    code = ("import sys, apps.terraform; "
            "sys.exit('cdktn_provider_google' in sys.modules)")
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          timeout=120).returncode == 0


def test_cdktf_json_runs_the_app_into_cdktf_out_without_provider_downloads():
    config = json.loads((ROOT / "cdktf.json").read_text())
    assert config["language"] == "python"
    assert config["app"] == ".venv/bin/python -m apps.terraform"
    assert config["output"] == "cdktf.out"
    assert config["terraformProviders"] == [] and config["terraformModules"] == []


def test_summary_lists_resources_by_type_and_outputs(app_synth):
    from apps.terraform import summarize

    text = summarize(app_synth.outdir)
    assert "synth-synthdemo-dev-gcp:" in text and "synth-synthdemo-prod-gcp:" in text
    assert "1 x google_cloud_run_v2_service" in text
    assert "backend: gcs synth-synthdemo-prod-tfstate-" in text
    assert "endpoint_url" in text


def test_summary_of_a_missing_outdir_says_what_to_do(tmp_path):
    from apps.terraform import summarize

    assert "npx cdktn synth" in summarize(tmp_path / "nothing")
