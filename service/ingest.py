"""Read an uploaded table safely: sniff what it really is, decode it, parse it, check it,
and write it as Parquet, in bounded memory.

Content decides the format, not the file name or the declared type (which may only veto:
an image or archive type is refused outright). Compressed input is refused before any
byte is inflated, so a zip bomb costs nothing. Every refusal is a 4xx `ServiceError` that
names the problem and the fix; nothing is stored until every check has passed.

Memory: tables never become pandas frames here. CSV and JSON are read twice as a stream
of Arrow record batches, once to learn each column's type and check it, once to write the
typed Parquet file; Parquet uploads are copied batch by batch. The profile is then
computed from that file one column at a time (`profile.profile_parquet`). So the peak is
a batch, one column in Arrow form and its statistics, whatever the file's size.

What is stored is what a careful reader of the file gets: a CSV row with more fields than
the header is refused (never shifted into an index), every value is checked (not a
sample), integers stay exact or are refused, and column names are kept as written.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from .formulas import formula_mask, is_formula

__all__ = [
    "ACCEPTED_CONTENT_TYPES",
    "IngestLimits",
    "ParsedTable",
    "check_encoding_name",
    "read_table",
    "table_name_for",
]

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
_NAME_RE = re.compile(r"[^A-Za-z0-9_]+")
_ENCODING_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")
# What pandas' read_csv reads as missing: the careful reader this module imitates.
NA_VALUES = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
_NUMBER = (r"^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$"
           r"|^\s*[+-]?(?i:inf|infinity|nan)\s*$")
_LONG_INTEGER = r"^\s*[+-]?[0-9]{19,}\s*$"
_BATCH_ROWS = 65_536
_BLOCK_BYTES = 1 << 20
_MAX_JSON_ROW_BYTES = 16 << 20
_EXAMPLE_CHARS = 60
_NUL = b"\x00"
_TEXT_CHECK_ROWS = 4096


@dataclass(frozen=True)
class IngestLimits:
    max_columns: int = 1_000
    max_cell_chars: int = 10_000
    max_rows: int = 2_000_000
    max_bytes: int = 100 * 1024 * 1024
    max_column_name_chars: int = 256


@dataclass
class ParsedTable:
    """One validated table, written as Parquet at `path` (a temporary file)."""

    name: str
    path: Path
    format: str
    encoding: str | None
    size_bytes: int
    rows: int
    columns: list[str]
    profile: dict = field(default_factory=dict)


def table_name_for(filename: str | None, fallback: str = "table") -> str:
    """A safe table name from an upload's file name (`Sales 2024.csv` -> `sales_2024`)."""
    stem = Path(filename or "").name.rsplit(".", 1)[0]
    name = _NAME_RE.sub("_", stem).strip("_").lower()[:60]
    if not name or not name[0].isalpha():
        name = f"t_{name}" if name else fallback
    return name


def check_encoding_name(name: str) -> str:
    """A known codec name, or a 422 naming the problem (never a 500 for `\\x00`)."""
    if not _ENCODING_RE.match(name or ""):
        raise InvalidInput(f"encoding {name[:40]!r} is not an encoding name; use one such as "
                           "utf-8, latin-1 or cp1252", code="unknown_encoding")
    try:
        codecs.lookup(name)
    except LookupError:
        raise InvalidInput(f"unknown encoding {name!r}; use one such as utf-8, latin-1 or "
                           "cp1252", code="unknown_encoding") from None
    return name


def _check_declared_type(content_type: str | None) -> None:
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"content type {declared[:80]!r} is not a table format; send CSV (text/csv), "
            "JSON (application/json) or Parquet (application/vnd.apache.parquet)",
            code="unsupported_content_type",
        )


def _declared_charset(content_type: str | None) -> str | None:
    match = re.search(r"charset=\"?([^;\"\s]+)", content_type or "", re.IGNORECASE)
    return match.group(1) if match else None


