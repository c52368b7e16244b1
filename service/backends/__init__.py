"""Backends chosen by URL scheme: storage, metadata, job runners, secret providers.

Each kind keeps a registry from scheme to an import path (`"module:attribute"`), imported
only when a URL with that scheme is opened, so an AWS backend never loads on GCP. A later
backend is one new module plus one `register_*` call (or one line in the table below);
callers only ever call `open_*(url)`.
"""

from __future__ import annotations

from .registry import (
    open_job_runner,
    open_metadata,
    open_secret_provider,
    open_storage,
    register_job_runner,
    register_metadata,
    register_secret_provider,
    register_storage,
    registered_schemes,
)

__all__ = [
    "open_job_runner",
    "open_metadata",
    "open_secret_provider",
    "open_storage",
    "register_job_runner",
    "register_metadata",
    "register_secret_provider",
    "register_storage",
    "registered_schemes",
]
