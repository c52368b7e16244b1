"""The one rule for text a spreadsheet would run as a formula (CSV injection).

Used on both sides: uploads refuse such cells and column names (unless the caller keeps
them as text with `allow_formulas=true`), and CSV output neutralises them with a leading
`'` (OWASP's advice), in cells of text and category columns and in the header.

A value is a formula when it starts with `=`, `@`, a tab or a carriage return (or the
full-width `＝` / `＠` some spreadsheets fold to them), or with `+` / `-` (`＋` / `－`)
followed by anything but a number or a phone number: `+1 (555) 010-0000`, `-12.5`,
`-1e-05` and `-` stay as they are; `+cmd|' /C calc'!A0`, `-2+3+HYPERLINK(..)` and `-2+3`
(which a spreadsheet would compute) do not.

The rule is two patterns written in the subset of syntax Python's `re` and RE2 (Arrow's
regex engine) share, so `pyarrow.compute` applies exactly the same rule to whole columns.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "FORMULA_START",
    "SAFE_SIGNED",
    "formula_mask",
    "is_formula",
    "neutralise",
    "neutralise_frame",
]

FORMULA_START = "^[=@\t\r+\\-\uff1d\uff20\uff0b\uff0d]"
"""Text starting with one of these may be a formula..."""
SAFE_SIGNED = ("^[+\\-\uff0b\uff0d](?:|[0-9]*\\.?[0-9]+(?:[eE][+\\-]?[0-9]+)?"
               "|[0-9 ().,/:+\\-]*[ ()][0-9 ().,/:+\\-]*)$")
"""...unless it is a bare sign, a signed number (`-12.5`, `-1e-05`), or digits with a
space or parenthesis among `().,/:+-` (a phone number such as `+1 (555) 010-0000`, which a
spreadsheet cannot evaluate). `-2+3` and `+1-555-0100` stay formulas: a spreadsheet would
compute them."""

_START = re.compile(FORMULA_START)
_SAFE = re.compile(SAFE_SIGNED)


def is_formula(value: Any) -> bool:
    """Whether `value` is text a spreadsheet would run as a formula."""
    return isinstance(value, str) and bool(_START.match(value)) and not _SAFE.match(value)


def neutralise(value: Any) -> Any:
    """`value` with a leading `'` if it is a formula (anything else is returned as is)."""
    return "'" + value if is_formula(value) else value


def formula_mask(strings):
    """Boolean mask of formula cells in a pyarrow string array (nulls are False)."""
    import pyarrow.compute as pc

    start = pc.match_substring_regex(strings, FORMULA_START)
    safe = pc.match_substring_regex(strings, SAFE_SIGNED)
    return pc.fill_null(pc.and_(start, pc.invert(safe)), False)


def _text_column(series) -> bool:
    dtype = str(series.dtype)
    return series.dtype == object or dtype in ("string", "str") or dtype.startswith("string")


def _neutralise_text(series):
    """`series` with its formulas neutralised (None if none), the rule applied once per
    distinct value rather than per cell (synthetic text repeats a few categories)."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(series)
    distinct = np.asarray(uniques, dtype=object)
    safe = np.array([neutralise(value) for value in distinct], dtype=object)
    if len(safe) == 0 or not (safe != distinct).any():
        return None
    mapped = safe.take(np.where(codes < 0, 0, codes))
    return series.where(codes < 0, pd.Series(mapped, index=series.index))


def neutralise_frame(frame):
    """A copy of `frame` in which no column name and no cell of a text or category column
    can start a spreadsheet formula (`frame` itself when nothing needs changing)."""
    out = frame
    names = [neutralise(name) for name in frame.columns]
    if names != list(frame.columns):
        out = frame.copy()
        out.columns = names
    for position in range(len(frame.columns)):
        series = frame.iloc[:, position]
        if str(series.dtype) == "category":
            labels = list(series.cat.categories)
            if not any(is_formula(label) for label in labels):
                continue
            # Two labels may neutralise to one, so rebuild the column from its values.
            fixed = series.astype(object).map(neutralise).astype("category")
        elif _text_column(series):
            fixed = _neutralise_text(series)
            if fixed is None:
                continue
        else:
            continue
        if out is frame:
            out = frame.copy()
        out.isetitem(position, fixed)
    return out
