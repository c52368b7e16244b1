"""The service image, checked by reading: every COPY source exists, the pins match the
environment the tests ran in, the entry points import. `make image-test` (tests/image)
builds and runs it for real."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from importlib.metadata import version
from pathlib import Path

from synthdata_service import pins

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "service" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1])
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_base_image_and_default_command_are_the_lambda_handler():
    instructions = _instructions()
    # Debian's Python 3.11, not Lambda's Amazon Linux 2 image (glibc 2.26 cannot install
    # the manylinux_2_28 torch and manylinux_2_27 numpy wheels the service pins).
    assert instructions[0] == ("FROM", "public.ecr.aws/docker/library/python:3.11-slim-bookworm")
    cmd = dict(instructions)["CMD"]
    assert cmd == '["synthdata_service.handlers.aws_lambda.handler"]'
    module, attribute = "synthdata_service.handlers.aws_lambda", "handler"
    import importlib

    assert callable(getattr(importlib.import_module(module), attribute))


def test_every_copied_source_exists_in_the_staged_build_context():
    from constructs_lib.build_context import stage_image_context

    context = stage_image_context()
    copies = [shlex.split(args) for kind, args in _instructions() if kind == "COPY"]
    assert copies
    for parts in copies:
        for source in parts[:-1]:
            assert (context / source).exists(), f"COPY source {source} is not in {context}"


def test_torch_is_the_cpu_build_at_the_pinned_version():
    run = " ".join(args for kind, args in _instructions() if kind == "RUN")
    assert '"torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu' in run
    assert version("torch").startswith("2.13.0")


def test_requirements_pin_exactly_the_installed_versions():
    pinned = {}
    for line in (REPO / "service" / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("==")
            pinned[name] = value
    assert pinned == pins.closure(), \
        "regenerate with: python -m synthdata_service.pins service/requirements.txt"
    for name in ("fastapi", "mangum", "sdv", "sdmetrics", "uvicorn", "psycopg", "redis",
                 "awslambdaric", "boto3"):
        assert name in pinned
    assert not any(name.startswith("nvidia-") for name in pinned)


def test_requirements_carry_every_clouds_backend_clients():
    """One image for every cloud: the gs:// / firestore:// / Secret Manager backends'
    clients, with the extras they ask for (google-api-core[grpc] -> grpcio-status)."""
    pinned = {line.partition("==")[0]
              for line in (REPO / "service" / "requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    assert {"google-cloud-storage", "google-cloud-firestore", "google-auth", "google-crc32c",
            "requests", "grpcio", "grpcio-status"} <= pinned


def test_entrypoint_runs_uvicorn_when_asked_and_lambda_otherwise():
    script = (REPO / "service" / "docker-entrypoint.sh").read_text()
    assert re.search(r'SYNTH_SERVER:-lambda}" = "uvicorn"', script)
    assert "synthdata_service.asgi:app" in script
    assert "exec python -m awslambdaric" in script
    assert (REPO / "service" / "docker-entrypoint.sh").stat().st_mode & 0o111


def test_the_build_context_holds_only_what_the_image_copies():
    from constructs_lib.build_context import stage_image_context

    context = stage_image_context()
    assert sorted(p.name for p in context.iterdir()) == [
        "Dockerfile", "constructs_lib", "synthdata_service"]
    assert sorted(p.name for p in (context / "constructs_lib").iterdir()) == [
        "__init__.py", "contract.py"]
    assert not list(context.rglob("__pycache__"))


def test_a_command_runs_as_given_even_where_the_server_is_uvicorn():
    """An operator's `python -m synthdata_service.cli ...` (or a job's task) in a container
    with the Cloud Run service's environment runs; it does not start the server."""
    proc = subprocess.run(
        ["sh", str(REPO / "service" / "docker-entrypoint.sh"), "python3", "-c", "print('ran')"],
        env={**os.environ, "SYNTH_SERVER": "uvicorn"}, capture_output=True, text=True,
        timeout=30)
    assert (proc.returncode, proc.stdout) == (0, "ran\n")


def test_without_a_server_a_command_or_lambda_the_entrypoint_says_how_to_run_it():
    env = {k: v for k, v in os.environ.items()
           if k not in ("SYNTH_SERVER", "AWS_LAMBDA_RUNTIME_API")}
    proc = subprocess.run(["sh", str(REPO / "service" / "docker-entrypoint.sh"),
                           "synthdata_service.handlers.aws_lambda.handler"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 64 and "SYNTH_SERVER=uvicorn" in proc.stderr


def test_the_image_runs_as_a_numeric_non_root_user_in_group_0():
    # Kubernetes' runAsNonRoot refuses a root or named user; OpenShift keeps group 0.
    users = [value for instruction, value in _instructions() if instruction == "USER"]
    assert users, "no USER: the pod spec's runAsNonRoot would refuse the image"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid == "0", users[-1]
