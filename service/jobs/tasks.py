"""What each job does: train a model version, write a sample file, build a report.

`JobExecutor.run(job_id)` moves a job queued -> running -> succeeded/failed/cancelled with
conditional updates, so a job runs at most once at a time even when several replicas see
it. Every failure path undoes what the job half-wrote (a blob without a ready version,
a sample file without a finished record).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from .._util import utcnow_iso
from ..backends.metadata import ArtifactRecord, JobRecord, ModelRecord, ModelVersionRecord
from ..engines import EngineError, JobCancelled, engine_for
from ..errors import ServiceError
from ..modelstore import report_prefix

if TYPE_CHECKING:
    from ..core import Service

__all__ = ["JobExecutor"]

_log = logging.getLogger("synthdata_service.jobs")
_CANCEL_POLL_SECONDS = 0.5


class _Progress:
    """Writes monotonic progress + heartbeat, and notices cancellation (throttled)."""

    def __init__(self, service: Service, job: JobRecord) -> None:
        self._service = service
        self._job_id = job.id
        self._best = job.progress
        self._last_write = 0.0

    def __call__(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        fraction = max(self._best, min(0.99, float(fraction)))
        now = time.monotonic()
        if not force and now - self._last_write < _CANCEL_POLL_SECONDS \
                and fraction - self._best < 0.05:
            return
        self._best = fraction
        self._last_write = now
        store = self._service.store
        store.update(JobRecord, self._job_id, {"progress": round(fraction, 4),
                                               "message": message or "running",
                                               "heartbeat_at": utcnow_iso()},
                     expect={"status": "running"})
        job = store.get(JobRecord, self._job_id)
        if job is None or job.cancel_requested or job.status != "running":
            raise JobCancelled(self._job_id)


class JobExecutor:
    def __init__(self, service: Service) -> None:
        self.service = service

    # State machine.

    def run(self, job_id: str) -> None:
        store = self.service.store
        job = store.get(JobRecord, job_id)
        if job is None:
            return
        now = utcnow_iso()
        if not store.update(JobRecord, job_id, {"status": "running", "started_at": now,
                                                "heartbeat_at": now, "message": "started",
                                                "attempts": job.attempts + 1,
                                                "worker": self.service.worker_id},
                            expect={"status": "queued", "cancel_requested": False}):
            return  # cancelled, or another worker took it
        job = store.get(JobRecord, job_id)
        progress = _Progress(self.service, job)
        metrics = self.service.metrics
        metrics.jobs_running.inc()
        try:
            body = {"train": self._train, "sample": self._sample, "report": self._report}[job.kind]
            result = body(job, progress)
        except JobCancelled:
            self._finish(job, "cancelled", message="cancelled")
        except (EngineError, ServiceError) as exc:
            code = getattr(exc, "code", "job_failed")
            message = getattr(exc, "message", None) or str(exc)
            self._finish(job, "failed", error={"code": code, "message": message},
                         message=message[:500])
        except Exception as exc:  # noqa: BLE001 - reported on the job, never as a trace
            _log.exception("job %s (%s) failed", job.id, job.kind)
            self._finish(job, "failed", message="internal error",
                         error={"code": "internal_error",
                                "message": f"the job failed unexpectedly ({type(exc).__name__});"
                                " retry it, and report the job id if it fails again"})
        else:
            self._finish(job, "succeeded", result=result, message="done")
        finally:
            metrics.jobs_running.dec()

    def _finish(self, job: JobRecord, status: str, *, message: str,
                result: dict | None = None, error: dict | None = None) -> None:
        changes: dict[str, Any] = {"status": status, "finished_at": utcnow_iso(),
                                   "message": message, "result": result, "error": error}
        if status == "succeeded":
            changes["progress"] = 1.0
        applied = self.service.store.update(JobRecord, job.id, changes,
                                            expect={"status": "running"})
        if status != "succeeded":
            self.cleanup(job, status, error)
        if applied:
            self.service.metrics.jobs.labels(job.kind, status).inc()

    def end_orphan(self, job: JobRecord, status: str) -> bool:
        """End a running job whose worker vanished: `failed` and resumable through POST
        /v1/jobs/{id}/retry, or `cancelled` when a cancel was asked for. Conditional on
        the heartbeat the caller saw, so a job whose worker just stamped it is left alone."""
        if status == "cancelled":
            changes: dict[str, Any] = {"status": "cancelled", "message": "cancelled",
                                       "error": None}
            error = None
        else:
            error = {"code": "job_interrupted", "resumable": True,
                     "message": "the process running this job stopped (a crash or restart); "
                                f"POST /v1/jobs/{job.id}/retry to run it again"}
            changes = {"status": "failed", "error": error,
                       "message": "interrupted: its worker stopped"}
        changes["finished_at"] = utcnow_iso()
        if not self.service.store.update(JobRecord, job.id, changes, expect={
                "status": "running", "heartbeat_at": job.heartbeat_at}):
            return False
        self.cleanup(job, status, error)
        self.service.metrics.jobs.labels(job.kind, status).inc()
        return True

    def mark_interrupted(self, job: JobRecord) -> bool:
        """A job whose worker vanished: failed, resumable (see `end_orphan`)."""
        return self.end_orphan(job, "failed")

    def cleanup(self, job: JobRecord, status: str, error: dict | None = None) -> None:
        """Undo what a job that did not succeed may have half-written."""
        store, storage = self.service.store, self.service.storage
        if job.kind == "train":
            version = store.get(ModelVersionRecord, job.payload.get("version_id", ""))
            if version is not None and version.status != "ready":
                if version.storage_key:
                    storage.delete(version.storage_key)
                store.update(ModelVersionRecord, version.id, {
                    "status": status, "storage_key": None, "integrity": None,
                    "error": error})
        else:
            artifact = store.get(ArtifactRecord, job.payload.get("artifact_id", ""))
            if artifact is not None and artifact.status != "ready":
                if job.kind == "report":
                    storage.delete_prefix(report_prefix(artifact.model_id, artifact.version,
                                                        artifact.id))
                if artifact.storage_key:
                    storage.delete(artifact.storage_key)
                store.update(ArtifactRecord, artifact.id, {"status": status,
                                                           "storage_key": None})

    def prepare_retry(self, job: JobRecord) -> None:
        store = self.service.store
        if job.kind == "train":
            store.update(ModelVersionRecord, job.payload["version_id"],
                         {"status": "queued", "error": None})
        else:
            store.update(ArtifactRecord, job.payload["artifact_id"], {"status": "pending"})

    # Bodies.

    def _train(self, job: JobRecord, progress: _Progress) -> dict:
        service = self.service
        store = service.store
        version = store.get(ModelVersionRecord, job.payload["version_id"])
        model = store.get(ModelRecord, job.payload["model_id"])
        if version is None or model is None:
            raise ServiceError("the model was deleted before training started",
                               code="model_deleted")
        store.update(ModelVersionRecord, version.id, {"status": "training"})
        progress(0.01, "loading dataset")
        from ..backends.metadata import DatasetRecord

        dataset = store.get(DatasetRecord, version.dataset_id)
        if dataset is None:
            raise ServiceError("the dataset was deleted before training", code="dataset_deleted")
        tables = service.load_tables(dataset)
        engine, _info = engine_for(model.synthesizer)
        started = time.perf_counter()
        fitted = engine.fit(model.synthesizer, tables, version.parameters, progress)
        fit_seconds = time.perf_counter() - started
        progress(0.97, "saving model", force=True)  # a cancel stops here, before storing
        data = engine.dumps(fitted.model)
        key, tag = service.models.save(version, data)
        store.update(ModelVersionRecord, version.id, {
            "status": "ready", "storage_key": key, "integrity": tag, "size_bytes": len(data),
            "fit_seconds": round(fit_seconds, 3), "sdv_metadata": fitted.metadata,
            "trained_at": utcnow_iso(), "error": None,
        })
        # The newest trained version becomes active, unless a newer one already is.
        current = store.get(ModelRecord, model.id)
        if current is not None and (current.active_version is None
                                    or current.active_version < version.version):
            store.update(ModelRecord, model.id, {"active_version": version.version},
                         expect={"active_version": current.active_version})
        return {"model_id": model.id, "version": version.version,
                "fit_seconds": round(fit_seconds, 3), "size_bytes": len(data)}

    def _artifact_of(self, job: JobRecord, doing: str):
        """The job's artifact with its model and version, or `model_deleted` if gone."""
        store = self.service.store
        artifact = store.get(ArtifactRecord, job.payload["artifact_id"])
        model = store.get(ModelRecord, artifact.model_id) if artifact else None
        version = store.version(artifact.model_id, artifact.version) if artifact else None
        if artifact is None or model is None or version is None:
            raise ServiceError(f"the model was deleted before {doing}", code="model_deleted")
        return artifact, model, version

    def _sample(self, job: JobRecord, progress: _Progress) -> dict:
        from ..engines import sampler_path
        from ..output import encode

        service = self.service
        store = service.store
        artifact, model, version = self._artifact_of(job, "sampling")
        content = artifact.content
        total = max(1, artifact.num_rows)
        written = 0
        path: dict = {}

        def frames():
            nonlocal written
            for frame in service.sample_frames(model, version, num_rows=artifact.num_rows,
                                               seed=content["seed"],
                                               conditions=content.get("conditions") or None,
                                               table=content.get("table"),
                                               options=content.get("options")):
                if isinstance(frame, dict):  # multi-table json: one object of tables
                    yield frame
                    continue
                written += len(frame)
                path.update(sampler_path(frame))
                progress(written / total, f"{written} of {total} rows")
                yield frame

        key = f"samples/{model.id}/{artifact.id}.{artifact.format}"
        multi = len(version.sdv_metadata.get("tables", {})) > 1 and not content.get("table")
        if multi:
            import json

            from ..output import to_records

            tables = next(frames())
            body = json.dumps({"tables": {n: to_records(f) for n, f in tables.items()}})
            size = service.storage.put_stream(key, [body.encode()])
            written = sum(len(f) for f in tables.values())
        else:
            size = service.storage.put_stream(key, encode(artifact.format, frames()))
        try:
            progress(0.99, "stored", force=True)  # cancelled meanwhile: do not publish it
        except JobCancelled:
            service.storage.delete(key)
            raise
        store.update(ArtifactRecord, artifact.id, {
            "status": "ready", "storage_key": key, "size_bytes": size, "num_rows": written})
        return {"sample_id": artifact.id, "rows": written, "size_bytes": size,
                "download": f"/v1/samples/{artifact.id}", **path}

    def _report(self, job: JobRecord, progress: _Progress) -> dict:
        from ..backends.metadata import DatasetRecord
        from ..reports import build_report

        service = self.service
        store = service.store
        artifact, model, version = self._artifact_of(job, "the report ran")
        dataset = store.get(DatasetRecord, version.dataset_id)
        if dataset is None:
            raise ServiceError("the model's dataset was deleted; a report compares against "
                               "it", code="dataset_deleted")
        progress(0.05, "loading data")
        real = service.load_tables(dataset)
        engine, fitted = service.load_model(model, version)
        progress(0.15, "sampling")
        summary, files = build_report(engine, fitted, real, version.sdv_metadata,
                                      synthesizer=model.synthesizer,
                                      num_rows=artifact.num_rows or None, progress=progress)
        progress(0.95, "storing", force=True)
        prefix = report_prefix(model.id, version.version, artifact.id)
        for name, data in files.items():
            service.storage.put_bytes(f"{prefix}/{name}", data)
        summary["plots"] = sorted(files)
        store.update(ArtifactRecord, artifact.id, {
            "status": "ready", "storage_key": f"{prefix}/report.json", "content": summary,
            "size_bytes": sum(len(d) for d in files.values())})
        return {"report_id": artifact.id, "quality_score": summary["quality"]["score"],
                "diagnostic_score": summary["diagnostic"]["score"]}
