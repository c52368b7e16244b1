"""The wheel `pip install synthdata-platform[...]` gets: only the two namespaced import
packages, every module of both, and the files the image build and the function bundle
need. (`make image-test` installs it into a fresh venv outside the repository, synthesizes
a user app from it and builds the image asset with podman: tests/image/test_wheel.py.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Import package -> its folder in the repository.
PACKAGES = {"constructs_lib": ROOT / "constructs_lib", "synthdata_service": ROOT / "service"}
BUILD_FILES = ("Dockerfile", "docker-entrypoint.sh", "requirements.txt", "main.py")


def build_wheel(destination: Path) -> Path:
    """Build the wheel from a copy of what the project ships (not the working tree, so
    nothing is written into the repository)."""
    source = destination / "source"
    source.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("constructs_lib", "service"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    proc = subprocess.run(  # PEP 517, as pip calls the backend
        [sys.executable, "-c", "import sys; from setuptools import build_meta; "
         "build_meta.build_wheel(sys.argv[1])", str(destination)],
        cwd=source, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = destination.glob("synthdata_platform-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    with zipfile.ZipFile(build_wheel(tmp_path_factory.mktemp("wheel"))) as archive:
        yield archive


def _metadata(wheel: zipfile.ZipFile):
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return Parser().parsestr(wheel.read(name).decode())


def test_the_wheel_installs_only_the_namespaced_packages(wheel):
    top = {name.split("/", 1)[0] for name in wheel.namelist()}
    assert {t for t in top if not t.endswith(".dist-info")} == set(PACKAGES)


def test_the_wheel_holds_every_module_of_both_packages(wheel):
    names = set(wheel.namelist())
    for package, folder in PACKAGES.items():
        modules = {f"{package}/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*.py")
                   if "__pycache__" not in p.parts}
        assert modules - names == set(), f"modules missing from the wheel in {package}"


def test_the_wheel_carries_what_the_image_build_and_the_function_bundle_need(wheel):
    for name in BUILD_FILES:
        info = wheel.getinfo(f"synthdata_service/{name}")
        assert wheel.read(info) == (ROOT / "service" / name).read_bytes()
    entrypoint = wheel.getinfo("synthdata_service/docker-entrypoint.sh")
    assert (entrypoint.external_attr >> 16) & 0o111, "the entry point must stay executable"


def test_the_package_declares_no_python_upper_bound(wheel):
    requires = _metadata(wheel)["Requires-Python"]
    assert requires == ">=3.11", requires
