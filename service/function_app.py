"""Azure Functions source entry: exposes `app` from `function_app.py`.

The Python v2 programming model loads `function_app.py` from the root of the deployed
package and registers the functions of the `FunctionApp` it defines. The bundle the Azure
constructs deploy (`constructs_lib.azure.source.stage_function_source`) holds a copy of
this file at its root, beside `host.json`, the `synthdata_service` package and the
runtime contract.
"""

from __future__ import annotations

from synthdata_service.handlers.azure_functions import app

__all__ = ["app"]
