"""Per-key token buckets: semantics in memory, sharing through Redis, 429s over HTTP."""

from __future__ import annotations

import uuid

import pytest
import redis

from synthdata_service.ratelimit import MemoryRateLimiter, RedisRateLimiter, open_rate_limiter

from .conftest import Env, auth, make_settings


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_memory_bucket_allows_the_burst_then_refills_at_the_rate():
    clock = _Clock()
    limiter = MemoryRateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.take("k").allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.take("k")
    assert not refused.allowed and refused.retry_after == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take("k").allowed and not limiter.take("k").allowed
    clock.now += 100
    assert limiter.take("k").remaining == 2  # capped at the burst, one taken
    assert limiter.take("other").allowed  # buckets are per key


@pytest.fixture
def redis_prefix(redis_url):
    prefix = f"synth-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_redis_bucket_is_shared_between_replicas(redis_url, redis_prefix):
    url = f"{redis_url}?prefix={redis_prefix}"
    replica_a = open_rate_limiter(url, rate=0.01, burst=4)
    replica_b = open_rate_limiter(url, rate=0.01, burst=4)
    assert isinstance(replica_a, RedisRateLimiter) and replica_a.prefix == redis_prefix
    replica_a.ping()
    outcomes = [limiter.take("key_1").allowed
                for limiter in (replica_a, replica_b, replica_a, replica_b, replica_a)]
    assert outcomes == [True, True, True, True, False]
    assert replica_b.take("key_2").allowed
    refused = replica_b.take("key_1")
    assert not refused.allowed and refused.retry_after > 10


def test_the_api_answers_429_with_retry_after_per_key(tmp_path, redis_url, redis_prefix):
    env = Env(make_settings(tmp_path, rate_limit_per_second=0.5, rate_limit_burst=3,
                            rate_limit_url=f"{redis_url}?prefix={redis_prefix}"))
    try:
        statuses = [env.client.get("/v1/datasets", headers=auth(env.reader)).status_code
                    for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = env.client.get("/v1/datasets", headers=auth(env.reader))
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        # Another key has its own bucket; health is never limited.
        assert env.client.get("/v1/datasets", headers=auth(env.writer)).status_code == 200
        assert all(env.client.get("/healthz").status_code == 200 for _ in range(10))
        assert env.client.get("/readyz").json()["checks"]["rate_limit"] == "ok"
    finally:
        env.close()


def test_an_unsupported_limiter_url_is_refused():
    with pytest.raises(ValueError, match="redis://"):
        open_rate_limiter("memcached://x", 1, 1)
