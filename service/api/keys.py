"""`/v1/keys` (issue, list, revoke) and `/v1/audit`: admin only."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from ..backends.metadata import ApiKeyRecord
from ..core import Service
from ..deps import get_service, request_id, require
from ..schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, AuditOut

__all__ = ["audit_router", "router"]

router = APIRouter(prefix="/v1/keys", tags=["keys"])
audit_router = APIRouter(prefix="/v1/audit", tags=["audit"])


def key_out(record: ApiKeyRecord) -> ApiKeyOut:
    return ApiKeyOut(id=record.id, name=record.name, scope=record.scope, owner=record.owner,
                     created_at=record.created_at, created_by=record.created_by,
                     revoked_at=record.revoked_at, last_used_at=record.last_used_at)


@router.post("", status_code=201, response_model=ApiKeyCreated,
             summary="Issue a key (its secret is shown once)")
def create_key(body: ApiKeyCreate, request: Request,
               actor: ApiKeyRecord = Depends(require("admin")),
               service: Service = Depends(get_service)):
    issued = service.issue_key(actor, scope=body.scope, name=body.name, owner=body.owner,
                               request_id=request_id(request))
    return ApiKeyCreated(**key_out(issued.record).model_dump(), key=issued.secret)


@router.get("", response_model=list[ApiKeyOut], summary="List keys (never their secrets)")
def list_keys(actor: ApiKeyRecord = Depends(require("admin")),
              service: Service = Depends(get_service)):
    return [key_out(r) for r in service.keys.list()]


@router.delete("/{key_id}", status_code=204, summary="Revoke a key")
def revoke_key(key_id: str, request: Request, actor: ApiKeyRecord = Depends(require("admin")),
               service: Service = Depends(get_service)):
    service.revoke_key(actor, key_id, request_id=request_id(request))
    return Response(status_code=204)


@audit_router.get("", response_model=list[AuditOut], summary="Who did what, newest first")
def list_audit(limit: int = Query(100, ge=1, le=1000), actor_id: str | None = Query(None,
               alias="actor"), target_id: str | None = None, action: str | None = None,
               actor: ApiKeyRecord = Depends(require("admin")),
               service: Service = Depends(get_service)):
    events = service.audit_events(limit=limit, actor=actor_id, target_id=target_id,
                                  action=action)
    return [AuditOut(**e.to_dict()) for e in events]
