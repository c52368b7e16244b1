"""Small shared helpers: ids and timestamps."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

__all__ = ["new_id", "parse_time", "utcnow", "utcnow_iso"]


def new_id(prefix: str) -> str:
    """A random, URL-safe id with a readable type prefix (`ds_...`, `mdl_...`)."""
    return f"{prefix}_{secrets.token_hex(10)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def utcnow_iso(offset_seconds: float = 0) -> str:
    return (utcnow() + timedelta(seconds=offset_seconds)).isoformat()


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
