"""`/v1/jobs`: status and progress, list, cancel, retry."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from ..backends.metadata import ApiKeyRecord, JobRecord
from ..core import Service
from ..deps import get_service, idempotency_header, once, request_id, require
from ..schemas import JobOut

__all__ = ["job_out", "router"]

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


def job_out(job: JobRecord) -> JobOut:
    return JobOut(id=job.id, kind=job.kind, status=job.status, progress=job.progress,
                  message=job.message, cancel_requested=job.cancel_requested,
                  model_id=job.model_id, result=job.result,
                  error=job.error, attempts=job.attempts, created_at=job.created_at,
                  started_at=job.started_at, finished_at=job.finished_at)


@router.get("", response_model=list[JobOut])
def list_jobs(status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
              | None = None, limit: int = Query(100, ge=1, le=1000),
              actor: ApiKeyRecord = Depends(require("read")),
              service: Service = Depends(get_service)):
    return [job_out(j) for j in service.list_jobs(actor, status=status, limit=limit)]


@router.get("/{job_id}", response_model=JobOut, summary="Status and progress of a job")
def get_job(job_id: str, actor: ApiKeyRecord = Depends(require("read")),
            service: Service = Depends(get_service)):
    return job_out(service.get_job(actor, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut, summary="Cancel a queued or running job")
def cancel_job(job_id: str, request: Request, actor: ApiKeyRecord = Depends(require("write")),
               service: Service = Depends(get_service)):
    return job_out(service.cancel_job(actor, job_id, request_id=request_id(request)))


@router.post("/{job_id}/retry", response_model=JobOut, status_code=202,
             summary="Run a failed, interrupted or cancelled job again")
async def retry_job(job_id: str, request: Request,
                    idempotency_key: str | None = idempotency_header(),
                    actor: ApiKeyRecord = Depends(require("write")),
                    service: Service = Depends(get_service)):
    def retry() -> dict:
        return job_out(service.retry_job(actor, job_id,
                                         request_id=request_id(request))).model_dump()

    return await once(request, service, actor, idempotency_key, None, retry, status=202)
