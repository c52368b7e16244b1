"""Shared fixtures for the service tests: settings on a temp data dir, apps, keys, and one
trained GaussianCopula model reused by the sampling and report tests."""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

with warnings.catch_warnings():
    # Starlette 1.x nudges towards httpx2; the httpx-based TestClient is what we test with.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from synthdata_service.app import create_app
from synthdata_service.core import open_key_manager
from synthdata_service.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DIAMONDS = REPO / "examples" / "data" / "diamonds.csv"
CREDIT = REPO / "examples" / "data" / "credit_data.csv"


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = dict(rate_limit_per_second=1000.0, rate_limit_burst=1000, job_stale_seconds=30)
    values.update(overrides)
    return Settings.for_data_dir(tmp_path / "data", **values)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_job(client: TestClient, key: str, job_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/jobs/{job_id}", headers=auth(key))
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} stuck: {job}"
        time.sleep(0.1)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def upload(client: TestClient, key: str, data: bytes, filename: str = "table.csv",
           content_type: str = "text/csv", **params):
    return client.post("/v1/datasets", headers=auth(key), params=params,
                       files={"file": (filename, io.BytesIO(data), content_type)})


class Env:
    """A running app with an admin, write and read key."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        keys = open_key_manager(settings)
        self.admin = keys.issue(scope="admin", name="admin").secret
        self.writer = keys.issue(scope="write", name="writer").secret
        self.reader = keys.issue(scope="read", name="reader").secret
        self.app = create_app(settings)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.client.__enter__()

    @property
    def service(self):
        return self.app.state.services.get()

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def train(self, data: bytes, synthesizer: str = "gaussian_copula", parameters=None,
              filename: str = "table.csv") -> dict:
        dataset = upload(self.client, self.writer, data, filename=filename)
        assert dataset.status_code == 201, dataset.text
        created = self.client.post("/v1/models", headers=auth(self.writer), json={
            "dataset_id": dataset.json()["id"], "synthesizer": synthesizer,
            "parameters": parameters or {}})
        assert created.status_code == 202, created.text
        job = wait_job(self.client, self.writer, created.json()["job_id"])
        assert job["status"] == "succeeded", job
        return {**created.json(), "job": job, "dataset": dataset.json()}


@pytest.fixture
def env(tmp_path) -> Iterator[Env]:
    environment = Env(make_settings(tmp_path))
    yield environment
    environment.close()


@pytest.fixture(scope="session")
def diamonds() -> pd.DataFrame:
    return pd.read_csv(DIAMONDS)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, diamonds) -> Iterator[tuple[Env, dict]]:
    """One service with a GaussianCopula model trained on 2,000 diamonds (shared, read-only
    use: tests that change models train their own)."""
    environment = Env(make_settings(tmp_path_factory.mktemp("trained"), inline_max_rows=5_000))
    model = environment.train(csv_bytes(diamonds.head(2000)), "gaussian_copula",
                              {"default_distribution": "norm"}, filename="diamonds.csv")
    yield environment, model
    environment.close()
