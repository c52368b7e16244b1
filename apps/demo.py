"""`make demo`: everything the platform does, on this machine, with no cloud account.

1. synthesizes the AWS app into `cdk.out/` and the Terraform (GCP, Azure and Kubernetes) app
   into `cdktf.out/`, and prints what each would deploy;
2. runs the generator service on its embedded default (local files + SQLite), uploads a
   sample table, trains GaussianCopula, generates 1,000 rows and prints their quality.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def synth_aws(outdir: Path) -> None:
    from apps.aws import build_app, summarize

    started = time.perf_counter()
    # Built-in template validation off: cfn-lint checks every template in the tests.
    app, _ = build_app(outdir=str(outdir), nag=True, builtin_cloud_formation_validation=False)
    app.synth()
    print(f"synthesized {outdir.relative_to(ROOT)}/ in {time.perf_counter() - started:.1f} s "
          "(cdk-nag AwsSolutions: no findings)")
    print(summarize(outdir))


def synth_terraform(outdir: Path) -> None:
    from apps.terraform import build_app, summarize

    started = time.perf_counter()
    app, _ = build_app(outdir=outdir)
    app.synth()
    print(f"synthesized {outdir.relative_to(ROOT)}/ in {time.perf_counter() - started:.1f} s")
    print(summarize(outdir))


def main() -> int:
    os.chdir(ROOT)
    _section("AWS (aws-cdk-lib)")
    synth_aws(ROOT / "cdk.out")
    _section("GCP, Azure and Kubernetes (CDK Terrain)")
    synth_terraform(ROOT / "cdktf.out")
    _section("Generator service on its embedded default")
    from synthdata_service.demo import run

    run(ROOT / "demo-output")
    return 0


if __name__ == "__main__":
    sys.exit(main())
