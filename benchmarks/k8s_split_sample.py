"""The join of a split sample (the `k8s://` runner's join Job): time and peak memory as the
sample grows, beside the unsplit sample job writing the same rows.

    .venv/bin/python benchmarks/k8s_split_sample.py [--rows 200000,800000] [--part-rows 100000]

For each size: a GaussianCopula model (diamonds, 5,000 rows) samples the parts as the
Indexed Job's pods do (`run_part`, in this process), then `python -m
synthdata_service.jobs.kubernetes join-parts <id>` runs as a process of its own and is
measured (wall time, peak memory of its process tree); side by side, `python -m
synthdata_service.worker run-job <id>` writes the same number of rows unsplit. Local files
and SQLite stand in for the bucket and the database. Writes `## Kubernetes split samples`
of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._proctree import run_measured  # noqa: E402
from benchmarks._report import write_section  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="200000,800000")
    parser.add_argument("--part-rows", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(r) for r in args.rows.split(",")]

    import pandas as pd

    from synthdata_service._util import new_id, utcnow_iso
    from synthdata_service.backends.metadata import ArtifactRecord, JobRecord
    from synthdata_service.core import SYSTEM_ACTOR, Service
    from synthdata_service.ingest import ParsedTable
    from synthdata_service.jobs.kubernetes import parts_for, run_part
    from synthdata_service.settings import Settings

    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="synth-split-bench-"))
    env = {
        "SYNTH_STORAGE_URL": (work / "objects").as_uri(),
        "SYNTH_METADATA_URL": f"sqlite:///{work / 'metadata.sqlite3'}",
        "SYNTH_API_KEYS_SECRET": (work / "pepper").as_uri(),
        "SYNTH_JOBS_URL": "inline://",
        "SYNTH_DATA_DIR": str(work / "data"),
    }
    service = Service(Settings.from_env({**env, "SYNTH_JOBS_URL": "inline://?sync=1"}))
    frame = pd.read_csv(ROOT / "examples" / "data" / "diamonds.csv").head(5000)
    dataset = service.create_dataset(SYSTEM_ACTOR, [ParsedTable(
        name="diamonds", frame=frame, format="csv", encoding="utf-8", size_bytes=0)],
        name="diamonds")
    model, version, job = service.create_model(
        SYSTEM_ACTOR, dataset_id=dataset.id, synthesizer="gaussian_copula",
        parameters={"default_distribution": "norm"})
    assert service.store.get(JobRecord, job.id).status == "succeeded"

    def sample_job(rows: int) -> JobRecord:
        artifact = ArtifactRecord(
            id=new_id("smp"), owner=model.owner, kind="sample", model_id=model.id,
            version=1, status="pending", format="csv", num_rows=rows,
            content={"seed": 7, "conditions": {}, "table": None, "options": {}},
            created_at=utcnow_iso())
        service.store.insert(artifact)
        record = JobRecord(id=new_id("job"), owner=model.owner, kind="sample",
                           model_id=model.id, payload={"artifact_id": artifact.id},
                           created_at=utcnow_iso(), message="queued")
        service.store.insert(record)
        return record

    base_env = {**os.environ, **env}
    lines = ["| rows | parts | join: wall s | join: peak MB | unsplit job: wall s | "
             "unsplit job: peak MB |", "|---:|---:|---:|---:|---:|---:|"]
    for rows in sizes:
        parts = parts_for(rows, args.part_rows)
        split = sample_job(rows)
        k8s_env = {**base_env, "SYNTH_JOBS_URL": "k8s://bench?reconcile=0",
                   "SYNTH_SAMPLE_PARTS": str(parts)}
        worker = Service(Settings.from_env({**env, "SYNTH_JOBS_URL":
                                            "k8s://bench?reconcile=0"}), start_runner=False)
        for index in range(parts):
            assert run_part(split.id, index, parts, worker) == 0
        worker.close()
        join = run_measured([sys.executable, "-m", "synthdata_service.jobs.kubernetes",
                             "join-parts", split.id], cwd=work, env=k8s_env)
        assert service.store.get(JobRecord, split.id).status == "succeeded"
        whole = sample_job(rows)
        unsplit = run_measured([sys.executable, "-m", "synthdata_service.worker", "run-job",
                                whole.id], cwd=work, env=base_env)
        assert service.store.get(JobRecord, whole.id).status == "succeeded"
        lines.append(f"| {rows:,} | {parts} | {join.seconds:.1f} | {join.peak_mb:.0f} | "
                     f"{unsplit.seconds:.1f} | {unsplit.peak_mb:.0f} |")
        print(lines[-1], flush=True)
    service.close()
    body = "\n".join([
        f"`benchmarks/k8s_split_sample.py --rows {args.rows} --part-rows {args.part_rows}`: "
        "the join Job of a split sample (parts of "
        f"{args.part_rows:,} rows, CSV) against one job sampling and writing the same rows; "
        "GaussianCopula (normal marginals) on 5,000 diamonds rows; local files and SQLite. "
        "The join holds one Parquet row group (50,000 rows) at a time and loads no model, so "
        "its peak memory does not grow with the sample; its wall time is the re-encoding of "
        "every row once (the price of one result object). Load average when it started: "
        f"{load:.1f} (other work shares these cores: compare the columns of one row, not "
        "runs).",
        "", *lines])
    if not args.no_write:
        print(f"wrote {write_section('Kubernetes split samples', body)}")
    else:
        print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
