"""Encode sampled chunks as CSV, JSON or Parquet without holding the whole result.

Each encoder takes an iterator of DataFrames and yields bytes. CSV output neutralises
cells a spreadsheet would run as formulas (OWASP's CSV injection advice: prefix `'`).
"""

from __future__ import annotations

import io
import json
import queue
import threading
from collections.abc import Iterable, Iterator

from .formulas import neutralise_frame

__all__ = [
    "FORMATS", "MEDIA_TYPES", "encode", "neutralise_formulas", "prefetch", "to_records",
]

FORMATS = ("json", "csv", "parquet", "jsonl")
MEDIA_TYPES = {
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def neutralise_formulas(frame):
    """A copy of `frame` whose column names and text / category cells cannot start a
    spreadsheet formula (the rule in `formulas`, shared with the upload check, applied
    once per distinct value)."""
    return neutralise_frame(frame)


def to_records(frame) -> list[dict]:
    """JSON-safe row dicts (NaN -> null, timestamps -> ISO strings)."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def _csv(chunks: Iterable) -> Iterator[bytes]:
    header = True
    for frame in chunks:
        yield _csv_bytes(neutralise_formulas(frame), header=header)
        header = False


# Python's float repr (what pandas writes) and Arrow's shortest form agree on every number
# except where they switch to exponent notation at different magnitudes.
_PLAIN_FLOATS = (1e-4, 1e16)


def _csv_bytes(frame, *, header: bool) -> bytes:
    """`frame.to_csv(index=False)`, byte for byte. Arrow's C++ writer renders it (several
    times faster, and without holding the GIL, so encoding overlaps the next chunk's
    sampling) whenever every column is one it renders exactly as pandas does; pandas
    writes the rest: other dtypes, cells that need quotes, tiny or huge floats."""
    body = _arrow_csv(frame)
    if body is None:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, header=header)
        return buffer.getvalue().encode("utf-8")
    if not header:
        return body
    head = io.StringIO()
    frame.head(0).to_csv(head, index=False)
    return head.getvalue().encode("utf-8") + body


def _arrow_csv(frame) -> bytes | None:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    arrays = []
    for _name, series in frame.items():
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype):
            arrays.append(pa.array(np.where(series.to_numpy(), "True", "False")))
        elif pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
            if pd.api.types.is_extension_array_dtype(dtype):
                return None
            arrays.append(pa.array(series.to_numpy()))
        elif pd.api.types.is_float_dtype(dtype) and not pd.api.types.is_extension_array_dtype(
                dtype):
            values = series.to_numpy()
            magnitude = np.abs(values[np.isfinite(values) & (values != 0)])
            if magnitude.size and (magnitude.min() < _PLAIN_FLOATS[0]
                                   or magnitude.max() >= _PLAIN_FLOATS[1]):
                return None
            text = pc.cast(pa.array(values, from_pandas=True), pa.string())
            whole = pc.match_substring_regex(text, r"^-?[0-9]+$")  # repr keeps "12.0"
            arrays.append(pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text))
        elif pd.api.types.is_object_dtype(dtype):
            try:
                arrays.append(pa.array(series.to_numpy(), type=pa.string(), from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                return None
        else:
            return None
    table = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
    sink = pa.BufferOutputStream()
    try:  # "none" refuses cells with commas, quotes or newlines: pandas quotes those
        pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(
            include_header=False, quoting_style="none"))
    except pa.ArrowInvalid:
        return None
    return sink.getvalue().to_pybytes()


def _jsonl(chunks: Iterable) -> Iterator[bytes]:
    for frame in chunks:
        text = frame.to_json(orient="records", lines=True, date_format="iso")
        if text and not text.endswith("\n"):
            text += "\n"
        yield text.encode("utf-8")


def _json(chunks: Iterable) -> Iterator[bytes]:
    yield b'{"rows":['
    first = True
    for frame in chunks:
        body = frame.to_json(orient="records", date_format="iso")[1:-1]
        if body:
            yield (b"" if first else b",") + body.encode("utf-8")
            first = False
    yield b"]}"


class _Drain(io.RawIOBase):
    """A write-only sink whose bytes are collected and handed out between chunks."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _parquet(chunks: Iterable) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = _Drain()
    writer = None
    schema = None
    for frame in chunks:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if writer is None:
            schema = table.schema
            writer = pq.ParquetWriter(sink, schema)
        else:
            table = table.cast(schema, safe=False)
        writer.write_table(table)
        if data := sink.take():
            yield data
    if writer is not None:
        writer.close()
        yield sink.take()


def encode(fmt: str, chunks: Iterable) -> Iterator[bytes]:
    return {"csv": _csv, "json": _json, "jsonl": _jsonl, "parquet": _parquet}[fmt](chunks)


_DONE = object()


def prefetch(chunks: Iterator, depth: int = 2) -> Iterator:
    """Run `chunks` on one dedicated thread, `depth` items ahead of the consumer.

    Keeps every model call on a single thread (torch's OpenMP pools multiply when a
    generator is resumed from many pool threads, which slowed CTGAN streaming severalfold)
    and overlaps generation with encoding and sending. Memory stays bounded by `depth`.
    Closing the returned iterator (client gone) stops the producer.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in chunks:
                while not stop.is_set():
                    try:
                        items.put((True, item), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put((True, _DONE))
        except BaseException as exc:  # noqa: BLE001 - re-raised on the consumer's side
            items.put((False, exc))

    thread = threading.Thread(target=produce, name="synth-sample", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = items.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
