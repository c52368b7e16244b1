"""Cloud Functions (gen2) source entry: exposes `synth_http` from `main.py`.

Cloud Functions' Python runtime loads `main.py` from the root of the uploaded source
and calls the entry point it is told (`synth_http`). The platform uploads this `service/`
directory as that root (plus `constructs_lib/contract.py`, the runtime contract), so
here the directory is not yet importable as the `synthdata_service` package its modules
expect: it is registered under that name first. Installed (or in a checkout after
`make setup`), `synthdata_service` is already the package and nothing is registered.

Local run: `functions-framework --source service/main.py --target synth_http`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

__all__ = ["synth_http"]


def _register_source_root_as_package() -> None:
    here = Path(__file__).resolve().parent
    if importlib.util.find_spec("synthdata_service") is not None:
        return
    spec = importlib.util.spec_from_file_location(
        "synthdata_service", here / "__init__.py", submodule_search_locations=[str(here)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["synthdata_service"] = package
    spec.loader.exec_module(package)


_register_source_root_as_package()

from synthdata_service.handlers.gcp_functions import synth_http  # noqa: E402
