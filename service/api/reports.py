"""Reports: SDMetrics quality and diagnostic of a model version against its dataset."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ..backends.metadata import ApiKeyRecord, ArtifactRecord
from ..backends.storage import ObjectNotFound
from ..core import Service
from ..deps import get_service, idempotency_header, once, request_id, require
from ..errors import NotFound
from ..modelstore import report_prefix
from ..schemas import ReportCreate, ReportOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/models/{model_id}/reports", tags=["reports"])


def report_out(artifact: ArtifactRecord) -> ReportOut:
    content = artifact.content or {}
    base = f"/v1/models/{artifact.model_id}/reports/{artifact.id}/plots"
    return ReportOut(id=artifact.id, model_id=artifact.model_id, version=artifact.version,
                     status=artifact.status, job_id=artifact.job_id,
                     created_at=artifact.created_at, quality=content.get("quality"),
                     diagnostic=content.get("diagnostic"),
                     plots={name: f"{base}/{name}" for name in content.get("plots", [])
                            if name.endswith(".html")})


@router.post("", status_code=202, response_model=ReportOut,
             summary="Score the model's synthetic data against its dataset (a job)")
async def create_report(model_id: str, request: Request, body: ReportCreate | None = None,
                        idempotency_key: str | None = idempotency_header(),
                        actor: ApiKeyRecord = Depends(require("write")),
                        service: Service = Depends(get_service)):
    body = body or ReportCreate()

    def create() -> dict:
        artifact, _job = service.create_report(actor, model_id, version=body.version,
                                               num_rows=body.num_rows,
                                               request_id=request_id(request))
        return report_out(artifact).model_dump()

    return await once(request, service, actor, idempotency_key, body, create, status=202,
                      headers=lambda out: {
                          "Location": f"/v1/models/{model_id}/reports/{out['id']}"})


@router.get("", response_model=list[ReportOut])
def list_reports(model_id: str, actor: ApiKeyRecord = Depends(require("read")),
                 service: Service = Depends(get_service)):
    return [report_out(a) for a in service.list_reports(actor, model_id)]


@router.get("/{report_id}", response_model=ReportOut)
def get_report(model_id: str, report_id: str, actor: ApiKeyRecord = Depends(require("read")),
               service: Service = Depends(get_service)):
    return report_out(service.get_report(actor, model_id, report_id))


@router.get("/{report_id}/plots/{name}", summary="A report plot (interactive HTML)")
def get_plot(model_id: str, report_id: str, name: str,
             actor: ApiKeyRecord = Depends(require("read")),
             service: Service = Depends(get_service)):
    artifact = service.get_report(actor, model_id, report_id)
    if name not in (artifact.content or {}).get("plots", []):
        raise NotFound(f"the report has no plot {name!r}", code="plot_not_found")
    try:
        prefix = report_prefix(artifact.model_id, artifact.version, artifact.id)
        data = service.storage.get_bytes(f"{prefix}/{name}")
    except ObjectNotFound:
        raise NotFound("the plot file is gone", code="plot_not_found") from None
    media = "text/html; charset=utf-8" if name.endswith(".html") else "application/json"
    return Response(data, media_type=media)
