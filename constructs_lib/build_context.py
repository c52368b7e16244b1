"""What every cloud builds the service from: the image build context and the function bundle.

Both are staged from the installed `synthdata_service` package (a checkout after `make
setup`, or the wheel in a user's venv) plus the runtime contract module, so a user app
synthesized anywhere builds the same image. Each cloud hands the staged directory to its
engine: AWS to a `DockerImageAsset`, the Terraform clouds to their image build or source
upload. The staged directory is content-addressed (its name is a hash of what it holds),
so repeated synths reuse it and asset hashes stay stable across machines.

    context = stage_image_context()     # Dockerfile at its root
    bundle = stage_function_source()    # main.py + requirements.txt at its root
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "SERVICE_PACKAGE",
    "function_requirements",
    "service_package_dir",
    "stage_function_source",
    "stage_image_context",
]

SERVICE_PACKAGE = "synthdata_service"
_CONTRACT = Path(__file__).resolve().parent / "contract.py"
_SKIP_DIRS = {"__pycache__", ".pytest_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_CONTRACT_INIT = '"""The runtime contract only: the service image needs nothing else."""\n'


def service_package_dir() -> Path:
    """The directory of the installed `synthdata_service` package (without importing it)."""
    found = importlib.util.find_spec(SERVICE_PACKAGE)
    locations = list(found.submodule_search_locations or []) if found else []
    if not locations:
        raise RuntimeError(
            f"the {SERVICE_PACKAGE} package is not installed, so there is nothing to build the "
            "service image from: install synthdata-platform (pip install "
            "'synthdata-platform[aws]' or the extra of your cloud), or give the construct a "
            "prebuilt image"
        )
    return Path(locations[0])


def _files(root: Path) -> Iterator[Path]:
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            if not name.endswith(_SKIP_SUFFIXES):
                yield Path(directory) / name


def _layout() -> dict[str, Path]:
    """Relative path in the staged directory -> source file."""
    package = service_package_dir()
    layout = {f"{SERVICE_PACKAGE}/{path.relative_to(package).as_posix()}": path
              for path in _files(package)}
    layout["constructs_lib/contract.py"] = _CONTRACT
    return layout


def _stage(kind: str, extra: dict[str, bytes], target: Path | None) -> Path:
    layout = _layout()
    digest = hashlib.sha256(kind.encode())
    for relative in sorted(layout):
        digest.update(relative.encode() + b"\0" + layout[relative].read_bytes() + b"\0")
    for relative in sorted(extra):
        digest.update(relative.encode() + b"\0" + extra[relative] + b"\0")
    if target is None:
        root = Path(tempfile.gettempdir()) / "synthdata-build"
        target = root / f"{kind}-{digest.hexdigest()[:16]}"
        if target.exists():  # complete: staged directories appear by one rename
            return target
    staging = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=_parent(target)))
    for relative, source in layout.items():
        destination = staging / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    (staging / "constructs_lib" / "__init__.py").write_text(_CONTRACT_INIT)
    for relative, content in extra.items():
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        (staging / relative).write_bytes(content)
    if target.exists():
        shutil.rmtree(target)
    try:
        staging.rename(target)  # atomic: a concurrent synth sees all of it or nothing
    except OSError:  # another process staged the same content first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _parent(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.parent


def stage_image_context(target: Path | None = None) -> Path:
    """The service image's build context: `Dockerfile` at the root, `synthdata_service/`
    and `constructs_lib/contract.py` beside it - nothing else, so no ignore file is needed
    and unrelated files never change the image."""
    package = service_package_dir()
    extra = {"Dockerfile": (package / "Dockerfile").read_bytes()}
    return _stage("image", extra, target)


def stage_function_source(target: Path | None = None, *,
                          requirements: str | None = None,
                          root_files: tuple[str, ...] = ("main.py",)) -> Path:
    """A function bundle (Cloud Functions, Azure Functions): `requirements.txt` and
    `root_files` of the service package (default `main.py`, Cloud Functions' entry; Azure
    Functions takes `function_app.py` and `host.json`) at the root, the
    `synthdata_service` package and the contract beside them. `requirements` replaces the
    service's own pins when given."""
    package = service_package_dir()
    extra = {name: (package / name).read_bytes() for name in root_files}
    extra["requirements.txt"] = (requirements.encode() if requirements is not None
                                 else (package / "requirements.txt").read_bytes())
    return _stage("function", extra, target)


_TORCH_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def function_requirements(packages: tuple[str, ...] = ()) -> str:
    """A function bundle's requirements.txt: the service's pins, torch as the CPU build
    (from the CPU index: PyPI's torch wheel is a multi-GB CUDA build), then `packages`
    (a cloud's runtime packages) pinned to the versions installed here."""
    from importlib import metadata

    lines = [_TORCH_INDEX]
    pinned = set()
    for line in (service_package_dir() / "requirements.txt").read_text().splitlines():
        name = line.split("==")[0].strip().lower()
        if line.startswith("torch=="):
            line = f"{line.split(';')[0].strip()}+cpu"
        if line and not line.startswith("#"):
            pinned.add(name)
        lines.append(line)
    for package in packages:
        if package not in pinned:
            lines.append(f"{package}=={metadata.version(package)}")
    return "\n".join(lines) + "\n"
