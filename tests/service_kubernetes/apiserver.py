"""A loopback stand-in for the Kubernetes API server and a kubelet, for the `k8s://` runner.

No API server can run here (no kube-apiserver, kind or k3s in the registries), so these
tests talk to `LoopbackApiServer`: an HTTP server on 127.0.0.1 that answers the endpoints
the runner and `ensure-secrets` use as the API server does - bearer-token authentication
(401 without), Jobs validated against the Kubernetes OpenAPI schema in strict mode (422
`Invalid` otherwise), 409 `AlreadyExists` for a name taken, 404 `Status` objects, label
selectors, the Job controller's defaulting and labels (`job-name`, `controller-uid`),
Pods with their container statuses, and Secrets (create / read / merge-patch).

`Kubelet` plays the Job controller and the nodes: it starts each Job's pods as real
processes running the container's command and arguments with the container's environment
(literal values, `secretKeyRef`s read from the server's Secrets, `$(VAR)` references
expanded, `JOB_COMPLETION_INDEX` for Indexed Jobs; `python` is this interpreter), honours
completions, parallelism, backoffLimit / backoffLimitPerIndex and the podFailurePolicy's
exit-code rules, and writes the Job's status and conditions back. `faults` makes the next
pods of a job (or of one completion index) die without running (an OOM kill:
reason `OOMKilled`, exit 137).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate

TOKEN = "loopback-test-token"
SCHEMA_VERSION = "1.37.0"
_JOBS = re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?$")
_PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")
_SECRETS = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets(?:/([^/]+))?$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def matches(labels: dict[str, str], selector: str) -> bool:
    """Kubernetes equality-based label selectors: `k`, `k=v`, `k==v`, `k!=v`, `!k`."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


@dataclass
class State:
    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)


