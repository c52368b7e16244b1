"""The fast CSV encoder writes exactly what pandas' `to_csv` writes, formula
neutralisation included, whichever writer renders a chunk."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from synthdata_service.output import encode, neutralise_formulas


def _pandas_csv(frames) -> bytes:
    out = io.StringIO()
    for index, frame in enumerate(frames):
        neutralise_formulas(frame).to_csv(out, index=False, header=index == 0)
    return out.getvalue().encode()


def _frame(rows: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    price = rng.normal(4000, 3000, rows).round(2)
    price[::7] = np.nan
    return pd.DataFrame({
        "carat": rng.gamma(2, 0.4, rows).round(2),
        "whole": np.floor(rng.normal(50, 10, rows)),  # floats with no fraction: "50.0"
        "price": price,
        "count": rng.integers(-5, 10_000, rows),
        "flag": rng.random(rows) < 0.3,
        "cut": rng.choice(["Ideal", "Good", "Very Good", None], rows).astype(object),
        "maybe": pd.Series(rng.choice([True, False, None], rows), dtype=object),
    })


@pytest.mark.parametrize("edit", [
    lambda f: f,
    lambda f: f.assign(carat=np.r_[1e-7, f["carat"].to_numpy()[1:]]),  # exponent repr
    lambda f: f.assign(price=f["price"] * 1e14),  # large floats
    lambda f: f.assign(cut=f["cut"].where(f.index % 9 > 0, 'say "hi", then\nleave')),
    lambda f: f.assign(cut=f["cut"].where(f.index % 5 > 0, "=SUM(A1)")),
    lambda f: f.assign(cut=f["cut"].where(f.index % 5 > 0, "-3.5")),
    lambda f: f.assign(when=pd.date_range("2024-01-01", periods=len(f), freq="h")),
    lambda f: f.assign(neg_zero=-0.0, inf=np.inf),
], ids=["plain", "tiny-float", "huge-float", "quoted-text", "formula", "negative-number-text",
        "datetimes", "signed-zero-and-inf"])
def test_csv_is_byte_for_byte_what_pandas_writes(edit):
    frames = [edit(_frame(seed=seed)) for seed in range(3)]
    assert b"".join(encode("csv", iter(frames))) == _pandas_csv(frames)


def test_formula_cells_are_neutralised_once_per_distinct_value_and_nulls_stay_null():
    frame = pd.DataFrame({"label": ["=1+1", None, "plain", "=1+1", "+7", np.nan] * 3})
    text = b"".join(encode("csv", iter([frame]))).decode()
    assert text.splitlines()[1:7] == ["'=1+1", "", "plain", "'=1+1", "+7", ""]
