"""`/v1/datasets`: upload (multipart or a raw body), list, get, delete."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ..backends.metadata import ApiKeyRecord, DatasetRecord
from ..core import Service
from ..deps import get_service, request_id, require
from ..errors import InvalidInput, UnsupportedMediaType
from ..ingest import IngestLimits, ParsedTable, read_table
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
                        max_rows=s.max_dataset_rows, max_bytes=s.max_upload_bytes)


def _truthy(value) -> bool:
    return str(value or "").lower() in ("1", "true", "yes", "on")


@router.post("", status_code=201, response_model=DatasetOut, openapi_extra=_UPLOAD_DOC,
             summary="Upload a table (or several related tables)")
async def upload_dataset(
    request: Request,
    name: str = Query("", max_length=200),
    encoding: str | None = Query(None, max_length=40),
    allow_formulas: bool = Query(False),
    actor: ApiKeyRecord = Depends(require("write")),
    service: Service = Depends(get_service),
):
    limits = _limits(service)
    workdir = Path(tempfile.mkdtemp(prefix="synth-upload-"))
    try:
        uploads: list[tuple[Path, str | None, str | None]] = []
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = await request.form(max_files=_MAX_FILES, max_fields=20)
            files = [v for k, v in form.multi_items() if k == "file" and hasattr(v, "read")]
            if not files:
                raise InvalidInput("the multipart body has no `file` part; send the table as "
                                   "a file field named `file`", code="missing_file")
            name = name or str(form.get("name") or "")
            encoding = encoding or (str(form.get("encoding")) if form.get("encoding") else None)
            allow_formulas = allow_formulas or _truthy(form.get("allow_formulas"))
            for index, upload in enumerate(files):
                target = workdir / f"upload-{index}"
                with open(target, "wb") as handle:
                    await run_in_threadpool(shutil.copyfileobj, upload.file, handle, 1 << 20)
                uploads.append((target, upload.filename, upload.content_type))
            await form.close()
        elif content_type.startswith(("application/x-www-form-urlencoded",)):
            raise UnsupportedMediaType(
                "send the table as multipart/form-data (field `file`) or as the raw request "
                "body", code="unsupported_content_type")
        else:
            target = workdir / "upload-0"
            with open(target, "wb") as handle:
                async for chunk in request.stream():
                    handle.write(chunk)
            filename = request.headers.get("x-filename") or name or "table"
            uploads.append((target, filename, content_type))

        def parse() -> list[ParsedTable]:
            return [read_table(path, filename=fname, content_type=ctype, limits=limits,
                               encoding=encoding, allow_formulas=allow_formulas)
                    for path, fname, ctype in uploads]

        tables = await run_in_threadpool(parse)
        record = await run_in_threadpool(
            lambda: service.create_dataset(actor, tables, name=name,
                                           request_id=request_id(request)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return dataset_out(record)


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
