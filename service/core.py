"""The service's domain logic, free of HTTP: datasets, models, versions, jobs, samples,
reports, keys and the audit trail, over whichever backends the settings name.

Routers translate requests into these calls; job bodies (`synthdata_service.jobs.tasks`) call back
into it. Every read checks ownership: a non-admin key sees only its owner's records, and
another owner's id answers 404, exactly like a missing one.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ._util import new_id, parse_time, utcnow, utcnow_iso
from .backends import open_job_runner, open_metadata, open_secret_provider, open_storage
from .backends.metadata import (
    ApiKeyRecord,
    ArtifactRecord,
    AuditRecord,
    DatasetRecord,
    DuplicateRecord,
    JobRecord,
    MetadataStore,
    ModelRecord,
    ModelVersionRecord,
    Record,
)
from .engines import EngineError, engine_for, load_engines
from .errors import Conflict, InvalidInput, NotFound, OutcomeUnknown, ServiceError
from .idempotency import IdempotencyStore
from .ingest import ParsedTable
from .jobs.identity import worker_identity, worker_is_gone
from .keys import KeyManager
from .metrics import Metrics
from .modelstore import ModelStore
from .ratelimit import open_rate_limiter
from .settings import Settings

__all__ = ["SYSTEM_ACTOR", "Service", "SamplePlan", "open_key_manager"]

_log = logging.getLogger("synthdata_service.core")

SYSTEM_ACTOR = ApiKeyRecord(id="system", name="system", scope="admin", owner="default")
TERMINAL = ("succeeded", "failed", "cancelled")


def open_key_manager(settings: Settings) -> KeyManager:
    """Keys only (no storage, runner or engines): what `synthctl keys` needs."""
    store = open_metadata(settings.metadata_url)
    store.migrate()
    return KeyManager(store, open_secret_provider(settings.api_keys_secret).pepper())


@dataclass
class SamplePlan:
    """How one sample request is answered: inline bytes, a stream, or a job + link."""

    delivery: str
    fmt: str
    seed: int
    num_rows: int
    model: ModelRecord
    version: ModelVersionRecord
    table: str | None = None
    chunks: Iterator | None = None
    job: JobRecord | None = None
    artifact: ArtifactRecord | None = None


class Service:
    """One instance per app; thread-safe (jobs run on other threads)."""

    def __init__(self, settings: Settings, *, start_runner: bool = True,
                 metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.storage = open_storage(settings.storage_url)
        self.store: MetadataStore = open_metadata(settings.metadata_url)
        self.store.migrate()
        self.pepper = open_secret_provider(settings.api_keys_secret).pepper()
        self.keys = KeyManager(self.store, self.pepper)
        self.models = ModelStore(self.storage, self.pepper)
        self.limiter = open_rate_limiter(settings.rate_limit_url,
                                         settings.rate_limit_per_second, settings.rate_limit_burst)
        self.auth_failures = open_rate_limiter(
            settings.rate_limit_url, settings.auth_failure_per_second,
            settings.auth_failure_burst, prefix="authfail:", share_with=self.limiter)
        self.idempotency = IdempotencyStore(self.store)
        self.metrics = metrics or Metrics()
        self.worker_id = worker_identity()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._last_sweep = 0.0
        from .jobs.tasks import JobExecutor

        self.executor = JobExecutor(self)
        self.runner = open_job_runner(
            settings.jobs_url, execute=self.executor.run, store=self.store,
            heartbeat=self._heartbeat, heartbeat_seconds=self.heartbeat_seconds,
        )
        if start_runner:
            self.recover_jobs()
            threading.Thread(target=self._sweep_periodically, name="synth-sweeper",
                             daemon=True).start()

    @property
    def heartbeat_seconds(self) -> float:
        """How often running jobs are stamped, and orphaned ones looked for."""
        return max(0.25, self.settings.job_stale_seconds / 4)

    def close(self) -> None:
        self._closed.set()
        self.runner.shutdown()
        self.store.close()

    # Ownership and audit.

    @staticmethod
    def visible(actor: ApiKeyRecord, record: Record | None, kind: str, record_id: str):
        owner = getattr(record, "owner", None)
        if record is None or (actor.scope != "admin" and owner != actor.owner):
            raise NotFound(f"no {kind} {record_id!r}", code=f"{kind}_not_found")
        return record

    def audit(self, actor: ApiKeyRecord, action: str, target_type: str, target_id: str | None,
              *, request_id: str | None = None, outcome: str = "ok", **detail: Any) -> None:
        try:
            self.store.audit(AuditRecord(
                id=new_id("evt"), at=utcnow_iso(), actor=actor.id, owner=actor.owner,
                action=action, target_type=target_type, target_id=target_id,
                outcome=outcome, request_id=request_id, detail=detail,
            ))
        except Exception:  # noqa: BLE001 - the audited action already happened
            _log.exception("audit write failed for %s %s", action, target_id)

    def audit_auth_failure(self, *, key_id: str | None, client: str, request_id: str,
                           path: str) -> None:
        """Record a request whose API key did not verify (after the failure limiter let it
        through, so a flood of bad keys cannot flood the log)."""
        try:
            self.store.audit(AuditRecord(
                id=new_id("evt"), at=utcnow_iso(), actor=None, owner=None,
                action="auth.failed", target_type="key", target_id=key_id,
                outcome="denied", request_id=request_id,
                detail={"client": client[:100], "path": path[:200]}))
        except Exception:  # noqa: BLE001 - the refusal stands either way
            _log.warning("audit write failed for a refused key", exc_info=True)

    # Datasets.

    def create_dataset(self, actor: ApiKeyRecord, tables: list[ParsedTable], *, name: str,
                       request_id: str | None = None) -> DatasetRecord:
        """Store validated tables (Parquet files written by `ingest.read_table`) and their
        record. A failure leaves nothing behind, except when the record's insert has an
        unknown outcome and cannot be checked: then the objects stay (a committed record
        may point at them) and the caller is told to look before retrying."""
        names = [t.name for t in tables]
        if len(set(names)) != len(names):
            raise InvalidInput(f"two uploaded files map to the same table name {names}; "
                               "rename the files", code="duplicate_tables")
        dataset_id = new_id("ds")
        prefix = f"datasets/{dataset_id}"
        described = []
        record = None
        try:
            for table in tables:
                key = f"{prefix}/{table.name}.parquet"
                with open(table.path, "rb") as handle:
                    self.storage.put_stream(key, iter(lambda h=handle: h.read(1 << 20), b""))
                described.append({
                    "name": table.name, "storage_key": key, "rows": table.rows,
                    "columns": list(table.columns), "format": table.format,
                    "encoding": table.encoding, "size_bytes": table.size_bytes,
                })
            profiles = {t.name: t.profile for t in tables}
            record = DatasetRecord(
                id=dataset_id, owner=actor.owner, name=name or names[0],
                format=",".join(sorted({t.format for t in tables})), tables=described,
                n_rows=sum(t.rows for t in tables),
                n_columns=sum(len(t.columns) for t in tables),
                size_bytes=sum(t.size_bytes for t in tables),
                profile=profiles if len(tables) > 1 else profiles[names[0]],
                created_at=utcnow_iso(), created_by=actor.id,
            )
            self.store.insert(record)
        except OutcomeUnknown:
            if self._record_exists(DatasetRecord, dataset_id) is False:
                self._discard_prefix(prefix)
            raise
        except BaseException:
            self._discard_prefix(prefix)  # nothing half-stored
            raise
        self.audit(actor, "dataset.create", "dataset", dataset_id, request_id=request_id,
                   name=record.name, rows=record.n_rows, tables=names)
        return record

    def _record_exists(self, cls, record_id: str) -> bool | None:
        """Whether a record exists, or None if the store cannot tell right now."""
        try:
            return self.store.get(cls, record_id) is not None
        except Exception:  # noqa: BLE001 - the store is still unreachable
            return None

    def _discard_prefix(self, prefix: str) -> None:
        try:
            self.storage.delete_prefix(prefix)
        except Exception:  # noqa: BLE001 - best effort: the storage may be the outage
            _log.warning("could not remove %s after a failed write", prefix, exc_info=True)

    def get_dataset(self, actor: ApiKeyRecord, dataset_id: str) -> DatasetRecord:
        return self.visible(actor, self.store.get(DatasetRecord, dataset_id), "dataset", dataset_id)

    def list_datasets(self, actor: ApiKeyRecord, limit: int = 100) -> list[DatasetRecord]:
        where = None if actor.scope == "admin" else {"owner": actor.owner}
        return self.store.query(DatasetRecord, where, order_by="created_at", descending=True,
                                limit=limit)

    def load_tables(self, dataset: DatasetRecord) -> dict[str, Any]:
        import pyarrow.parquet as pq

        tables = {}
        for table in dataset.tables:
            with self.storage.open_read(table["storage_key"]) as handle:
                tables[table["name"]] = pq.read_table(handle).to_pandas()
        return tables

    def delete_dataset(self, actor: ApiKeyRecord, dataset_id: str, *,
                       request_id: str | None = None) -> None:
        dataset = self.get_dataset(actor, dataset_id)
        users = self.store.query(ModelRecord, {"dataset_id": dataset_id}, limit=5)
        if users:
            raise Conflict(f"models {[m.id for m in users]} were trained on this dataset; "
                           "delete them first", code="dataset_in_use")
        self.store.delete(DatasetRecord, dataset.id)
        self.storage.delete_prefix(f"datasets/{dataset.id}")
        self.audit(actor, "dataset.delete", "dataset", dataset.id, request_id=request_id)

    # Models and versions.

    def check_synthesizer(self, synthesizer: str, parameters: dict) -> tuple[str, dict]:
        if synthesizer not in self.settings.synthesizers:
            raise InvalidInput(
                f"synthesizer {synthesizer!r} is not enabled here; choose one of "
                f"{', '.join(self.settings.synthesizers)}", code="synthesizer_not_allowed")
        try:
            engine, _info = engine_for(synthesizer)
        except KeyError:
            raise InvalidInput(f"no engine offers {synthesizer!r}",
                               code="unknown_synthesizer") from None
        try:
            return engine.name, engine.validate_parameters(synthesizer, parameters or {})
        except EngineError as exc:
            raise InvalidInput(str(exc), code=exc.code) from None

    def create_model(self, actor: ApiKeyRecord, *, dataset_id: str, synthesizer: str,
                     parameters: dict, name: str = "", request_id: str | None = None):
        dataset = self.get_dataset(actor, dataset_id)
        engine_name, params = self.check_synthesizer(synthesizer, parameters)
        model = ModelRecord(id=new_id("mdl"), owner=actor.owner, name=name or dataset.name,
                            dataset_id=dataset.id, synthesizer=synthesizer, engine=engine_name,
                            created_at=utcnow_iso(), created_by=actor.id)
        self.store.insert(model)
        try:
            version, job = self._queue_version(actor, model, dataset, params)
        except BaseException:
            self._undo(ModelRecord, model.id)
            raise
        self.audit(actor, "model.create", "model", model.id, request_id=request_id,
                   synthesizer=synthesizer, dataset_id=dataset.id, job_id=job.id)
        return self.store.get(ModelRecord, model.id), version, job

    def _undo(self, cls, record_id: str) -> None:
        """Remove a record this request created before it failed (best effort)."""
        try:
            self.store.delete(cls, record_id)
        except Exception:  # noqa: BLE001 - the store may be the outage
            _log.warning("could not remove %s %s after a failed request", cls.KIND, record_id,
                         exc_info=True)

    def _queue_version(self, actor, model: ModelRecord, dataset: DatasetRecord, params: dict):
        for _attempt in range(5):
            number = max([v.version for v in self.store.versions(model.id)] or [0]) + 1
            version = ModelVersionRecord(
                id=new_id("ver"), model_id=model.id, version=number, dataset_id=dataset.id,
                parameters=params, status="queued", created_at=utcnow_iso(),
            )
            try:
                self.store.insert(version)
                break
            except DuplicateRecord:
                continue  # a concurrent retrain took this number
        else:
            raise Conflict("could not allocate a version number; retry", code="version_race")
        job = None
        try:
            self.store.update(ModelRecord, model.id, {"latest_version": number})
            job = self.create_job(actor, "train", model_id=model.id,
                                  payload={"version_id": version.id, "model_id": model.id})
            self.store.update(ModelVersionRecord, version.id, {"job_id": job.id})
            self.submit(job)
        except BaseException:
            if job is not None:
                self._undo(JobRecord, job.id)
            self._undo(ModelVersionRecord, version.id)
            raise
        return self.store.get(ModelVersionRecord, version.id), job

    def submit(self, job: JobRecord) -> None:
        """Hand a queued job to the runner. If the runner cannot take it (its queue is
        down) the error propagates, so the request that made the job undoes it and
        answers 503."""
        self.runner.submit(job.id)

    def retrain(self, actor: ApiKeyRecord, model_id: str, *, parameters: dict | None,
                dataset_id: str | None, request_id: str | None = None):
        model = self.get_model(actor, model_id)
        dataset = self.get_dataset(actor, dataset_id or model.dataset_id)
        if parameters is None:
            versions = self.store.versions(model.id)
            parameters = versions[-1].parameters if versions else {}
        _engine, params = self.check_synthesizer(model.synthesizer, parameters)
        version, job = self._queue_version(actor, model, dataset, params)
        self.audit(actor, "model.retrain", "model", model.id, request_id=request_id,
                   version=version.version, job_id=job.id)
        return version, job

    def get_model(self, actor: ApiKeyRecord, model_id: str) -> ModelRecord:
        return self.visible(actor, self.store.get(ModelRecord, model_id), "model", model_id)

    def list_models(self, actor: ApiKeyRecord, limit: int = 100) -> list[ModelRecord]:
        where = None if actor.scope == "admin" else {"owner": actor.owner}
        return self.store.query(ModelRecord, where, order_by="created_at", descending=True,
                                limit=limit)

    def get_version(self, actor: ApiKeyRecord, model_id: str, number: int) -> ModelVersionRecord:
        model = self.get_model(actor, model_id)
        version = self.store.version(model.id, number)
        if version is None:
            raise NotFound(f"model {model_id} has no version {number}", code="version_not_found")
        return version

    def activate(self, actor: ApiKeyRecord, model_id: str, number: int, *,
                 request_id: str | None = None, action: str = "model.activate") -> ModelRecord:
        model = self.get_model(actor, model_id)
        version = self.get_version(actor, model_id, number)
        if version.status != "ready":
            raise Conflict(f"version {number} is {version.status}; only a trained (ready) "
                           "version can be active", code="version_not_ready")
        self.store.update(ModelRecord, model.id, {"active_version": number})
        self.audit(actor, action, "model", model.id, request_id=request_id,
                   version=number, previous=model.active_version)
        return self.store.get(ModelRecord, model.id)

    def rollback(self, actor: ApiKeyRecord, model_id: str, *,
                 request_id: str | None = None) -> ModelRecord:
        model = self.get_model(actor, model_id)
        ready = [v.version for v in self.store.versions(model.id) if v.status == "ready"]
        earlier = [n for n in ready if model.active_version is None or n < model.active_version]
        if not earlier:
            raise Conflict("there is no earlier trained version to roll back to",
                           code="nothing_to_roll_back")
        return self.activate(actor, model_id, max(earlier), request_id=request_id,
                             action="model.rollback")

    def delete_model(self, actor: ApiKeyRecord, model_id: str, *,
                     request_id: str | None = None) -> None:
        model = self.get_model(actor, model_id)
        active_jobs = [job for job in self.store.query(JobRecord, {
            "model_id": model.id, "status": ("queued", "running")}) if not self.sweep_job(job)]
        if active_jobs:
            raise Conflict(f"jobs {[j.id for j in active_jobs]} are still running for this "
                           "model; cancel them or wait", code="model_busy")
        for version in self.store.versions(model.id):
            self.models.forget(version.id)
            self.store.delete(ModelVersionRecord, version.id)
        for artifact in self.store.query(ArtifactRecord, {"model_id": model.id}):
            self.store.delete(ArtifactRecord, artifact.id)
        self.store.delete(ModelRecord, model.id)
        self.storage.delete_prefix(f"models/{model.id}")
        self.storage.delete_prefix(f"samples/{model.id}")
        self.audit(actor, "model.delete", "model", model.id, request_id=request_id)

    def sampling_version(self, actor: ApiKeyRecord, model_id: str,
                         number: int | None) -> tuple[ModelRecord, ModelVersionRecord]:
        model = self.get_model(actor, model_id)
        number = number if number is not None else model.active_version
        if number is None:
            raise Conflict("the model has no trained version yet; wait for its training job",
                           code="model_not_ready")
        version = self.get_version(actor, model_id, number)
        if version.status != "ready":
            raise Conflict(f"version {number} is {version.status}, not ready",
                           code="model_not_ready")
        return model, version

    def load_model(self, model: ModelRecord, version: ModelVersionRecord):
        engine = load_engines().get(model.engine)
        if engine is None:
            raise ServiceError(f"engine {model.engine!r} is not installed here",
                               code="engine_missing")
        return engine, engine.loads(self.models.load_bytes(version))

    # Jobs.

    def create_job(self, actor: ApiKeyRecord, kind: str, *, model_id: str | None,
                   payload: dict) -> JobRecord:
        job = JobRecord(id=new_id("job"), owner=actor.owner, kind=kind, model_id=model_id,
                        payload=payload, created_at=utcnow_iso(), created_by=actor.id,
                        message="queued")
        self.store.insert(job)
        return job

    def get_job(self, actor: ApiKeyRecord, job_id: str) -> JobRecord:
        job = self.visible(actor, self.store.get(JobRecord, job_id), "job", job_id)
        if job.status in ("queued", "running") and self.sweep_job(job):
            job = self.store.get(JobRecord, job_id)
        return job

    def list_jobs(self, actor: ApiKeyRecord, *, status: str | None = None,
                  limit: int = 100) -> list[JobRecord]:
        self.sweep_jobs(throttle=True)
        where: dict[str, Any] = {} if actor.scope == "admin" else {"owner": actor.owner}
        if status:
            where["status"] = status
        return self.store.query(JobRecord, where or None, order_by="created_at",
                                descending=True, limit=limit)

    def cancel_job(self, actor: ApiKeyRecord, job_id: str, *,
                   request_id: str | None = None) -> JobRecord:
        """Cancel a job: a queued one (or one whose worker is gone) at once; a running one
        is asked to stop and stops at its next step, before it stores anything."""
        job = self.visible(actor, self.store.get(JobRecord, job_id), "job", job_id)
        if job.status == "running" and self.is_orphaned(job) and \
                self.executor.end_orphan(job, "cancelled"):  # its worker is gone
            self.audit(actor, "job.cancel", "job", job.id, request_id=request_id)
            return self.store.get(JobRecord, job.id)
        if job.status in TERMINAL:
            raise Conflict(f"the job already {job.status}", code="job_finished")
        if self.store.update(JobRecord, job.id, {"status": "cancelled", "finished_at":
                                                 utcnow_iso(), "message": "cancelled",
                                                 "cancel_requested": True},
                             expect={"status": "queued"}):
            self.executor.cleanup(self.store.get(JobRecord, job.id), "cancelled")
        elif self.store.update(JobRecord, job.id, {"cancel_requested": True,
                                                   "message": "cancelling"},
                               expect={"status": "running"}):
            current = self.store.get(JobRecord, job.id)
            if current is not None:
                self.sweep_job(current)  # its worker may already be gone
        self.audit(actor, "job.cancel", "job", job.id, request_id=request_id)
        return self.store.get(JobRecord, job.id)

    def retry_job(self, actor: ApiKeyRecord, job_id: str, *,
                  request_id: str | None = None) -> JobRecord:
        job = self.get_job(actor, job_id)
        if job.status not in ("failed", "cancelled"):
            raise Conflict(f"only failed or cancelled jobs can be retried; this one is "
                           f"{job.status}", code="job_not_retryable")
        before = {"status": job.status, "progress": job.progress, "message": job.message,
                  "error": job.error, "result": job.result,
                  "cancel_requested": job.cancel_requested, "finished_at": job.finished_at}
        if not self.store.update(JobRecord, job.id, {
            "status": "queued", "progress": 0.0, "message": "queued (retry)", "error": None,
            "result": None, "cancel_requested": False, "finished_at": None,
            "heartbeat_at": None, "worker": None,
        }, expect={"status": ("failed", "cancelled")}):
            raise Conflict("the job changed state; read it again", code="job_state_changed")
        self.executor.prepare_retry(self.store.get(JobRecord, job.id))
        try:
            self.submit(job)
        except BaseException:
            self.store.update(JobRecord, job.id, before, expect={"status": "queued"})
            raise
        self.audit(actor, "job.retry", "job", job.id, request_id=request_id)
        return self.store.get(JobRecord, job.id)

    # Orphaned jobs.

    def is_orphaned(self, job: JobRecord) -> bool:
        """A running job no live process is working on: its process on this host is gone,
        or its heartbeat is older than `job_stale_seconds`."""
        if job.status != "running" or job.id in self.runner.active():
            return False
        if job.worker and job.worker != self.worker_id and worker_is_gone(job.worker):
            return True
        beat = parse_time(job.heartbeat_at or job.started_at)
        return beat is None or utcnow() - beat > timedelta(seconds=self.settings.job_stale_seconds)

    def sweep_job(self, job: JobRecord) -> bool:
        """End `job` if it is orphaned (failed and resumable, or cancelled if a cancel was
        asked for) or a queued job someone cancelled; return whether it changed."""
        if job.status == "queued" and job.cancel_requested:
            if self.store.update(JobRecord, job.id, {"status": "cancelled",
                                                     "finished_at": utcnow_iso(),
                                                     "message": "cancelled"},
                                 expect={"status": "queued"}):
                self.executor.cleanup(job, "cancelled")
                return True
            return False
        if not self.is_orphaned(job):
            return False
        if job.cancel_requested:
            return self.executor.end_orphan(job, "cancelled")
        return self.executor.end_orphan(job, "failed")

    def sweep_jobs(self, *, throttle: bool = False) -> int:
        """Look at every running job once (on start, every heartbeat interval, in each
        worker); orphaned ones end within one interval of going stale."""
        now = time.monotonic()
        if throttle and now - self._last_sweep < self.heartbeat_seconds:
            return 0
        self._last_sweep = now
        ended = 0
        for job in self.store.query(JobRecord, {"status": "running"}):
            try:
                ended += self.sweep_job(job)
            except Exception:  # noqa: BLE001 - one bad record must not stop the sweep
                _log.warning("could not sweep job %s", job.id, exc_info=True)
        for job in self.store.query(JobRecord, {"status": "queued", "cancel_requested": True}):
            ended += self.sweep_job(job)
        return ended

    def _sweep_periodically(self) -> None:
        while not self._closed.wait(self.heartbeat_seconds):
            try:
                self.sweep_jobs()
            except Exception:  # noqa: BLE001 - the next round tries again
                _log.warning("job sweep failed", exc_info=True)

    def _heartbeat(self, job_ids: set[str]) -> None:
        now = utcnow_iso()
        for job_id in job_ids:
            self.store.update(JobRecord, job_id, {"heartbeat_at": now},
                              expect={"status": "running"})

    def recover_jobs(self) -> dict[str, int]:
        """After a (re)start: orphaned running jobs fail as resumable; queued ones that
        never started are submitted again (the state machine lets only one replica run it)."""
        counts = {"interrupted": self.sweep_jobs(), "resubmitted": 0}
        if self.settings.jobs_url.startswith("inline"):
            for job in self.store.query(JobRecord, {"status": "queued"}, order_by="created_at"):
                self.runner.submit(job.id)
                counts["resubmitted"] += 1
        return counts

    # Samples.

    def plan_sample(self, actor: ApiKeyRecord, model_id: str, *, num_rows: int,
                    seed: int | None, fmt: str, delivery: str, conditions: dict | None,
                    version: int | None, table: str | None, options: dict,
                    request_id: str | None = None) -> SamplePlan:
        model, ver = self.sampling_version(actor, model_id, version)
        if num_rows > self.settings.max_rows:
            raise InvalidInput(f"num_rows {num_rows} is above this deployment's limit of "
                               f"{self.settings.max_rows}", code="too_many_rows")
        _engine, info = engine_for(model.synthesizer)
        if conditions:
            if not info.supports_conditions:
                raise InvalidInput(f"{model.synthesizer} does not support conditions",
                                   code="conditions_unsupported")
            columns = self._columns(ver)
            unknown = sorted(set(conditions) - columns)
            if unknown:
                raise InvalidInput(f"conditions name unknown columns {unknown}; columns are "
                                   f"{sorted(columns)}", code="unknown_condition_column")
        tables = list(ver.sdv_metadata.get("tables", {}))
        if table is not None and table not in tables:
            raise InvalidInput(f"no table {table!r}; tables are {tables}", code="unknown_table")
        if len(tables) > 1 and fmt != "json" and table is None:
            raise InvalidInput(f"this model generates several tables {tables}; pick one with "
                               "`table` for csv/parquet, or use format json",
                               code="table_required")
        seed = seed if seed is not None else secrets.randbelow(2**31)
        inline_limit = self._inline_row_limit(ver, fmt)
        if delivery == "auto":
            delivery = "inline" if num_rows <= inline_limit else "link"
        if delivery == "inline" and num_rows > inline_limit:
            raise InvalidInput(f"inline results of this model are limited to {inline_limit} "
                               "rows; use delivery 'stream' or 'link'", code="too_many_inline_rows")
        if delivery == "stream" and not self.settings.allow_streaming:
            raise InvalidInput("this deployment cannot stream responses (its adapter buffers "
                               "them); use delivery 'link'", code="streaming_unavailable")
        if delivery == "stream" and fmt == "json" and len(tables) > 1:
            raise InvalidInput("multi-table results cannot stream; use 'link' or pick a "
                               "table", code="table_required")
        plan = SamplePlan(delivery=delivery, fmt=fmt, seed=seed, num_rows=num_rows,
                          model=model, version=ver, table=table)
        if delivery == "link":
            artifact = ArtifactRecord(
                id=new_id("smp"), owner=model.owner, kind="sample", model_id=model.id,
                version=ver.version, status="pending", format=fmt, num_rows=num_rows,
                content={"seed": seed, "conditions": conditions or {}, "table": table,
                         "options": options}, created_at=utcnow_iso(),
            )
            job = self._queue_artifact_job(actor, artifact, "sample")
            plan.job, plan.artifact = job, self.store.get(ArtifactRecord, artifact.id)
        else:
            plan.chunks = self.sample_frames(model, ver, num_rows=num_rows, seed=seed,
                                             conditions=conditions, table=table,
                                             options=options)
        self.audit(actor, "model.sample", "model", model.id, request_id=request_id,
                   version=ver.version, num_rows=num_rows, delivery=delivery, seed=seed)
        return plan

    #: Rough bytes one cell takes in a response, by format (JSON repeats column names).
    _BYTES_PER_CELL = {"json": 32, "jsonl": 32, "csv": 12, "parquet": 12}

    def _inline_row_limit(self, version: ModelVersionRecord, fmt: str) -> int:
        """Rows that fit inline: the row limit, and the response-size budget for this
        table's width (a wide table reaches Lambda's 6 MB long before 10,000 rows)."""
        width = max(1, len(self._columns(version)))
        by_size = self.settings.inline_max_bytes // (width * self._BYTES_PER_CELL.get(fmt, 32))
        return max(1, min(self.settings.inline_max_rows, by_size))

    @staticmethod
    def _columns(version: ModelVersionRecord) -> set[str]:
        columns: set[str] = set()
        for table in version.sdv_metadata.get("tables", {}).values():
            columns.update(table.get("columns", {}))
        return columns

    def sample_frames(self, model: ModelRecord, version: ModelVersionRecord, *, num_rows: int,
                      seed: int, conditions: dict | None, table: str | None,
                      options: dict | None = None, chunk_rows: int = 50_000):
        """Yield DataFrames (one table) or, for multi-table json, one dict of DataFrames."""
        engine, fitted = self.load_model(model, version)
        multi = len(version.sdv_metadata.get("tables", {})) > 1
        opts = dict(options or {})
        try:
            for chunk in engine.sample(fitted, num_rows, seed=seed, conditions=conditions,
                                       chunk_rows=chunk_rows, options=opts):
                rows = sum(len(frame) for frame in chunk.values())
                self.metrics.rows.labels(model.synthesizer).inc(rows)
                if multi and table is None:
                    yield chunk
                else:
                    yield chunk[table] if table else next(iter(chunk.values()))
        except EngineError as exc:
            raise InvalidInput(str(exc), code=exc.code) from None

    def get_sample(self, actor: ApiKeyRecord, sample_id: str) -> ArtifactRecord:
        artifact = self.store.get(ArtifactRecord, sample_id)
        if artifact is not None and artifact.kind != "sample":
            artifact = None
        return self.visible(actor, artifact, "sample", sample_id)

    def delete_sample(self, actor: ApiKeyRecord, sample_id: str, *,
                      request_id: str | None = None) -> None:
        artifact = self.get_sample(actor, sample_id)
        if artifact.status == "pending":
            raise Conflict("the sample is still being generated; cancel its job first",
                           code="sample_pending")
        if artifact.storage_key:
            self.storage.delete(artifact.storage_key)
        self.store.delete(ArtifactRecord, artifact.id)
        self.audit(actor, "sample.delete", "sample", artifact.id, request_id=request_id)

    def _queue_artifact_job(self, actor: ApiKeyRecord, artifact: ArtifactRecord,
                            kind: str) -> JobRecord:
        """Store an artifact and the job that fills it; undo both if it cannot start."""
        self.store.insert(artifact)
        job = None
        try:
            job = self.create_job(actor, kind, model_id=artifact.model_id,
                                  payload={"artifact_id": artifact.id})
            self.store.update(ArtifactRecord, artifact.id, {"job_id": job.id})
            self.submit(job)
        except BaseException:
            if job is not None:
                self._undo(JobRecord, job.id)
            self._undo(ArtifactRecord, artifact.id)
            raise
        return job

    # Reports.

    def create_report(self, actor: ApiKeyRecord, model_id: str, *, version: int | None,
                      num_rows: int | None, request_id: str | None = None):
        model, ver = self.sampling_version(actor, model_id, version)
        artifact = ArtifactRecord(
            id=new_id("rep"), owner=model.owner, kind="report", model_id=model.id,
            version=ver.version, status="pending", format="json",
            num_rows=num_rows or 0, created_at=utcnow_iso(),
        )
        job = self._queue_artifact_job(actor, artifact, "report")
        self.audit(actor, "model.report", "model", model.id, request_id=request_id,
                   version=ver.version, report_id=artifact.id)
        return self.store.get(ArtifactRecord, artifact.id), job

    def get_report(self, actor: ApiKeyRecord, model_id: str, report_id: str) -> ArtifactRecord:
        self.get_model(actor, model_id)
        artifact = self.store.get(ArtifactRecord, report_id)
        if artifact is not None and (artifact.kind != "report" or artifact.model_id != model_id):
            artifact = None
        return self.visible(actor, artifact, "report", report_id)

    def list_reports(self, actor: ApiKeyRecord, model_id: str) -> list[ArtifactRecord]:
        model = self.get_model(actor, model_id)
        return self.store.query(ArtifactRecord, {"model_id": model.id, "kind": "report"},
                                order_by="created_at", descending=True)

    # Keys and audit.

    def issue_key(self, actor: ApiKeyRecord, *, scope: str, name: str, owner: str,
                  request_id: str | None = None):
        try:
            issued = self.keys.issue(scope=scope, name=name, owner=owner, created_by=actor.id)
        except ValueError as exc:
            raise InvalidInput(str(exc), code="invalid_key_request") from None
        self.audit(actor, "key.create", "key", issued.record.id, request_id=request_id,
                   scope=scope, owner=owner)
        return issued

    def revoke_key(self, actor: ApiKeyRecord, key_id: str, *, request_id: str | None = None):
        record = self.store.get(ApiKeyRecord, key_id)
        if record is None:
            raise NotFound(f"no key {key_id!r}", code="key_not_found")
        if record.revoked_at is not None:
            raise Conflict("the key is already revoked", code="key_revoked")
        self.keys.revoke(key_id)
        self.audit(actor, "key.revoke", "key", key_id, request_id=request_id)

    def audit_events(self, *, limit: int, actor: str | None, target_id: str | None,
                     action: str | None) -> list[AuditRecord]:
        where = {k: v for k, v in {"actor": actor, "target_id": target_id,
                                   "action": action}.items() if v}
        return self.store.query(AuditRecord, where or None, order_by="at", descending=True,
                                limit=limit)
