"""Which process runs a job: `host:pid:start`, where `start` is the process's start time
in clock ticks since boot (Linux `/proc/<pid>/stat`), so a recycled pid is not mistaken
for the original process. A replica restarted on the same host sees at once that the
process that claimed a job is gone, instead of waiting for its heartbeat to go stale."""

from __future__ import annotations

import os
import socket
from functools import lru_cache

__all__ = ["worker_identity", "worker_is_gone"]


def _start_ticks(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


@lru_cache(maxsize=1)
def _host() -> str:
    return socket.gethostname().replace(":", "_")[:100]


def worker_identity() -> str:
    pid = os.getpid()
    return f"{_host()}:{pid}:{_start_ticks(pid) or '?'}"


def worker_is_gone(identity: str) -> bool:
    """True only when `identity` names a process on this host that no longer runs; a
    process on another host (or one this host cannot check) is never declared gone."""
    host, _, rest = identity.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != _host() or not pid_text.isdigit() or start in ("", "?"):
        return False
    if not os.path.isdir("/proc/self"):
        return False
    return _start_ticks(int(pid_text)) != start
