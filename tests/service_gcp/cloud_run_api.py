"""A loopback server that speaks the Cloud Run Admin API v2 calls the job runner makes.

There is no Cloud Run emulator. This server answers `POST /v2/{job}:run` with a
long-running Operation whose metadata is the new Execution, `GET /v2/{job}/executions`
with the documented list shape (paged by `pageSize` / `pageToken`), and `POST /token`
(an OAuth token endpoint, for credentials whose `token_uri` points here). It also does
what Cloud Run does with an execution: it runs the job's task - the job's command plus the
execution's override arguments, as a real process with `CLOUD_RUN_JOB`,
`CLOUD_RUN_EXECUTION`, `CLOUD_RUN_TASK_INDEX` / `_COUNT` / `_ATTEMPT` set - and retries a
task that exits non-zero up to the job's `max_retries`, then marks the execution complete.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class JobDefinition:
    """What a Cloud Run Job runs: `command` (argv), `env`, `max_retries`."""

    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    max_retries: int = 0
    cwd: str | None = None


@dataclass
class Execution:
    name: str
    job: str
    args: list[str]
    created: str
    completed: str | None = None
    succeeded: int = 0
    failed: int = 0
    attempts: list[int] = field(default_factory=list)
    """Exit status of each attempt, in order."""

    def resource(self) -> dict[str, Any]:
        body = {"name": self.name, "job": self.job, "createTime": self.created,
                "startTime": self.created, "taskCount": 1, "parallelism": 1,
                "runningCount": 0 if self.completed else 1,
                "succeededCount": self.succeeded, "failedCount": self.failed,
                "retriedCount": max(0, len(self.attempts) - 1)}
        if self.completed:
            body["completionTime"] = self.completed
        return body


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class CloudRunAdminApi:
    """The server. `jobs` maps `projects/<p>/locations/<r>/jobs/<name>` to definitions;
    `on_attempt(execution, attempt, process)` (optional) sees each task process start."""

    def __init__(self, jobs: dict[str, JobDefinition], *,
                 on_attempt: Callable[[Execution, int, subprocess.Popen], None] | None = None,
                 log_dir: str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        """`host` / `port`: where to listen (default: a free port on loopback; the image
        tests bind the podman bridge's gateway, which the task containers reach)."""
        self.jobs = jobs
        self.on_attempt = on_attempt
        self.log_dir = log_dir
        self.executions: list[Execution] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        """(method, path, headers with lowercase names) of every call."""
        self.token = f"ya29.{secrets.token_urlsafe(16)}"
        self.token_requests: list[str] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                api.record("POST", self.path, self.headers)
                if self.path == "/token":
                    api.token_requests.append(raw.decode())
                    self._answer(200, {"access_token": api.token, "token_type": "Bearer",
                                       "expires_in": 3600})
                    return
                status, body = api.run(self.path, json.loads(raw or b"{}"))
                self._answer(status, body)

            def do_GET(self):  # noqa: N802
                api.record("GET", self.path, self.headers)
                status, body = api.list(self.path)
                self._answer(status, body)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._serve = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> CloudRunAdminApi:
        self._serve.start()
        return self

    def __exit__(self, *exc) -> None:
        self.wait(timeout=120)
        self._server.shutdown()
        self._server.server_close()

    # The API.

    def record(self, method: str, path: str, headers: Any) -> None:
        self.requests.append((method, path, {k.lower(): v for k, v in headers.items()}))

    @staticmethod
    def _not_found(what: str) -> tuple[int, dict]:
        return 404, {"error": {"code": 404, "status": "NOT_FOUND",
                               "message": f"Resource '{what}' was not found"}}

    def run(self, path: str, body: dict) -> tuple[int, dict]:
        name = urlsplit(path).path.removeprefix("/v2/")
        if not name.endswith(":run"):
            return 400, {"error": {"code": 400, "message": f"unknown method {path}"}}
        job_name = name.removesuffix(":run")
        definition = self.jobs.get(job_name)
        if definition is None:
            return self._not_found(job_name)
        overrides = body.get("overrides") or {}
        containers = overrides.get("containerOverrides") or [{}]
        short = job_name.rsplit("/", 1)[-1]
        execution = Execution(name=f"{job_name}/executions/{short}-{secrets.token_hex(3)}",
                              job=short, args=list(containers[0].get("args") or []),
                              created=_now())
        with self._lock:
            self.executions.append(execution)
        thread = threading.Thread(target=self._execute, args=(definition, execution),
                                  daemon=True)
        self._threads.append(thread)
        thread.start()
        location = job_name.split("/jobs/")[0]
        return 200, {"name": f"{location}/operations/{secrets.token_hex(8)}", "done": False,
                     "metadata": {"@type": "type.googleapis.com/google.cloud.run.v2.Execution",
                                  **execution.resource()}}

    def list(self, path: str) -> tuple[int, dict]:
        parts = urlsplit(path)
        name = parts.path.removeprefix("/v2/")
        if not name.endswith("/executions"):
            return 400, {"error": {"code": 400, "message": f"unknown method {path}"}}
        job_name = name.removesuffix("/executions")
        if job_name not in self.jobs:
            return self._not_found(job_name)
        query = parse_qs(parts.query)
        size = int(query.get("pageSize", ["100"])[0])
        start = int(query.get("pageToken", ["0"])[0] or 0)
        with self._lock:
            mine = [e for e in reversed(self.executions) if e.name.startswith(job_name + "/")]
        page = mine[start:start + size]
        body: dict[str, Any] = {"executions": [e.resource() for e in page]}
        if start + size < len(mine):
            body["nextPageToken"] = str(start + size)
        return 200, body

    # What Cloud Run does with an execution.

    def _execute(self, definition: JobDefinition, execution: Execution) -> None:
        for attempt in range(definition.max_retries + 1):
            env = {**os.environ, **definition.env,
                   "CLOUD_RUN_JOB": execution.job,
                   "CLOUD_RUN_EXECUTION": execution.name.rsplit("/", 1)[-1],
                   "CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "1",
                   "CLOUD_RUN_TASK_ATTEMPT": str(attempt)}
            log = None
            if self.log_dir:
                log = open(os.path.join(  # noqa: SIM115 - closed below
                    self.log_dir, f"{execution.name.rsplit('/', 1)[-1]}-{attempt}.log"), "wb")
            process = subprocess.Popen([*definition.command, *execution.args], env=env,
                                       cwd=definition.cwd, stdout=log or subprocess.DEVNULL,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self.on_attempt is not None:
                self.on_attempt(execution, attempt, process)
            code = process.wait()
            if log is not None:
                log.close()
            execution.attempts.append(code)
            if code == 0:
                execution.succeeded = 1
                break
        else:
            execution.failed = 1
        execution.completed = _now()

    def wait(self, timeout: float = 120) -> bool:
        """Block until every execution started so far has completed."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return all(not t.is_alive() for t in self._threads)
