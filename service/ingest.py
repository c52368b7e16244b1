"""Read an uploaded table safely: sniff what it really is, decode it, parse it, check it.

Content decides the format, not the file name or the declared type (which may only veto:
an image or archive type is refused outright). Compressed input is refused before any
byte is inflated, so a zip bomb costs nothing. Every refusal is a 4xx `ServiceError` that
names the problem and the fix; nothing is stored until every check has passed.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

__all__ = ["ACCEPTED_CONTENT_TYPES", "IngestLimits", "ParsedTable", "read_table", "table_name_for"]

ACCEPTED_CONTENT_TYPES = {
    "", "text/csv", "text/plain", "application/csv", "text/x-csv", "application/vnd.ms-excel",
    "text/tab-separated-values", "application/json", "application/x-ndjson",
    "application/jsonl", "application/vnd.apache.parquet", "application/x-parquet",
    "application/parquet", "application/octet-stream",
}
_COMPRESSED = {
    b"PK\x03\x04": "zip", b"PK\x05\x06": "zip", b"\x1f\x8b": "gzip", b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz", b"7z\xbc\xaf\x27\x1c": "7z", b"\x28\xb5\x2f\xfd": "zstd",
    b"Rar!": "rar",
}
_BINARY = {
    b"\x89PNG": "PNG image", b"\xff\xd8\xff": "JPEG image", b"GIF8": "GIF image",
    b"%PDF": "PDF document", b"\x7fELF": "executable", b"MZ": "executable",
    b"\xd0\xcf\x11\xe0": "legacy Office document", b"SQLite format 3": "SQLite database",
}
_FORMULA_RE = r"^(?:[=@\t\r]|[+-].*[A-Za-z(|!])"
_NAME_RE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class IngestLimits:
    max_columns: int = 1_000
    max_cell_chars: int = 10_000
    max_rows: int = 2_000_000
    max_bytes: int = 100 * 1024 * 1024


@dataclass
class ParsedTable:
    name: str
    frame: Any
    """pandas.DataFrame"""
    format: str
    encoding: str | None
    size_bytes: int


def table_name_for(filename: str | None, fallback: str = "table") -> str:
    """A safe table name from an upload's file name (`Sales 2024.csv` -> `sales_2024`)."""
    stem = Path(filename or "").name.rsplit(".", 1)[0]
    name = _NAME_RE.sub("_", stem).strip("_").lower()[:60]
    if not name or not name[0].isalpha():
        name = f"t_{name}" if name else fallback
    return name


def _check_declared_type(content_type: str | None) -> None:
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"content type {declared!r} is not a table format; send CSV (text/csv), JSON "
            "(application/json) or Parquet (application/vnd.apache.parquet)",
            code="unsupported_content_type",
        )


def _declared_charset(content_type: str | None) -> str | None:
    match = re.search(r"charset=([A-Za-z0-9_.:-]+)", content_type or "", re.IGNORECASE)
    return match.group(1) if match else None


def read_table(path: Path, *, filename: str | None, content_type: str | None,
               limits: IngestLimits, encoding: str | None = None,
               allow_formulas: bool = False) -> ParsedTable:
    """Sniff, decode, parse and validate one uploaded table."""
    _check_declared_type(content_type)
    size = path.stat().st_size
    name = table_name_for(filename)
    if size == 0:
        raise InvalidInput("the uploaded file is empty; send a table with a header row and "
                           "at least one data row", code="empty_file")
    if size > limits.max_bytes:
        raise PayloadTooLarge(f"the upload is {size} bytes; the limit is {limits.max_bytes}",
                              code="upload_too_large")
    with open(path, "rb") as handle:
        head = handle.read(8192)
    for magic, kind in _COMPRESSED.items():
        if head.startswith(magic):
            raise UnsupportedMediaType(
                f"the upload is a {kind} archive; compressed uploads are refused (they can "
                "expand without bound). Send the uncompressed CSV, JSON or Parquet file",
                code="compressed_upload",
            )
    if head.startswith(b"PAR1"):
        frame = _read_parquet(path, size)
        fmt, used_encoding = "parquet", None
    else:
        for magic, kind in _BINARY.items():
            if head.startswith(magic):
                raise UnsupportedMediaType(
                    f"the upload looks like a {kind}, not a table; send CSV, JSON or Parquet",
                    code="unsupported_content",
                )
        used_encoding = _detect_encoding(path, head, encoding or _declared_charset(content_type))
        text_head = head.decode(used_encoding, errors="ignore").lstrip("\ufeff \t\r\n")
        if "\x00" in text_head:
            raise UnsupportedMediaType("the upload contains NUL bytes: it is binary, not a "
                                       "CSV or JSON table", code="unsupported_content")
        if text_head.startswith(("[", "{")):
            frame, fmt = _read_json(path, used_encoding), "json"
        else:
            frame, fmt = _read_csv(path, used_encoding, limits), "csv"
    _validate_frame(frame, limits, allow_formulas=allow_formulas)
    return ParsedTable(name=name, frame=frame, format=fmt, encoding=used_encoding,
                       size_bytes=size)


