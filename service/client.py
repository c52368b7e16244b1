"""A small synchronous HTTP client for the API (used by `synthctl` and the demo)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

__all__ = ["ApiError", "SynthClient"]


class ApiError(Exception):
    """A problem+json answer, with its stable code."""

    def __init__(self, status: int, problem: dict) -> None:
        self.status = status
        self.problem = problem
        self.code = problem.get("code", "http_error")
        super().__init__(f"{status} {self.code}: {problem.get('detail', '')} "
                         f"(request {problem.get('request_id', '-')})")


class SynthClient:
    def __init__(self, endpoint: str, api_key: str | None, *, timeout: float = 300.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=endpoint.rstrip("/"), headers=headers,
                                 timeout=timeout, transport=transport)

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:200]}
            raise ApiError(response.status_code, problem)
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._check(self.http.request(method, path, **kwargs))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def upload(self, path: Path, *, on_progress: Callable[[int, int], None] | None = None,
               name: str = "") -> dict:
        size = path.stat().st_size

        class _Reader:
            def __init__(self, handle) -> None:
                self.handle, self.done = handle, 0

            def read(self, n: int = -1) -> bytes:
                chunk = self.handle.read(n)
                self.done += len(chunk)
                if on_progress:
                    on_progress(self.done, size)
                return chunk

        with open(path, "rb") as handle:
            files = {"file": (path.name, _Reader(handle), "application/octet-stream")}
            params = {"name": name} if name else {}
            return self.request("POST", "/v1/datasets", files=files, params=params)

    def wait_job(self, job_id: str, *, on_progress: Callable[[dict], None] | None = None,
                 poll: float = 0.5, timeout: float = 3600) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.request("GET", f"/v1/jobs/{job_id}")
            if on_progress:
                on_progress(job)
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout} s")
            time.sleep(poll)

    def download(self, url: str, target: Path, *,
                 on_progress: Callable[[int, int], None] | None = None,
                 method: str = "GET", json: dict | None = None) -> int:
        """Stream a response body to `target` (bounded memory); return bytes written."""
        written = 0
        with self.http.stream(method, url, json=json) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            total = int(response.headers.get("content-length") or 0)
            with open(target, "wb") as handle:
                for chunk in response.iter_bytes(1 << 16):
                    handle.write(chunk)
                    written += len(chunk)
                    if on_progress:
                        on_progress(written, total)
        return written
