"""AWS Lambda entry point: `synthdata_service.handlers.aws_lambda.handler` (Mangum).

Works with API Gateway HTTP API (v2) and Lambda Function URL events. Lifespan is off
(Lambda has no shutdown hook); the service builds its backends on the first request that
needs them. Mangum buffers whole responses, so streaming is disabled: large samples go to
storage behind an expiring link. Lambda freezes the process between invocations, so inside
Lambda a bare `inline://` job runner runs each job within the request that starts it
(`inline://?sync=1`) until a queue-backed runner is configured.
"""

from __future__ import annotations

import os

from mangum import Mangum

from ..app import create_app
from ..settings import DATA_DIR, Settings

__all__ = ["app", "handler", "lambda_settings"]


def lambda_settings(env=None) -> Settings:
    env = os.environ if env is None else env
    overrides: dict = {"allow_streaming": False}
    if env.get("AWS_LAMBDA_FUNCTION_NAME"):
        if DATA_DIR not in env:
            overrides["data_dir"] = "/tmp/.synth-data"  # the only writable path in Lambda
        if env.get("SYNTH_JOBS_URL", "inline://") in ("", "inline://"):
            overrides["jobs_url"] = "inline://?sync=1"
    return Settings.from_env(env, **overrides)


app = create_app(lambda_settings())
handler = Mangum(app, lifespan="off", api_gateway_base_path="/")