def _detect_encoding(path: Path, head: bytes, hint: str | None) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if hint:
        try:
            codecs.lookup(hint)
        except LookupError:
            raise InvalidInput(f"unknown encoding {hint!r}", code="unknown_encoding") from None
        _decode_all(path, hint, strict_hint=True)
        return hint
    _decode_all(path, "utf-8", strict_hint=False)
    return "utf-8"


def _decode_all(path: Path, encoding: str, *, strict_hint: bool) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                _refuse_encoding(path, encoding, offset + exc.start, strict_hint)
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            _refuse_encoding(path, encoding, offset, strict_hint)


def _refuse_encoding(path: Path, encoding: str, position: int, hint_given: bool) -> None:
    guess = None
    try:
        from charset_normalizer import from_path

        best = from_path(path, steps=5, chunk_size=4096).best()
        guess = best.encoding if best is not None else None
    except Exception:  # noqa: BLE001 - the guess is only advice
        guess = None
    advice = (f" It looks like {guess}; re-send with `encoding={guess}` (a form field or "
              "`?encoding=` on the request), or re-save the file as UTF-8." if guess
              else " Re-save the file as UTF-8.")
    raise InvalidInput(
        f"the file is not valid {encoding} (first bad byte at offset {position})." + advice,
        code="encoding_undetected" if not hint_given else "encoding_mismatch",
        detected_encoding=guess,
    )


def _read_parquet(path: Path, size: int):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(path, "rb") as handle:
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    if size < 12 or tail != b"PAR1":
        raise InvalidInput("the Parquet file is truncated (no footer); upload it again "
                           "completely", code="invalid_parquet")
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        _check_header(names)
        for field in parquet.schema_arrow:
            if pa.types.is_nested(field.type):
                raise InvalidInput(f"column {field.name!r} holds nested values "
                                   f"({field.type}); flatten it into scalar columns",
                                   code="nested_values")
        return parquet.read().to_pandas()
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for bad files
        raise InvalidInput(f"the Parquet file cannot be read: {exc}",
                           code="invalid_parquet") from None


def _check_header(names: list) -> None:
    names = [str(n) for n in names]
    seen, duplicates = set(), []
    for name in names:
        if name in seen and name not in duplicates:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        raise InvalidInput(f"duplicate column names {duplicates}; give every column a "
                           "unique name", code="duplicate_columns")
    blank = [i for i, name in enumerate(names) if not name.strip()]
    if blank:
        raise InvalidInput(f"column(s) at position {blank} have no name; give every column "
                           "a header", code="empty_column_name")


