"""`make api-contract`: schemathesis (`--checks all`, every phase including stateful) against
the service served by `synthctl serve` on loopback, with bounded examples.

    python -m tests.contract.run_schemathesis [--max-examples 20] [--postgres URL]

The service runs on a temporary data directory with an admin key, a dataset and a
trained model (so links from created resources lead somewhere); the rate limit is raised
out of the way. Exits with schemathesis' status: 0 means zero failures.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks._serve import REPO, Served, admin_key

CONFIG = Path(__file__).with_name("schemathesis.toml")
# The rate limits are raised out of the way: schemathesis sends thousands of requests.
_SETTINGS = {"SYNTH_RATE_LIMIT_PER_SECOND": "100000", "SYNTH_RATE_LIMIT_BURST": "100000",
             "SYNTH_AUTH_FAILURE_PER_SECOND": "100000", "SYNTH_AUTH_FAILURE_BURST": "100000",
             "SYNTH_MAX_UPLOAD_MB": "5", "SYNTH_MAX_CONCURRENT_UPLOADS": "8"}


def _seed_data(url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    data = (REPO / "examples" / "data" / "diamonds.csv").read_bytes()
    table = b"\n".join(data.splitlines()[:301]) + b"\n"
    dataset = httpx.post(f"{url}/v1/datasets", headers=headers, timeout=60,
                         files={"file": ("diamonds.csv", io.BytesIO(table), "text/csv")})
    dataset.raise_for_status()
    model = httpx.post(f"{url}/v1/models", headers=headers, timeout=60, json={
        "dataset_id": dataset.json()["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}}).json()
    for _ in range(600):
        job = httpx.get(f"{url}/v1/jobs/{model['job_id']}", headers=headers).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--postgres", help="run on PostgreSQL metadata (a base URL)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="synth-contract-") as tmp:
        data_dir = Path(tmp)
        extra = dict(_SETTINGS)
        if args.postgres:
            extra["SYNTH_METADATA_URL"] = f"{args.postgres}?schema=contract_{os.getpid()}"
        key = admin_key(data_dir, extra)
        with Served(data_dir, extra) as server:
            url = server.url
            _seed_data(url, key)
            command = [
                sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
                f"{url}/openapi.json", "--checks", "all", "--max-examples",
                str(args.max_examples), "--seed", str(args.seed),
                "--phases", "examples,coverage,fuzzing,stateful",
                "-H", f"Authorization: Bearer {key}", "--workers", "1",
                "--request-timeout", "60", "--no-color",
                "--report", "junit", "--report-dir", str(REPO / "schemathesis-report")]
            return subprocess.run(command, cwd=REPO).returncode


if __name__ == "__main__":
    sys.exit(main())
