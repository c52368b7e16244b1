"""The Cloud Functions (gen2) entry point, run for real: functions-framework serves
`main.py:synth_http` from a source directory laid out as the platform uploads it, in a
subprocess on a loopback port, and a client does upload -> train -> sample over HTTP with
a key made by `synthctl keys create`. Storage is the GCS emulator; metadata is the
Firestore emulator."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, stop_server

from .conftest import BUCKET, REPO, start

pytestmark = pytest.mark.slow

# functions-framework's own CLI, minus this checkout's editable install: inside the
# subprocess only the uploaded source directory can provide `service` and `constructs_lib`,
# as on Cloud Functions.
_RUN_FRAMEWORK = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path
                    if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks
                     if not getattr(h, "__module__", "").startswith("__editable__")]
sys.path_importer_cache.clear()
from functions_framework._cli import _cli
sys.argv[0] = "functions-framework"
_cli()
"""


def function_source(target: Path) -> Path:
    """The function's source root, staged exactly as the GCP construct uploads it."""
    from constructs_lib.gcp.source import stage_function_source

    return stage_function_source(target)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, gcs_emulator, firestore_emulator):
    """(base URL, admin key, storage URL) of the function under functions-framework."""
    root = tmp_path_factory.mktemp("function")
    source = function_source(root / "source")
    storage_url = f"gs://{BUCKET}/fn-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "SYNTH_DATA_DIR": str(root / "data"),
        "SYNTH_STORAGE_URL": storage_url,
        "SYNTH_METADATA_URL": f"firestore://fn-{uuid.uuid4().hex[:8]}",
        "SYNTH_SYNTHESIZERS": "gaussian_copula",
        "SYNTH_INLINE_MAX_ROWS": "100",
        "SYNTH_RATE_LIMIT_PER_SECOND": "1000",
        "SYNTH_RATE_LIMIT_BURST": "1000",
        "WORKERS": "1",
        "THREADS": "4",
    }
    env.pop("PYTHONPATH", None)
    created = subprocess.run(
        [sys.executable, "-m", "synthdata_service.cli", "keys", "create", "--scope", "admin",
         "--name", "bootstrap"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sk_")
    port = free_port()
    process = start([sys.executable, "-c", _RUN_FRAMEWORK, "--source", str(source / "main.py"),
                     "--target", "synth_http", "--host", "127.0.0.1", "--port", str(port)],
                    port, root / "functions-framework.log", timeout=90, cwd=source, env=env)
    yield f"http://127.0.0.1:{port}", key, storage_url
    stop_server(process)


def _wait(client: httpx.Client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").raise_for_status().json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


def test_upload_train_and_sample_round_trip_through_functions_framework(deployed):
    base, key, storage_url = deployed
    table = (REPO / "examples" / "data" / "diamonds.csv").read_text().splitlines()[:301]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"},
                      timeout=120) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/v1/models").status_code == 200
        assert httpx.get(f"{base}/v1/models").status_code == 401  # no key, no entry

        dataset = client.post("/v1/datasets", files={
            "file": ("diamonds.csv", "\n".join(table).encode(), "text/csv")})
        assert dataset.status_code == 201, dataset.text
        assert dataset.json()["n_rows"] == 300
        created = client.post("/v1/models", json={
            "dataset_id": dataset.json()["id"], "synthesizer": "gaussian_copula",
            "parameters": {"default_distribution": "norm"}})
        assert created.status_code == 202, created.text
        assert _wait(client, created.json()["job_id"])["status"] == "succeeded"
        model_id = created.json()["id"]

        inline = client.post(f"/v1/models/{model_id}/samples",
                             json={"num_rows": 25, "seed": 7, "format": "json"})
        assert inline.status_code == 200, inline.text
        rows = inline.json()["rows"]
        assert len(rows) == 25 and set(rows[0]) == set(table[0].split(","))
        again = client.post(f"/v1/models/{model_id}/samples",
                            json={"num_rows": 25, "seed": 7, "format": "json"}).json()["rows"]
        assert again == rows  # a seed reproduces its rows

        streamed = client.post(f"/v1/models/{model_id}/samples", json={
            "num_rows": 2_000, "seed": 1, "format": "csv", "delivery": "stream"})
        assert streamed.status_code == 200, streamed.text
        assert streamed.text.count("\n") == 2_001

        linked = client.post(f"/v1/models/{model_id}/samples",
                             json={"num_rows": 500, "seed": 2, "format": "csv"})
        assert linked.status_code == 202, linked.text  # past the inline limit: a file
        assert _wait(client, linked.json()["job_id"])["status"] == "succeeded"
        sample = client.get(f"/v1/samples/{linked.json()['id']}").json()
        # Emulator credentials cannot sign GCS URLs, so the link is the service's own.
        assert sample["download_url"].startswith(f"{base}/v1/samples/")
        download = httpx.get(sample["download_url"], timeout=60)
        assert download.status_code == 200 and download.text.count("\n") == 501

        ready = client.get("/readyz").json()
        assert ready["checks"]["storage"] == ready["checks"]["metadata"] == "ok"

    from synthdata_service.backends.gcs_storage import GcsStorage

    keys = GcsStorage.from_url(storage_url).list_keys()
    assert any(k.startswith("datasets/") for k in keys)
    assert any(k.startswith("models/") for k in keys), keys
