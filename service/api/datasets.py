"""`/v1/datasets`: upload (multipart or a raw body), list, get, delete."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ..backends.metadata import ApiKeyRecord, DatasetRecord
from ..core import Service
from ..deps import get_service, idempotency_header, request_id, require, run_idempotent
from ..errors import InvalidInput, ServiceError, UnsupportedMediaType
from ..idempotency import fingerprint
from ..ingest import IngestLimits, ParsedTable, check_encoding_name, read_table
from ..schemas import DatasetOut

__all__ = ["router", "dataset_out"]

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
_MAX_FILES = 5

_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary",
                             "description": "CSV, JSON or Parquet; repeat for related tables."},
                    "name": {"type": "string"},
                    "encoding": {"type": "string"},
                    "allow_formulas": {"type": "boolean"},
                }}},
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def dataset_out(record: DatasetRecord) -> DatasetOut:
    tables = [{k: v for k, v in t.items() if k != "storage_key"} for t in record.tables]
    return DatasetOut(id=record.id, name=record.name, format=record.format, tables=tables,
                      n_rows=record.n_rows, n_columns=record.n_columns,
                      size_bytes=record.size_bytes, profile=record.profile,
                      created_at=record.created_at)


def _limits(service: Service) -> IngestLimits:
    s = service.settings
    return IngestLimits(max_columns=s.max_columns, max_cell_chars=s.max_cell_chars,
                        max_rows=s.max_dataset_rows, max_bytes=s.max_upload_bytes,
                        max_column_name_chars=s.max_column_name_chars)


def _truthy(value) -> bool:
    return str(value or "").lower() in ("1", "true", "yes", "on")


async def _save(chunks, target: Path) -> str:
    """Write an upload's chunks to `target`; return the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    with open(target, "wb") as handle:
        async for chunk in chunks:
            digest.update(chunk)
            await run_in_threadpool(handle.write, chunk)
    return digest.hexdigest()


async def _file_chunks(upload):
    while chunk := await upload.read(1 << 20):
        yield chunk


@router.post("", status_code=201, response_model=DatasetOut, openapi_extra=_UPLOAD_DOC,
             summary="Upload a table (or several related tables)")
async def upload_dataset(
    request: Request,
    name: str = Query("", max_length=200),
    encoding: str | None = Query(None, max_length=40),
    allow_formulas: bool = Query(False),
    idempotency_key: str | None = idempotency_header(),
    actor: ApiKeyRecord = Depends(require("write")),
    service: Service = Depends(get_service),
):
    limits = _limits(service)
    if encoding is not None:
        check_encoding_name(encoding)
    with request.app.state.upload_slots.take():
        workdir = Path(tempfile.mkdtemp(prefix="synth-upload-"))
        try:
            return await _upload(request, service, actor, workdir, limits, name=name,
                                 encoding=encoding, allow_formulas=allow_formulas,
                                 idempotency_key=idempotency_key)
        finally:
            await run_in_threadpool(shutil.rmtree, workdir, True)


async def _upload(request: Request, service: Service, actor: ApiKeyRecord, workdir: Path,
                  limits: IngestLimits, *, name: str, encoding: str | None,
                  allow_formulas: bool, idempotency_key: str | None):
    uploads: list[tuple[Path, str | None, str | None, str]] = []
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=_MAX_FILES, max_fields=20)
        except ServiceError:
            raise
        except Exception as exc:  # noqa: BLE001 - python-multipart's errors for bad bodies
            raise InvalidInput(f"the multipart body cannot be read ({type(exc).__name__}); "
                               "send the table as a file field named `file`",
                               code="invalid_multipart") from None
        try:
            files = [v for k, v in form.multi_items() if k == "file" and hasattr(v, "read")]
            if not files:
                raise InvalidInput("the multipart body has no `file` part; send the table as "
                                   "a file field named `file`", code="missing_file")
            name = name or str(form.get("name") or "")[:200]
            form_encoding = form.get("encoding")
            if encoding is None and isinstance(form_encoding, str) and form_encoding:
                encoding = check_encoding_name(form_encoding)
            allow_formulas = allow_formulas or _truthy(form.get("allow_formulas"))
            for index, upload in enumerate(files):
                target = workdir / f"upload-{index}"
                digest = await _save(_file_chunks(upload), target)
                uploads.append((target, upload.filename, upload.content_type, digest))
        finally:
            await form.close()
    elif content_type.startswith("application/x-www-form-urlencoded"):
        raise UnsupportedMediaType(
            "send the table as multipart/form-data (field `file`) or as the raw request "
            "body", code="unsupported_content_type")
    else:
        target = workdir / "upload-0"
        digest = await _save(request.stream(), target)
        filename = request.headers.get("x-filename") or name or "table"
        uploads.append((target, filename, content_type, digest))

    def parse() -> list[ParsedTable]:
        return [read_table(path, filename=fname, content_type=ctype, limits=limits,
                           encoding=encoding, allow_formulas=allow_formulas,
                           out=path.with_suffix(".parquet"))
                for path, fname, ctype, _digest in uploads]

    def store() -> DatasetOut:
        tables = parse()
        record = service.create_dataset(actor, tables, name=name,
                                        request_id=request_id(request))
        return dataset_out(record)

    if idempotency_key is None:
        return await run_in_threadpool(store)
    digest = fingerprint("POST", "/v1/datasets", name, encoding, allow_formulas,
                         [(fname, (ctype or "").split(";")[0].strip(), d)
                          for _p, fname, ctype, d in uploads])
    return await run_idempotent(request, service, actor, idempotency_key, digest,
                                lambda: store().model_dump(), status=201)


@router.get("", response_model=list[DatasetOut], summary="List datasets")
def list_datasets(limit: int = Query(100, ge=1, le=1000),
                  actor: ApiKeyRecord = Depends(require("read")),
                  service: Service = Depends(get_service)):
    return [dataset_out(r) for r in service.list_datasets(actor, limit)]


@router.get("/{dataset_id}", response_model=DatasetOut, summary="Get a dataset and its profile")
def get_dataset(dataset_id: str, actor: ApiKeyRecord = Depends(require("read")),
                service: Service = Depends(get_service)):
    return dataset_out(service.get_dataset(actor, dataset_id))


@router.delete("/{dataset_id}", status_code=204, summary="Delete a dataset")
def delete_dataset(dataset_id: str, request: Request,
                   actor: ApiKeyRecord = Depends(require("write")),
                   service: Service = Depends(get_service)):
    service.delete_dataset(actor, dataset_id, request_id=request_id(request))
    return Response(status_code=204)