def read_table(path: Path, *, filename: str | None, content_type: str | None,
               limits: IngestLimits, encoding: str | None = None,
               allow_formulas: bool = False, out: Path | None = None) -> ParsedTable:
    """Sniff, decode, parse and validate one uploaded table; write it as Parquet to `out`
    (default: beside `path`) and profile it."""
    from .profile import profile_parquet

    _check_declared_type(content_type)
    size = path.stat().st_size
    name = table_name_for(filename)
    out = out or path.with_suffix(".parquet")
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
    checks = _Checks(limits, allow_formulas)
    try:
        if head.startswith(b"PAR1"):
            rows, columns = _ParquetReader(path, size, checks).write(out)
            fmt, used_encoding = "parquet", None
        else:
            for magic, kind in _BINARY.items():
                if head.startswith(magic):
                    raise UnsupportedMediaType(
                        f"the upload looks like a {kind}, not a table; send CSV, JSON or "
                        "Parquet", code="unsupported_content")
            hint = encoding or _declared_charset(content_type)
            used_encoding = _detect_encoding(path, head, hint)
            text_head = head.decode(used_encoding, errors="ignore").lstrip("\ufeff \t\r\n")
            if text_head.startswith(("[", "{")):
                source: _TextSource = _JsonSource(path, used_encoding, checks)
                fmt = "json"
            else:
                source, fmt = _CsvSource(path, used_encoding, checks), "csv"
            rows, columns = source.write(out)
        profile = profile_parquet(out)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return ParsedTable(name=name, path=out, format=fmt, encoding=used_encoding,
                       size_bytes=size, rows=rows, columns=columns, profile=profile)


# Encoding.


def _detect_encoding(path: Path, head: bytes, hint: str | None) -> str:
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif hint:
        encoding = check_encoding_name(hint)
    else:
        encoding = "utf-8"
    _decode_all(path, encoding, hint_given=bool(hint))
    return encoding


