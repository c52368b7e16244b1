"""Samples: `POST /v1/models/{id}/samples` (inline, streamed, or a job + expiring link),
`GET /v1/samples/{id}`, its signed download, and delete."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..backends.metadata import ApiKeyRecord, ArtifactRecord
from ..backends.storage import ObjectNotFound
from ..core import Service
from ..deps import get_service, idempotency_header, request_id, require
from ..engines import sampler_path
from ..errors import Forbidden, Gone, NotFound
from ..idempotency import fingerprint
from ..output import MEDIA_TYPES, encode, prefetch, to_records
from ..schemas import SampleOut, SampleRequest
from ..signing import sign_download, verify_download

__all__ = ["router"]

router = APIRouter(tags=["samples"])


def _download_url(request: Request, service: Service, artifact: ArtifactRecord):
    if artifact.status != "ready" or not artifact.storage_key:
        return None, None
    ttl = service.settings.link_ttl_seconds
    filename = f"{artifact.id}.{artifact.format}"
    presigned = service.storage.signed_url(artifact.storage_key, ttl, filename=filename)
    expires, signature = sign_download(service.pepper, artifact.id, ttl)
    expires_at = datetime.fromtimestamp(expires, UTC).isoformat()
    if presigned:
        return presigned, expires_at
    base = service.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return (f"{base}/v1/samples/{artifact.id}/download?expires={expires}"
            f"&signature={signature}", expires_at)


def sampler_headers(frame) -> dict[str, str]:
    """`X-Synth-Sampler` (and `-Reason` when SDV's path ran instead of a faster one)."""
    path = sampler_path(frame)
    headers = {"X-Synth-Sampler": path["sampler"]} if path.get("sampler") else {}
    if path.get("reason"):
        headers["X-Synth-Sampler-Reason"] = path["reason"]
    return headers


def sample_out(request: Request, service: Service, artifact: ArtifactRecord) -> SampleOut:
    url, expires_at = _download_url(request, service, artifact)
    return SampleOut(id=artifact.id, status=artifact.status, model_id=artifact.model_id,
                     version=artifact.version, format=artifact.format,
                     num_rows=artifact.num_rows, size_bytes=artifact.size_bytes,
                     seed=artifact.content.get("seed"), job_id=artifact.job_id,
                     created_at=artifact.created_at, download_url=url, expires_at=expires_at)


@router.post("/v1/models/{model_id}/samples", summary="Generate synthetic rows",
             responses={200: {"description": "Rows inline or streamed (json/csv/parquet)"},
                        202: {"model": SampleOut, "description": "A job writing a file"}})
async def create_sample(model_id: str, body: SampleRequest, request: Request,
                        idempotency_key: str | None = idempotency_header(),
                        actor: ApiKeyRecord = Depends(require("read")),
                        service: Service = Depends(get_service)):
    options = {"sequence_length": body.sequence_length} if body.sequence_length else {}
    if body.sampler != "auto":
        options["sampler"] = body.sampler
    claim = None
    seed = body.seed
    if idempotency_key is not None:
        # A stored file (link) is answered from the first response; rows in the body are
        # generated again from the first request's seed: the same rows, not stored twice.
        digest = fingerprint("POST", request.url.path, body.model_dump(mode="json"))
        claim = await run_in_threadpool(lambda: service.idempotency.begin(
            actor.owner, idempotency_key, method="POST", path=request.url.path,
            digest=digest))
        first = claim.replay
        if first is not None and "replay_seed" not in (first.get("body") or {}):
            return JSONResponse(first["body"], status_code=first["status"],
                                headers={**first["headers"], "Idempotent-Replayed": "true"})
        if first is not None:
            seed, claim = first["body"]["replay_seed"], None
    try:
        plan = await run_in_threadpool(lambda: service.plan_sample(
            actor, model_id, num_rows=body.num_rows, seed=seed, fmt=body.format,
            delivery=body.delivery, conditions=body.conditions, version=body.version,
            table=body.table, options=options, request_id=request_id(request)))
    except BaseException:
        if claim is not None:
            await run_in_threadpool(service.idempotency.release, claim)
        raise
    headers = {"X-Synth-Seed": str(plan.seed), "X-Synth-Model-Version": str(plan.version.version)}
    if plan.delivery == "link":
        out = sample_out(request, service, plan.artifact).model_dump()
        headers["Location"] = f"/v1/samples/{plan.artifact.id}"
        if claim is not None:
            await run_in_threadpool(lambda: service.idempotency.complete(
                claim, status=202, body=out, headers=headers))
        return JSONResponse(out, status_code=202, headers=headers)
    if claim is not None:
        await run_in_threadpool(lambda: service.idempotency.complete(
            claim, status=200, body={"replay_seed": plan.seed}))
    media_type = MEDIA_TYPES[plan.fmt]
    if plan.delivery == "stream":
        headers["Content-Disposition"] = f'attachment; filename="{model_id}.{plan.fmt}"'
        # Draw the first chunk before answering, so a model that cannot load or sample is
        # a problem response rather than a 200 whose body breaks off.
        frames = prefetch(plan.chunks)
        first = await run_in_threadpool(next, frames, None)
        headers.update(sampler_headers(first))
        chunks = itertools.chain([first] if first is not None else [], frames)
        return StreamingResponse(encode(plan.fmt, chunks), media_type=media_type,
                                 headers=headers)

    def render() -> bytes:
        frames = list(plan.chunks)
        headers.update(sampler_headers(frames[0] if frames else None))
        if frames and isinstance(frames[0], dict):  # multi-table json
            tables = {n: to_records(f) for n, f in frames[0].items()}
            return json.dumps({"model_id": plan.model.id, "version": plan.version.version,
                               "seed": plan.seed, "tables": tables}).encode()
        if plan.fmt == "json":
            import pandas as pd

            frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            return json.dumps({"model_id": plan.model.id, "version": plan.version.version,
                               "seed": plan.seed, "sampler": headers.get("X-Synth-Sampler"),
                               "num_rows": len(frame),
                               "columns": [str(c) for c in frame.columns],
                               "rows": to_records(frame)}).encode()
        return b"".join(encode(plan.fmt, iter(frames)))

    return Response(await run_in_threadpool(render), media_type=media_type, headers=headers)


@router.get("/v1/samples/{sample_id}", response_model=SampleOut,
            summary="A stored sample's status and a fresh expiring download link")
def get_sample(sample_id: str, request: Request, actor: ApiKeyRecord = Depends(require("read")),
               service: Service = Depends(get_service)):
    return sample_out(request, service, service.get_sample(actor, sample_id))


@router.delete("/v1/samples/{sample_id}", status_code=204)
def delete_sample(sample_id: str, request: Request,
                  actor: ApiKeyRecord = Depends(require("write")),
                  service: Service = Depends(get_service)):
    service.delete_sample(actor, sample_id, request_id=request_id(request))
    return Response(status_code=204)


@router.get("/v1/samples/{sample_id}/download",
            summary="Download a stored sample (the signature in the link authorises it)")
def download_sample(sample_id: str, expires: int = Query(...), signature: str = Query(...),
                    service: Service = Depends(get_service)):
    verdict = verify_download(service.pepper, sample_id, expires, signature)
    if verdict == "invalid":
        raise Forbidden("the download link's signature is invalid; ask GET "
                        f"/v1/samples/{sample_id} for a fresh link", code="invalid_signature")
    if verdict == "expired":
        raise Gone("the download link has expired; ask GET "
                   f"/v1/samples/{sample_id} for a fresh one", code="link_expired")
    artifact = service.store.get(ArtifactRecord, sample_id)
    if artifact is None or artifact.status != "ready" or not artifact.storage_key:
        raise NotFound("the sample no longer exists", code="sample_not_found")
    try:
        size = service.storage.size(artifact.storage_key)
    except ObjectNotFound:
        raise NotFound("the sample file is gone", code="sample_not_found") from None
    return StreamingResponse(
        service.storage.iter_chunks(artifact.storage_key), media_type=MEDIA_TYPES[artifact.format],
        headers={"Content-Length": str(size),
                 "Content-Disposition": f'attachment; filename="{artifact.id}.{artifact.format}"'})
