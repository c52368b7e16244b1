"""`synthctl` end to end: bootstrap a key, serve with a real uvicorn, then train, generate
and report against it over HTTP; and the demo."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from .conftest import DIAMONDS

REPO = Path(__file__).resolve().parents[2]


def _synthctl(*args: str, env: dict | None = None, check: bool = True):
    return subprocess.run([sys.executable, "-m", "synthdata_service.cli", *args], cwd=REPO,
                          capture_output=True, text=True, env=env, check=check, timeout=300)


def _clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTH_")}
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_keys_create_prints_the_key_once_and_list_never_shows_it(tmp_path):
    created = _synthctl("keys", "create", "--scope", "admin", "--name", "ops",
                        "--data-dir", str(tmp_path), env=_clean_env())
    key = created.stdout.strip()
    assert key.startswith("sk_key_") and len(created.stdout.splitlines()) == 1
    listed = _synthctl("keys", "list", "--data-dir", str(tmp_path), env=_clean_env()).stdout
    key_id = key.split("_")[1] + "_" + key.split("_")[2]
    assert key_id in listed and key.rsplit("_", 1)[1] not in listed
    _synthctl("keys", "revoke", key_id, "--data-dir", str(tmp_path), env=_clean_env())
    assert "revoked" in _synthctl("keys", "list", "--data-dir", str(tmp_path),
                                  env=_clean_env()).stdout
    bad = _synthctl("keys", "create", "--scope", "root", "--data-dir", str(tmp_path),
                    env=_clean_env(), check=False)
    assert bad.returncode != 0 and "scope" in bad.stderr


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("served")
    key = _synthctl("keys", "create", "--scope", "admin", "--data-dir", str(data_dir),
                    env=_clean_env()).stdout.strip()
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "synthdata_service.cli", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--data-dir", str(data_dir), "--log-level", "warning"],
        cwd=REPO, env=_clean_env())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.2)
    yield url, key, data_dir
    process.terminate()
    process.wait(timeout=20)


def test_uvicorn_serves_the_api_with_auth(served):
    url, key, _ = served
    assert httpx.get(f"{url}/v1/datasets").status_code == 401
    ready = httpx.get(f"{url}/readyz").json()
    assert ready["status"] == "ready"
    assert httpx.get(f"{url}/v1/datasets", headers={"Authorization": f"Bearer {key}"}).json() == []


def test_keys_create_remote_issues_a_key_through_the_api(served):
    url, key, _ = served
    created = _synthctl("keys", "create", "--remote", "--scope", "read", "--owner", "team-r",
                        "--endpoint", url, env=_clean_env(SYNTH_API_KEY=key))
    reader = created.stdout.strip()
    assert reader.startswith("sk_key_")
    headers = {"Authorization": f"Bearer {reader}"}
    assert httpx.get(f"{url}/v1/datasets", headers=headers).status_code == 200
    assert httpx.get(f"{url}/v1/keys", headers=headers).status_code == 403


@pytest.mark.slow
def test_train_generate_report_against_a_running_service(served, tmp_path):
    url, key, _ = served
    env = _clean_env(SYNTH_API_KEY=key)
    subset = tmp_path / "diamonds.csv"
    pd.read_csv(DIAMONDS).head(500).to_csv(subset, index=False)
    model_id = _synthctl("train", str(subset), "--synthesizer", "gaussian_copula",
                         "--parameters", '{"default_distribution": "norm"}',
                         "--endpoint", url, env=env).stdout.strip()
    assert model_id.startswith("mdl_")
    output = tmp_path / "out.csv"
    generated = _synthctl("generate", model_id, "--rows", "1500", "--seed", "4", "--output",
                          str(output), "--endpoint", url, env=env)
    assert "wrote 1500 rows" in generated.stderr
    frame = pd.read_csv(output)
    assert len(frame) == 1500 and list(frame.columns)[:3] == ["carat", "cut", "color"]
    report = json.loads(_synthctl("report", model_id, "--endpoint", url, env=env).stdout)
    assert 0.5 < report["quality"] <= 1.0
    streamed = httpx.post(f"{url}/v1/models/{model_id}/samples",
                          headers={"Authorization": f"Bearer {key}"},
                          json={"num_rows": 60_000, "seed": 4, "format": "csv",
                                "delivery": "stream"}, timeout=120)
    assert streamed.headers.get("transfer-encoding") == "chunked"
    streamed_frame = pd.read_csv(io.BytesIO(streamed.content))
    assert len(streamed_frame) == 60_000
    assert streamed_frame.head(1500)["price"].tolist() == frame["price"].tolist()


def test_remote_commands_need_a_key():
    result = _synthctl("report", "mdl_x", env=_clean_env(), check=False)
    assert result.returncode == 2 and "SYNTH_API_KEY" in result.stderr


def test_remote_errors_are_reported_not_traced(served):
    url, key, _ = served
    result = _synthctl("report", "mdl_missing", "--endpoint", url,
                       env=_clean_env(SYNTH_API_KEY=key), check=False)
    assert result.returncode == 1
    assert "model_not_found" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_runs_the_whole_loop(tmp_path, capsys):
    from synthdata_service.demo import run

    result = run(tmp_path / "demo", rows=1000)
    frame = pd.read_csv(result["output"])
    assert len(frame) == 1000
    assert result["quality"] > 0.8
    printed = capsys.readouterr().out
    assert "quality score" in printed and str(result["output"]) in printed
    assert "service stopped" in printed


def test_keys_create_bootstraps_a_deployment_from_the_contract_variables(tmp_path, monkeypatch,
                                                                         postgres_url):
    """Without --data-dir, the key goes into the metadata store the contract names
    (here PostgreSQL, with the pepper from an environment variable), and the service
    configured the same way accepts it."""
    import uuid

    from constructs_lib import contract
    from synthdata_service.app import create_app
    from synthdata_service.backends import open_metadata
    from synthdata_service.settings import Settings

    from .conftest import TestClient, auth

    schema = f"synth_test_{uuid.uuid4().hex[:12]}"
    values = {
        contract.METADATA_URL: f"{postgres_url}?schema={schema}",
        contract.STORAGE_URL: (tmp_path / "objects").as_uri(),
        contract.API_KEYS_SECRET: "env://SYNTH_TEST_PEPPER",
        "SYNTH_TEST_PEPPER": "p" * 40,
    }
    try:
        key = _synthctl("keys", "create", "--scope", "admin",
                        env=_clean_env(**values)).stdout.strip()
        monkeypatch.setenv("SYNTH_TEST_PEPPER", values["SYNTH_TEST_PEPPER"])
        settings = Settings.from_env({**values, "SYNTH_DATA_DIR": str(tmp_path)},
                                     rate_limit_per_second=100.0, rate_limit_burst=100)
        with TestClient(create_app(settings)) as client:
            assert client.get("/v1/keys", headers=auth(key)).status_code == 200
            assert client.get("/readyz").json()["checks"]["metadata"] == "ok"
    finally:
        open_metadata(values[contract.METADATA_URL]).drop_schema()


def test_the_asgi_module_serves_under_plain_uvicorn(tmp_path):
    """What the image runs on Kubernetes / Cloud Run: `uvicorn synthdata_service.asgi:app`."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "synthdata_service.asgi:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=REPO, env=_clean_env(SYNTH_DATA_DIR=str(tmp_path / "k8s")))
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        assert httpx.get(f"{url}/readyz").json()["status"] == "ready"
        assert (tmp_path / "k8s" / "metadata.sqlite3").exists()
        assert httpx.get(f"{url}/v1/models").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_with_a_data_dir_still_honours_the_runtime_contract(tmp_path, monkeypatch):
    """`--data-dir` only moves the embedded default; a replica configured with shared
    backends must not fall back to a private SQLite and an in-process limiter."""
    from synthdata_service.cli import _settings

    monkeypatch.setenv("SYNTH_METADATA_URL", "postgresql://postgres@db.internal:5432/synth")
    monkeypatch.setenv("SYNTH_RATE_LIMIT_URL", "redis://cache.internal:6379/0")
    monkeypatch.setenv("SYNTH_STORAGE_URL", "s3://bucket/prefix")
    monkeypatch.setenv("SYNTH_MAX_ROWS", "1234")
    settings = _settings(tmp_path / "local")
    assert settings.metadata_url == "postgresql://postgres@db.internal:5432/synth"
    assert settings.rate_limit_url == "redis://cache.internal:6379/0"
    assert settings.storage_url == "s3://bucket/prefix" and settings.max_rows == 1234
    assert settings.data_dir == (tmp_path / "local").resolve()
    monkeypatch.delenv("SYNTH_METADATA_URL")
    assert _settings(tmp_path / "local").metadata_url.startswith(
        f"sqlite:///{(tmp_path / 'local').resolve()}")


def test_serve_prints_backend_urls_as_configured_with_passwords_hidden():
    from synthdata_service.cli import _redacted

    assert _redacted("sqlite:////tmp/x/metadata.sqlite3") == "sqlite:////tmp/x/metadata.sqlite3"
    assert _redacted("postgresql://app:s3cret@db:5432/synth") == "postgresql://app:***@db:5432/synth"
