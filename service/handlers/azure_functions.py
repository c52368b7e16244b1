"""Azure Functions entry point (Python v2 programming model, Flex Consumption).

`app` is an `azure.functions.AsgiFunctionApp`: one anonymous HTTP function on
`/{*route}` that hands every request to the FastAPI app (host.json sets `routePrefix`
to "" so paths arrive as the API defines them; authentication is the service's bearer
keys, plus Entra ID in front when the platform's `api.auth` is 'iam').

The Functions host buffers whole responses (no streaming through `AsgiMiddleware`), so
streaming is off here: results past the inline limit become jobs whose result is a
download link. The deployment package is read-only; the embedded default's data
directory moves to /tmp unless `SYNTH_DATA_DIR` says otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import azure.functions as func

from ..app import create_app
from ..settings import DATA_DIR, Settings

__all__ = ["FUNCTION_NAME", "app", "functions_settings"]

FUNCTION_NAME = "synth_http"


def functions_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    overrides: dict = {"allow_streaming": False}
    # WEBSITE_SITE_NAME is set by the Functions host on Azure.
    if env.get("WEBSITE_SITE_NAME") and DATA_DIR not in env:
        overrides["data_dir"] = "/tmp/.synth-data"
    return Settings.from_env(env, **overrides)


app = func.AsgiFunctionApp(app=create_app(functions_settings()),
                           http_auth_level=func.AuthLevel.ANONYMOUS,
                           function_name=FUNCTION_NAME)
