"""`cloudrun://`: jobs on Google Cloud Run Jobs, outside the serving instance.

    cloudrun://projects/<project>/locations/<region>/jobs/<worker job>
        ?worker_timeout=900&max_concurrent=2&max_attempts=3[&long_job=<long job>]

(the `JobRunner` construct writes it). `submit(job_id)` starts one execution of a Cloud
Run Job through the Cloud Run Admin API (`POST /v2/{job}:run` with the job id as the
container's argument); the execution's task runs `python -m
synthdata_service.handlers.gcp_jobs <job id>` from the service's own image, which calls
`run_task` here. Training therefore never runs in a request-serving instance that Cloud
Run may scale in.

* Routing: a job estimated to fit `HEADROOM` of `worker_timeout` (the same estimate as
  the AWS runner, `jobs.aws.estimate_seconds`) goes to the worker job, sized like the API;
  a longer one, or one that cannot be estimated, to `long_job` (`jobs.cpu` /
  `jobs.memory_mb`, up to 24 h) when there is one.
* Concurrency: at most `max_concurrent` worker executions run at once. Before starting
  one the runner counts the worker job's executions that have not completed; at the
  limit the job stays `queued` with the message `waiting for a free worker`, and the next
  task to finish (or the next submission) starts it. Two API instances submitting in the
  same instant can exceed the limit by one each: it is a bound on steady load, not a lock.
* Retries: Cloud Run retries a task that dies (out of memory, timeout, a lost instance)
  up to `max_attempts` attempts in all. A later attempt (`CLOUD_RUN_TASK_ATTEMPT` > 0)
  takes its job back from the attempt that died, with the job's conditional state
  machine making sure no other worker holds it.
* Authentication: Application Default Credentials (the service account on Cloud Run),
  which needs `roles/run.jobsExecutorWithOverrides` on the jobs and `roles/run.viewer` on
  the worker job (`JobRunner.grant_submit`). `endpoint=` replaces the Admin API's
  address; an `http://` endpoint (a local stand-in) is called without credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..backends.metadata import JobRecord, MetadataStore
from .aws import HEADROOM, _duration, estimate_seconds
from .inline import InlineJobRunner
from .runner import Execute, JobRunner, dispatch_failed, dispatch_refused

__all__ = ["DEFAULT_ENDPOINT", "WAITING", "CloudRunJobRunner", "CloudRunJobs", "RunApiError"]

_log = logging.getLogger("synthdata_service.jobs.gcp")

DEFAULT_ENDPOINT = "https://run.googleapis.com"
WAITING = "waiting for a free worker"
"""Message prefix of a queued job held back by the worker concurrency limit."""
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_TIMEOUT_SECONDS = 20
_MAX_PAGES = 10  # 1,000 executions: Cloud Run keeps the details of the last 1,000


class RunApiError(RuntimeError):
    """The Cloud Run Admin API refused or failed a call; the message says what to fix."""


@dataclass(frozen=True)
class CloudRunJobs:
    """Where jobs go: the parsed `cloudrun://` URL."""

    project: str
    region: str
    worker: str
    long: str | None = None
    worker_timeout: float = 900.0
    max_concurrent: int = 2
    max_attempts: int = 3
    endpoint: str = DEFAULT_ENDPOINT

    @classmethod
    def from_url(cls, url: str) -> CloudRunJobs:
        parts = urlsplit(url)
        path = f"{parts.netloc}{parts.path}".strip("/").split("/")
        if parts.scheme != "cloudrun" or len(path) != 6 or path[0::2] != [
                "projects", "locations", "jobs"] or not all(path[1::2]):
            raise ValueError(
                f"SYNTH_JOBS_URL {url!r} is not a Cloud Run Jobs runner; expected "
                "cloudrun://projects/<project>/locations/<region>/jobs/<job>"
                "[?long_job=<job>&worker_timeout=900&max_concurrent=2&max_attempts=3]")
        query = dict(parse_qsl(parts.query))
        return cls(project=path[1], region=path[3], worker=path[5],
                   long=query.get("long_job") or None,
                   worker_timeout=float(query.get("worker_timeout", 900)),
                   max_concurrent=max(1, int(query.get("max_concurrent", 2))),
                   max_attempts=max(1, int(query.get("max_attempts", 3))),
                   endpoint=query.get("endpoint", DEFAULT_ENDPOINT).rstrip("/"))

    def job_name(self, job: str) -> str:
        return f"projects/{self.project}/locations/{self.region}/jobs/{job}"


class CloudRunJobRunner(JobRunner):
    """Starts Cloud Run Job executions for jobs; `run_task` runs one inside a task."""

    def __init__(self, target: CloudRunJobs, *, execute: Execute,
                 store: MetadataStore | None = None,
                 heartbeat: Callable[[set[str]], None] | None = None,
                 heartbeat_seconds: float = 30.0, credentials: Any = None) -> None:
        self.target = target
        self._execute = execute
        self._store = store
        self._heartbeat = heartbeat
        self._heartbeat_seconds = heartbeat_seconds
        self._credentials = credentials
        self._here: InlineJobRunner | None = None

    @classmethod
    def from_url(cls, url: str, *, execute: Execute, heartbeat=None,
                 heartbeat_seconds: float = 30.0, store: MetadataStore | None = None,
                 credentials: Any = None) -> CloudRunJobRunner:
        return cls(CloudRunJobs.from_url(url), execute=execute, store=store,
                   heartbeat=heartbeat, heartbeat_seconds=heartbeat_seconds,
                   credentials=credentials)

    # The Cloud Run Admin API.

    def _session(self) -> Any:
        from google.auth.transport.requests import AuthorizedSession

        credentials = self._credentials
        if credentials is None and self.target.endpoint.startswith("http://"):
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()
        if credentials is None:
            import google.auth

            credentials, _ = google.auth.default(scopes=_SCOPES)
        return AuthorizedSession(credentials)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> dict:
        url = f"{self.target.endpoint}/v2/{path}"
        try:
            with self._session() as session:
                response = session.request(method, url, timeout=_TIMEOUT_SECONDS, **kwargs)
        except Exception as exc:  # noqa: BLE001 - no credentials, DNS, timeout
            raise RunApiError(f"cannot reach the Cloud Run Admin API to {what}: "
                              f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 403:
            raise RunApiError(
                f"the service's identity may not {what}: grant it "
                "roles/run.jobsExecutorWithOverrides on the jobs and roles/run.viewer on the "
                "worker job (JobRunner.grant_submit)")
        if response.status_code == 404:
            raise RunApiError(f"cannot {what}: {path.split(':')[0]} does not exist; check "
                              "SYNTH_JOBS_URL against the deployed Cloud Run Jobs")
        if response.status_code >= 300:
            raise RunApiError(f"the Cloud Run Admin API answered {response.status_code} "
                              f"to {what}: {response.text[:300]}")
        return response.json() if response.content else {}

    def start_execution(self, job: str, job_id: str) -> str:
        """Start one execution of Cloud Run Job `job` for `job_id`; its name."""
        name = self.target.job_name(job)
        operation = self._call(
            "POST", f"{name}:run", f"run {job}",
            json={"overrides": {"containerOverrides": [{"args": [job_id]}], "taskCount": 1}})
        return str((operation.get("metadata") or {}).get("name") or operation.get("name", ""))

    def running_executions(self, job: str) -> int:
        """Executions of `job` that have not completed yet."""
        running, token = 0, ""
        for _ in range(_MAX_PAGES):
            params = {"pageSize": "100", **({"pageToken": token} if token else {})}
            page = self._call("GET", f"{self.target.job_name(job)}/executions",
                              f"list the executions of {job}", params=params)
            running += sum(1 for e in page.get("executions", []) if not e.get("completionTime"))
            token = page.get("nextPageToken", "")
            if not token:
                break
        return running

    # Submitting.

    @property
    def store(self) -> MetadataStore | None:
        return self._store

    def route(self, job: JobRecord) -> tuple[str, float | None]:
        """(Cloud Run Job name, estimated seconds) for a job."""
        target = self.target
        estimate = estimate_seconds(self.store, job) if self.store is not None else None
        fits = estimate is not None and estimate <= target.worker_timeout * HEADROOM
        return (target.worker if fits or target.long is None else target.long), estimate

    def submit(self, job_id: str) -> None:
        self.dispatch_waiting()
        store = self.store
        job = store.get(JobRecord, job_id) if store is not None else None
        try:
            if job is None:
                self._start(job_id, self.target.worker, None)
            else:
                self._start_or_wait(job)
        except RunApiError as exc:
            _log.error("could not start job %s on Cloud Run Jobs: %s", job_id, exc)
            raise dispatch_refused("Cloud Run Jobs", exc, backend="Cloud Run Admin API") from exc

    def dispatch_waiting(self, *, freeing: bool = False) -> int:
        """Start waiting jobs (oldest first) while worker slots are free; how many.

        `freeing`: the caller is a worker task about to end, whose own execution still
        counts as running: its slot is free for the first job started here."""
        store = self.store
        if store is None:
            return 0
        waiting = [job for job in store.query(JobRecord, {"status": "queued"},
                                              order_by="created_at")
                   if job.message.startswith(WAITING)]
        started = 0
        for job in waiting:
            try:
                if not self._start_or_wait(job, freeing=freeing and not started):
                    break
            except RunApiError as exc:  # no request waits for it: the job says why
                _log.error("could not start waiting job %s on Cloud Run Jobs: %s", job.id, exc)
                dispatch_failed(store, job.id, "Cloud Run Jobs", exc)
                continue
            started += 1
        return started

    def _start_or_wait(self, job: JobRecord, *, freeing: bool = False) -> bool:
        """Start `job`, or leave it waiting for a worker slot; True if it was started.
        Raises RunApiError if the Admin API refused."""
        target = self.target
        where, estimate = self.route(job)
        if where == target.worker:
            busy = self.running_executions(where) - (1 if freeing else 0)
            if busy >= target.max_concurrent:
                if self.store is not None:
                    self.store.update(JobRecord, job.id, {
                        "message": f"{WAITING} ({busy} of {target.max_concurrent} busy)"},
                        expect={"status": "queued"})
                return False
        return self._start(job.id, where, estimate)

    def _start(self, job_id: str, where: str, estimate: float | None) -> bool:
        execution = self.start_execution(where, job_id)
        about = f" (estimated {_duration(estimate)})" if estimate is not None else ""
        if self.store is not None:
            self.store.update(JobRecord, job_id, {
                "message": f"queued: Cloud Run Job execution "
                           f"{execution.rsplit('/', 1)[-1]}{about}"[:500]},
                expect={"status": "queued"})
        return True

    # Running inside a Cloud Run Job task.

    def run_task(self, service: Any, job_id: str, *, attempt: int = 0,
                 cloud_run_job: str | None = None) -> str:
        """Run job `job_id` in this task (attempt `attempt`, from 0, of an execution of
        `cloud_run_job`); what happened.

        A later attempt finds the job `running` (its earlier attempt died) or failed as
        interrupted, and takes it back; a finished job or one another worker holds is left
        alone. Then the next waiting job, if any, is started in this task's worker slot.
        """
        store = service.store
        job = store.get(JobRecord, job_id)
        if job is None:
            return "missing"
        if attempt > 0 and (job.status == "running" or _interrupted(job)):
            expect: dict[str, Any] = {"status": job.status}
            expect.update({"heartbeat_at": job.heartbeat_at} if job.status == "running" else
                          {"message": job.message, "finished_at": job.finished_at})
            if not store.update(JobRecord, job.id, {
                    "status": "queued", "finished_at": None, "heartbeat_at": None,
                    "message": f"queued again: attempt {attempt + 1} of "
                               f"{self.target.max_attempts} after the last one stopped"},
                    expect=expect):
                return "claimed"
            service.executor.prepare_retry(job)
        elif job.status != "queued":
            return "claimed" if job.status == "running" else "finished"
        self.run_here(job_id)
        try:
            self.dispatch_waiting(freeing=cloud_run_job == self.target.worker)
        except Exception:  # noqa: BLE001 - the next submission starts it instead
            _log.warning("could not start the next waiting job", exc_info=True)
        return "ran"

    def run_here(self, job_id: str) -> None:
        """Run the job in this process with heartbeats (the in-process runner, at once)."""
        self._here = InlineJobRunner(self._execute, synchronous=True, heartbeat=self._heartbeat,
                                     heartbeat_seconds=self._heartbeat_seconds)
        try:
            self._here.submit(job_id)
        finally:
            self._here.shutdown()

    def active(self) -> set[str]:
        return self._here.active() if self._here is not None else set()


def _interrupted(job: JobRecord) -> bool:
    return job.status == "failed" and (job.error or {}).get("code") == "job_interrupted"
