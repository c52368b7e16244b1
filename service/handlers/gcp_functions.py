"""Cloud Functions (gen2) entry point: `synth_http`, served by functions-framework.

functions-framework hands an HTTP function a Flask request and serves its return value
through gunicorn (WSGI). The service is an ASGI app, so `synth_http` runs it behind
`a2wsgi.ASGIMiddleware` (the ASGI app on its own event-loop thread) against the
request's untouched WSGI environ: method, path, query, headers and the body stream pass
through as they came, and the response body streams back chunk by chunk.

Settings come from the runtime contract's variables. Lifespan events do not exist here
(the backends are built on the first request that needs them, so `/healthz` answers a
cold start at once). On Cloud Functions the source directory is read-only, so the
embedded default's data directory moves to /tmp unless `SYNTH_DATA_DIR` says otherwise.
"""

from __future__ import annotations

import os
import threading

import flask
from a2wsgi import ASGIMiddleware

from ..app import create_app
from ..settings import DATA_DIR, Settings

__all__ = ["ENTRY_POINT", "app", "synth_http", "wsgi_app"]

ENTRY_POINT = "synth_http"
"""The function name the deployment's `entry_point` names (Cloud Functions `--entry-point`)."""


def _settings() -> Settings:
    # K_SERVICE is set by the Cloud Functions gen2 / Cloud Run runtime.
    on_gcp = bool(os.environ.get("K_SERVICE"))
    overrides = {"data_dir": "/tmp/.synth-data"} if on_gcp and DATA_DIR not in os.environ else {}
    return Settings.from_env(os.environ, **overrides)


app = create_app(_settings())

_bridge: tuple[int, ASGIMiddleware] | None = None
_bridge_lock = threading.Lock()


def wsgi_app() -> ASGIMiddleware:
    """This process's ASGI -> WSGI bridge. Made on first use, not at import: gunicorn
    imports the function in its master and forks workers, and the bridge's event-loop
    thread would not survive the fork."""
    global _bridge
    with _bridge_lock:
        if _bridge is None or _bridge[0] != os.getpid():
            _bridge = (os.getpid(), ASGIMiddleware(app))
        return _bridge[1]


def synth_http(request: flask.Request) -> flask.Response:
    """Serve one HTTP request with the service (every path and method)."""
    return flask.Response.from_app(wsgi_app(), request.environ)
