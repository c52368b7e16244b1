"""`sqs://`: jobs on AWS, outside the API request. Short jobs go to an SQS queue whose
worker Lambda runs them; jobs that cannot finish within that Lambda's timeout start an
ECS Fargate task from the same image.

    sqs://sqs.<region>.amazonaws.com/<account>/<queue>
        ?worker_timeout=900
        &ecs_cluster=<cluster ARN>&ecs_task_definition=<task definition ARN>
        &ecs_container=worker&ecs_subnets=subnet-a,subnet-b&ecs_security_groups=sg-1
        [&ecs_public_ip=true]

(values URL-encoded). The queue URL is `https://` + the part after `sqs://`. Without the
`ecs_*` parameters every job goes to the queue. `ecs_public_ip=true` gives each task a
public IP: the subnets are public ones (an internet gateway, no NAT) and the security
group admits nothing inbound.

Why a queue rather than an asynchronous self-invoke: SQS gives retries with a redrive
policy, a dead-letter queue the service consumes (so a crashed job ends `failed` with a
reason instead of `running` forever), backpressure through the event source's batch size
and concurrency, and a message body that is only a job id. The job's state machine in
the metadata store (conditional `queued -> running`) makes redelivery harmless.

The route is chosen from an estimate of the job's run time (`estimate_seconds`), from
rates measured on 2 vCPUs (see ../shared/NOTES.md): CTGAN 24 s of preprocessing plus
3.7 s per epoch at 30k rows x 18 columns, GaussianCopula seconds; time scales with
rows x columns. A job estimated above `HEADROOM` of the worker timeout, or one whose run
time cannot be estimated (a plug-in engine), goes to ECS when ECS is configured.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .._util import utcnow_iso
from ..backends._aws import BackendUnavailable, ClientFactory, aws_errors
from ..backends.metadata import (
    ArtifactRecord,
    DatasetRecord,
    JobRecord,
    MetadataStore,
    ModelRecord,
    ModelVersionRecord,
)
from .runner import Execute, JobRunner, dispatch_refused
from .runner import failure_reason as _reason

if TYPE_CHECKING:
    from ..core import Service

__all__ = [
    "HEADROOM",
    "SqsJobRunner",
    "estimate_seconds",
    "fail_crashed",
    "fail_dead_letter",
    "process_message",
]

_log = logging.getLogger("synthdata_service.jobs.aws")

HEADROOM = 0.75
"""Share of the worker timeout a job may be estimated to use and still run on Lambda."""
STARTUP_SECONDS = 15.0
"""Cold import of SDV, reading the dataset or model, writing the result."""
REFERENCE_CELLS = 30_000 * 18
TRAIN_RATES: dict[str, tuple[float, float, int]] = {
    # synthesizer: (fixed seconds at the reference size, seconds per epoch, default epochs)
    "gaussian_copula": (7.7, 0.0, 0),
    "ctgan": (24.0, 3.7, 300),
    "copula_gan": (32.0, 3.7, 300),
    "tvae": (24.0, 2.5, 300),  # not measured: TVAE's epochs are cheaper than CTGAN's
    "par": (30.0, 4.0, 128),  # not measured: conservative
    "hma": (20.0, 0.0, 0),
}
SAMPLE_ROWS_PER_SECOND: dict[str, float] = {
    # rows/s at 18 columns including encoding and upload (measured draws are 41k-140k/s)
    "gaussian_copula": 25_000, "ctgan": 25_000, "copula_gan": 20_000, "tvae": 25_000,
    "par": 2_000, "hma": 1_500,
}
_TERMINAL = ("succeeded", "cancelled")
_WORKER_COMMAND = ("python", "-m", "synthdata_service.worker", "run-job")


@dataclass(frozen=True)
class EcsTarget:
    cluster: str
    task_definition: str
    container: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    public_ip: bool = False


def estimate_seconds(store: MetadataStore, job: JobRecord) -> float | None:
    """How long `job` should take on one worker, or None if it cannot be told."""
    model = store.get(ModelRecord, job.model_id) if job.model_id else None
    if model is None:
        return None
    dataset = store.get(DatasetRecord, model.dataset_id)
    cells = dataset.n_rows * max(1, dataset.n_columns) if dataset else REFERENCE_CELLS
    scale = cells / REFERENCE_CELLS
    if job.kind == "train":
        rates = TRAIN_RATES.get(model.synthesizer)
        if rates is None:
            return None
        version = store.get(ModelVersionRecord, job.payload.get("version_id", ""))
        parameters = version.parameters if version else {}
        fixed, per_epoch, default_epochs = rates
        if model.synthesizer == "gaussian_copula" and \
                parameters.get("default_distribution") == "norm":
            fixed = 2.6
        epochs = int(parameters.get("epochs") or default_epochs)
        return STARTUP_SECONDS + scale * (fixed + per_epoch * epochs)
    if job.kind == "sample":
        rate = SAMPLE_ROWS_PER_SECOND.get(model.synthesizer)
        artifact = store.get(ArtifactRecord, job.payload.get("artifact_id", ""))
        if rate is None or artifact is None:
            return None
        columns = (dataset.n_columns if dataset else 18) or 18
        return STARTUP_SECONDS + artifact.num_rows * (columns / 18) / rate
    if job.kind == "report":
        return STARTUP_SECONDS + 30.0 * max(1.0, scale)
    return None


class SqsJobRunner(JobRunner):
    """Sends job ids to SQS or starts ECS tasks; `run_here` runs one in this process."""

    def __init__(self, queue_url: str, *, execute: Execute, worker_timeout: float = 900,
                 ecs: EcsTarget | None = None, store: MetadataStore | None = None,
                 heartbeat: Callable[[set[str]], None] | None = None,
                 heartbeat_seconds: float = 30.0) -> None:
        self.queue_url = queue_url
        self.worker_timeout = float(worker_timeout)
        self.ecs = ecs
        self._execute = execute
        self._store = store
        self._heartbeat = heartbeat
        self._heartbeat_seconds = heartbeat_seconds
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._sqs = ClientFactory(region=_queue_region(queue_url), read_timeout=10)
        self._ecs = ClientFactory(region=_arn_region(ecs.cluster) if ecs else None,
                                  read_timeout=20)

    @classmethod
    def from_url(cls, url: str, *, execute: Execute, heartbeat=None,
                 heartbeat_seconds: float = 30.0, store: MetadataStore | None = None,
                 ) -> SqsJobRunner:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if not parts.netloc or not parts.path.strip("/"):
            raise ValueError("SYNTH_JOBS_URL must be sqs://sqs.<region>.amazonaws.com/"
                             "<account>/<queue>[?ecs_cluster=...]")
        ecs = None
        if query.get("ecs_cluster") and query.get("ecs_task_definition"):
            ecs = EcsTarget(
                cluster=query["ecs_cluster"], task_definition=query["ecs_task_definition"],
                container=query.get("ecs_container", "worker"),
                subnets=_split(query.get("ecs_subnets", "")),
                security_groups=_split(query.get("ecs_security_groups", "")),
                public_ip=query.get("ecs_public_ip", "").lower() == "true")
        return cls(f"https://{parts.netloc}{parts.path}", execute=execute,
                   worker_timeout=float(query.get("worker_timeout", 900)), ecs=ecs,
                   store=store, heartbeat=heartbeat, heartbeat_seconds=heartbeat_seconds)

    # Routing.

    @property
    def store(self) -> MetadataStore | None:
        """The metadata store the run-time estimate reads (None: everything to SQS)."""
        return self._store

    def route(self, job: JobRecord) -> tuple[str, float | None]:
        """('sqs' | 'ecs', estimated seconds) for a job."""
        estimate = estimate_seconds(self.store, job) if self.store is not None else None
        fits = estimate is not None and estimate <= self.worker_timeout * HEADROOM
        return ("sqs" if fits or self.ecs is None else "ecs"), estimate

    def submit(self, job_id: str) -> None:
        store = self.store
        job = store.get(JobRecord, job_id) if store is not None else None
        where, estimate = self.route(job) if job is not None else ("sqs", None)
        about = f" (estimated {_duration(estimate)})" if estimate is not None else ""
        try:
            if where == "ecs":
                task = self.start_task(job_id)
                note = f"queued: starting an ECS Fargate task{about}: {task}"
            else:
                self.send(job_id)
                note = f"queued for a worker{about}"
        except BackendUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. RunTask answered without a task
            _log.exception("could not dispatch job %s to %s", job_id, where)
            raise dispatch_refused(where.upper(), exc, backend=where.upper()) from exc
        if store is not None:
            store.update(JobRecord, job_id, {"message": note[:500]}, expect={"status": "queued"})

    def send(self, job_id: str) -> str:
        with aws_errors("SQS"):
            return self._sqs.client("sqs").send_message(
                QueueUrl=self.queue_url, MessageBody=json.dumps({"job_id": job_id}))["MessageId"]

    def start_task(self, job_id: str) -> str:
        """Start one Fargate task running `python -m synthdata_service.worker run-job <job_id>`."""
        if self.ecs is None:
            raise RuntimeError("no ECS cluster configured (ecs_* parameters of SYNTH_JOBS_URL)")
        ecs = self.ecs
        network: dict[str, Any] = {"subnets": list(ecs.subnets),
                                   "assignPublicIp": "ENABLED" if ecs.public_ip else "DISABLED"}
        if ecs.security_groups:
            network["securityGroups"] = list(ecs.security_groups)
        with aws_errors("ECS"):
            answer = self._ecs.client("ecs").run_task(
                cluster=ecs.cluster, taskDefinition=ecs.task_definition, launchType="FARGATE",
                count=1, startedBy=job_id[:36],
                networkConfiguration={"awsvpcConfiguration": network},
                overrides={"containerOverrides": [
                    {"name": ecs.container, "command": [*_WORKER_COMMAND, job_id]}]})
        tasks = answer.get("tasks") or []
        if not tasks:
            failures = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')}".strip()
                                 for f in answer.get("failures", [])) or "no task started"
            raise RuntimeError(f"ECS RunTask failed: {failures}")
        return tasks[0]["taskArn"]

    # Running here (the worker Lambda and the ECS task).

    def run_here(self, job_id: str) -> None:
        """Run the job in this process, stamping its heartbeat until it ends."""
        with self._lock:
            self._active.add(job_id)
        stop = threading.Event()
        beat = None
        if self._heartbeat is not None:
            beat = threading.Thread(target=self._beat, args=(job_id, stop), daemon=True,
                                    name="synth-heartbeat")
            beat.start()
        try:
            self._execute(job_id)
        finally:
            stop.set()
            if beat is not None:
                beat.join(timeout=5)
            with self._lock:
                self._active.discard(job_id)

    def _beat(self, job_id: str, stop: threading.Event) -> None:
        while not stop.wait(self._heartbeat_seconds):
            try:
                self._heartbeat({job_id})
            except Exception:  # noqa: BLE001 - a missed beat is retried next period
                _log.warning("heartbeat for job %s failed", job_id, exc_info=True)

    def active(self) -> set[str]:
        with self._lock:
            return set(self._active)


# What the worker entry points do with one job id.


def _is_interrupted(job: JobRecord) -> bool:
    return job.status == "failed" and (job.error or {}).get("code") == "job_interrupted"


def process_message(service: Service, job_id: str, *, receive_count: int = 1,
                    run: Callable[[str], None] | None = None) -> str:
    """Handle one delivery of a job id; return what happened. Idempotent: a finished or
    already-claimed job is acknowledged without work. A job whose worker died (running,
    heartbeat stale; or failed as interrupted) is taken back and run again, on ECS if one
    is configured (it outgrew the Lambda). An exception escaping the job is recorded on it
    (the job goes back to `queued`) and re-raised, so SQS redelivers the message.
    `run(job_id)` runs the job (default: the SQS runner's `run_here`, or the executor);
    other queues' workers pass their own (the Azure worker keeps its message invisible)."""
    store = service.store
    job = store.get(JobRecord, job_id)
    if job is None:
        return "missing"
    if job.cancel_requested and job.status in ("queued", "running") or \
            job.cancel_requested and _is_interrupted(job):
        return _settle_cancelled(service, job)
    died = False
    if job.status == "running":
        if not service.is_orphaned(job):
            return "claimed"
        died = True
        if not store.update(JobRecord, job.id, _requeue("its worker stopped without reporting"),
                            expect={"status": "running", "heartbeat_at": job.heartbeat_at}):
            return "claimed"
    elif _is_interrupted(job):
        died = True
        if not store.update(JobRecord, job.id, _requeue("its worker stopped without reporting"),
                            expect={"status": "failed", "message": job.message,
                                    "finished_at": job.finished_at}):
            return "claimed"
    elif job.status in _TERMINAL or job.status == "failed":
        return "finished"
    if died:
        service.executor.prepare_retry(job)
    runner = service.runner
    if died and isinstance(runner, SqsJobRunner) and runner.ecs is not None:
        task = runner.start_task(job.id)
        store.update(JobRecord, job.id, {"message": f"moved to an ECS Fargate task: {task}"},
                     expect={"status": "queued"})
        return "moved"
    try:
        # A runner whose workers run jobs out of process stamps their heartbeats itself.
        run_here = run if run is not None else getattr(runner, "run_here", None)
        if run_here is not None:
            run_here(job.id)
        else:
            service.executor.run(job.id)
    except BaseException as exc:
        record_crash(service, job.id, exc, attempt=receive_count)
        raise
    return "ran"


def _settle_cancelled(service: Service, job: JobRecord) -> str:
    """A job someone cancelled: end it as cancelled unless a live worker is on it (that
    worker stops at its next step); never run it again."""
    if job.status == "running" and not service.is_orphaned(job):
        return "claimed"
    if job.status == "running":
        service.executor.end_orphan(job, "cancelled")
    elif job.status == "queued":
        service.sweep_job(job)
    else:  # failed as interrupted, then cancelled
        service.store.update(JobRecord, job.id, {"status": "cancelled", "message": "cancelled",
                                                 "error": None},
                             expect={"status": "failed", "finished_at": job.finished_at})
    return "cancelled"


def _requeue(why: str) -> dict:
    return {"status": "queued", "finished_at": None, "heartbeat_at": None,
            "message": f"queued again: {why}"}


def record_crash(service: Service, job_id: str, exc: BaseException, *, attempt: int) -> None:
    """A crash that escaped the job: back to `queued` (SQS retries it), reason kept."""
    error = {"code": "worker_crashed", "resumable": True, "message": _reason(exc),
             "attempt": attempt}
    try:
        job = service.store.get(JobRecord, job_id)
        if job is not None and job.cancel_requested:
            if service.store.update(JobRecord, job_id, {
                    "status": "cancelled", "finished_at": utcnow_iso(), "message": "cancelled"},
                    expect={"status": ("running", "queued")}):
                service.executor.cleanup(job, "cancelled")
            return
        service.store.update(JobRecord, job_id, {
            "status": "queued", "error": error, "heartbeat_at": None,
            "message": f"attempt {attempt} crashed ({_reason(exc)}); it will be retried"[:500],
        }, expect={"status": ("running", "queued")})
    except Exception:  # noqa: BLE001 - the dead-letter handler still ends the job
        _log.exception("could not record the crash of job %s", job_id)


def fail_crashed(service: Service, job_id: str, reason: str, error_code: str = "worker_crashed",
                 *, attempts: int | None = None) -> bool:
    """End a job that will not be retried as `failed` with `reason`; undo partial writes."""
    store = service.store
    job = store.get(JobRecord, job_id)
    if job is None or job.status in _TERMINAL or (job.status == "failed"
                                                  and not _is_interrupted(job)):
        return False
    expect: dict[str, Any] = {"status": job.status}
    if job.status == "failed":
        expect.update(message=job.message, finished_at=job.finished_at)
    if job.cancel_requested:
        if not store.update(JobRecord, job.id, {"status": "cancelled", "message": "cancelled",
                                                "finished_at": utcnow_iso(), "error": None},
                            expect=expect):
            return False
        service.executor.cleanup(job, "cancelled")
        return True
    error = {"code": error_code, "resumable": True, "message": reason,
             "attempts": attempts if attempts is not None else job.attempts}
    if not store.update(JobRecord, job.id, {"status": "failed", "finished_at": utcnow_iso(),
                                            "message": reason[:500], "error": error},
                        expect=expect):
        return False
    service.executor.cleanup(job, "failed", error)
    return True


def fail_dead_letter(service: Service, job_id: str, *, receive_count: int) -> bool:
    """The queue gave up on this job's message: mark the job failed, saying why."""
    job = service.store.get(JobRecord, job_id)
    if job is None:
        return False
    # Claims count the crashes; the DLQ's receive count also counts this delivery.
    attempts = job.attempts or max(1, receive_count - 1)
    last = (job.error or {}).get("message") if (job.error or {}).get("code") == \
        "worker_crashed" else None
    last = last or "the worker stopped without reporting (a timeout or out of memory)"
    reason = (f"worker crashed {attempts} times; last error: {last}. POST "
              f"/v1/jobs/{job_id}/retry to run it again")
    return fail_crashed(service, job_id, reason, attempts=attempts)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _queue_region(queue_url: str) -> str | None:
    host = urlsplit(queue_url).hostname or ""
    labels = host.split(".")
    if labels[:1] == ["sqs"] and len(labels) > 2:
        return labels[1]
    if len(labels) > 2 and labels[1] == "queue":
        return labels[0]
    return None


def _arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if arn.startswith("arn:") and len(parts) > 3 and parts[3] else None


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
