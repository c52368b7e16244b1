#!/bin/sh
# Lambda by default (the base image's runtime interface client runs the handler in CMD).
# SYNTH_SERVER=uvicorn (Kubernetes, Cloud Run, Container Apps) serves the ASGI app instead,
# on $PORT (default 8080).
set -eu
if [ "${SYNTH_SERVER:-lambda}" = "uvicorn" ]; then
    exec python -m uvicorn synthdata_service.asgi:app --host 0.0.0.0 --port "${PORT:-8080}" \
        --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
        --no-server-header
fi
# A command instead of a handler (the ECS worker task: `python -m synthdata_service.worker run-job ID`)
# runs as given.
case "${1:-}" in
    python|python3|/*) exec "$@" ;;
esac
exec /lambda-entrypoint.sh "$@"
