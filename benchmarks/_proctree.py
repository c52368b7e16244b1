"""Run a command and measure its wall time and the peak memory of its whole process tree.

jsii runs a Node.js process beside Python, so the memory a synth costs is the sum over
the tree (python + node + whatever they start), not the top process alone. Linux only:
the tree is read from /proc every `interval` seconds; the peak is the largest sum of
resident set sizes seen (shared pages counted per process, so an upper bound).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measured", "run_measured"]


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mb: float


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_rss_kb(root: int) -> int:
    tree = _children()
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += _rss_kb(pid)
        pending.extend(tree.get(pid, ()))
    return total


def run_measured(command: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                 interval: float = 0.05) -> Measured:
    """Run `command` to completion (it must succeed); wall time and peak tree RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(list(command), cwd=cwd, env=dict(env),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(process.pid))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n"
                           f"{stderr.decode(errors='replace')[-2000:]}")
    return Measured(seconds, peak / 1024)


if __name__ == "__main__":  # python benchmarks/_proctree.py CMD ...
    import sys

    result = run_measured(sys.argv[1:], cwd=Path.cwd(), env=os.environ)
    print(f"{result.seconds:.2f} s, peak {result.peak_mb:.0f} MB")
