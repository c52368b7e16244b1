"""A cluster for the `k8s://` runner: the loopback API server, a kubelet running pods as
local processes, the platform's Job template (built by the construct's own function),
local storage shared by the "pods" and the "API pod", and a PostgreSQL schema per test
(the metadata store the Kubernetes platform uses)."""

from __future__ import annotations

import io
import json
import secrets
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from constructs_lib.kubernetes.defaults import PodSettings, env_literal, env_secret
from constructs_lib.kubernetes.templates import job_template
from synthdata_service.app import create_app
from synthdata_service.backends.postgres_metadata import PostgresMetadataStore
from synthdata_service.core import open_key_manager
from synthdata_service.settings import Settings
from tests.service.conftest import auth, wait_job

from .apiserver import Kubelet, LoopbackApiServer

REPO = Path(__file__).resolve().parents[2]
DIAMONDS = REPO / "examples" / "data" / "diamonds.csv"
NAMESPACE = "synth"
PEPPER_SECRET = "synth-api-pepper"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
#: Heartbeat staleness in these tests: short, so a retried pod takes a dead one's job soon.
STALE_SECONDS = 6


@dataclass
class Cluster:
    server: LoopbackApiServer
    kubelet: Kubelet
    template_path: Path
    contract: dict[str, str]
    data_dir: Path

    def jobs_url(self, **params: Any) -> str:
        query = {"template": str(self.template_path), "parallelism": 2,
                 "part_rows": 1_000_000, "reconcile_seconds": 0.25, **params}
        return f"k8s://{NAMESPACE}?{urlencode(query)}"


def template_for(contract: dict[str, str], *, max_attempts: int = 3) -> dict[str, Any]:
    """The Job template exactly as `JobRunner` builds it (its own function), with the
    environment of this test's backends."""
    env = [env_literal(k, v) for k, v in sorted(contract.items())]
    env.append(env_secret("SYNTH_API_KEY_PEPPER", PEPPER_SECRET, "pepper"))
    pod = PodSettings(image="synthdata-service:test", service_account="synth-jobs", env=env,
                      labels={"app.kubernetes.io/name": "synthdata",
                              "app.kubernetes.io/component": "job",
                              "app.kubernetes.io/part-of": "synthdata"})
    return job_template(namespace=NAMESPACE, name_prefix="synth-test-job",
                        labels={"app.kubernetes.io/name": "synthdata"}, pod=pod,
                        memory_mb=2048, cpu_millis=1000, max_attempts=max_attempts,
                        ttl_seconds=3600)


@pytest.fixture
def pg_url() -> Iterator[str]:
    schema = f"k8s_{uuid.uuid4().hex[:10]}"
    url = f"{PG_BASE}?schema={schema}"
    yield url
    PostgresMetadataStore.from_url(url).drop_schema()


@pytest.fixture
def pod_runtime() -> str:
    """How the kubelet runs pods: threads calling the worker's entry point; a test that
    needs real processes overrides this fixture."""
    return "thread"


@pytest.fixture
def cluster(tmp_path, pg_url, monkeypatch, pod_runtime) -> Iterator[Cluster]:
    server = LoopbackApiServer().start()
    pepper = secrets.token_hex(32)
    server.put_secret(NAMESPACE, PEPPER_SECRET, {"pepper": pepper})
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("SYNTH_API_KEY_PEPPER", pepper)  # what the API pod gets from it
    data = tmp_path / "shared"
    template_path = tmp_path / "template.json"
    contract = {
        "SYNTH_STORAGE_URL": (data / "objects").as_uri(),
        "SYNTH_METADATA_URL": pg_url,
        "SYNTH_API_KEYS_SECRET": "env://SYNTH_API_KEY_PEPPER",
        "SYNTH_SYNTHESIZERS": "gaussian_copula,ctgan",
        "SYNTH_MAX_ROWS": "1000000",
        "SYNTH_JOB_STALE_SECONDS": str(STALE_SECONDS),
        "SYNTH_DATA_DIR": str(tmp_path / "pod-data"),
        "HOME": str(tmp_path),
    }
    cluster = Cluster(server=server, kubelet=None, template_path=template_path,  # type: ignore
                      contract=contract, data_dir=data)
    contract["SYNTH_JOBS_URL"] = cluster.jobs_url()
    template_path.write_text(json.dumps(template_for(contract)))
    logs = tmp_path / "pod-logs"
    logs.mkdir()
    cluster.kubelet = Kubelet(server, log_dir=logs, runtime=pod_runtime).start()
    try:
        yield cluster
    finally:
        cluster.kubelet.stop()
        server.stop()


def api_settings(cluster: Cluster, **overrides) -> Settings:
    """The API pod's settings: the same contract, read from its environment."""
    values = dict(rate_limit_per_second=1000.0, rate_limit_burst=1000,
                  job_stale_seconds=STALE_SECONDS)
    values.update(overrides)
    return Settings.from_env(cluster.contract, data_dir=cluster.data_dir.parent / "api-data",
                             **values)


class ApiPod:
    """One replica of the API: the app with the k8s:// runner, and its keys."""

    def __init__(self, settings: Settings, key: str | None = None) -> None:
        self.settings = settings
        self.key = key or open_key_manager(settings).issue(scope="admin", name="t").secret
        self.app = create_app(settings)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.client.__enter__()

    @property
    def service(self):
        return self.app.state.services.get()

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/jobs/{job_id}", headers=auth(self.key))
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, job_id: str, timeout: float = 180) -> dict[str, Any]:
        return wait_job(self.client, self.key, job_id, timeout=timeout)

    def train(self, rows: int = 300, synthesizer: str = "gaussian_copula",
              parameters: dict | None = None, expect: int = 202) -> dict[str, Any]:
        frame = pd.read_csv(DIAMONDS).head(rows)
        data = frame.to_csv(index=False).encode()
        dataset = self.client.post("/v1/datasets", headers=auth(self.key),
                                   files={"file": ("diamonds.csv", io.BytesIO(data), "text/csv")})
        assert dataset.status_code == 201, dataset.text
        created = self.client.post("/v1/models", headers=auth(self.key), json={
            "dataset_id": dataset.json()["id"], "synthesizer": synthesizer,
            "parameters": parameters if parameters is not None else
            {"default_distribution": "norm"}})
        assert created.status_code == expect, created.text
        return {**created.json(), "headers": dict(created.headers)}


@pytest.fixture
def api(cluster) -> Iterator[ApiPod]:
    pod = ApiPod(api_settings(cluster))
    yield pod
    pod.close()
