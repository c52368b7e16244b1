"""`k8s://`: jobs as Kubernetes Jobs, through the official `kubernetes` client.

    k8s://<namespace>?template=/etc/synthdata/jobs/template.json&parallelism=2&part_rows=1000000

The Job template is the platform's (`constructs_lib.kubernetes.JobRunner` mounts it into
the API pods): service account, image, environment, requests and limits, retries, time to
live and security context are decided there. For each job the runner copies it, names the
copy after the job (`<prefix>-<job hex>-<attempt><r|p|j>`, so creating it twice is a
harmless 409), labels it with the job id and sets the container's arguments:

* `run-job <id>` - train, report or a sample up to `part_rows` rows: one pod claims the
  job (the same state transitions as every runner: `queued -> running` is conditional,
  so a job runs once however often it is started), stamps its heartbeat, and records
  progress and the result in the metadata store.
* a larger sample of a single table runs as an **Indexed Job** of
  `ceil(rows / part_rows)` pods (at most `parallelism` at once). Pod `i` samples
  `part_rows(num_rows, n)[i]` rows with seed `part_seed(seed, i)` - pairwise distinct
  seeds - through the engine's public sampling path and writes them as Parquet to
  `samples/<model>/<sample>.parts/part-<i>.parquet` with a marker beside it. When every
  part exists, a **join Job** (`join-parts <id>`) streams the parts in index order,
  row group by row group, through the service's own encoder into the final object, checks
  the row count, publishes the sample and deletes the parts. The joined result is a pure
  function of (model version, seed, rows, format, part_rows): parallelism, pod retries
  and restarts change nothing.

A reconciler thread in every API pod follows the Jobs (every `reconcile_seconds`): a Job
that failed (its retries spent, a deadline, a pod killed for memory) fails its job with
the reason the API server gives; a completed parts Job gets its join Job; a cancelled job
has its Job deleted; a queued job whose Job was never created (the API pod died in
between) gets it. It keeps no state of its own - everything is in the metadata store and
the API server - so an API pod restarting mid-job loses nothing.

The worker side is this module's command line, run by the Job's pods:

    python -m synthdata_service.jobs.kubernetes run-job|run-part|join-parts <job_id>
    python -m synthdata_service.jobs.kubernetes setup-bucket ... | ensure-secrets ...
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .._util import parse_time, utcnow, utcnow_iso
from ..backends.metadata import (
    ArtifactRecord,
    JobRecord,
    MetadataStore,
    ModelRecord,
)
from ..errors import BackendUnavailable
from .runner import Execute, JobRunner, dispatch_failed, dispatch_refused

__all__ = [
    "KubernetesJobRunner",
    "main",
    "part_key",
    "part_rows",
    "part_seed",
    "parts_for",
]

_log = logging.getLogger("synthdata_service.jobs.kubernetes")

LABEL_JOB = "synthdata.io/job-id"
LABEL_ROLE = "synthdata.io/job-role"
ENV_PARTS = "SYNTH_SAMPLE_PARTS"
ENV_K8S_JOB = "SYNTH_K8S_JOB"
INDEX_ENV = "JOB_COMPLETION_INDEX"
#: Exit status of a job that ended `failed` for a reason a retry cannot change (the
#: template's podFailurePolicy ends the Kubernetes Job on it at once).
EXIT_FAILED = 3
#: Seconds a job may sit `queued` without its Kubernetes Job before it is created again.
QUEUED_GRACE_SECONDS = 60
_TERMINAL = ("succeeded", "failed", "cancelled")
_SEED_SPACE = 2**31
_SEED_STRIDE = 0x5BD1E995  # odd, so index -> index * stride is a bijection modulo 2**31


# -- the split of a large sample: pure functions (the seed contract) ---------------------


def parts_for(num_rows: int, rows_per_part: int) -> int:
    """How many pods sample `num_rows`: ceil(num_rows / rows_per_part), at least 1."""
    return max(1, math.ceil(num_rows / rows_per_part))


def part_rows(num_rows: int, parts: int) -> list[int]:
    """Rows of each part: as equal as possible, the first ones one row larger."""
    base, extra = divmod(num_rows, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def part_seed(seed: int, index: int) -> int:
    """The seed of part `index`: part 0 keeps the request's seed; seeds of different
    indices differ for every index below 2**31 (multiplying by an odd stride is a
    bijection modulo 2**31), so no two parts draw the same stream."""
    return (seed + index * _SEED_STRIDE) % _SEED_SPACE


def part_key(model_id: str, artifact_id: str, index: int) -> str:
    return f"{parts_prefix(model_id, artifact_id)}/part-{index:05d}.parquet"


def parts_prefix(model_id: str, artifact_id: str) -> str:
    return f"samples/{model_id}/{artifact_id}.parts"


def _marker_key(model_id: str, artifact_id: str, index: int) -> str:
    return f"{parts_prefix(model_id, artifact_id)}/part-{index:05d}.json"


# -- the runner (API pods) ----------------------------------------------------------------


class KubernetesJobRunner(JobRunner):
    """Starts Kubernetes Jobs from the platform's template and follows them."""

    def __init__(self, namespace: str, *, template_path: str, execute: Execute,
                 store: MetadataStore | None = None, parallelism: int = 2,
                 rows_per_part: int = 1_000_000, reconcile: bool = True,
                 reconcile_seconds: float = 10.0,
                 queued_grace_seconds: float = QUEUED_GRACE_SECONDS,
                 heartbeat: Callable[[set[str]], None] | None = None,
                 heartbeat_seconds: float = 30.0, url: str = "") -> None:
        if not namespace:
            raise ValueError("SYNTH_JOBS_URL must name the namespace: k8s://<namespace>?"
                             "template=<path of the Job template>")
        self.namespace = namespace
        self.template_path = template_path
        self.parallelism = max(1, int(parallelism))
        self.rows_per_part = max(1, int(rows_per_part))
        self.url = url
        self.queued_grace_seconds = queued_grace_seconds
        self._execute = execute
        self._executor = getattr(execute, "__self__", None)
        self._store = store
        self._heartbeat = heartbeat
        self._heartbeat_seconds = heartbeat_seconds
        self._template: dict[str, Any] | None = None
        self._api: Any = None
        self._lock = threading.Lock()
        self._active: set[str] = set()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        if reconcile and store is not None:
            self._thread = threading.Thread(target=self._loop, args=(reconcile_seconds,),
                                            name="synth-k8s-reconciler", daemon=True)
            self._thread.start()

    @classmethod
    def from_url(cls, url: str, *, execute: Execute, heartbeat=None,
                 heartbeat_seconds: float = 30.0, store: MetadataStore | None = None,
                 ) -> KubernetesJobRunner:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        return cls(parts.netloc, template_path=query.get("template", ""), execute=execute,
                   store=store, parallelism=int(query.get("parallelism", 2)),
                   rows_per_part=int(query.get("part_rows", 1_000_000)),
                   reconcile=query.get("reconcile", "1") not in ("0", "false", "no"),
                   reconcile_seconds=float(query.get("reconcile_seconds", 10)),
                   queued_grace_seconds=float(query.get("queued_grace", QUEUED_GRACE_SECONDS)),
                   heartbeat=heartbeat, heartbeat_seconds=heartbeat_seconds, url=url)

    # The API server, lazily: constructing the runner must work without one.

    @property
    def api(self) -> Any:
        if self._api is None:
            from kubernetes import client, config

            configuration = client.Configuration()
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config(client_configuration=configuration)
            else:  # out of the cluster (and the tests): the kubeconfig in $KUBECONFIG, read
                # now (the client reads the variable once, when it is imported)
                config.load_kube_config(config_file=os.environ.get("KUBECONFIG"),
                                        client_configuration=configuration)
            configuration.retries = 2  # the reconciler's next round retries anyway
            api_client = client.ApiClient(configuration)
            self._api = (client.BatchV1Api(api_client), client.CoreV1Api(api_client))
        return self._api

    @property
    def template(self) -> dict[str, Any]:
        if self._template is None:
            if not self.template_path:
                raise ValueError("SYNTH_JOBS_URL has no template=<path>: the k8s:// runner "
                                 "starts Jobs from the platform's template only")
            with open(self.template_path, encoding="utf-8") as handle:
                self._template = json.load(handle)
        return self._template

    # Submitting.

    def submit(self, job_id: str) -> None:
        store = self._store
        job = store.get(JobRecord, job_id) if store is not None else None
        try:
            parts = self._parts(job) if job is not None else 1
            name = self._create(job_id, role="parts" if parts > 1 else "run",
                                attempt=job.attempts if job else 0, parts=parts)
        except Exception as exc:
            _log.exception("could not start a Kubernetes Job for job %s", job_id)
            raise dispatch_refused("the Kubernetes API", exc, backend="Kubernetes API") from exc
        if store is not None:
            note = (f"queued: Kubernetes Job {name}" if parts == 1 else
                    f"queued: Indexed Kubernetes Job {name} of {parts} parts")
            store.update(JobRecord, job_id, {"message": note[:500]}, expect={"status": "queued"})

    def _parts(self, job: JobRecord) -> int:
        """1, or the number of parts a large single-table sample is split into."""
        if job.kind != "sample" or self._store is None:
            return 1
        store = self._store
        artifact = store.get(ArtifactRecord, job.payload.get("artifact_id", ""))
        if artifact is None or artifact.num_rows <= self.rows_per_part:
            return 1
        model = store.get(ModelRecord, artifact.model_id)
        version = store.version(artifact.model_id, artifact.version) if model else None
        if model is None or version is None:
            return 1
        from ..engines import engine_for

        try:
            _engine, info = engine_for(model.synthesizer)
        except KeyError:
            return 1
        tables = version.sdv_metadata.get("tables", {})
        if info.kind != "single_table" or (len(tables) > 1 and not artifact.content.get("table")):
            return 1
        return parts_for(artifact.num_rows, self.rows_per_part)

    def job_name(self, job_id: str, role: str, attempt: int) -> str:
        prefix = self.template["metadata"].get("generateName", "synth-job-").rstrip("-")
        return f"{prefix[:36]}-{job_id.split('_', 1)[-1][:20]}-{attempt}{role[0]}"

    def manifest(self, job_id: str, *, role: str, attempt: int, parts: int = 1) -> dict:
        """The template, named and labelled for one job, with the worker's arguments."""
        body = copy.deepcopy(self.template)
        name = self.job_name(job_id, role, attempt)
        meta = body["metadata"]
        meta.pop("generateName", None)
        meta["name"] = name
        meta["namespace"] = self.namespace
        labels = {**meta.get("labels", {}), LABEL_JOB: job_id, LABEL_ROLE: role}
        meta["labels"] = labels
        pod_meta = body["spec"]["template"].setdefault("metadata", {})
        pod_meta["labels"] = {**pod_meta.get("labels", {}), LABEL_JOB: job_id,
                              LABEL_ROLE: role}
        container = body["spec"]["template"]["spec"]["containers"][0]
        command = {"run": "run-job", "parts": "run-part", "join": "join-parts"}[role]
        container["args"] = [command, job_id]
        env = [e for e in container.get("env", []) if e["name"] not in (ENV_K8S_JOB, ENV_PARTS)]
        env.insert(0, {"name": ENV_K8S_JOB, "value": name})
        if role in ("parts", "join"):
            env.insert(0, {"name": ENV_PARTS, "value": str(parts)})
        container["env"] = env
        spec = body["spec"]
        if role == "parts":
            spec["completionMode"] = "Indexed"
            spec["completions"] = parts
            spec["parallelism"] = min(parts, self.parallelism)
            spec["backoffLimitPerIndex"] = spec.pop("backoffLimit", 2)
            for rule in spec.get("podFailurePolicy", {}).get("rules", []):
                if rule.get("action") == "FailJob":  # one bad part fails its index only
                    rule["action"] = "FailIndex"
        return body

    def _create(self, job_id: str, *, role: str, attempt: int, parts: int = 1) -> str:
        from kubernetes.client.exceptions import ApiException

        body = self.manifest(job_id, role=role, attempt=attempt, parts=parts)
        batch, _core = self.api
        try:
            batch.create_namespaced_job(self.namespace, body, _request_timeout=(5, 30))
        except ApiException as exc:
            if exc.status != 409:  # 409: it exists already (another replica, a retry)
                raise
        return body["metadata"]["name"]

    # Running here (a Job's pod).

    def run_here(self, job_id: str) -> None:
        """Run the job in this process, stamping its heartbeat until it ends."""
        with self._lock:
            self._active.add(job_id)
        try:
            with _beating(self._heartbeat, job_id, self._heartbeat_seconds):
                self._execute(job_id)
        finally:
            with self._lock:
                self._active.discard(job_id)

    def beating(self, job_id: str) -> _beating:
        """A context that stamps `job_id`'s heartbeat while it lasts (parts, joins)."""
        return _beating(self._heartbeat, job_id, self._heartbeat_seconds)

    def active(self) -> set[str]:
        with self._lock:
            return set(self._active)

    def shutdown(self) -> None:
        self._closed.set()

    # Following the Jobs (API pods).

    def _loop(self, every: float) -> None:
        while not self._closed.wait(every):
            try:
                self.reconcile()
            except Exception:  # noqa: BLE001 - the next round tries again
                _log.warning("reconciling Kubernetes Jobs failed", exc_info=True)

    def _list(self) -> list[dict[str, Any]]:
        batch, _core = self.api
        response = batch.list_namespaced_job(self.namespace, label_selector=LABEL_JOB,
                                             _preload_content=False, _request_timeout=(5, 30))
        return json.loads(response.data).get("items", [])

    def reconcile(self) -> dict[str, int]:
        """One round: follow every Job of this runner; start what is missing."""
        counts = {"failed": 0, "joined": 0, "cancelled": 0, "created": 0, "beat": 0}
        store = self._store
        if store is None:
            return counts
        seen: dict[str, list[dict[str, Any]]] = {}
        for item in self._list():
            labels = item["metadata"].get("labels", {})
            seen.setdefault(labels.get(LABEL_JOB, ""), []).append(item)
        for job_id, items in seen.items():
            job = store.get(JobRecord, job_id)
            if job is None:
                continue
            latest = max(_attempt(item) for item in items)
            for item in items:
                if _attempt(item) < latest:  # an earlier attempt's Job: history only
                    if not _finished(item):
                        self._delete(item["metadata"]["name"])
                    continue
                outcome = self._follow(job, item, [i for i in items if _attempt(i) == latest])
                if outcome:
                    counts[outcome] += 1
                job = store.get(JobRecord, job_id) or job
        cutoff = utcnow() - timedelta(seconds=self.queued_grace_seconds)
        for job in store.query(JobRecord, {"status": "queued"}):
            created = parse_time(job.created_at)
            if job.id not in seen and created is not None and created < cutoff:
                try:
                    self.submit(job.id)
                except BackendUnavailable as exc:  # no request waits for it: the job says why
                    dispatch_failed(store, job.id, "the Kubernetes API", exc.__cause__ or exc)
                    continue
                counts["created"] += 1
        return counts

    def _follow(self, job: JobRecord, item: dict[str, Any], siblings: list) -> str | None:
        store = self._store
        labels = item["metadata"].get("labels", {})
        role = labels.get(LABEL_ROLE, "run")
        name = item["metadata"]["name"]
        conditions = _conditions(item)
        finished = _finished(item)
        if job.status in _TERMINAL:
            if job.status == "cancelled" and not finished:  # its pods wait or still run
                self._delete(name)
            return None
        if job.cancel_requested:
            if not finished:
                self._delete(name)
            if self._end(job, "cancelled", "cancelled"):
                return "cancelled"
            return None
        if "Failed" in conditions:
            condition = conditions["Failed"]
            reason = (f"Kubernetes Job {name} failed: {condition.get('reason', 'Failed')}"
                      f"{': ' + condition['message'] if condition.get('message') else ''}"
                      f"{self._pod_reasons(name)}")
            error = {"code": "worker_failed", "resumable": True,
                     "message": f"{reason}. POST /v1/jobs/{job.id}/retry to run it again"}
            if self._end(job, "failed", reason[:500], error=error):
                return "failed"
            return None
        if role == "parts" and "Complete" in conditions and job.status == "running":
            parts = int(next((e["value"] for e in item["spec"]["template"]["spec"]
                              ["containers"][0].get("env", []) if e["name"] == ENV_PARTS), 1))
            if not any(s["metadata"]["labels"].get(LABEL_ROLE) == "join" for s in siblings):
                self._create(job.id, role="join", attempt=_attempt(item), parts=parts)
                store.update(JobRecord, job.id, {"message": f"joining {parts} parts",
                                                 "heartbeat_at": utcnow_iso()},
                             expect={"status": "running"})
                return "joined"
        if role in ("parts", "join") and not finished and job.status == "running":
            # Pods of a split sample may wait for room in the cluster: their Job is alive.
            store.update(JobRecord, job.id, {"heartbeat_at": utcnow_iso()},
                         expect={"status": "running"})
            return "beat"
        return None

    def _end(self, job: JobRecord, status: str, message: str, *,
             error: dict | None = None) -> bool:
        """Finish a job the reconciler saw end outside its pods; undo partial writes."""
        store = self._store
        changes = {"status": status, "finished_at": utcnow_iso(), "message": message,
                   "error": error}
        if not store.update(JobRecord, job.id, changes,
                            expect={"status": ("queued", "running")}):
            return False
        if self._executor is not None:
            self._executor.cleanup(job, status, error)
            _delete_parts(self._executor.service, job)
        return True

    def _delete(self, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        batch, _core = self.api
        try:
            batch.delete_namespaced_job(name, self.namespace, propagation_policy="Background",
                                        _request_timeout=(5, 30))
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _pod_reasons(self, name: str) -> str:
        """Why the Job's pods ended, as the API server reports it (OOMKilled, exit codes)."""
        _batch, core = self.api
        try:
            response = core.list_namespaced_pod(self.namespace, label_selector=f"job-name={name}",
                                                _preload_content=False, _request_timeout=(5, 30))
        except Exception:  # noqa: BLE001 - the Job's own reason is still reported
            return ""
        reasons = []
        for pod in json.loads(response.data).get("items", []):
            for status in pod.get("status", {}).get("containerStatuses", []):
                state = status.get("state", {}).get("terminated") or \
                    status.get("lastState", {}).get("terminated")
                if state and state.get("exitCode", 0) != 0:
                    reasons.append(f"{pod['metadata']['name']}: {state.get('reason', 'Error')} "
                                   f"(exit {state.get('exitCode')})")
        return f" ({'; '.join(sorted(set(reasons))[:3])})" if reasons else ""


def _conditions(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in item.get("status", {}).get("conditions", [])
            if c.get("status") == "True"}


def _finished(item: dict[str, Any]) -> bool:
    conditions = _conditions(item)
    return "Complete" in conditions or "Failed" in conditions


def _attempt(item: dict[str, Any]) -> int:
    """The attempt a Job was created for: its name ends in `-<attempt><role letter>`."""
    tail = item["metadata"]["name"].rsplit("-", 1)[-1][:-1]
    return int(tail) if tail.isdigit() else 0


# -- the worker side (the Jobs' pods) -----------------------------------------------------


class _beating:
    """Stamp `job_id`'s heartbeat every `every` seconds while the block runs."""

    def __init__(self, heartbeat, job_id: str, every: float) -> None:
        self._heartbeat, self._job_id, self._every = heartbeat, job_id, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _beating:
        if self._heartbeat is not None:
            self._thread = threading.Thread(target=self._beat, name="synth-heartbeat",
                                            daemon=True)
            self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._heartbeat({self._job_id})
            except Exception:  # noqa: BLE001 - a missed beat is retried next period
                _log.warning("heartbeat for job %s failed", self._job_id, exc_info=True)

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def worker_service(environ: Mapping[str, str] | None = None):
    """The service as a Job's pod builds it: the runtime contract's environment, no
    streaming, and a runner that does not follow Jobs (only the API pods do)."""
    from ..core import Service
    from ..settings import Settings

    environ = os.environ if environ is None else environ
    url = environ.get("SYNTH_JOBS_URL", "")
    if url.startswith("k8s://"):
        parts = urlsplit(url)
        query = {**dict(parse_qsl(parts.query)), "reconcile": "0"}
        url = parts._replace(query=urlencode(query)).geturl()
    overrides: dict[str, Any] = {"allow_streaming": False}
    if url:
        overrides["jobs_url"] = url
    return Service(Settings.from_env(environ, **overrides), start_runner=False)


def run_job(job_id: str, service) -> int:
    """Claim and run one job (a Kubernetes Job's only pod); the exit status.

    A pod started again after its predecessor died (out of memory, node lost) finds the
    job `running` with the dead pod's heartbeat: it waits until that heartbeat is stale,
    then takes the job back - the transitions an SQS redelivery goes through."""
    from .aws import process_message

    stale = service.settings.job_stale_seconds
    deadline = time.monotonic() + 2 * stale + 60
    while True:
        try:
            outcome = process_message(service, job_id)
        except Exception:  # noqa: BLE001 - recorded on the job; the Job retries the pod
            _log.exception("job %s crashed in this pod", job_id)
            return 2
        if outcome != "claimed" or time.monotonic() > deadline:
            break
        time.sleep(max(1.0, min(15.0, stale / 4)))
    job = service.store.get(JobRecord, job_id)
    _log.info("job %s: %s; now %s", job_id, outcome, job.status if job else "missing")
    return EXIT_FAILED if job is not None and job.status == "failed" else 0


def _lookups(service, job: JobRecord):
    store = service.store
    artifact = store.get(ArtifactRecord, job.payload.get("artifact_id", ""))
    model = store.get(ModelRecord, artifact.model_id) if artifact else None
    version = store.version(artifact.model_id, artifact.version) if artifact else None
    return artifact, model, version


def _fail(service, job: JobRecord, code: str, message: str) -> None:
    error = {"code": code, "message": message}
    if service.store.update(JobRecord, job.id, {
            "status": "failed", "finished_at": utcnow_iso(), "message": message[:500],
            "error": error}, expect={"status": "running"}):
        service.executor.cleanup(job, "failed", error)
        _delete_parts(service, job)


def _delete_parts(service, job: JobRecord) -> None:
    if job.kind != "sample":
        return
    artifact = service.store.get(ArtifactRecord, job.payload.get("artifact_id", ""))
    if artifact is not None:
        service.storage.delete_prefix(parts_prefix(artifact.model_id, artifact.id))


def _cancelled(service, job_id: str) -> bool:
    job = service.store.get(JobRecord, job_id)
    return job is None or job.cancel_requested or job.status in _TERMINAL


def run_part(job_id: str, index: int, parts: int, service) -> int:
    """Sample part `index` of `parts` and store it with its marker."""
    from ..engines import EngineError
    from ..errors import ServiceError
    from ..output import encode

    store = service.store
    job = store.get(JobRecord, job_id)
    if job is None or _cancelled(service, job_id):
        return 0
    if job.status == "queued":
        now = utcnow_iso()
        store.update(JobRecord, job_id, {
            "status": "running", "started_at": now, "heartbeat_at": now,
            "attempts": job.attempts + 1, "message": f"sampling {parts} parts"},
            expect={"status": "queued", "cancel_requested": False})
        job = store.get(JobRecord, job_id)
    artifact, model, version = _lookups(service, job)
    if artifact is None or model is None or version is None:
        _fail(service, job, "model_deleted", "the model was deleted before sampling")
        return EXIT_FAILED
    content = artifact.content
    rows = part_rows(artifact.num_rows, parts)[index]
    seed = part_seed(int(content["seed"]), index)

    def frames() -> Iterator:
        for frame in service.sample_frames(model, version, num_rows=rows, seed=seed,
                                           conditions=content.get("conditions") or None,
                                           table=content.get("table"),
                                           options=content.get("options")):
            if _cancelled(service, job_id):
                raise _Cancelled
            yield frame

    try:
        with service.runner.beating(job_id):
            size = service.storage.put_stream(part_key(model.id, artifact.id, index),
                                              encode("parquet", frames()))
    except _Cancelled:
        return 0
    except (EngineError, ServiceError) as exc:
        _fail(service, job, getattr(exc, "code", "sampling_failed"),
              getattr(exc, "message", None) or str(exc))
        return EXIT_FAILED
    marker = {"index": index, "parts": parts, "rows": rows, "seed": seed, "size_bytes": size}
    service.storage.put_bytes(_marker_key(model.id, artifact.id, index),
                              json.dumps(marker).encode())
    done = sum(1 for key in service.storage.list_keys(parts_prefix(model.id, artifact.id))
               if key.endswith(".json"))
    current = store.get(JobRecord, job_id)
    progress = round(0.95 * done / parts, 4)
    if current is not None and current.status == "running" and current.progress < progress:
        store.update(JobRecord, job_id, {"progress": progress,
                                         "message": f"{done} of {parts} parts sampled"},
                     expect={"status": "running", "progress": current.progress})
    return 0


class _Cancelled(Exception):
    pass


def join_parts(job_id: str, parts: int, service) -> int:
    """Stream the parts, in index order, through the service's encoder into the sample."""
    from ..output import encode

    store, storage = service.store, service.storage
    job = store.get(JobRecord, job_id)
    if job is None:
        return 0
    artifact, model, version = _lookups(service, job)
    if job.status != "running" or job.cancel_requested:
        if job.status != "succeeded":
            _delete_parts(service, job)
        return 0
    if artifact is None or model is None or version is None:
        _fail(service, job, "model_deleted", "the model was deleted before the parts were joined")
        return EXIT_FAILED
    markers = []
    for index in range(parts):
        try:
            markers.append(json.loads(storage.get_bytes(_marker_key(model.id, artifact.id,
                                                                    index))))
        except KeyError:
            _fail(service, job, "part_missing", f"part {index} of {parts} was never written")
            return EXIT_FAILED
    total = sum(m["rows"] for m in markers)
    if total != artifact.num_rows:
        _fail(service, job, "part_rows_mismatch",
              f"the parts hold {total} rows, the request asked for {artifact.num_rows}")
        return EXIT_FAILED
    written = 0

    def frames() -> Iterator:
        nonlocal written
        import pyarrow.parquet as pq

        for index in range(parts):
            with storage.open_read(part_key(model.id, artifact.id, index)) as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=50_000):
                    frame = batch.to_pandas()
                    written += len(frame)
                    yield frame

    key = f"samples/{model.id}/{artifact.id}.{artifact.format}"
    with service.runner.beating(job_id):
        size = storage.put_stream(key, encode(artifact.format, frames()))
    if written != artifact.num_rows:
        storage.delete(key)
        _fail(service, job, "part_rows_mismatch",
              f"the joined sample holds {written} rows, the request asked for "
              f"{artifact.num_rows}")
        return EXIT_FAILED
    store.update(ArtifactRecord, artifact.id, {"status": "ready", "storage_key": key,
                                               "size_bytes": size, "num_rows": written})
    result = {"sample_id": artifact.id, "rows": written, "size_bytes": size,
              "download": f"/v1/samples/{artifact.id}", "parts": parts}
    if store.update(JobRecord, job_id, {"status": "succeeded", "finished_at": utcnow_iso(),
                                        "progress": 1.0, "message": "done", "result": result,
                                        "error": None}, expect={"status": "running"}):
        service.metrics.jobs.labels(job.kind, "succeeded").inc()
    storage.delete_prefix(parts_prefix(model.id, artifact.id))
    return 0


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The pods' command line; `environ` is the container's environment (default: this
    process's)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m synthdata_service.jobs.kubernetes",
                                     description="The pods of the k8s:// job runner.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run-job", "claim and run one job"),
                       ("run-part", "sample part $JOB_COMPLETION_INDEX of a large sample"),
                       ("join-parts", "join a large sample's parts into the result")):
        commands.add_parser(name, help=text).add_argument("job_id")
    from .kubernetes_setup import add_commands

    add_commands(commands)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if environ is None:  # a pod of its own: log to stdout
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if hasattr(args, "handler"):
        return args.handler(args)
    environ = os.environ if environ is None else environ
    service = worker_service(environ)
    try:
        if args.command == "run-job":
            return run_job(args.job_id, service)
        parts = int(environ.get(ENV_PARTS, "1"))
        if args.command == "run-part":
            return run_part(args.job_id, int(environ.get(INDEX_ENV, "0")), parts, service)
        return join_parts(args.job_id, parts, service)
    finally:
        service.close()


if __name__ == "__main__":
    sys.exit(main())
