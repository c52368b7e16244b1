"""How long synthesizing the apps takes: the CLI runs users see, and the tests' fixtures.

    .venv/bin/python benchmarks/synth_speed.py [--repeat 3]

Every figure is a wall-clock median over `--repeat` runs after one warm-up run, taken side
by side in this one process so machine noise hits all of them alike. Results go to the
`## Synth` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._report import write_section  # noqa: E402

ENV = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
       "CDK_DISABLE_VERSION_CHECK": "1", "CHECKPOINT_DISABLE": "1"}


def timed(command: list[str], repeat: int) -> list[float]:
    """Wall times of `command` ("{out}" replaced by a fresh output dir), warm-up dropped."""
    times = []
    for run in range(repeat + 1):
        out = tempfile.mkdtemp(prefix="synth-bench-")
        started = time.perf_counter()
        subprocess.run([part.replace("{out}", out) for part in command], cwd=ROOT, env=ENV,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if run:
            times.append(time.perf_counter() - started)
        shutil.rmtree(out, ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    cases = [
        ("`npx cdk synth` (AWS app, 2 stacks, cdk-nag on, built-in validation off)",
         ["npx", "cdk", "synth", "--quiet", "-o", "{out}"]),
        ("`CDK_VALIDATION=true npx cdk synth` (CDK's built-in template validation on)",
         ["env", "CDK_VALIDATION=true", "npx", "cdk", "synth", "--quiet", "-o", "{out}"]),
        ("`npx cdk --version` (the CLI's own start-up, no synth)",
         ["npx", "cdk", "--version"]),
        ("`python -m apps.aws` (the app alone, as the CLI runs it)",
         ["env", "CDK_OUTDIR={out}", py, "-m", "apps.aws"]),
        ("AWS test fixture: `build_app()` + `synth()` in one Python process",
         [py, "-c", "import sys; from apps.aws import build_app; "
          "build_app(outdir=sys.argv[1], builtin_cloud_formation_validation=False)[0].synth()",
          "{out}"]),
        ("GCP app: `python -m apps.terraform` (2 stacks, google provider import included)",
         [py, "-c", "import sys; from apps.terraform import build_app; "
          "build_app(outdir=sys.argv[1])[0].synth()", "{out}"]),
    ]
    rows = []
    medians = {}
    for label, command in cases:
        times = timed(command, args.repeat)
        medians[label] = statistics.median(times)
        rows.append(f"| {label} | {medians[label]:.1f} s | {min(times):.1f}-{max(times):.1f} s |")
        print(rows[-1], flush=True)
    base = medians[cases[0][0]]
    with_validation = medians[cases[1][0]]
    cli_start = medians[cases[2][0]]
    app_alone = medians[cases[3][0]]
    body = "\n".join([
        f"Command: `make bench` (`benchmarks/synth_speed.py --repeat {args.repeat}`); "
        "wall time, median after one discarded warm-up run.",
        "",
        "| what | median | range |",
        "|---|---|---|",
        *rows,
        "",
        f"Target: the AWS app synthesizes in under 5 s. The app itself takes "
        f"**{app_alone:.1f} s** ({'met' if app_alone < 5 else 'NOT met'}); `npx cdk synth` "
        f"takes **{base:.1f} s** ({'met' if base < 5 else 'NOT met'}), of which "
        f"{cli_start:.1f} s is the CLI starting up before it runs the app. CDK's built-in "
        f"CloudFormation validation costs {with_validation / base:.1f}x the CLI figure; "
        "cfn-lint checks every template in the tests instead, so the app, `make demo` and "
        "the test fixtures turn it off. `cdk.json` also turns the CLI's notices off: "
        "fetching them from the internet cost about 4 s per run here.",
    ])
    print(f"wrote {write_section('Synth', body)}")


if __name__ == "__main__":
    main()
