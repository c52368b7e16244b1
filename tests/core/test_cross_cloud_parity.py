"""The behavioural parity test over every cloud: the same specs, built by a user app on
AWS, GCP, Azure and Kubernetes (each in its own process), show the same behaviour facts -
what `constructs_lib.facts.expected_facts(spec)` says each spec asks for - except where a
cloud lists a reasoned difference (`constructs_lib.facts.kubernetes.DIFFERENCES`).

The facts are read from each cloud's synthesized template, not from the spec the constructs
were given, so a cloud that ignores a field fails here: the specs below move every field
the facts cover away from its default, and the test first checks that they do."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from constructs_lib import PlatformSpec
from constructs_lib.facts import FACT_KEYS, expected_facts
from constructs_lib.facts.kubernetes import DIFFERENCES as KUBERNETES_DIFFERENCES
from constructs_lib.facts.kubernetes import expected as kubernetes_expected

ROOT = Path(__file__).resolve().parents[2]
CLOUDS = ("aws", "gcp", "azure", "kubernetes")

#: Azure's front ends end requests at 240 s (230 s for Functions) and keep logs 30-730 days;
#: Kubernetes leaves log retention to the cluster (any other value is refused).
SPECS = [
    {"name": "parity", "generator": {"timeout_seconds": 240}},  # otherwise the defaults
    {"name": "parity", "environment": "prod", "removal_policy": "retain",
     "generator": {"memory_mb": 4096, "timeout_seconds": 120, "concurrency": 8,
                   "min_instances": 1, "max_rows": 200000, "max_upload_mb": 50,
                   "synthesizers": ["gaussian_copula", "ctgan"]},
     "storage": {"retention_days": 14, "noncurrent_version_days": 3,
                 "encryption": "provider_managed", "access_logs": False},
     "api": {"rate_limit_per_second": 7, "burst": 11,
             "cors_origins": ["https://b.example.com", "https://a.example.com"]},
     "jobs": {"long_running": True, "max_attempts": 4, "memory_mb": 2048, "cpu": 1024},
     "monitoring": {"alarm_emails": ["oncall@example.com"],
                    "error_threshold": 9, "latency_threshold_ratio": 0.5},
     "network": {"vpc": True}},
    {"name": "parity", "environment": "staging", "removal_policy": "destroy",
     "generator": {"memory_mb": 2048, "timeout_seconds": 60},
     "jobs": {"long_running": False}},
    {"name": "parity",
     "generator": {"packaging": "source", "timeout_seconds": 200, "memory_mb": 2048},
     "api": {"auth": "iam"}, "monitoring": {"log_retention_days": 60}},
]

#: (cloud, spec index) -> the field that cloud refuses by name for that spec, and why.
REFUSED = {
    ("aws", 3): "generator.packaging",  # Lambda runs the image; no zip deploys (docs/aws.md)
    ("kubernetes", 3): "generator.packaging",  # a cluster runs the image
}


def _expected(cloud: str, spec: PlatformSpec) -> dict:
    return kubernetes_expected(spec) if cloud == "kubernetes" else expected_facts(spec)


def _facts(cloud: str, outdir: Path) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.core.cross_cloud_app", cloud, str(outdir)],
        input=json.dumps(SPECS), capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def found(tmp_path_factory) -> dict[str, list[dict]]:
    base = tmp_path_factory.mktemp("cross-cloud")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {cloud: pool.submit(_facts, cloud, base / cloud) for cloud in CLOUDS}
    return {cloud: future.result() for cloud, future in futures.items()}


def test_the_specs_move_every_fact_away_from_its_default():
    default = expected_facts(PlatformSpec(name="parity"))
    moved = {key for data in SPECS[1:]
             for key, value in expected_facts(PlatformSpec.from_dict(data)).items()
             if value != default[key]}
    always = {"versioned", "public_access_blocked", "point_in_time_recovery"}  # secure defaults
    assert moved == set(FACT_KEYS) - always


def _built(found: dict[str, list[dict]], index: int) -> dict[str, dict]:
    return {cloud: facts[index] for cloud, facts in found.items()
            if "refused" not in facts[index]}


def test_a_cloud_refuses_a_spec_only_where_the_refusal_is_written(found):
    refused = {(cloud, index): facts[index]["refused"] for cloud, facts in found.items()
               for index in range(len(SPECS)) if "refused" in facts[index]}
    assert refused == REFUSED


@pytest.mark.parametrize("index", range(len(SPECS)))
def test_every_cloud_shows_what_the_same_spec_asks_for(found, index):
    spec = PlatformSpec.from_dict(SPECS[index])
    wrong = {cloud: {key: (facts.get(key), _expected(cloud, spec)[key])
                     for key in FACT_KEYS if facts.get(key) != _expected(cloud, spec)[key]}
             for cloud, facts in _built(found, index).items()}
    assert {cloud: diff for cloud, diff in wrong.items() if diff} == {}


@pytest.mark.parametrize("index", range(len(SPECS)))
def test_the_clouds_differ_only_where_a_reason_is_written(found, index):
    built = _built(found, index)
    differing = {key for key in FACT_KEYS
                 if len({json.dumps(facts[key]) for facts in built.values()}) > 1}
    assert differing <= set(KUBERNETES_DIFFERENCES)
    serverless = [facts for cloud, facts in built.items() if cloud != "kubernetes"]
    assert len(serverless) >= 2 and all(facts == serverless[0] for facts in serverless)
