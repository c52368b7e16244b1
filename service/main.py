"""Cloud Functions (gen2) source entry: exposes `synth_http` from `main.py`.

Cloud Functions' Python runtime loads `main.py` from the root of the uploaded source and
calls the entry point it is told (`synth_http`). The bundle the constructs upload
(`constructs_lib.build_context.stage_function_source`) holds a copy of this file at its
root with the `synthdata_service` package and the runtime contract beside it, so the
import below resolves from the bundle's root.

Local run: `functions-framework --source <bundle>/main.py --target synth_http`.
"""

from __future__ import annotations

from synthdata_service.handlers.gcp_functions import synth_http

__all__ = ["synth_http"]
