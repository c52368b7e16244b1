"""Vectorized sampling from a fitted SDV `GaussianCopulaSynthesizer`, in whole columns.

SDV's own `sample()` spends most of its time in scipy's beta `ppf` (an iterative inverse of
the incomplete beta function, a few microseconds per cell) and in pandas copies made by each
RDT transformer. This module draws the same rows from the same fitted state:

* the copula draw is SDV's own: `RandomState(seed).multivariate_normal` over the fitted
  correlation, chunk after chunk, so the normal scores are the very numbers SDV draws;
* each marginal's inverse CDF `x(z) = ppf(Phi(z))` is a cubic spline through the
  marginal's own `percent_point` at 1,025 knots, with a per-interval error bound measured
  against `percent_point` at the midpoints. Where the output is discrete (categories,
  rounded numbers) a row whose value lies within that bound of a decision boundary is
  recomputed with `percent_point` itself, so it lands exactly where SDV puts it;
* the RDT reverse transforms (null generation, clipping, rounding, category intervals,
  timestamps) are replayed with numpy on whole columns, drawing nulls from copies of each
  transformer's own random state, in SDV's order.

The result for a seed is SDV's result for that seed: categorical, boolean and rounded
numeric cells are identical, unrounded numbers agree to the spline's measured error
(about 1e-9 of the column's range), timestamps to the second. `unsupported_reason` names
what this path does not replay (constraints, conditions, key and anonymised columns,
other transformers); the engine sends those requests to SDV's own `sample()`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CopulaSampler", "unsupported_reason"]

_Z_BOUND = 8.0
"""Spline domain in normal scores; |z| > 8 (probability 1e-15) is computed exactly."""
_INTERVALS = 1024
_SUPPORTED_FORMATTERS = {"NumericalFormatter", "DatetimeFormatter"}


def _class_name(obj: Any) -> str:
    return type(obj).__name__


def unsupported_reason(synth: Any, conditions: Mapping[str, Any] | None = None) -> str | None:
    """Why `synth` cannot be sampled here (a sentence), or None when it can."""
    from copulas.multivariate import GaussianMultivariate
    from sdv.single_table import GaussianCopulaSynthesizer

    if type(synth) is not GaussianCopulaSynthesizer:
        return f"{_class_name(synth)} is not a GaussianCopula"
    if conditions:
        return "conditional sampling is SDV's reject-sampling loop"
    if not getattr(synth, "_fitted", False) or not isinstance(synth._model, GaussianMultivariate):
        return "the model is not fitted"
    if synth.get_constraints() or getattr(synth, "_composite_keys", None):
        return "the model has constraints"
    processor = synth._data_processor
    if processor._keys:
        return "the table has key columns, which SDV generates with its id generators"
    if processor.grouped_columns_to_transformers:
        return "the table has multi-column transformers"
    transformers = processor._hyper_transformer.field_transformers
    model_columns = list(synth._model.columns)
    for column in processor.metadata.columns:
        transformer = transformers.get(column)
        if transformer is None:
            return f"column {column!r} has no transformer SDV models"
        kind = _class_name(transformer)
        if kind not in _REVERSERS:
            return f"column {column!r} uses {kind}, which this sampler does not replay"
        if list(transformer.output_columns) != [column] or column not in model_columns:
            return f"column {column!r} is modelled through extra columns"
        formatter = processor.formatters.get(column)
        if formatter is not None and _class_name(formatter) not in _SUPPORTED_FORMATTERS:
            return f"column {column!r} uses the {_class_name(formatter)} formatter"
        if kind in ("UnixTimestampEncoder", "OptimizedTimestampEncoder") and formatter is not None:
            if (formatter.datetime_format != transformer.datetime_format
                    or formatter._dtype != transformer._dtype):
                return f"column {column!r} is formatted differently from how it was encoded"
    if len(model_columns) != len(processor.metadata.columns):
        return "the model has columns the table does not"
    return None


class _Marginal:
    """x(z) = percent_point(Phi(z)) of one fitted copulas univariate, fast and bounded."""

    def __init__(self, univariate: Any) -> None:
        from scipy import special
        from scipy.interpolate import CubicSpline

        self._univariate = univariate
        self._ndtr = special.ndtr
        step = 2 * _Z_BOUND / _INTERVALS
        knots = np.linspace(-_Z_BOUND, _Z_BOUND, _INTERVALS + 1)
        mids = knots[:-1] + step / 2
        with np.errstate(all="ignore"):
            at_knots = self.exact(knots)
            at_mids = self.exact(mids)
        self.tabulated = bool(np.isfinite(at_knots).all() and np.isfinite(at_mids).all())
        if not self.tabulated:  # degenerate fit (nan / inf inside the domain): exact only
            return
        spline = CubicSpline(knots, at_knots)
        # Per interval, the cubic in t = (z - knot) / step, highest power first.
        scale = step ** np.arange(3, -1, -1)[:, None]
        self._coefficients = [np.ascontiguousarray(row) for row in spline.c * scale]
        self._step = step
        error = np.abs(spline(mids) - at_mids)
        widened = np.maximum(error, np.maximum(np.r_[error[1:], 0], np.r_[0, error[:-1]]))
        floor = 1e-12 * max(1.0, float(np.abs(at_knots).max()))
        self._bound = 4 * widened + floor

    def exact(self, z: np.ndarray) -> np.ndarray:
        """What SDV computes: the univariate's own ppf of the normal CDF."""
        return np.asarray(self._univariate.percent_point(self._ndtr(z)), dtype=np.float64)

    def __call__(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values and a per-row bound on their distance from `exact(z)`."""
        if not self.tabulated:
            return self.exact(z), np.zeros(len(z))
        position = (z + _Z_BOUND) * (1.0 / self._step)
        index = position.astype(np.intp)
        np.clip(index, 0, _INTERVALS - 1, out=index)
        offset = position - index
        c3, c2, c1, c0 = self._coefficients
        values = c3.take(index)
        values *= offset
        values += c2.take(index)
        values *= offset
        values += c1.take(index)
        values *= offset
        values += c0.take(index)
        bound = self._bound.take(index)
        outside = np.abs(z) > _Z_BOUND
        if outside.any():
            values[outside] = self.exact(z[outside])
            bound[outside] = 0.0
        return values, bound


def _uses_random_nulls(transformer: Any) -> bool:
    nulls = getattr(transformer, "null_transformer", None)
    return bool(nulls is not None and nulls.nulls
                and nulls._missing_value_generation == "random")


@dataclass
class _Column:
    name: str
    transformer: Any
    marginal: _Marginal
    final_dtype: Any
    formatter: Any

    discrete: bool = False

    def __post_init__(self) -> None:
        """Read what the reverse transform needs from the fitted transformer."""

    def reverse(self, x: np.ndarray, nulls: np.ndarray | None):  # pragma: no cover - abstract
        raise NotImplementedError

    def key(self, x: np.ndarray) -> np.ndarray:
        """A value that changes exactly when the column's output does (discrete only)."""
        raise NotImplementedError


class _Numeric(_Column):
    """RDT FloatFormatter, then SDV's dtype cast and NumericalFormatter."""

    def __post_init__(self) -> None:
        t = self.transformer
        self.clip = (t._min_value, t._max_value) if t.enforce_min_max_values else None
        if self.clip is None and not t.computer_representation.startswith("Float"):
            from rdt.transformers.numerical import INTEGER_BOUNDS

            self.clip = INTEGER_BOUNDS[t.computer_representation]
        self.is_integer = pd.api.types.is_integer_dtype(t._dtype)
        self.digits = t._rounding_digits if t.learn_rounding_scheme else None
        if self.digits is None and self.is_integer:
            self.digits = 0
        self.discrete = self.digits is not None

    def _clip_round(self, x: np.ndarray) -> np.ndarray:
        if self.clip is not None:
            x = np.clip(x, self.clip[0], self.clip[1])
        if self.digits is not None:
            x = np.round(x, self.digits)
        return x

    def key(self, x: np.ndarray) -> np.ndarray:
        return self._clip_round(x)

    def reverse(self, x: np.ndarray, nulls: np.ndarray | None):
        if nulls is not None and nulls.any():
            x = x.copy()
            x[nulls] = np.nan
        x = self._clip_round(x)
        has_nan = nulls is not None and bool(nulls.any())
        t = self.transformer
        integer_with_nans = (not pd.api.types.is_extension_array_dtype(t._dtype)
                             and self.is_integer and has_nan)
        series = pd.Series(x, name=self.name).astype("float64" if integer_with_nans
                                                      else t._dtype)
        return series


class _Categorical(_Column):
    """RDT UniformEncoder / OrderedUniformEncoder: [0, 1] cut at the fitted intervals."""

    def __post_init__(self) -> None:
        self.discrete = True
        intervals = self.transformer.intervals
        self.edges = np.array([interval[1] for interval in intervals.values()], dtype=np.float64)
        # RDT's pd.cut drops the null category's label, so its cells come out null.
        labels = list(intervals)
        known = [not pd.isna(label) for label in labels]
        self.codes = np.where(known, np.cumsum(known) - 1, -1)
        self.categories = pd.Index([label for label, keep in zip(labels, known, strict=True)
                                    if keep])

    def key(self, x: np.ndarray) -> np.ndarray:
        # pd.cut(x.clip(0, 1), [0, *edges], right=True, include_lowest=True)
        index = np.searchsorted(self.edges, np.clip(x, 0.0, 1.0), side="left")
        return np.minimum(index, len(self.edges) - 1)

    def reverse(self, x: np.ndarray, nulls: np.ndarray | None):
        from rdt.transformers.utils import try_convert_to_dtype

        codes = self.codes[self.key(x)]
        values = pd.Categorical.from_codes(codes, categories=self.categories, ordered=True)
        return try_convert_to_dtype(pd.Series(values, name=self.name), self.transformer.dtype)


class _Datetime(_Column):
    """RDT UnixTimestampEncoder / OptimizedTimestampEncoder: nanoseconds back to times."""

    def __post_init__(self) -> None:
        t = self.transformer
        # Formatted without fractions of a second, a time is its whole second.
        self.discrete = bool(t.datetime_format) and "%f" not in t.datetime_format

    def _nanoseconds(self, x: np.ndarray) -> np.ndarray:
        t = self.transformer
        x = np.round(x.astype(np.float64))
        divider = getattr(t, "divider", None)
        if divider is not None:
            x = x * divider
        if t.enforce_min_max_values:
            x = np.clip(x, t._min_value, t._max_value)
        return x

    def key(self, x: np.ndarray) -> np.ndarray:
        return np.floor(self._nanoseconds(x) / 1e9)

    def reverse(self, x: np.ndarray, nulls: np.ndarray | None):
        t = self.transformer
        if nulls is not None and nulls.any():
            x = x.copy()
            x[nulls] = np.nan
        times = t._convert_data_to_pandas_datetime(pd.Series(self._nanoseconds(x)))
        if t.datetime_format and not pd.api.types.is_datetime64_dtype(t._dtype):
            text = _strftime(times, t.datetime_format)
            if text is not None:
                return pd.Series(text, name=self.name).astype(t._dtype)
        return pd.Series(t._handle_datetime_formatting(times), name=self.name)


_DIRECTIVE = re.compile(r"%(.)")
_FIELDS = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}


