"""The Azure Functions bundle: what 'source' packaging zips and deploys to Flex Consumption.

The Python v2 programming model loads `function_app.py` from the package root and reads
`host.json` beside it (`routePrefix: ""`, so the API's paths arrive as they are). The
bundle is staged by `constructs_lib.build_context.stage_function_source` with those two
files of the service package at the root; its requirements are the service's pins plus
the Azure runtime's packages (`function_requirements`), installed by the remote build.
"""

from __future__ import annotations

from pathlib import Path

from ..build_context import function_requirements
from ..build_context import stage_function_source as _stage

__all__ = ["AZURE_RUNTIME_PACKAGES", "stage_function_source"]

AZURE_RUNTIME_PACKAGES = ("azure-functions", "azure-identity", "azure-storage-blob",
                          "azure-storage-queue", "azure-cosmos")


def stage_function_source(target: Path | None = None) -> Path:
    """The bundle directory (default: a content-addressed temporary directory)."""
    return _stage(target, requirements=function_requirements(AZURE_RUNTIME_PACKAGES),
                  root_files=("function_app.py", "host.json"))
