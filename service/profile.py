"""Profile a table on upload: types, nulls, distinct counts, ranges, top values, candidate
keys and likely personal data, so a caller sees what they sent before training on it.

The profile is computed from the stored Parquet file one column at a time with Arrow's
compute kernels, so profiling never holds more than one column (as Arrow arrays, not
Python objects) however large the table is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["profile_parquet"]

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
_TOP_VALUE_CHARS = 200
"""Top values are shown, not stored in full: a 10,000-character cell is cut here."""


def _pandas_dtype(arrow_type, has_nulls: bool) -> str:
    """The dtype pandas gives this column when the stored table is read back."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        return "category"
    if pa.types.is_integer(arrow_type):
        return "float64" if has_nulls else str(arrow_type.to_pandas_dtype().__name__)
    if pa.types.is_boolean(arrow_type):
        return "object" if has_nulls else "bool"
    if pa.types.is_floating(arrow_type):
        return arrow_type.to_pandas_dtype().__name__
    if pa.types.is_timestamp(arrow_type):
        return f"datetime64[{arrow_type.unit}]" if arrow_type.tz is None else \
            f"datetime64[{arrow_type.unit}, {arrow_type.tz}]"
    return "object"


def _kind(column, arrow_type, distinct: int, non_null: int) -> str:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or \
            pa.types.is_decimal(arrow_type):
        return "numerical"
    if pa.types.is_temporal(arrow_type):
        return "datetime"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        if non_null and distinct > 0.9 * non_null:
            mean_length = pc.mean(pc.utf8_length(column)).as_py() or 0
            if mean_length > 30:
                return "text"
    return "categorical"


def _scalar(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, (int, float, bool, str)) or value is None else str(value)


def _text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _TOP_VALUE_CHARS else text[:_TOP_VALUE_CHARS] + "..."


def _column_profile(name: str, column, rows: int) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    arrow_type = column.type
    nulls = column.null_count
    non_null = rows - nulls
    if pa.types.is_dictionary(arrow_type):
        column = column.cast(arrow_type.value_type)
    distinct = int(pc.count_distinct(column, mode="only_valid").as_py()) if non_null else 0
    kind = _kind(column, column.type, distinct, non_null)
    info: dict[str, Any] = {
        "name": name,
        "type": kind,
        "dtype": _pandas_dtype(arrow_type, nulls > 0),
        "nulls": int(nulls),
        "null_fraction": round(nulls / rows, 6) if rows else 0.0,
        "distinct": distinct,
    }
    if kind == "numerical" and non_null:
        extremes = pc.min_max(column)
        info.update(min=_scalar(extremes["min"].as_py()), max=_scalar(extremes["max"].as_py()),
                    mean=round(float(pc.mean(column).as_py()), 6))
    info["top_values"] = _top_values(column, distinct, non_null)
    info["candidate_key"] = bool(rows and non_null == rows and distinct == rows)
    info["pii"] = _pii(name, column, kind)
    return info


def _top_values(column, distinct: int, non_null: int) -> list[dict]:
    """The five most frequent values. When every value is distinct they all count once,
    so the first five are taken instead of counting a second copy of the column."""
    import pyarrow.compute as pc

    if not non_null:
        return []
    if distinct == non_null:
        return [{"value": _text(v), "count": 1}
                for v in column.drop_null().slice(0, 5).to_pylist()]
    counts = pc.value_counts(column)
    counts = counts.filter(pc.is_valid(counts.field("values")))
    order = pc.array_sort_indices(counts.field("counts"), order="descending")
    top = []
    for index in order.slice(0, 5).to_pylist():
        top.append({"value": _text(counts.field("values")[index].as_py()),
                    "count": int(counts.field("counts")[index].as_py())})
    return top


def profile_parquet(path: Path) -> dict:
    """The profile of the table stored at `path`, one column in memory at a time."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    rows = parquet.metadata.num_rows
    columns = []
    for name in parquet.schema_arrow.names:
        column = parquet.read(columns=[name]).column(0)
        columns.append(_column_profile(name, column, rows))
        del column
    return {
        "rows": rows,
        "columns": columns,
        "candidate_keys": [c["name"] for c in columns if c["candidate_key"]],
        "pii_columns": [c["name"] for c in columns if c["pii"]],
    }


def _pii(name: str, column, kind: str) -> str | None:
    """Why the column may hold personal data, or None."""
    if _PII_NAMES.search(name):
        return "name"
    if kind in ("categorical", "text"):
        sample = [str(v) for v in column.drop_null().slice(0, 500).to_pylist()]
        if sample:
            for label, pattern in _VALUE_PATTERNS.items():
                if sum(bool(pattern.match(v)) for v in sample) > 0.8 * len(sample):
                    return label
    return None
