"""The ASGI app for uvicorn (Kubernetes, Cloud Run, local): settings from the environment.

    uvicorn synthdata_service.asgi:app --host 0.0.0.0 --port 8080
"""

from .app import create_app

__all__ = ["app"]

app = create_app()
