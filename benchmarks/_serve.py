"""`synthctl serve` in a subprocess, with its own environment, for the benchmarks that
measure a running server from outside (upload memory, the load test)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

__all__ = ["REPO", "Served", "admin_key"]


def _env(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SYNTH_")}
    return {**base, **extra}


def admin_key(data_dir: Path, extra: dict[str, str] | None = None) -> str:
    return subprocess.run([sys.executable, "-m", "synthdata_service.cli", "keys", "create",
                           "--scope", "admin", "--data-dir", str(data_dir)], cwd=REPO,
                          env=_env(extra or {}), check=True, capture_output=True,
                          text=True).stdout.strip()


class Served:
    """A server on a free loopback port; `peak_mb` / `rss_mb` read its memory from /proc
    and `reset_peak` starts a new high-water mark (Linux `clear_refs`)."""

    def __init__(self, data_dir: Path, extra: dict[str, str] | None = None) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synthdata_service.cli", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--data-dir", str(data_dir), "--log-level", "warning"],
            cwd=REPO, env=_env(extra or {}), stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")

    def _status(self, field: str) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1)) / 1024

    def rss_mb(self) -> float:
        return self._status("VmRSS")

    def peak_mb(self) -> float:
        return self._status("VmHWM")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()
