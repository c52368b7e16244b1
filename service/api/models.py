"""`/v1/models`: train, list, get, versions (retrain, activate, rollback), delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from ..backends.metadata import ApiKeyRecord, ModelRecord, ModelVersionRecord
from ..core import Service
from ..deps import get_service, idempotency_header, once, request_id, require
from ..engines import load_engines
from ..schemas import (
    MAX_VERSION,
    JobOut,
    ModelCreate,
    ModelCreated,
    ModelOut,
    VersionCreate,
    VersionOut,
)
from .jobs import job_out

__all__ = ["router", "synthesizers_router"]

router = APIRouter(prefix="/v1/models", tags=["models"])
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION, description="A version number")]
synthesizers_router = APIRouter(prefix="/v1/synthesizers", tags=["models"])


def version_out(v: ModelVersionRecord) -> VersionOut:
    return VersionOut(version=v.version, status=v.status, dataset_id=v.dataset_id,
                      parameters=v.parameters, job_id=v.job_id, size_bytes=v.size_bytes,
                      fit_seconds=v.fit_seconds, created_at=v.created_at,
                      trained_at=v.trained_at, error=v.error)


def model_out(service: Service, m: ModelRecord) -> ModelOut:
    versions = [version_out(v) for v in service.store.versions(m.id)]
    return ModelOut(id=m.id, name=m.name, dataset_id=m.dataset_id, synthesizer=m.synthesizer,
                    engine=m.engine, active_version=m.active_version,
                    latest_version=m.latest_version, created_at=m.created_at,
                    versions=versions)


@synthesizers_router.get("", summary="Synthesizers this deployment offers, with parameters")
def list_synthesizers(actor: ApiKeyRecord = Depends(require("read")),
                      service: Service = Depends(get_service)):
    out = []
    for engine in load_engines().values():
        for info in engine.synthesizers().values():
            if info.name in service.settings.synthesizers:
                out.append({"name": info.name, "engine": engine.name, "kind": info.kind,
                            "description": info.description, "license": engine.license,
                            "supports_conditions": info.supports_conditions,
                            "parameters": info.parameters_schema})
    return out


@router.post("", status_code=202, response_model=ModelCreated,
             summary="Train a synthesizer on a dataset (a background job)")
async def create_model(body: ModelCreate, request: Request,
                       idempotency_key: str | None = idempotency_header(),
                       actor: ApiKeyRecord = Depends(require("write")),
                       service: Service = Depends(get_service)):
    def create() -> dict:
        model, version, job = service.create_model(
            actor, dataset_id=body.dataset_id, synthesizer=body.synthesizer,
            parameters=body.parameters, name=body.name, request_id=request_id(request))
        out = model_out(service, model)
        return ModelCreated(**out.model_dump(), job_id=job.id,
                            version=version.version).model_dump()

    return await once(request, service, actor, idempotency_key, body, create, status=202)


@router.get("", response_model=list[ModelOut], summary="List models")
def list_models(limit: int = Query(100, ge=1, le=1000),
                actor: ApiKeyRecord = Depends(require("read")),
                service: Service = Depends(get_service)):
    return [model_out(service, m) for m in service.list_models(actor, limit)]


@router.get("/{model_id}", response_model=ModelOut, summary="Get a model and its versions")
def get_model(model_id: str, actor: ApiKeyRecord = Depends(require("read")),
              service: Service = Depends(get_service)):
    return model_out(service, service.get_model(actor, model_id))


@router.delete("/{model_id}", status_code=204, summary="Delete a model, its versions, "
               "samples and reports")
def delete_model(model_id: str, request: Request,
                 actor: ApiKeyRecord = Depends(require("write")),
                 service: Service = Depends(get_service)):
    service.delete_model(actor, model_id, request_id=request_id(request))
    return Response(status_code=204)


@router.get("/{model_id}/versions", response_model=list[VersionOut])
def list_versions(model_id: str, actor: ApiKeyRecord = Depends(require("read")),
                  service: Service = Depends(get_service)):
    model = service.get_model(actor, model_id)
    return [version_out(v) for v in service.store.versions(model.id)]


@router.post("/{model_id}/versions", status_code=202, response_model=JobOut,
             summary="Train a new version (same or new parameters / dataset)")
async def create_version(model_id: str, body: VersionCreate, request: Request,
                         idempotency_key: str | None = idempotency_header(),
                         actor: ApiKeyRecord = Depends(require("write")),
                         service: Service = Depends(get_service)):
    def create() -> dict:
        _version, job = service.retrain(actor, model_id, parameters=body.parameters,
                                        dataset_id=body.dataset_id,
                                        request_id=request_id(request))
        return job_out(job).model_dump()

    return await once(request, service, actor, idempotency_key, body, create, status=202)


@router.get("/{model_id}/versions/{version}", response_model=VersionOut)
def get_version(model_id: str, version: VersionNumber,
                actor: ApiKeyRecord = Depends(require("read")),
                service: Service = Depends(get_service)):
    return version_out(service.get_version(actor, model_id, version))


@router.post("/{model_id}/versions/{version}/activate", response_model=ModelOut,
             summary="Make a trained version the one samples come from")
def activate_version(model_id: str, version: VersionNumber, request: Request,
                     actor: ApiKeyRecord = Depends(require("write")),
                     service: Service = Depends(get_service)):
    return model_out(service, service.activate(actor, model_id, version,
                                               request_id=request_id(request)))


@router.post("/{model_id}/rollback", response_model=ModelOut,
             summary="Activate the newest trained version older than the active one")
def rollback(model_id: str, request: Request, actor: ApiKeyRecord = Depends(require("write")),
             service: Service = Depends(get_service)):
    return model_out(service, service.rollback(actor, model_id, request_id=request_id(request)))