def _read_csv(path: Path, encoding: str, limits: IngestLimits):
    import pandas as pd

    with open(path, encoding=encoding, newline="") as handle:
        sample = handle.read(65536)
    try:
        dialect = csv.Sniffer().sniff(sample.split("\n", 20)[0] + "\n", delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    csv.field_size_limit(max(limits.max_cell_chars + 1, 131072))
    try:
        header = next(csv.reader(io.StringIO(sample), delimiter=delimiter), [])
    except csv.Error:
        header = []
    if len(header) > limits.max_columns:
        raise InvalidInput(f"the table has {len(header)} columns; the limit is "
                           f"{limits.max_columns}", code="too_many_columns")
    _check_header(header)
    try:
        frame = pd.read_csv(path, encoding=encoding, sep=delimiter, nrows=limits.max_rows + 1,
                            low_memory=False, on_bad_lines="error", engine="c")
    except pd.errors.EmptyDataError:
        raise InvalidInput("the file has no header row", code="empty_file") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise InvalidInput(f"the CSV cannot be parsed: {exc}", code="invalid_csv") from None
    if len(frame) > limits.max_rows:
        raise InvalidInput(f"the table has more than {limits.max_rows} rows; split it or "
                           "sample it down", code="too_many_rows")
    return frame


def _read_json(path: Path, encoding: str):
    import pandas as pd

    def pairs(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            raise InvalidInput(f"duplicate keys {dup} in a JSON object; give every column a "
                               "unique name", code="duplicate_columns")
        return dict(items)

    with open(path, encoding=encoding) as handle:
        text = handle.read()
    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError:
        try:  # JSON Lines: one object per line
            data = [json.loads(line, object_pairs_hook=pairs)
                    for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"the JSON cannot be parsed: {exc}", code="invalid_json") from None
    if isinstance(data, dict):
        data = data.get("rows", data.get("data"))
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise InvalidInput("JSON uploads must be a list of objects (one per row), JSON Lines, "
                           "or {\"rows\": [...]}", code="invalid_json")
    for row in data[:1000]:
        for key, value in row.items():
            if isinstance(value, (dict, list)):
                raise InvalidInput(f"column {key!r} holds nested values; flatten it into "
                                   "scalar columns", code="nested_values")
    return pd.DataFrame.from_records(data)


def _validate_frame(frame, limits: IngestLimits, *, allow_formulas: bool) -> None:
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    _check_header(columns)
    if len(columns) > limits.max_columns:
        raise InvalidInput(f"the table has {len(columns)} columns; the limit is "
                           f"{limits.max_columns}", code="too_many_columns")
    if len(columns) < 2:
        raise InvalidInput(f"the table has {len(columns)} column; a synthesizer learns how "
                           "columns relate, so send at least two (and check the delimiter)",
                           code="too_few_columns")
    if len(frame) == 0:
        raise InvalidInput("the table has a header but no rows; send at least one data row",
                           code="no_rows")
    if len(frame) > limits.max_rows:
        raise InvalidInput(f"the table has more than {limits.max_rows} rows",
                           code="too_many_rows")
    frame.columns = columns
    all_null = [c for c in columns if frame[c].isna().all()]
    if all_null:
        raise InvalidInput(f"column(s) {all_null} hold no values at all; drop them or fill "
                           "them in", code="all_null_column")
    for column in columns:
        series = frame[column]
        if series.dtype != object:
            continue
        values = series.dropna()
        is_text = values.map(lambda v: isinstance(v, str))
        text = values[is_text].astype(str)
        if len(text):
            longest = int(text.str.len().max())
            if longest > limits.max_cell_chars:
                raise InvalidInput(f"a cell in column {column!r} has {longest} characters; "
                                   f"the limit is {limits.max_cell_chars}",
                                   code="cell_too_long")
        numeric = pd.to_numeric(values.astype(str), errors="coerce")
        numeric_count = int(numeric.notna().sum())
        if 0 < numeric_count < len(values) and numeric_count >= 0.5 * len(values):
            bad = values[numeric.isna()].astype(str).head(3).tolist()
            raise InvalidInput(f"column {column!r} mixes numbers with other values "
                               f"(e.g. {bad}); clean them or make the column text",
                               code="mixed_types", column=column)
        if len(text) and not allow_formulas:
            formulas = text[text.str.match(_FORMULA_RE) & numeric[is_text].isna()]
            if len(formulas):
                raise InvalidInput(
                    f"column {column!r} has cells that spreadsheets run as formulas (e.g. "
                    f"{formulas.iloc[0][:40]!r}); remove them, or re-send with "
                    "allow_formulas=true to keep them as text (CSV downloads always "
                    "neutralise them)", code="formula_cells", column=column)