def _decode_all(path: Path, encoding: str, *, hint_given: bool) -> None:
    """Decode the whole file once (strictly): refuses bad bytes and NUL characters
    anywhere, not just in the first block."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                _refuse_encoding(path, encoding, offset + exc.start, hint_given)
            if "\x00" in text:
                near = offset + max(0, chunk.find(_NUL))
                raise UnsupportedMediaType(
                    f"the upload contains NUL characters (near byte {near}): it is binary, "
                    "not a CSV or JSON table; remove them or send the table as Parquet",
                    code="unsupported_content")
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            _refuse_encoding(path, encoding, offset, hint_given)


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


# Checks shared by every format.


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _EXAMPLE_CHARS else text[:_EXAMPLE_CHARS] + "..."


class _Checks:
    def __init__(self, limits: IngestLimits, allow_formulas: bool) -> None:
        self.limits = limits
        self.allow_formulas = allow_formulas

    def header(self, names: list) -> list[str]:
        names = [str(n) for n in names]
        if len(names) > self.limits.max_columns:
            raise InvalidInput(f"the table has {len(names)} columns; the limit is "
                               f"{self.limits.max_columns}", code="too_many_columns")
        too_long = [i for i, n in enumerate(names) if len(n) > self.limits.max_column_name_chars]
        if too_long:
            raise InvalidInput(
                f"column name(s) at position {too_long[:5]} are longer than "
                f"{self.limits.max_column_name_chars} characters; shorten them",
                code="column_name_too_long")
        seen: set[str] = set()
        duplicates: list[str] = []
        for name in names:
            if name in seen and name not in duplicates:
                duplicates.append(name)
            seen.add(name)
        if duplicates:
            raise InvalidInput(f"duplicate column names {[_short(d) for d in duplicates[:5]]}; "
                               "give every column a unique name", code="duplicate_columns")
        blank = [i for i, name in enumerate(names) if not name.strip()]
        if blank:
            raise InvalidInput(f"column(s) at position {blank[:5]} have no name; give every "
                               "column a header", code="empty_column_name")
        if not self.allow_formulas:
            formulas = [n for n in names if is_formula(n)]
            if formulas:
                raise InvalidInput(
                    f"column name {_short(formulas[0])!r} is text spreadsheets run as a "
                    "formula; rename the column, or re-send with allow_formulas=true to keep "
                    "it as text (CSV downloads always neutralise it)", code="formula_cells",
                    column=formulas[0][:200])
        if len(names) < 2:
            raise InvalidInput(f"the table has {len(names)} column; a synthesizer learns how "
                               "columns relate, so send at least two (and check the "
                               "delimiter)", code="too_few_columns")
        return names

    def rows(self, count: int) -> None:
        if count > self.limits.max_rows:
            raise InvalidInput(f"the table has more than {self.limits.max_rows} rows; split it "
                               "or sample it down", code="too_many_rows")

    def final(self, rows: int, non_null: dict[str, int]) -> None:
        if rows == 0:
            raise InvalidInput("the table has a header but no rows; send at least one data "
                               "row", code="no_rows")
        self.rows(rows)
        empty = [name for name, count in non_null.items() if count == 0]
        if empty:
            raise InvalidInput(f"column(s) {[_short(e) for e in empty[:5]]} hold no values at "
                               "all; drop them or fill them in", code="all_null_column")

    def strings(self, column: str, strings) -> None:
        """Cell length and formula checks on one Arrow string array."""
        import pyarrow.compute as pc

        if len(strings) == 0 or strings.null_count == len(strings):
            return
        longest = pc.max(pc.utf8_length(strings)).as_py() or 0
        if longest > self.limits.max_cell_chars:
            raise InvalidInput(f"a cell in column {_short(column)!r} has {longest} characters; "
                               f"the limit is {self.limits.max_cell_chars}",
                               code="cell_too_long", column=column[:200])
        if not self.allow_formulas:
            mask = formula_mask(strings)
            if pc.any(mask).as_py():
                example = pc.filter(strings, mask)[0].as_py()
                raise InvalidInput(
                    f"column {_short(column)!r} has cells that spreadsheets run as formulas "
                    f"(e.g. {_short(example)!r}); remove them, or re-send with "
                    "allow_formulas=true to keep them as text (CSV downloads always "
                    "neutralise them)", code="formula_cells", column=column[:200])


def _string_values(array):
    """The distinct string values to check in an Arrow array (a dictionary's labels)."""
    import pyarrow as pa

    if pa.types.is_dictionary(array.type):
        array = array.dictionary
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array
    return None


# CSV and JSON: two streaming passes (learn the types, then write).


class _TextSource:
    def __init__(self, path: Path, encoding: str, checks: _Checks) -> None:
        self.path = path
        self.encoding = encoding
        self.checks = checks

    def write(self, out: Path) -> tuple[int, list[str]]:
        import pyarrow.parquet as pq

        columns, schema = self.learn()
        rows = 0
        with pq.ParquetWriter(out, schema) as writer:
            for batch in self.typed_batches(schema):
                writer.write_batch(batch)
                rows += batch.num_rows
        return rows, columns

    def learn(self):
        raise NotImplementedError

    def typed_batches(self, schema) -> Iterator:
        raise NotImplementedError


class _CsvColumn:
    """What the first pass learns about one CSV column (read as text)."""

    def __init__(self) -> None:
        self.non_null = 0
        self.ints = True
        self.floats = True
        self.bools = True
        self.numeric = 0
        self.long_ints = False
        self.examples: list[str] = []

    def add(self, strings) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        values = strings.drop_null()
        count = len(values)
        if count == 0:
            return
        self.non_null += count
        if self.ints:
            try:
                pc.cast(values, pa.int64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                self.ints = False
                self.long_ints = self.long_ints or bool(
                    pc.any(pc.match_substring_regex(values, _LONG_INTEGER)).as_py())
        numeric = pc.match_substring_regex(values, _NUMBER)
        numbers = int(pc.sum(numeric).as_py() or 0)
        self.numeric += numbers
        if numbers < count:
            self.floats = False
            if len(self.examples) < 3:
                others = pc.filter(values, pc.invert(numeric)).slice(0, 3 - len(self.examples))
                self.examples.extend(_short(v) for v in others.to_pylist())
        if self.bools:
            lowered = pc.utf8_lower(values)
            self.bools = bool(pc.all(pc.is_in(lowered, value_set=pa.array(["true", "false"])))
                              .as_py())

    def arrow_type(self, name: str):
        import pyarrow as pa

        if self.non_null and self.ints:
            return pa.int64()
        if self.non_null and self.floats:
            if self.long_ints:
                raise InvalidInput(
                    f"column {_short(name)!r} holds integers outside the 64-bit range, which "
                    "cannot be stored exactly; send them as text (e.g. prefix them with a "
                    "letter) or scale them down", code="integer_out_of_range",
                    column=name[:200])
            return pa.float64()
        if self.non_null and self.bools:
            return pa.bool_()
        if 0 < self.numeric < self.non_null and self.numeric >= 0.5 * self.non_null:
            raise InvalidInput(f"column {_short(name)!r} mixes numbers with other values "
                               f"(e.g. {self.examples}); clean them or make the column text",
                               code="mixed_types", column=name[:200])
        return pa.string()


class _CsvSource(_TextSource):
    def __init__(self, path: Path, encoding: str, checks: _Checks) -> None:
        super().__init__(path, encoding, checks)
        self.delimiter, self.header = self._header()
        self.bad_row: dict | None = None

    def _header(self) -> tuple[str, list[str]]:
        limits = self.checks.limits
        with open(self.path, encoding=self.encoding, newline="") as handle:
            first_line = handle.readline(65536)
        try:
            dialect = csv.Sniffer().sniff(first_line.split("\n", 1)[0] + "\n",
                                          delimiters=",;\t|")
            delimiter = dialect.delimiter
        except csv.Error:
            delimiter = ","
        name_limit = limits.max_column_name_chars
        previous = csv.field_size_limit()
        csv.field_size_limit(name_limit + 1)
        try:
            with open(self.path, encoding=self.encoding, newline="") as handle:
                header = next(csv.reader(handle, delimiter=delimiter), [])
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise InvalidInput(f"a column name is longer than {name_limit} characters; "
                                   "shorten it", code="column_name_too_long") from None
            raise InvalidInput(f"the CSV header cannot be read: {exc}",
                               code="invalid_csv") from None
        finally:
            csv.field_size_limit(previous)
        if not header:
            raise InvalidInput("the file has no header row", code="empty_file")
        return delimiter, self.checks.header(header)

    def _string_batches(self) -> Iterator:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        def on_bad_row(row) -> str:
            self.bad_row = {"line": row.number, "expected": row.expected_columns,
                            "found": row.actual_columns, "text": _short(row.text or "")}
            return "error"

        encoding = "utf8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding
        try:
            reader = pcsv.open_csv(
                self.path,
                read_options=pcsv.ReadOptions(encoding=encoding, block_size=_BLOCK_BYTES,
                                              use_threads=True),
                parse_options=pcsv.ParseOptions(delimiter=self.delimiter,
                                                 newlines_in_values=True,
                                                 invalid_row_handler=on_bad_row),
                convert_options=pcsv.ConvertOptions(
                    column_types={name: pa.string() for name in self.header},
                    null_values=NA_VALUES, strings_can_be_null=True,
                    quoted_strings_can_be_null=True))
            if reader.schema.names != self.header:
                raise InvalidInput("the CSV header cannot be read consistently; check its "
                                   "quoting", code="invalid_csv")
            yield from reader
        except pa.ArrowInvalid as exc:
            raise self._parse_error(exc) from None

    def _parse_error(self, exc: Exception) -> InvalidInput:
        bad = self.bad_row
        if bad is not None:
            where = f"line {bad['line']}" if bad["line"] and bad["line"] > 0 else "a row"
            return InvalidInput(
                f"{where} has {bad['found']} fields but the header has {bad['expected']} "
                f"({bad['text']!r}); every row needs exactly one value per column (quote "
                "values that contain the delimiter)", code="ragged_rows", **{
                    "line": bad["line"] if bad["line"] and bad["line"] > 0 else None})
        message = str(exc)
        if "straddling" in message or "block" in message:
            return InvalidInput(
                f"a row is longer than {_BLOCK_BYTES >> 20} MB: a cell far over the "
                f"{self.checks.limits.max_cell_chars}-character limit, or a quote that is "
                "never closed; shorten the cell or fix the quoting", code="cell_too_long")
        return InvalidInput(f"the CSV cannot be parsed: {_short(message)}", code="invalid_csv")

    def learn(self):
        import pyarrow as pa

        stats = {name: _CsvColumn() for name in self.header}
        rows = 0
        for batch in self._string_batches():
            rows += batch.num_rows
            self.checks.rows(rows)
            for name, column in zip(self.header, batch.columns, strict=True):
                stats[name].add(column)
                self.checks.strings(name, column)
        self.checks.final(rows, {name: s.non_null for name, s in stats.items()})
        schema = pa.schema([(name, stats[name].arrow_type(name)) for name in self.header])
        return list(self.header), schema

    def typed_batches(self, schema) -> Iterator:
        import pyarrow as pa
        import pyarrow.compute as pc

        for batch in self._string_batches():
            arrays = []
            for column, target in zip(batch.columns, schema.types, strict=True):
                if pa.types.is_boolean(target):
                    arrays.append(pc.equal(pc.utf8_lower(column), "true"))
                else:
                    arrays.append(pc.cast(column, target))
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)


class _JsonColumn:
    KINDS = ("bool", "int", "float", "str")

    def __init__(self, first_row: int) -> None:
        self.first_row = first_row
        self.kinds: set[str] = set()
        self.non_null = 0
        self.max_abs_int = 0

    def arrow_type(self, name: str):
        import pyarrow as pa

        kinds = self.kinds
        if not kinds:
            return pa.null()
        if kinds == {"int"}:
            return pa.int64()
        if kinds <= {"int", "float"}:
            if self.max_abs_int > 2**53:
                raise InvalidInput(
                    f"column {_short(name)!r} mixes decimals with integers too large to store "
                    "exactly beside them (above 2^53); send the integers as text or round "
                    "the column", code="integer_out_of_range", column=name[:200])
            return pa.float64()
        if kinds == {"bool"}:
            return pa.bool_()
        if kinds == {"str"}:
            return pa.string()
        raise InvalidInput(
            f"column {_short(name)!r} mixes {' and '.join(sorted(kinds))} values; give every "
            "value in a column the same JSON type (quote numbers to make the column text)",
            code="mixed_types", column=name[:200])


class _JsonSource(_TextSource):
    """A list of objects, `{"rows": [...]}` / `{"data": [...]}`, or JSON Lines."""

    _WRAPPER = re.compile(r'\{\s*"(rows|data)"\s*:\s*\[')

    def _values(self) -> Iterator[dict]:
        decoder = json.JSONDecoder(object_pairs_hook=_unique_pairs)
        with open(self.path, encoding=self.encoding) as handle:
            reader = _JsonReader(handle, decoder)
            reader.skip_space()
            start = reader.peek()
            if start == "[":
                reader.advance(1)
                yield from reader.array_items()
                reader.expect_end()
                return
            if start != "{":
                raise _invalid_json("the upload does not start with `[` or `{`")
            wrapper = reader.match(self._WRAPPER)
            if wrapper:
                yield from reader.array_items()
                reader.finish_object()
                return
            count = 0
            last = None
            for value in reader.values():
                count += 1
                if count == 1:
                    last = value
                    continue
                if count == 2:
                    yield last
                yield value
            if count == 1:  # one object that is not a wrapper of rows
                raise _invalid_json("a single JSON object is not a table")
            if count == 0:
                raise InvalidInput("the uploaded file is empty", code="empty_file")

    def _rows(self) -> Iterator[dict]:
        for index, row in enumerate(self._values()):
            if not isinstance(row, dict):
                raise _invalid_json(f"row {index + 1} is a {type(row).__name__}, not an object")
            yield row

    def learn(self):
        import pyarrow as pa

        columns: dict[str, _JsonColumn] = {}
        rows = 0
        texts: dict[str, list[str]] = {}
        for row in self._rows():
            for key, value in row.items():
                column = columns.get(key)
                if column is None:
                    column = columns[key] = _JsonColumn(rows)
                    if len(columns) > self.checks.limits.max_columns:
                        self.checks.header(list(columns))
                if value is None:
                    continue
                column.non_null += 1
                if isinstance(value, bool):
                    column.kinds.add("bool")
                elif isinstance(value, int):
                    if not -2**63 <= value < 2**63:
                        raise InvalidInput(
                            f"column {_short(key)!r} holds the integer {_short(value)}, outside "
                            "the 64-bit range, which cannot be stored exactly; send it as a "
                            "string", code="integer_out_of_range", column=key[:200])
                    column.kinds.add("int")
                    column.max_abs_int = max(column.max_abs_int, abs(value))
                elif isinstance(value, float):
                    column.kinds.add("float")
                elif isinstance(value, str):
                    column.kinds.add("str")
                    bucket = texts.setdefault(key, [])
                    bucket.append(value)
                    if len(bucket) >= _TEXT_CHECK_ROWS:
                        self.checks.strings(key, pa.array(bucket, pa.string()))
                        bucket.clear()
                else:
                    raise InvalidInput(f"column {_short(key)!r} holds nested values "
                                       f"({type(value).__name__}); flatten it into scalar "
                                       "columns", code="nested_values", column=key[:200])
            rows += 1
            if rows % _BATCH_ROWS == 0:
                self.checks.rows(rows)
        for key, bucket in texts.items():
            if bucket:
                self.checks.strings(key, pa.array(bucket, pa.string()))
        if rows == 0:
            self.checks.final(rows, {})
        names = self.checks.header(list(columns))
        self.checks.final(rows, {name: c.non_null for name, c in columns.items()})
        schema = pa.schema([(name, columns[name].arrow_type(name)) for name in names])
        return names, schema

    def typed_batches(self, schema) -> Iterator:
        import pyarrow as pa

        names = schema.names
        batch: list[dict] = []

        def build(rows: list[dict]):
            arrays = [pa.array([row.get(name) for row in rows], type=schema.field(name).type)
                      for name in names]
            return pa.RecordBatch.from_arrays(arrays, schema=schema)

        for row in self._rows():
            batch.append(row)
            if len(batch) >= _BATCH_ROWS:
                yield build(batch)
                batch = []
        if batch:
            yield build(batch)


def _unique_pairs(items):
    keys = [k for k, _ in items]
    if len(keys) != len(set(keys)):
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        raise InvalidInput(f"duplicate keys {[_short(d) for d in duplicates[:5]]} in a JSON "
                           "object; give every column a unique name", code="duplicate_columns")
    return dict(items)


def _invalid_json(why: str) -> InvalidInput:
    return InvalidInput(f"{why}. JSON uploads must be a list of objects (one per row), JSON "
                        "Lines, or {\"rows\": [...]}", code="invalid_json")


class _JsonReader:
    """Decodes a JSON document one row at a time from a text stream (bounded memory)."""

    def __init__(self, handle, decoder: json.JSONDecoder) -> None:
        self.handle = handle
        self.decoder = decoder
        self.buffer = handle.read(1 << 20).lstrip("\ufeff")
        self.pos = 0
        self.eof = not self.buffer

    def _fill(self) -> bool:
        if self.eof:
            return False
        more = self.handle.read(1 << 20)
        if not more:
            self.eof = True
            return False
        if self.pos > (1 << 20):
            self.buffer = self.buffer[self.pos:]
            self.pos = 0
        self.buffer += more
        if len(self.buffer) - self.pos > _MAX_JSON_ROW_BYTES:
            raise InvalidInput(f"a JSON row is larger than {_MAX_JSON_ROW_BYTES >> 20} MB; "
                               "rows must be flat objects of scalar values",
                               code="invalid_json")
        return True

    def skip_space(self) -> None:
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buffer) or not self._fill():
                return

    def peek(self) -> str:
        self.skip_space()
        return self.buffer[self.pos] if self.pos < len(self.buffer) else ""

    def advance(self, count: int) -> None:
        self.pos += count

    def match(self, pattern: re.Pattern) -> bool:
        found = pattern.match(self.buffer, self.pos)
        if found:
            self.pos = found.end()
        return bool(found)

    def decode(self) -> Any:
        self.skip_space()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except RecursionError:
                raise InvalidInput("the JSON is nested too deeply; rows must be flat objects "
                                   "of scalar values", code="nested_values") from None
            except json.JSONDecodeError as exc:
                if self._fill():
                    continue
                raise _invalid_json(f"the JSON cannot be parsed ({exc.msg} at character "
                                    f"{exc.pos})") from None
            self.pos = end
            return value

    def array_items(self) -> Iterator[Any]:
        if self.peek() == "]":
            self.advance(1)
            return
        while True:
            yield self.decode()
            following = self.peek()
            self.advance(1)
            if following == "]":
                return
            if following != ",":
                raise _invalid_json(f"expected `,` or `]` between rows, found {following!r}")

    def values(self) -> Iterator[Any]:
        while self.peek():
            yield self.decode()

    def expect_end(self) -> None:
        if self.peek():
            raise _invalid_json("there is more after the list of rows")

    def finish_object(self) -> None:
        rest = []
        while True:
            rest.append(self.buffer[self.pos:])
            self.pos = len(self.buffer)
            if not self._fill():
                break
        tail = "".join(rest).strip()
        if tail == "}":
            return
        if not tail.startswith(","):
            raise _invalid_json("the object around the rows is malformed")
        try:
            json.loads("{" + tail[1:])
        except (json.JSONDecodeError, RecursionError):
            raise _invalid_json("the object around the rows is malformed") from None


