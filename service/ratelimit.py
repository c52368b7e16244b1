"""Per-key token buckets: in memory (one process) or in Redis (shared by replicas).

A bucket holds up to `burst` tokens and refills at `rate` per second; each request takes
one. `SYNTH_RATE_LIMIT_URL=redis://...` selects Redis, where one Lua script does the
read-refill-take atomically, so every replica sees the same bucket.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from .errors import backend_unavailable

__all__ = ["Decision", "MemoryRateLimiter", "RateLimiter", "RedisRateLimiter", "open_rate_limiter"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: float
    """Seconds until one token is available (0 when allowed)."""


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = int(burst)

    def take(self, key: str) -> Decision:
        raise NotImplementedError

    def ping(self) -> None:
        """Raise if the shared store is unreachable."""


class MemoryRateLimiter(RateLimiter):
    def __init__(self, rate: float, burst: int, *, clock=time.monotonic) -> None:
        super().__init__(rate, burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> Decision:
        with self._lock:
            now = self._clock()
            tokens, stamp = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return Decision(True, int(tokens - 1.0), 0.0)
            self._buckets[key] = (tokens, now)
            return Decision(False, 0, (1.0 - tokens) / self.rate)


_TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisRateLimiter(RateLimiter):
    """Buckets in Redis hashes under `prefix`; time comes from the Redis server."""

    def __init__(self, url: str, rate: float, burst: int, *, prefix: str = "synth:rl:",
                 client=None) -> None:
        super().__init__(rate, burst)
        import redis

        self._client = client or redis.Redis.from_url(url, socket_timeout=2,
                                                      socket_connect_timeout=2,
                                                      health_check_interval=10)
        self._script = self._client.register_script(_TAKE_SCRIPT)
        self.prefix = prefix

    def take(self, key: str) -> Decision:
        with _redis_errors():
            allowed, tokens = self._script(keys=[self.prefix + key],
                                           args=[self.rate, self.burst])
        tokens = float(tokens)
        if int(allowed):
            return Decision(True, int(math.floor(tokens)), 0.0)
        return Decision(False, 0, (1.0 - tokens) / self.rate)

    def ping(self) -> None:
        with _redis_errors():
            self._client.ping()


@contextmanager
def _redis_errors() -> Iterator[None]:
    """A Redis that cannot be reached is a 503 with Retry-After (the limiter fails closed:
    requests are refused, not let through unlimited)."""
    import redis

    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError,
            redis.ReadOnlyError) as exc:
        raise backend_unavailable("Redis (rate limits)", exc) from None


def open_rate_limiter(url: str, rate: float, burst: int, *, prefix: str | None = None,
                      share_with: RateLimiter | None = None) -> RateLimiter:
    """`""`/`memory://`: per process; `redis://host:port/db?prefix=...`: shared.
    `prefix` is appended to the URL's; `share_with` reuses a Redis limiter's connection."""
    if not url or url.startswith("memory://"):
        return MemoryRateLimiter(rate, burst)
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss"):
        query = dict(parse_qsl(parts.query))
        base = query.pop("prefix", "synth:rl:")
        clean = urlunsplit((parts.scheme, parts.netloc, parts.path,
                            "&".join(f"{k}={v}" for k, v in query.items()), ""))
        client = share_with._client if isinstance(share_with, RedisRateLimiter) else None
        return RedisRateLimiter(clean, rate, burst, prefix=base + (prefix or ""), client=client)
    raise ValueError(f"unsupported rate limit store {parts.scheme}://; use redis://")
