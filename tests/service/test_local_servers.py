"""The fallback a newcomer's laptop takes when PostgreSQL or Redis is not already
running: a private server from the distribution's binaries on a free loopback port."""

from __future__ import annotations

import psycopg
import redis

from ..conftest import port_open, start_postgres, start_redis, stop_server


def test_a_private_postgresql_starts_from_the_distribution_binaries():
    url, process = start_postgres()
    try:
        assert not url.endswith(":5432/test")
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("test",)
    finally:
        stop_server(process)
    assert not port_open(int(url.rsplit(":", 1)[1].split("/")[0]))


def test_a_private_redis_starts_from_the_distribution_binary(tmp_path):
    url, process = start_redis(tmp_path)
    try:
        assert redis.Redis.from_url(url).ping()
    finally:
        stop_server(process)
