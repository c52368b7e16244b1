"""The service image, checked by reading (nothing here can run Docker): every COPY source
exists, the pins match the environment the tests ran in, the entry points import."""

from __future__ import annotations

import re
import shlex
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
    assert instructions[0] == ("FROM", "public.ecr.aws/lambda/python:3.11")
    cmd = dict(instructions)["CMD"]
    assert cmd == '["synthdata_service.handlers.aws_lambda.handler"]'
    module, attribute = "synthdata_service.handlers.aws_lambda", "handler"
    import importlib

    assert callable(getattr(importlib.import_module(module), attribute))


def test_every_copied_source_exists_in_the_repository():
    copies = [shlex.split(args) for kind, args in _instructions() if kind == "COPY"]
    assert copies
    for parts in copies:
        for source in parts[:-1]:
            assert (REPO / source).exists(), f"COPY source {source} is missing"


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
    for name in ("fastapi", "mangum", "sdv", "sdmetrics", "uvicorn", "psycopg", "redis"):
        assert name in pinned
    assert not any(name.startswith("nvidia-") for name in pinned)


def test_entrypoint_runs_uvicorn_when_asked_and_lambda_otherwise():
    script = (REPO / "service" / "docker-entrypoint.sh").read_text()
    assert re.search(r'SYNTH_SERVER:-lambda}" = "uvicorn"', script)
    assert "synthdata_service.asgi:app" in script and "exec /lambda-entrypoint.sh" in script
    assert (REPO / "service" / "docker-entrypoint.sh").stat().st_mode & 0o111


def test_the_build_context_ignore_file_keeps_what_the_image_copies():
    ignore = (REPO / "service" / "Dockerfile.dockerignore").read_text()
    for kept in ("!service/", "!constructs_lib/contract.py", "!examples/data/"):
        assert kept in ignore