@functools.cache
def _padded(width: int) -> np.ndarray:
    """'0000'..'9999' (or '00'..'99'): zero-padded numbers to `take` from."""
    return np.array([str(number).zfill(width) for number in range(10**width)])


def _fixed_offset(zone) -> int | None:
    """Seconds east of UTC when `zone` never changes its offset, else None. pandas
    localises dateutil's `tzlocal` one timestamp at a time; a fixed offset is one add."""
    import datetime as dt

    from dateutil import tz as dateutil_tz

    if isinstance(zone, dateutil_tz.tzlocal):
        return None if zone._hasdst else int(zone._std_offset.total_seconds())
    if isinstance(zone, dt.timezone | dateutil_tz.tzutc | dateutil_tz.tzoffset):
        return int(zone.utcoffset(None).total_seconds())
    return None


def _strftime(times, fmt: str) -> np.ndarray | None:
    """`times.dt.strftime(fmt)` for the common directives, built with numpy string
    operations. pandas formats each timestamp in Python, and through dateutil's time zones
    that costs about 0.1 ms a value. None when `fmt` needs another directive."""
    directives = set(_DIRECTIVE.findall(fmt))
    if not directives <= {*_FIELDS, "z", "%"}:
        return None
    zone = getattr(times.dt, "tz", None)
    aware = zone is not None
    if aware:
        utc = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
        fixed = _fixed_offset(zone)
        wall = (utc + np.timedelta64(fixed, "s") if fixed is not None
                else times.dt.tz_localize(None).to_numpy("datetime64[ns]"))
    else:
        wall = times.to_numpy("datetime64[ns]")
    valid = ~np.isnat(wall)
    years = wall.astype("datetime64[Y]").astype(np.int64) + 1970
    if valid.any() and (years[valid].min() < 1000 or years[valid].max() > 9999):
        return None
    parts = {
        "Y": years,
        "m": wall.astype("datetime64[M]").astype(np.int64) % 12 + 1,
        "d": (wall.astype("datetime64[D]") - wall.astype("datetime64[M]")).astype(np.int64) + 1,
        "H": (wall.astype("datetime64[h]") - wall.astype("datetime64[D]")).astype(np.int64),
        "M": (wall.astype("datetime64[m]") - wall.astype("datetime64[h]")).astype(np.int64),
        "S": (wall.astype("datetime64[s]") - wall.astype("datetime64[m]")).astype(np.int64),
    }
    text = np.full(len(wall), "", dtype=np.str_)
    position = 0
    for match in _DIRECTIVE.finditer(fmt):
        text = np.strings.add(text, fmt[position:match.start()])
        position = match.end()
        code = match.group(1)
        if code == "%":
            text = np.strings.add(text, "%")
        elif code == "z":
            if aware:
                minutes = (wall - utc).astype("timedelta64[m]").astype(np.int64)
                sign = np.where(minutes < 0, "-", "+")
                minutes = np.abs(minutes)
                offset = np.strings.add(_padded(2).take(minutes // 60 % 100),
                                        _padded(2).take(minutes % 60))
                text = np.strings.add(text, np.strings.add(sign, offset))
        else:
            width = _FIELDS[code]
            text = np.strings.add(text, _padded(width).take(np.where(valid, parts[code], 0)))
    text = np.strings.add(text, fmt[position:]).astype(object)
    text[~valid] = np.nan
    return text


_REVERSERS: dict[str, type[_Column]] = {
    "FloatFormatter": _Numeric,
    "UniformEncoder": _Categorical,
    "OrderedUniformEncoder": _Categorical,
    "UnixTimestampEncoder": _Datetime,
    "OptimizedTimestampEncoder": _Datetime,
}


class CopulaSampler:
    """Compiled once per loaded model; `sample` streams DataFrames of `chunk_rows`."""

    def __init__(self, synth: Any) -> None:
        reason = unsupported_reason(synth)
        if reason is not None:
            raise ValueError(f"cannot vectorize this model: {reason}")
        processor = synth._data_processor
        transformers = processor._hyper_transformer.field_transformers
        model = synth._model
        self._synth = synth
        self._correlation = np.asarray(model.correlation, dtype=np.float64)
        self._output_columns = list(processor.metadata.columns)
        original = getattr(synth, "_original_columns", None)
        self._renamed = list(original) if original is not None and len(original) else None
        self._columns: list[_Column] = []
        for name, univariate in zip(model.columns, model.univariates, strict=True):
            transformer = transformers[name]
            self._columns.append(_REVERSERS[_class_name(transformer)](
                name=name, transformer=transformer, marginal=_Marginal(univariate),
                final_dtype=processor._dtypes[name], formatter=processor.formatters.get(name)))

    def sample(self, num_rows: int, *, seed: int, chunk_rows: int = 50_000) -> Iterator[Any]:
        """The rows SDV's `sample()` returns for `_set_random_state(seed)`, chunk by chunk."""
        copula_state = np.random.RandomState(seed)
        # RDT draws each column's random nulls from that transformer's own
        # reverse-transform state: replay them from copies, leaving the model untouched.
        null_states = {}
        for column in self._columns:
            if _uses_random_nulls(column.transformer):
                state = np.random.RandomState()
                state.set_state(column.transformer.random_states["reverse_transform"].get_state())
                null_states[column.name] = state
        means = np.zeros(len(self._columns))
        remaining = num_rows
        while remaining > 0:
            count = min(chunk_rows, remaining)
            normal = copula_state.multivariate_normal(means, self._correlation, size=count)
            data = {}
            for index, column in enumerate(self._columns):
                scores = np.ascontiguousarray(normal[:, index])
                values = self._values(column, scores)
                nulls = None
                if column.name in null_states:
                    share = column.transformer.null_transformer._null_percentage
                    nulls = null_states[column.name].random((count,)) < share
                data[column.name] = self._finish(column, column.reverse(values, nulls))
            frame = pd.DataFrame({name: data[name] for name in self._output_columns})
            if self._renamed is not None:
                frame.columns = self._renamed
            remaining -= count
            yield frame

    @staticmethod
    def _values(column: _Column, scores: np.ndarray) -> np.ndarray:
        values, bound = column.marginal(scores)
        if column.discrete and column.marginal.tabulated:
            unsure = np.flatnonzero(column.key(values - bound) != column.key(values + bound))
            if unsure.size:
                values[unsure] = column.marginal.exact(scores[unsure])
        return values

    @staticmethod
    def _finish(column: _Column, series):
        """SDV's DataProcessor: cast back to the fitted dtype, then the column formatter."""
        from pandas.errors import IntCastingNaNError

        dtype = column.final_dtype
        if pd.api.types.is_integer_dtype(dtype) and pd.api.types.is_float_dtype(series.dtype):
            series = series.round()
        try:
            series = series.astype(dtype)
        except (IntCastingNaNError, ValueError):
            pass
        if column.formatter is not None and _class_name(column.formatter) == "NumericalFormatter":
            series = column.formatter.format_data(series)
        return series
