"""Load test: 50 clients against one `synthctl serve` on loopback for a bounded time, on
the embedded default (SQLite, in-process limiter) and on PostgreSQL metadata (with the
rate limiter in Redis). Results go to the `## Load` section of docs/benchmarks.md.

    python benchmarks/service_load.py [--seconds 60] [--clients 50]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--redis redis://127.0.0.1:6379/0]

Every key is limited to 5 requests/s (burst 10). 49 clients each have their own key and
wait 0.5 s between requests (so they stay under it): 60% ask for a 100-row sample inline
(its latency is what is reported), the rest list datasets, read the model or list jobs.
One greedy client runs 5 concurrent loops on one key with no pause: its excess must come
back as 429 with Retry-After, and no more than burst + rate x duration may succeed. The
run passes with zero 5xx, zero 429s for the paced clients and a correct count for the
greedy one.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import write_section  # noqa: E402
from benchmarks._serve import REPO, Served, admin_key  # noqa: E402

RATE, BURST = 5, 10
DIAMONDS = REPO / "examples" / "data" / "diamonds.csv"


def _prepare(url: str, admin: str, clients: int) -> tuple[str, list[str]]:
    headers = {"Authorization": f"Bearer {admin}"}
    table = b"\n".join(DIAMONDS.read_bytes().splitlines()[:2001]) + b"\n"
    dataset = httpx.post(f"{url}/v1/datasets", headers=headers, timeout=120,
                         files={"file": ("diamonds.csv", table, "text/csv")}).json()
    model = httpx.post(f"{url}/v1/models", headers=headers, timeout=60, json={
        "dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}}).json()
    while httpx.get(f"{url}/v1/jobs/{model['job_id']}", headers=headers).json()["status"] \
            not in ("succeeded", "failed"):
        time.sleep(0.3)
    keys = []
    for index in range(clients):
        while True:  # the admin key is rate limited too
            created = httpx.post(f"{url}/v1/keys", headers=headers, timeout=30,
                                 json={"scope": "read", "name": f"load-{index}"})
            if created.status_code == 201:
                keys.append(created.json()["key"])
                break
            time.sleep(float(created.headers.get("retry-after", 1)))
    return model["id"], keys


async def _run(url: str, model_id: str, keys: list[str], seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    statuses: Counter = Counter()
    paced_429 = 0
    greedy: Counter = Counter()
    missing_retry_after = 0
    latencies: list[float] = []

    async def paced(key: str, client: httpx.AsyncClient) -> None:
        nonlocal paced_429
        headers = {"Authorization": f"Bearer {key}"}
        while time.monotonic() < deadline:
            roll = random.random()
            started = time.perf_counter()
            if roll < 0.6:
                response = await client.post(f"{url}/v1/models/{model_id}/samples",
                                             headers=headers,
                                             json={"num_rows": 100, "format": "json"})
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
            elif roll < 0.8:
                response = await client.get(f"{url}/v1/datasets", headers=headers)
            elif roll < 0.9:
                response = await client.get(f"{url}/v1/models/{model_id}", headers=headers)
            else:
                response = await client.get(f"{url}/v1/jobs", headers=headers,
                                            params={"limit": 10})
            statuses[response.status_code] += 1
            paced_429 += response.status_code == 429
            await asyncio.sleep(0.5)

    async def greedy_loop(key: str, client: httpx.AsyncClient) -> None:
        nonlocal missing_retry_after
        headers = {"Authorization": f"Bearer {key}"}
        while time.monotonic() < deadline:
            response = await client.get(f"{url}/v1/datasets", headers=headers)
            statuses[response.status_code] += 1
            greedy[response.status_code] += 1
            if response.status_code == 429 and not response.headers.get("retry-after"):
                missing_retry_after += 1

    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        started = time.monotonic()
        await asyncio.gather(*[paced(key, client) for key in keys[:-1]],
                             *[greedy_loop(keys[-1], client) for _ in range(5)])
        elapsed = time.monotonic() - started
    latencies.sort()
    return {"statuses": dict(statuses), "paced_429": paced_429, "greedy": dict(greedy),
            "missing_retry_after": missing_retry_after, "elapsed": elapsed,
            "samples": len(latencies),
            "p50": statistics.median(latencies) if latencies else None,
            "p99": latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
            "requests": sum(statuses.values())}


def measure(name: str, extra: dict[str, str], clients: int, seconds: float) -> dict:
    env = {"SYNTH_RATE_LIMIT_PER_SECOND": str(RATE), "SYNTH_RATE_LIMIT_BURST": str(BURST),
           **extra}
    with tempfile.TemporaryDirectory(prefix="synth-load-") as tmp:
        data_dir = Path(tmp)
        admin = admin_key(data_dir, env)
        with Served(data_dir, env) as server:
            model_id, keys = _prepare(server.url, admin, clients)
            result = asyncio.run(_run(server.url, model_id, keys, seconds))
    five_xx = sum(v for k, v in result["statuses"].items() if k >= 500)
    allowed = BURST + RATE * result["elapsed"]
    greedy_ok = result["greedy"].get(200, 0)
    result.update(name=name, five_xx=five_xx, greedy_allowed=allowed,
                  correct_429=(result["paced_429"] == 0 and greedy_ok <= allowed * 1.02
                               and result["greedy"].get(429, 0) > 0
                               and result["missing_retry_after"] == 0))
    print(name, result, flush=True)
    return result


def _section(results: list[dict], command: str, clients: int, seconds: float) -> str:
    lines = [
        f"Command: `{command}`. {clients} clients for {seconds:.0f} s against one `synthctl "
        f"serve` (uvicorn, one process) on loopback; every key limited to {RATE}/s, burst "
        f"{BURST}. {clients - 1} paced clients (own key, 0.5 s between requests; 60% "
        "100-row inline samples, the rest lists and reads), one greedy key hammered by 5 "
        "loops. The load generator shares the machine's 2 cores with the server.",
        "",
        "| backends | requests | 5xx | sample p50 | sample p99 | paced 429s | greedy 200 / 429 "
        "(allowed at most) | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        verdict = "pass" if r["five_xx"] == 0 and r["correct_429"] else "FAIL"
        lines.append(
            f"| {r['name']} | {r['requests']} | {r['five_xx']} | {r['p50'] * 1000:.0f} ms | "
            f"{r['p99'] * 1000:.0f} ms | {r['paced_429']} | {r['greedy'].get(200, 0)} / "
            f"{r['greedy'].get(429, 0)} ({r['greedy_allowed']:.0f}) | {verdict} |")
    lines += ["", "Pass means: no 5xx at all, no 429 for a client under its limit, every 429 "
              "with Retry-After, and the greedy key served no more than burst + rate x "
              "elapsed time (2% slack for clock skew between client and limiter)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    results = [measure("embedded default (SQLite, in-process limiter)", {}, args.clients,
                       args.seconds)]
    if args.postgres:
        schema = f"load_{int(time.time())}"
        extra = {"SYNTH_METADATA_URL": f"{args.postgres}?schema={schema}"}
        name = "PostgreSQL metadata"
        if args.redis:
            extra["SYNTH_RATE_LIMIT_URL"] = f"{args.redis}?prefix=synth-load-{schema}:"
            name += " + Redis limiter"
        try:
            results.append(measure(name, extra, args.clients, args.seconds))
        finally:
            from synthdata_service.backends import open_metadata

            open_metadata(extra["SYNTH_METADATA_URL"]).drop_schema()
    command = (f"python benchmarks/service_load.py --seconds {args.seconds:.0f} "
               f"--clients {args.clients}")
    write_section("Load", _section(results, command, args.clients, args.seconds))
    if any(r["five_xx"] or not r["correct_429"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
