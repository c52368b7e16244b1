"""The Cloud Functions (gen2) source bundle: what 'source' packaging zips and uploads.

Cloud Functions' Python runtime loads `main.py` from the root of the uploaded source and
installs `requirements.txt` from there. The bundle is the contents of `service/` (its
`main.py` registers the root as the `service` package), the runtime contract module, and
a `requirements.txt` with the service's pins plus the GCP runtime's packages and torch
from the CPU index (PyPI's torch wheel is a multi-GB CUDA build).
"""

from __future__ import annotations

import shutil
import tempfile
from importlib import metadata
from pathlib import Path

__all__ = ["GCP_RUNTIME_PACKAGES", "stage_function_source"]

_REPO_ROOT = Path(__file__).resolve().parents[2]
GCP_RUNTIME_PACKAGES = ("google-cloud-storage", "google-cloud-firestore",
                        "functions-framework", "a2wsgi")
_TORCH_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def stage_function_source(target: Path | None = None, *, repo_root: Path = _REPO_ROOT) -> Path:
    """Build the bundle in `target` (default: a new temporary directory) and return it."""
    service = repo_root / "service"
    if not (service / "main.py").is_file():
        raise ValueError(f"{service}/main.py is missing: the bundle needs the service source")
    target = Path(target) if target else Path(tempfile.mkdtemp(prefix="synth-gcf-source-"))
    shutil.copytree(service, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "Dockerfile*",
                                                  "docker-entrypoint.sh"))
    package = target / "constructs_lib"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text('"""Runtime contract only (function bundle)."""\n')
    shutil.copy2(repo_root / "constructs_lib" / "contract.py", package / "contract.py")
    (target / "requirements.txt").write_text(_requirements(service / "requirements.txt"))
    return target


def _requirements(service_requirements: Path) -> str:
    lines = [_TORCH_INDEX]
    pinned = set()
    for line in service_requirements.read_text().splitlines():
        name = line.split("==")[0].strip().lower()
        if line.startswith("torch=="):
            line = f"{line.split(';')[0].strip()}+cpu"
        if line and not line.startswith("#"):
            pinned.add(name)
        lines.append(line)
    for package in GCP_RUNTIME_PACKAGES:
        if package not in pinned:
            lines.append(f"{package}=={metadata.version(package)}")
    return "\n".join(lines) + "\n"
