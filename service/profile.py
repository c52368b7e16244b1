"""Profile a table on upload: types, nulls, distinct counts, ranges, top values, candidate
keys and likely personal data, so a caller sees what they sent before training on it."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["profile_table"]

_PII_NAMES = re.compile(
    r"(^|_)(e?mail|phone|mobile|tel|ssn|social_security|passport|first_?name|last_?name|"
    r"full_?name|surname|address|street|zip|postcode|postal|ip(_?addr(ess)?)?|iban|"
    r"card(_?number)?|credit_?card|dob|birth|national_id|tax_id|license|username)($|_)",
    re.IGNORECASE,
)
_VALUE_PATTERNS = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
    "phone": re.compile(r"^\+?[\d\s().-]{7,20}$"),
    "ip_address": re.compile(r"^(\d{1,3}\.){3}\d{1,3}$"),
    "credit_card": re.compile(r"^\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{1,7}$"),
}


def _kind(series) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numerical"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    values = series.dropna().astype(str)
    if len(values) and values.nunique() > 0.9 * len(values) and values.str.len().mean() > 30:
        return "text"
    return "categorical"


def _scalar(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, (int, float, bool, str)) or value is None else str(value)


def profile_table(frame) -> dict:
    rows = len(frame)
    columns = []
    for name in frame.columns:
        series = frame[name]
        non_null = series.dropna()
        distinct = int(non_null.nunique())
        kind = _kind(series)
        info: dict[str, Any] = {
            "name": str(name),
            "type": kind,
            "dtype": str(series.dtype),
            "nulls": int(rows - len(non_null)),
            "null_fraction": round((rows - len(non_null)) / rows, 6) if rows else 0.0,
            "distinct": distinct,
        }
        if kind == "numerical" and len(non_null):
            info.update(min=_scalar(non_null.min()), max=_scalar(non_null.max()),
                        mean=round(float(non_null.mean()), 6))
        top = non_null.astype(str).value_counts().head(5)
        info["top_values"] = [{"value": str(v), "count": int(c)} for v, c in top.items()]
        info["candidate_key"] = bool(rows and len(non_null) == rows and distinct == rows)
        info["pii"] = _pii(str(name), non_null, kind)
        columns.append(info)
    return {
        "rows": rows,
        "columns": columns,
        "candidate_keys": [c["name"] for c in columns if c["candidate_key"]],
        "pii_columns": [c["name"] for c in columns if c["pii"]],
    }


def _pii(name: str, values, kind: str) -> str | None:
    """Why the column may hold personal data, or None."""
    if _PII_NAMES.search(name):
        return "name"
    if kind in ("categorical", "text") and len(values):
        sample = values.astype(str).head(500)
        for label, pattern in _VALUE_PATTERNS.items():
            if sample.str.match(pattern).mean() > 0.8:
                return label
    return None
