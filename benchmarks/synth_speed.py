"""How long synthesizing the apps takes and how much memory it needs, beside baselines.

    .venv/bin/python benchmarks/synth_speed.py [--repeat 5]

Each case runs as its own process (python plus the node process jsii starts); its wall
time and the peak resident memory of the whole process tree are measured
(`benchmarks/_proctree.py`). The cases run in interleaved rounds - every case once per
round, after one warm-up round - so machine noise hits them alike; ratios are taken
within each round and their median reported. Results go to the `## Synth` section of
docs/benchmarks.md, with the machine's load at the start and end.

Targets (issue 8): the GCP app's two stacks in at most 6 s and 1 GB for the whole process
tree, and at most 2x an empty CDK Terrain app that only loads the google provider; the
AWS app at most 1.3x a plain CDK app declaring the same L2 resources without this
library (`benchmarks/fixtures/plain_cdk_app.py`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._proctree import Measured, run_measured  # noqa: E402
from benchmarks._report import write_section  # noqa: E402

ENV = {**os.environ, "CDK_DISABLE_VERSION_CHECK": "1", "CHECKPOINT_DISABLE": "1",
       "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
PY = sys.executable
_GCP_APP = (
    "import sys; from cdktn import App; from apps.terraform import gcp_stack; "
    "from constructs_lib import PlatformSpec; app = App(outdir=sys.argv[1]); "
    "[gcp_stack(app, PlatformSpec.from_file(f'examples/{e}.yaml')) for e in ('dev', 'prod')]; "
    "app.synth()"
)


@dataclass
class Case:
    key: str
    label: str
    command: list[str]
    runs: list[Measured] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(r.peak_mb for r in self.runs)


CASES = [
    Case("gcp", "GCP app: both stacks of `apps/terraform.py` (`gcp_stack` x 2) + synth",
         [PY, "-c", _GCP_APP, "{out}"]),
    Case("empty_cdktn", "baseline: empty CDK Terrain app loading the google provider",
         [PY, "benchmarks/fixtures/empty_cdktn_app.py", "{out}"]),
    Case("aws", "AWS app: `python -m apps.aws` (2 stacks, as `cdk synth` runs it)",
         ["env", "CDK_OUTDIR={out}", PY, "-m", "apps.aws"]),
    Case("aws_nag", "AWS app with cdk-nag's AwsSolutions checks (`cdk synth -c nag=true`)",
         ["env", "CDK_OUTDIR={out}", 'CDK_CONTEXT_JSON={"nag": "true"}', PY, "-m",
          "apps.aws"]),
    Case("plain_cdk", "baseline: the same L2 resources as a plain CDK app (no library)",
         [PY, "benchmarks/fixtures/plain_cdk_app.py", "{out}"]),
    Case("cdk_cli", "`npx cdk synth` (the CLI around the AWS app)",
         ["npx", "cdk", "synth", "--quiet", "-o", "{out}"]),
    Case("cdktn_cli", "`npx cdktn synth` (the CLI around the Terraform app)",
         ["npx", "cdktn", "synth", "--output", "{out}"]),
]


def run(case: Case) -> Measured:
    out = tempfile.mkdtemp(prefix="synth-bench-")
    try:
        return run_measured([part.replace("{out}", out) for part in case.command],
                            cwd=ROOT, env=ENV)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def ratios(numerator: Case, denominator: Case) -> float:
    """Median over rounds of the per-round ratio (both measured in the same round)."""
    return statistics.median(n.seconds / d.seconds
                             for n, d in zip(numerator.runs, denominator.runs, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    for round_ in range(args.repeat + 1):
        for case in CASES:
            measured = run(case)
            if round_:  # round 0 warms caches (jsii's package cache, the OS page cache)
                case.runs.append(measured)
        if round_:
            print(f"round {round_}: " + ", ".join(
                f"{c.key} {c.runs[-1].seconds:.1f}s" for c in CASES), flush=True)
    load_after = os.getloadavg()
    by_key = {case.key: case for case in CASES}
    rows = [f"| {c.label} | {c.seconds:.2f} s | {min(r.seconds for r in c.runs):.2f}-"
            f"{max(r.seconds for r in c.runs):.2f} s | {c.peak_mb:.0f} MB |" for c in CASES]
    gcp, empty = by_key["gcp"], by_key["empty_cdktn"]
    plain = by_key["plain_cdk"]
    gcp_ratio = ratios(gcp, empty)
    aws_ratio = ratios(by_key["aws"], plain)
    nag_ratio = ratios(by_key["aws_nag"], plain)

    def verdict(ok: bool) -> str:
        return "met" if ok else "**NOT met**"

    body = "\n".join([
        f"Command: `make bench` (`benchmarks/synth_speed.py --repeat {args.repeat}`). Each "
        "case is its own process; wall time is the median over rounds (one warm-up round "
        "dropped); peak memory is the largest sum of resident memory over the whole process "
        "tree (python + node) seen in any round. Cases run interleaved, and each ratio is "
        "the median of per-round ratios. Load average (1/5/15 min) at start "
        f"{'/'.join(f'{x:.1f}' for x in load_before)}, at end "
        f"{'/'.join(f'{x:.1f}' for x in load_after)}.",
        "",
        "| case | median | range | peak memory (tree) |",
        "|---|---|---|---|",
        *rows,
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        f"| GCP app <= 6 s | {gcp.seconds:.2f} s | {verdict(gcp.seconds <= 6)} |",
        f"| GCP app <= 1 GB (process tree) | {gcp.peak_mb:.0f} MB | "
        f"{verdict(gcp.peak_mb <= 1024)} |",
        f"| GCP app <= 2x the empty CDK Terrain app | {gcp_ratio:.2f}x | "
        f"{verdict(gcp_ratio <= 2)} |",
        f"| AWS app <= 1.3x the plain CDK app | {aws_ratio:.2f}x (with the opt-in cdk-nag "
        f"checks: {nag_ratio:.2f}x) | {verdict(aws_ratio <= 1.3)} |",
        "",
        "Loading the google provider's jsii assembly is most of a GCP synth (the empty app "
        "does nothing else); the google-beta provider's one resource type is declared "
        "without loading that package's assembly, which would double both. CDK's "
        "built-in CloudFormation validation is off in the app "
        "(`CDK_VALIDATION=true` turns it on; cfn-lint checks every template in the tests). "
        "A process that synthesizes one cloud imports no other cloud's provider "
        "(`tests/core/test_provider_isolation.py`).",
    ])
    print(f"wrote {write_section('Synth', body)}")


if __name__ == "__main__":
    main()
