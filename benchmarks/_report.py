"""Write one `## <Section>` of docs/benchmarks.md, leaving the other sections as they are."""

from __future__ import annotations

import platform
import re
from datetime import date
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
_HEADER = (
    "# Benchmarks\n\nEach section is written by its script under `benchmarks/`; rerun the "
    "script to\nrefresh it. Figures are from one run on the machine named in the section.\n"
)


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(title: str, body: str) -> Path:
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else _HEADER
    measured = f"_Measured {date.today().isoformat()} on {machine()}._"
    section = f"## {title}\n\n{measured}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    BENCHMARKS_MD.parent.mkdir(exist_ok=True)
    BENCHMARKS_MD.write_text(text.rstrip() + "\n")
    return BENCHMARKS_MD
