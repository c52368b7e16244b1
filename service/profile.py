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


def _kind(arrow_type, distinct: int, non_null: int, text_length: float | None) -> str:
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or \
            pa.types.is_decimal(arrow_type):
        return "numerical"
    if pa.types.is_temporal(arrow_type):
        return "datetime"
    if text_length is not None and non_null and distinct > 0.9 * non_null and text_length > 30:
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
    """One column's profile. Takes the only reference to `column` (a ChunkedArray) and
    lets go of it before the sort that counts values, so at most two copies live."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrow_type = column.type
    nulls = column.null_count
    non_null = rows - nulls
    if pa.types.is_dictionary(arrow_type):
        column = column.cast(arrow_type.value_type)
    values = column.drop_null()
    del column
    values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if pa.types.is_floating(values.type):  # NaN is missing, as pandas counts it
        values = values.filter(pc.invert(pc.is_nan(values)))
    stats: dict[str, Any] = {}
    numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or \
        pa.types.is_decimal(values.type)
    if numeric and len(values):
        extremes = pc.min_max(values)
        stats = {"min": _scalar(extremes["min"].as_py()),
                 "max": _scalar(extremes["max"].as_py()),
                 "mean": round(float(pc.mean(values).as_py()), 6)}
    sample = [str(v) for v in values.slice(0, 500).to_pylist()]
    text_length = None
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        text_length = pc.mean(pc.utf8_length(values)).as_py() if len(values) else 0
    distinct, top = _count_values(values)
    del values
    kind = _kind(arrow_type, distinct, non_null, text_length)
    return {
        "name": name,
        "type": kind,
        "dtype": _pandas_dtype(arrow_type, nulls > 0),
        "nulls": int(nulls),
        "null_fraction": round(nulls / rows, 6) if rows else 0.0,
        "distinct": distinct,
        **stats,
        "top_values": [{"value": _text(value), "count": count} for value, count in top],
        "candidate_key": bool(rows and non_null == rows and distinct == rows),
        "pii": _pii(name, sample, kind),
    }


def _count_values(values) -> tuple[int, list[tuple[Any, int]]]:
    """Distinct count and the five most frequent values of a null-free array, by sorting
    it and measuring the runs of equal values: the array twice in memory (a hash table of
    a million distinct strings costs several times that)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    count = len(values)
    if count == 0:
        return 0, []
    ordered = pc.take(values, pc.array_sort_indices(values))
    del values
    changed = pc.not_equal(ordered.slice(1), ordered.slice(0, count - 1))
    starts = pa.concat_arrays([pa.array([0], pa.int64()),
                               pc.add(pc.indices_nonzero(changed).cast(pa.int64()), 1)])
    del changed
    runs = pc.subtract(pa.concat_arrays([starts.slice(1), pa.array([count], pa.int64())]),
                       starts)
    top = pc.array_sort_indices(runs, order="descending").slice(0, 5).to_pylist()
    return len(starts), [(ordered[starts[i].as_py()].as_py(), int(runs[i].as_py()))
                         for i in top]


def profile_parquet(path: Path) -> dict:
    """The profile of the table stored at `path`, one column in memory at a time (read in
    batches, so the reader's buffers stay small)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path, pre_buffer=False)
    rows = parquet.metadata.num_rows
    columns = []
    for field in parquet.schema_arrow:
        chunks = [batch.column(0) for batch in parquet.iter_batches(
            batch_size=65_536, columns=[field.name], use_threads=False)]
        column = pa.chunked_array(chunks, field.type)
        del chunks
        columns.append(_column_profile(field.name, column, rows))
        del column
    return {
        "rows": rows,
        "columns": columns,
        "candidate_keys": [c["name"] for c in columns if c["candidate_key"]],
        "pii_columns": [c["name"] for c in columns if c["pii"]],
    }


def _pii(name: str, sample: list[str], kind: str) -> str | None:
    """Why the column may hold personal data (by name, or by its first 500 values)."""
    if _PII_NAMES.search(name):
        return "name"
    if kind in ("categorical", "text") and sample:
        for label, pattern in _VALUE_PATTERNS.items():
            if sum(bool(pattern.match(v)) for v in sample) > 0.8 * len(sample):
                return label
    return None
