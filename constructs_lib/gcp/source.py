"""The Cloud Functions (gen2) source bundle: what 'source' packaging zips and uploads.

Cloud Functions' Python runtime loads `main.py` from the root of the uploaded source and
installs `requirements.txt` from there. The bundle is staged by
`constructs_lib.build_context.stage_function_source` (the installed `synthdata_service`
package, the runtime contract and `main.py` at the root); this module supplies its
requirements: the service's pins plus the GCP runtime's packages, and torch from the CPU
index (PyPI's torch wheel is a multi-GB CUDA build).
"""

from __future__ import annotations

from pathlib import Path

from ..build_context import function_requirements
from ..build_context import stage_function_source as _stage

__all__ = ["GCP_RUNTIME_PACKAGES", "stage_function_source"]

GCP_RUNTIME_PACKAGES = ("google-cloud-storage", "google-cloud-firestore",
                        "functions-framework", "a2wsgi")


def stage_function_source(target: Path | None = None) -> Path:
    """The bundle directory (default: a content-addressed temporary directory)."""
    return _stage(target, requirements=function_requirements(GCP_RUNTIME_PACKAGES))
