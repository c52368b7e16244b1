#!/bin/sh
# One image, three ways to start (docs/image.md):
# * a command (the ECS Fargate job task `python -m synthdata_service.worker run-job ID`, a
#   Cloud Run Job's task, an operator's `python -m synthdata_service.cli ...`): run as
#   given, whatever else the environment says;
# * SYNTH_SERVER=uvicorn (Cloud Run, Kubernetes, Container Apps): the ASGI app on $PORT
#   (default 8080);
# * otherwise a Lambda handler (the default CMD, or the function's ImageConfig command):
#   AWS's runtime interface client serves it to the Lambda Runtime API.
set -eu
case "${1:-}" in
    python|python3|/*) exec "$@" ;;
esac
if [ "${SYNTH_SERVER:-lambda}" = "uvicorn" ]; then
    exec python -m uvicorn synthdata_service.asgi:app --host 0.0.0.0 --port "${PORT:-8080}" \
        --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
        --no-server-header
fi
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    echo "synth-entrypoint: no AWS_LAMBDA_RUNTIME_API, so this is not Lambda: set" \
        "SYNTH_SERVER=uvicorn to serve HTTP on \$PORT, or give a command (python ...)" >&2
    exit 64
fi
exec python -m awslambdaric "$@"
