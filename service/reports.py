"""Quality of synthetic vs real data: SDMetrics QualityReport and DiagnosticReport.

Scores overall, per property and per column, plus one interactive HTML plot per
property (plotly, as SDMetrics draws them). Stored with the model version under
`models/<model>/v<n>/reports/<id>/`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["build_report"]

_DEFAULT_ROWS = 5_000


def _score(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if value != value else round(value, 6)


def _summarise(report) -> dict:
    properties = report.get_properties()
    out = {"score": _score(report.get_score()), "properties": [], "details": {}}
    for _, row in properties.iterrows():
        name = str(row["Property"])
        out["properties"].append({"property": name, "score": _score(row["Score"])})
        try:
            details = report.get_details(name)
        except Exception:  # noqa: BLE001 - some properties have no per-column details
            continue
        out["details"][name] = json.loads(details.to_json(orient="records"))
    return out


def _slug(name: str) -> str:
    return "".join(ch.lower() if ch.isalnum() else "_" for ch in name).strip("_")


def build_report(engine, fitted, real: Mapping[str, Any], metadata: dict, *, synthesizer: str,
                 num_rows: int | None, progress: Callable[[float, str], None]):
    """Return (summary, files): the JSON summary and {file name: bytes} to store."""
    from sdmetrics.reports import DiagnosticReport, QualityReport

    tables = list(real)
    main = tables[0]
    if len(tables) > 1:
        roots = set(tables) - {r["child_table_name"] for r in metadata.get("relationships", [])}
        main = sorted(roots)[0] if roots else main
    rows = int(num_rows or min(len(real[main]), _DEFAULT_ROWS))
    options: dict[str, Any] = {}
    if len(tables) > 1:
        options["main_table"] = main
    if synthesizer == "par":
        seq_key = metadata["tables"][main].get("sequence_key")
        rows = int(num_rows or max(1, real[main][seq_key].nunique())) if seq_key else rows
    import pandas as pd

    parts: dict[str, list] = {}
    for chunk in engine.sample(fitted, rows, seed=0, chunk_rows=max(rows, 1), options=options):
        for name, frame in chunk.items():
            parts.setdefault(name, []).append(frame)
    synthetic = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    real_tables = {name: real[name] for name in synthetic}
    meta = {**metadata, "tables": {n: metadata["tables"][n] for n in synthetic}}
    meta["relationships"] = [r for r in metadata.get("relationships", [])
                             if r["parent_table_name"] in synthetic
                             and r["child_table_name"] in synthetic]
    progress(0.5, "scoring quality")
    files: dict[str, bytes] = {}
    summary: dict[str, Any] = {"rows_compared": {n: len(f) for n, f in synthetic.items()}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, cls, fraction in (("quality", QualityReport, 0.7),
                                     ("diagnostic", DiagnosticReport, 0.9)):
            report = cls()
            report.generate(real_tables, synthetic, meta, verbose=False)
            summary[label] = _summarise(report)
            progress(fraction, f"{label} scored")
            for prop in summary[label]["properties"]:
                figure = _figure(report, prop["property"], main)
                if figure is None:
                    continue
                name = f"{label}_{_slug(prop['property'])}.html"
                files[name] = figure.to_html(full_html=True, include_plotlyjs="cdn").encode()
    files["report.json"] = json.dumps(summary).encode()
    return summary, files


def _figure(report, prop: str, table: str):
    """The property's plotly figure; reports over dicts want a table name, some don't."""
    for kwargs in ({"table_name": table}, {}):
        try:
            return report.get_visualization(prop, **kwargs)
        except Exception:  # noqa: BLE001 - not every property has a plot
            continue
    return None