class LoopbackApiServer:
    """The API server's Job, Pod and Secret endpoints on 127.0.0.1."""

    def __init__(self) -> None:
        self.state = State()
        self.fail_next: list[tuple[str, int]] = []  # (method, status) to answer next
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                with server.state.lock:
                    server.state.requests.append((method, parts.path))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._reply(401, _status(401, "Unauthorized", "Unauthorized"))
                for index, (fail_method, code) in enumerate(server.fail_next):
                    if fail_method == method:
                        server.fail_next.pop(index)
                        return self._reply(code, _status(code, "InternalError",
                                                         "injected failure"))
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                body = self._body() if method in ("POST", "PATCH", "PUT") else {}
                code, answer = server.route(method, parts.path, query, body)
                self._reply(code, answer)

            def do_GET(self):  # noqa: N802
                self._handle("GET")

            def do_POST(self):  # noqa: N802
                self._handle("POST")

            def do_PATCH(self):  # noqa: N802
                self._handle("PATCH")

            def do_DELETE(self):  # noqa: N802
                self._handle("DELETE")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> LoopbackApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "loopback",
            "clusters": [{"name": "loopback", "cluster": {"server": self.url}}],
            "users": [{"name": "runner", "user": {"token": TOKEN}}],
            "contexts": [{"name": "loopback",
                          "context": {"cluster": "loopback", "user": "runner"}}],
        }))
        return path

    # -- routing ---------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, str],
              body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if match := _JOBS.match(path):
            return self._jobs(method, match[1], match[2], query, body)
        if match := _PODS.match(path):
            if method != "GET":
                return 405, _status(405, "MethodNotAllowed", f"{method} pods")
            return 200, self._list("PodList", self.state.pods, match[1],
                                   query.get("labelSelector", ""))
        if match := _SECRETS.match(path):
            return self._secrets(method, match[1], match[2], body)
        return 404, _status(404, "NotFound", f"the server could not find {path}")

    def _list(self, kind: str, store: dict, namespace: str, selector: str) -> dict[str, Any]:
        with self.state.lock:
            items = [copy.deepcopy(o) for (ns, _), o in sorted(store.items())
                     if ns == namespace and matches(o["metadata"].get("labels", {}), selector)]
        return {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                "items": items}

    def _jobs(self, method: str, namespace: str, name: str | None, query: dict[str, str],
              body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.state
        if method == "GET" and name is None:
            listing = self._list("JobList", state.jobs, namespace,
                                 query.get("labelSelector", ""))
            listing["apiVersion"] = "batch/v1"
            return 200, listing
        if method == "GET":
            with state.lock:
                job = state.jobs.get((namespace, name))
            if job is None:
                return 404, _status(404, "NotFound", f'jobs.batch "{name}" not found')
            return 200, copy.deepcopy(job)
        if method == "DELETE":
            with state.lock:
                job = state.jobs.pop((namespace, name), None)
                if job is None:
                    return 404, _status(404, "NotFound", f'jobs.batch "{name}" not found')
                job["metadata"]["deletionTimestamp"] = _now()
                for key, pod in list(state.pods.items()):
                    if pod["metadata"]["labels"].get("job-name") == name and key[0] == namespace:
                        pod["metadata"]["deletionTimestamp"] = _now()
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                         "details": {"name": name, "group": "batch", "kind": "jobs",
                                     "uid": job["metadata"]["uid"]}}
        if method != "POST" or name is not None:
            return 405, _status(405, "MethodNotAllowed", f"{method} {name}")
        return self._create_job(namespace, body)

    def _create_job(self, namespace: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        meta = body.get("metadata", {})
        name = meta.get("name", "")
        if meta.get("namespace", namespace) != namespace:
            return 400, _status(400, "BadRequest", "the namespace of the object does not "
                                "match the namespace on the request")
        if body.get("apiVersion") != "batch/v1" or body.get("kind") != "Job":
            return 400, _status(400, "BadRequest", "expected a batch/v1 Job")
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", name):
            return 422, _status(422, "Invalid", f'Job.batch "{name}" is invalid: '
                                "metadata.name: a lowercase RFC 1123 label of at most 63 "
                                "characters")
        try:
            kubernetes_validate.validate(body, SCHEMA_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return 422, _status(422, "Invalid", f'Job.batch "{name}" is invalid: {exc}')
        with self.state.lock:
            if (namespace, name) in self.state.jobs:
                return 409, _status(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
            job = copy.deepcopy(body)
            uid = str(uuid.uuid4())
            job["metadata"].update(namespace=namespace, uid=uid, resourceVersion="1",
                                   creationTimestamp=_now())
            spec = job["spec"]
            spec.setdefault("completions", 1)
            spec.setdefault("parallelism", 1)
            spec.setdefault("completionMode", "NonIndexed")
            if "backoffLimitPerIndex" not in spec:
                spec.setdefault("backoffLimit", 6)
            controller = {"controller-uid": uid, "batch.kubernetes.io/controller-uid": uid,
                          "job-name": name, "batch.kubernetes.io/job-name": name}
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            template_meta = spec["template"].setdefault("metadata", {})
            template_meta["labels"] = {**template_meta.get("labels", {}), **controller}
            job["status"] = {}
            self.state.jobs[(namespace, name)] = job
        return 201, copy.deepcopy(job)

    def _secrets(self, method: str, namespace: str, name: str | None,
                 body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.state
        with state.lock:
            if method == "POST" and name is None:
                name = body.get("metadata", {}).get("name", "")
                if (namespace, name) in state.secrets:
                    return 409, _status(409, "AlreadyExists",
                                        f'secrets "{name}" already exists')
                secret = {**copy.deepcopy(body), "kind": "Secret", "apiVersion": "v1"}
                secret["metadata"] = {**secret["metadata"], "namespace": namespace,
                                      "uid": str(uuid.uuid4())}
                state.secrets[(namespace, name)] = secret
                return 201, copy.deepcopy(secret)
            secret = state.secrets.get((namespace, name))
            if secret is None:
                return 404, _status(404, "NotFound", f'secrets "{name}" not found')
            if method == "GET":
                return 200, copy.deepcopy(secret)
            if method == "PATCH":
                secret["data"] = {**secret.get("data", {}), **body.get("data", {})}
                return 200, copy.deepcopy(secret)
        return 405, _status(405, "MethodNotAllowed", method)

    # -- helpers for the tests ---------------------------------------------------------

    def put_secret(self, namespace: str, name: str, values: dict[str, str]) -> None:
        data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
        with self.state.lock:
            self.state.secrets[(namespace, name)] = {
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "namespace": namespace}, "data": data}

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        with self.state.lock:
            secret = self.state.secrets.get((namespace, name))
        if secret is None or key not in secret.get("data", {}):
            return None
        return base64.b64decode(secret["data"][key]).decode()

    def jobs(self, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        return self._list("JobList", self.state.jobs, namespace, selector)["items"]


class Kubelet:
    """Runs the server's Jobs' pods as local processes and reports their status."""

    def __init__(self, server: LoopbackApiServer, *, log_dir: Path,
                 extra_env: dict[str, str] | None = None, runtime: str = "thread") -> None:
        """runtime: 'process' runs each pod's command as a process of its own; 'thread'
        calls the worker's entry point (`synthdata_service.jobs.kubernetes.main`) with the
        pod's arguments and environment on a thread of this process - the same code
        path without paying a cold Python start per pod."""
        self.server = server
        self.runtime = runtime
        self.log_dir = log_dir
        self.extra_env = dict(extra_env or {})
        self.faults: dict[str, list[tuple[str, int]]] = defaultdict(list)
        """Job id -> how its next pods die, in order (e.g. `[("OOMKilled", 137)]`)."""
        self.index_faults: dict[int, list[tuple[str, int]]] = defaultdict(list)
        """Completion index -> how the next pods of that index (any Indexed Job) die."""
        self.started: list[str] = []
        self._running: dict[tuple[str, str], subprocess.Popen] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="kubelet")

    def start(self) -> Kubelet:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for process in list(self._running.values()):
            process.kill()

    # -- the control loop --------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            state = self.server.state
            with state.lock:
                jobs = [(k, j) for k, j in state.jobs.items()]
            for key, job in jobs:
                self._sync(key, job)
            self._reap_deleted()

    def _pods_of(self, namespace: str, name: str) -> list[dict[str, Any]]:
        with self.server.state.lock:
            return [p for (ns, _), p in self.server.state.pods.items()
                    if ns == namespace and p["metadata"]["labels"].get("job-name") == name]

    def _sync(self, key: tuple[str, str], job: dict[str, Any]) -> None:
        spec, status = job["spec"], job["status"]
        if any(c["type"] in ("Complete", "Failed") for c in status.get("conditions", [])):
            return
        namespace, name = key
        pods = self._pods_of(namespace, name)
        indexed = spec.get("completionMode") == "Indexed"
        active = [p for p in pods if p["status"]["phase"] in ("Pending", "Running")]
        succeeded = {p["metadata"]["annotations"].get("index", "0") for p in pods
                     if p["status"]["phase"] == "Succeeded"}
        failed = [p for p in pods if p["status"]["phase"] == "Failed"]
        verdict = self._verdict(spec, pods, failed, succeeded, indexed)
        with self.server.state.lock:
            status.update(active=len(active), succeeded=len(succeeded), failed=len(failed))
            if indexed:
                status["completedIndexes"] = ",".join(sorted(succeeded, key=int))
            if verdict and not active:
                status["conditions"] = [{"type": verdict[0], "status": "True",
                                         "reason": verdict[1], "message": verdict[2],
                                         "lastTransitionTime": _now()}]
                return
        if verdict:
            return
        running_indexes = {p["metadata"]["annotations"].get("index", "0") for p in active}
        room = spec["parallelism"] - len(active)
        for index in range(spec["completions"]):
            if room <= 0:
                break
            label = str(index)
            if label in succeeded or label in running_indexes:
                continue
            if not indexed and (succeeded or active):
                break
            if indexed and self._index_failures(failed, label) > spec.get(
                    "backoffLimitPerIndex", 6):
                continue
            self._start_pod(namespace, job, index if indexed else None)
            room -= 1

    @staticmethod
    def _index_failures(failed: list[dict[str, Any]], label: str) -> int:
        return sum(1 for p in failed if p["metadata"]["annotations"].get("index") == label)

    def _verdict(self, spec, pods, failed, succeeded, indexed) -> tuple[str, str, str] | None:
        rules = spec.get("podFailurePolicy", {}).get("rules", [])
        for pod in failed:
            code = pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"]
            for rule in rules:
                exit_codes = rule.get("onExitCodes")
                if exit_codes and code in exit_codes["values"] and rule["action"] == "FailJob":
                    return ("Failed", "PodFailurePolicy",
                            f"Container job for pod {pod['metadata']['name']} failed with "
                            f"exit code {code} matching FailJob rule at index 1")
        if indexed:
            limit = spec.get("backoffLimitPerIndex", 6)
            failed_indexes = sorted({p["metadata"]["annotations"]["index"] for p in failed
                                     if self._index_failures(failed, p["metadata"][
                                         "annotations"]["index"]) > limit
                                     or self._fail_index(rules, p)}, key=int)
            done = len(succeeded) + len(failed_indexes) == spec["completions"]
            if failed_indexes and done:
                return ("Failed", "FailedIndexes",
                        f"Job has failed indexes: {','.join(failed_indexes)}")
        elif len(failed) > spec.get("backoffLimit", 6):
            return ("Failed", "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit")
        if len(succeeded) >= spec["completions"]:
            return ("Complete", "CompletionsReached", "Reached expected number of succeeded "
                    "pods")
        return None

    @staticmethod
    def _fail_index(rules, pod) -> bool:
        code = pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"]
        return any(r.get("action") == "FailIndex" and code in r["onExitCodes"]["values"]
                   for r in rules if r.get("onExitCodes"))

    def _reap_deleted(self) -> None:
        with self.server.state.lock:
            doomed = [k for k, p in self.server.state.pods.items()
                      if "deletionTimestamp" in p["metadata"]]
        for key in doomed:
            process = self._running.pop(key, None)
            if process is not None and process.poll() is None:
                process.terminate()
            with self.server.state.lock:
                self.server.state.pods.pop(key, None)

    # -- one pod -----------------------------------------------------------------------

    def environment(self, namespace: str, container: dict[str, Any],
                    index: int | None) -> dict[str, str] | None:
        """The container's environment as the kubelet builds it; None if a required
        Secret key is missing (the pod would not start: CreateContainerConfigError)."""
        env: dict[str, str] = {}
        if index is not None:
            env["JOB_COMPLETION_INDEX"] = str(index)
        for entry in container.get("env", []):
            if "value" in entry:
                env[entry["name"]] = re.sub(
                    r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                    lambda m: env.get(m[1], m[0]), entry["value"])
                continue
            ref = entry["valueFrom"]["secretKeyRef"]
            value = self.server.secret_value(namespace, ref["name"], ref["key"])
            if value is None:
                if ref.get("optional"):
                    continue
                return None
            env[entry["name"]] = value
        return env

    def _start_pod(self, namespace: str, job: dict[str, Any], index: int | None) -> None:
        template = job["spec"]["template"]
        container = template["spec"]["containers"][0]
        job_name = job["metadata"]["name"]
        suffix = uuid.uuid4().hex[:5]
        pod_name = f"{job_name}-{index}-{suffix}" if index is not None else \
            f"{job_name}-{suffix}"
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pod_name, "namespace": namespace,
                            "labels": dict(template["metadata"]["labels"]),
                            "annotations": {"index": str(index or 0)}},
               "status": {"phase": "Pending", "containerStatuses": [
                   {"name": container["name"], "state": {"waiting": {}}}]}}
        key = (namespace, pod_name)
        with self.server.state.lock:
            self.server.state.pods[key] = pod
        self.started.append(pod_name)
        job_id = job["metadata"].get("labels", {}).get("synthdata.io/job-id", "")
        faults = self.index_faults.get(index) if index is not None else None
        faults = faults or self.faults.get(job_id)
        if faults:
            reason, code = faults.pop(0)
            self._finish(key, code, reason)
            return
        env = self.environment(namespace, container, index)
        if env is None:
            self._finish(key, 1, "CreateContainerConfigError")
            return
        command = [*container.get("command", []), *container.get("args", [])]
        module = ["python", "-m", "synthdata_service.jobs.kubernetes"]
        if self.runtime == "thread" and command[:3] == module:
            with self.server.state.lock:
                pod["status"]["phase"] = "Running"
            threading.Thread(target=self._call, args=(key, command[3:], env), daemon=True,
                             name=f"pod-{pod_name}").start()
            return
        if command and command[0] == "python":
            command[0] = sys.executable
        process_env = {"PATH": os.environ.get("PATH", ""), **self.extra_env, **env,
                       "HOSTNAME": pod_name}
        log = (self.log_dir / f"{pod_name}.log").open("wb")
        process = subprocess.Popen(command, env=process_env, stdout=log,
                                   stderr=subprocess.STDOUT)
        self._running[key] = process
        with self.server.state.lock:
            pod["status"]["phase"] = "Running"
        threading.Thread(target=self._wait, args=(key, process, log), daemon=True).start()

    def _call(self, key, args: list[str], env: dict[str, str]) -> None:
        from synthdata_service.jobs.kubernetes import main

        try:
            code = main(args, environ=env)
        except Exception:  # noqa: BLE001 - a crashed container
            code = 1
        self._finish(key, code, "Completed" if code == 0 else "Error")

    def _wait(self, key, process: subprocess.Popen, log) -> None:
        code = process.wait()
        log.close()
        self._running.pop(key, None)
        self._finish(key, code, "Completed" if code == 0 else "Error")

    def _finish(self, key, code: int, reason: str) -> None:
        with self.server.state.lock:
            pod = self.server.state.pods.get(key)
            if pod is None:
                return
            pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
            pod["status"]["containerStatuses"][0]["state"] = {
                "terminated": {"exitCode": code, "reason": reason, "finishedAt": _now()}}

    def wait_for(self, predicate, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the cluster")
            time.sleep(0.1)
