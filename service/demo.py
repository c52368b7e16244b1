"""`python -m synthdata_service.demo [OUTPUT_DIR]`: the whole service loop on the embedded default.

Starts the service (uvicorn subprocess on a free loopback port) in a temporary data
directory, creates an admin key the way an operator would (`synthctl keys create`),
uploads `examples/data/diamonds.csv`, trains GaussianCopula, writes 1,000 synthetic rows
to OUTPUT_DIR/synthetic_diamonds.csv, prints the quality score, and stops the service.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["SAMPLE_TABLE", "run"]

SAMPLE_TABLE = Path(__file__).resolve().parent.parent / "examples" / "data" / "diamonds.csv"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited early (code {process.returncode})")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the service did not answer {url}/healthz within {timeout} s")


def run(output_dir: str | Path, *, rows: int = 1_000, table: Path = SAMPLE_TABLE) -> dict:
    """Run the demo; return the paths and scores it printed."""
    from .client import SynthClient

    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="synth-demo-"))
    python = sys.executable
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTH_")}
    key = subprocess.run(
        [python, "-m", "synthdata_service.cli", "keys", "create", "--scope", "admin",
         "--name", "demo", "--data-dir", str(data_dir)],
        check=True, capture_output=True, text=True, env=env).stdout.strip()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [python, "-m", "synthdata_service.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir), "--log-level", "warning"], env=env)
    try:
        _wait_healthy(url, server)
        print(f"service up at {url} (data in {data_dir})")
        client = SynthClient(url, key)
        dataset = client.upload(table)
        print(f"uploaded {table.name}: {dataset['n_rows']} rows, {dataset['n_columns']} columns")
        model = client.request("POST", "/v1/models", json={
            "dataset_id": dataset["id"], "synthesizer": "gaussian_copula", "parameters": {}})
        job = client.wait_job(model["job_id"])
        if job["status"] != "succeeded":
            raise RuntimeError(f"training {job['status']}: {job['error']}")
        print(f"trained GaussianCopula in {job['result']['fit_seconds']:.1f} s")
        output = output_dir / f"synthetic_{table.stem}.csv"
        client.download(f"/v1/models/{model['id']}/samples", output, method="POST",
                        json={"num_rows": rows, "seed": 0, "format": "csv",
                              "delivery": "stream"})
        report = client.request("POST", f"/v1/models/{model['id']}/reports", json={})
        client.wait_job(report["job_id"])
        report = client.request("GET", f"/v1/models/{model['id']}/reports/{report['id']}")
        quality = report["quality"]["score"]
        print(f"wrote {rows} synthetic rows to {output}")
        print(f"quality score (SDMetrics): {quality:.3f}; diagnostic "
              f"{report['diagnostic']['score']:.3f}")
        print(f"service data (datasets, model, report plots) in {data_dir}")
        client.close()
        return {"output": output, "data_dir": data_dir, "quality": quality,
                "diagnostic": report["diagnostic"]["score"], "model_id": model["id"]}
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        print("service stopped")


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else "demo-output")
