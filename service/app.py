"""`create_app(settings)`: the FastAPI application.

Settings come from an explicit `Settings`, or from the runtime contract's environment
variables (`Settings.from_env`). Nothing here touches a backend: the `Service` is built on
the first request that needs one, so `/healthz` answers a cold start immediately.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from . import __version__
from .api import datasets, jobs, keys, models, reports, samples
from .deps import ServiceHolder, UploadSlots, get_service, require
from .errors import ServiceUnavailable, install_error_handlers
from .metrics import CONTENT_TYPE, Metrics
from .middleware import RequestContextMiddleware, add_cors
from .openapi import install_openapi
from .settings import Settings

__all__ = ["create_app"]

_log = logging.getLogger("synthdata_service.app")

_DESCRIPTION = """Synthetic tabular data: upload a table, train a synthesizer, generate rows,
score them. Every call but `/healthz` and `/readyz` needs `Authorization: Bearer <key>`.
Errors are `application/problem+json` with a stable `code` and a `request_id`.

The default engine is SDV (BUSL-1.1): production use inside your own organisation is
allowed; offering synthesis to third parties as a commercial service is not."""


def create_app(settings: Settings | None = None, *, data_dir: str | Path | None = None) -> FastAPI:
    """The service app. `settings` wins; else `data_dir`; else the environment."""
    if settings is None:
        settings = (Settings.for_data_dir(data_dir) if data_dir is not None
                    else Settings.from_env(os.environ))
    metrics = Metrics()

    def build_service():
        from .core import Service

        return Service(settings, metrics=metrics)

    holder = ServiceHolder(build_service)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        holder.close()

    app = FastAPI(title="Synthdata generator", version=__version__, description=_DESCRIPTION,
                  lifespan=lifespan)
    app.state.settings = settings
    app.state.services = holder
    app.state.metrics = metrics
    app.state.upload_slots = UploadSlots(settings.max_concurrent_uploads)
    install_error_handlers(app)
    install_openapi(app)

    @app.get("/healthz", tags=["health"], summary="Liveness: answers without any backend")
    def healthz():
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], summary="Readiness: storage and metadata reachable")
    def readyz(request: Request):
        checks = {}
        try:
            service = get_service(request)
        except Exception as exc:  # noqa: BLE001 - reported as a check, not raised
            _log.warning("service failed to start: %s", exc)
            raise ServiceUnavailable("the service cannot reach its backends; see its logs",
                                     code="not_ready", checks={"startup": "failed"}) from None
        for name, probe in (("storage", service.storage.check), ("metadata", service.store.ping),
                            ("rate_limit", service.limiter.ping)):
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001
                _log.warning("readiness check %s failed: %s", name, exc)
                checks[name] = "failed"
        if any(v != "ok" for v in checks.values()):
            raise ServiceUnavailable("a backend is unreachable", code="not_ready", checks=checks)
        return JSONResponse({"status": "ready", "checks": checks})

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics (needs a read key)",
             dependencies=[Depends(require("read"))], response_class=PlainTextResponse,
             responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {
                 "schema": {"type": "string"}}}}})
    def metrics_endpoint():
        service = holder.built
        if service is not None:
            metrics.jobs_running.set(len(service.runner.active()))
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    for router in (datasets.router, models.router, models.synthesizers_router, jobs.router,
                   samples.router, reports.router, keys.router, keys.audit_router):
        app.include_router(router)
    app.add_middleware(RequestContextMiddleware, upload_limit=settings.max_upload_bytes,
                       metrics=metrics)
    if settings.cors_origins:
        add_cors(app, settings.cors_origins)
    return app