# Parquet: copied batch by batch after its schema is checked.


class _ParquetReader:
    def __init__(self, path: Path, size: int, checks: _Checks) -> None:
        self.path = path
        self.size = size
        self.checks = checks

    def write(self, out: Path) -> tuple[int, list[str]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        with open(self.path, "rb") as handle:
            handle.seek(max(0, self.size - 4))
            tail = handle.read(4)
        if self.size < 12 or tail != b"PAR1":
            raise InvalidInput("the Parquet file is truncated (no footer); upload it again "
                               "completely", code="invalid_parquet")
        try:
            parquet = pq.ParquetFile(self.path)
            schema = parquet.schema_arrow
            total_rows = parquet.metadata.num_rows
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for bad files
            raise InvalidInput(f"the Parquet file cannot be read: {_short(exc)}",
                               code="invalid_parquet") from None
        index_columns = _pandas_index_columns(schema)
        names = [n for n in schema.names if n not in index_columns]
        names = self.checks.header(names)
        for name in names:
            field_type = schema.field(name).type
            if pa.types.is_nested(field_type):
                raise InvalidInput(f"column {_short(name)!r} holds nested values "
                                   f"({field_type}); flatten it into scalar columns",
                                   code="nested_values", column=name[:200])
        self.checks.rows(total_rows)
        keep = pa.schema([schema.field(n) for n in names])
        non_null = dict.fromkeys(names, 0)
        rows = 0
        try:
            with pq.ParquetWriter(out, keep) as writer:
                for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=names):
                    rows += batch.num_rows
                    self.checks.rows(rows)
                    for name, column in zip(names, batch.columns, strict=True):
                        non_null[name] += len(column) - column.null_count
                        strings = _string_values(column)
                        if strings is not None:
                            self.checks.strings(name, strings)
                    writer.write_batch(batch)
        except InvalidInput:
            raise
        except Exception as exc:  # noqa: BLE001
            raise InvalidInput(f"the Parquet file cannot be read: {_short(exc)}",
                               code="invalid_parquet") from None
        self.checks.final(rows, non_null)
        return rows, names


def _pandas_index_columns(schema) -> set[str]:
    """Columns pandas wrote for a frame's index (dropped, as `preserve_index=False` did)."""
    metadata = schema.metadata or {}
    raw = metadata.get(b"pandas")
    if not raw:
        return set()
    try:
        described = json.loads(raw)
    except ValueError:
        return set()
    return {c for c in described.get("index_columns", []) if isinstance(c, str)}

