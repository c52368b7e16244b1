"""Upload memory: peak server memory while one upload is parsed, validated, stored and
profiled, against the file's size; and the per-replica cap on concurrent uploads.
Results go to the `## Upload memory` section of docs/benchmarks.md.

    python benchmarks/upload_memory.py [--mb 60] [--concurrent 4]

For each kind of file (CSV of numbers, CSV of text, JSON records, Parquet) at two sizes
(`--mb` / 2 and `--mb`), a fresh `synthctl serve` is warmed up with one small upload
(imports resident), its high-water mark is reset, the file is uploaded, and the new
high-water mark is read from /proc. Peak memory is a fixed part (Arrow's allocator and
buffers, the same for any file) plus a part that grows with the file: the growth between
the two sizes, per MB of file, is the slope, and the target is a slope of at most 3.
Then a server with `SYNTH_MAX_CONCURRENT_UPLOADS=2` receives `--concurrent` uploads at
once: the ones over the cap are answered 503 with Retry-After.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import write_section  # noqa: E402
from benchmarks._serve import REPO, Served, admin_key  # noqa: E402

DIAMONDS = REPO / "examples" / "data" / "diamonds.csv"
_LIMITS = {"SYNTH_MAX_UPLOAD_MB": "400", "SYNTH_RATE_LIMIT_PER_SECOND": "1000",
           "SYNTH_RATE_LIMIT_BURST": "1000", "SYNTH_MAX_DATASET_ROWS": "20000000"}


def _files(directory: Path, megabytes: int) -> dict[str, tuple[Path, str]]:
    directory.mkdir(parents=True, exist_ok=True)
    target = megabytes * 1024 * 1024
    rng = np.random.default_rng(7)
    out: dict[str, tuple[Path, str]] = {}

    rows = target // 20
    numbers = pd.DataFrame(rng.integers(0, 10, size=(rows, 10)),
                           columns=[f"n{i}" for i in range(10)])
    path = directory / "numbers.csv"
    numbers.to_csv(path, index=False)
    out["CSV, 10 single-digit integer columns"] = (path, "text/csv")

    diamonds = pd.read_csv(DIAMONDS)
    repeat = max(1, target // DIAMONDS.stat().st_size)
    text = pd.concat([diamonds] * int(repeat), ignore_index=True)
    text["note"] = [f"customer note {i} about the stone" for i in range(len(text))]
    path = directory / "text.csv"
    text.to_csv(path, index=False)
    out["CSV, diamonds + a unique text column"] = (path, "text/csv")

    json_rows = text.head(int(len(text) * 0.45))
    path = directory / "records.json"
    json_rows.to_json(path, orient="records")
    out["JSON records (diamonds + text)"] = (path, "application/json")

    path = directory / "table.parquet"
    pd.concat([text] * 3, ignore_index=True).to_parquet(path, index=False)
    out["Parquet (diamonds + text)"] = (path, "application/vnd.apache.parquet")
    return out


def _upload(url: str, key: str, path: Path, content_type: str) -> httpx.Response:
    with open(path, "rb") as handle:
        return httpx.post(f"{url}/v1/datasets", headers={"Authorization": f"Bearer {key}"},
                          files={"file": (path.name, handle, content_type)}, timeout=900)


def measure_one(path: Path, content_type: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        key = admin_key(data_dir)
        with Served(data_dir, _LIMITS) as server:
            warm = _upload(server.url, key, DIAMONDS, "text/csv")
            warm.raise_for_status()
            time.sleep(0.5)
            base = server.rss_mb()
            server.reset_peak()
            started = time.perf_counter()
            response = _upload(server.url, key, path, content_type)
            seconds = time.perf_counter() - started
            peak = server.peak_mb()
    size = path.stat().st_size / 1024 / 1024
    import pyarrow.parquet as pq

    decoded = pq.read_table(path).nbytes / 1024 / 1024 if path.suffix == ".parquet" else size
    return {"status": response.status_code, "size_mb": size, "decoded_mb": decoded,
            "base_mb": base,
            "peak_mb": peak, "growth": peak - base, "seconds": seconds,
            "rows": response.json().get("n_rows") if response.status_code == 201 else None}


def measure_concurrent(path: Path, content_type: str, count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        key = admin_key(data_dir)
        with Served(data_dir, {**_LIMITS, "SYNTH_MAX_CONCURRENT_UPLOADS": "2"}) as server:
            _upload(server.url, key, DIAMONDS, "text/csv").raise_for_status()
            time.sleep(0.5)
            base = server.rss_mb()
            server.reset_peak()
            answers: list[tuple[int, str | None]] = []
            lock = threading.Lock()

            def send() -> None:
                response = _upload(server.url, key, path, content_type)
                with lock:
                    answers.append((response.status_code, response.headers.get("retry-after")))

            threads = [threading.Thread(target=send) for _ in range(count)]
            for thread in threads:
                thread.start()
                time.sleep(0.05)
            for thread in threads:
                thread.join()
            peak = server.peak_mb()
    return {"answers": sorted(answers, key=lambda a: a[0]), "base_mb": base, "peak_mb": peak,
            "size_mb": path.stat().st_size / 1024 / 1024}


def _section(results: dict, concurrent: dict, command: str) -> str:
    lines = [
        f"Command: `{command}`. One fresh `synthctl serve` per upload, warmed up with one "
        "small upload; the high-water mark (VmHWM) is reset before the measured upload and "
        "read after it. `growth` is peak minus the warmed-up resident size; `slope` is how "
        "much the growth rises per MB of file between the two sizes, `fixed` what is left "
        "at zero size.",
        "",
        "| upload | file MB | data MB | rows | growth MB | seconds | slope (MB per file MB) "
        "| slope (MB per data MB) | fixed MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    slopes = {}
    for name, (small, large) in results.items():
        slope = (large["growth"] - small["growth"]) / (large["size_mb"] - small["size_mb"])
        data_slope = (large["growth"] - small["growth"]) / (
            large["decoded_mb"] - small["decoded_mb"])
        fixed = small["growth"] - slope * small["size_mb"]
        slopes[name] = (slope, data_slope)
        for index, r in enumerate((small, large)):
            tail = f"{slope:.2f} | {data_slope:.2f} | {fixed:.0f} |" if index else " | | |"
            lines.append(f"| {name if not index else ''} | {r['size_mb']:.1f} | "
                         f"{r['decoded_mb']:.0f} | {r['rows'] or r['status']} | "
                         f"{r['growth']:.0f} | {r['seconds']:.1f} | {tail}")
    text = [s for n, s in slopes.items() if not n.startswith("Parquet")]
    worst = max(slope for slope, _ in text)
    worst_data = max(data for _, data in slopes.values())
    verdict = "met" if worst <= 3 else "NOT met"
    expansion = max(large["decoded_mb"] / large["size_mb"] for _small, large in results.values())
    lines += ["", f"Target: peak memory during an accepted upload at most 3x the file's size "
              f"plus a fixed base. CSV and JSON (whose data is the size of the file): worst "
              f"slope **{worst:.2f}** ({verdict}). Parquet decodes to several times its "
              f"file (here {expansion:.0f}x), so per MB of *file* it grows far faster; per MB of "
              f"decoded data every format stays at or under **{worst_data:.2f}**: memory "
              "follows the data, one column of it at a time, not the file. A Parquet "
              "upload's memory is therefore bounded by `SYNTH_MAX_DATASET_ROWS` times the "
              "widest column, not by 3x its file. The issue measured 17-19x the file's size "
              "before uploads were parsed as Arrow batches and profiled one column at a "
              "time. Times are from a shared, busy 2-core machine."]
    statuses = ", ".join(f"{s}" + (f" (Retry-After {r})" if r else "")
                         for s, r in concurrent["answers"])
    lines += ["", f"Concurrent uploads: {len(concurrent['answers'])} uploads of the "
              f"{concurrent['size_mb']:.0f} MB text CSV at once to a server with "
              "`SYNTH_MAX_CONCURRENT_UPLOADS=2`: answers "
              f"{statuses}; peak {concurrent['peak_mb']:.0f} MB over a base of "
              f"{concurrent['base_mb']:.0f} MB. Uploads over the cap are refused before "
              "their bodies are read, so memory is bounded by the cap, not by the callers."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=60, help="approximate size of each file")
    parser.add_argument("--concurrent", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="synth-upload-bench-") as tmp:
        small = _files(Path(tmp) / "small", args.mb // 2)
        files = _files(Path(tmp) / "large", args.mb)
        results = {}
        for name, (path, content_type) in files.items():
            results[name] = (measure_one(*small[name]), measure_one(path, content_type))
            print(name, results[name], flush=True)
        text_csv = files["CSV, diamonds + a unique text column"]
        concurrent = measure_concurrent(text_csv[0], text_csv[1], args.concurrent)
        print("concurrent", concurrent, flush=True)
    command = f"python benchmarks/upload_memory.py --mb {args.mb} --concurrent {args.concurrent}"
    write_section("Upload memory", _section(results, concurrent, command))


if __name__ == "__main__":
    main()
