"""Backend outages on the local backends: PostgreSQL and Redis cut mid-request through a
loopback proxy, the file store and SQLite failing under a request. Each is a 503 with
Retry-After and a problem document, and nothing is half-written. Then the PostgreSQL
store itself: a pool of health-checked connections, and no replay of a write whose
outcome is unknown."""

from __future__ import annotations

import sqlite3
import threading
import uuid

import pytest

from synthdata_service.backends import open_metadata
from synthdata_service.backends.metadata import DatasetRecord, JobRecord
from synthdata_service.errors import BackendUnavailable, OutcomeUnknown

from ..outage import Proxy, assert_outage, during_storage_write
from .conftest import Env, auth, make_settings, upload

CSV = b"a,b\n1,x\n2,y\n3,z\n"


def _assert_nothing_stored(env) -> None:
    assert env.service.store.query(DatasetRecord) == []
    assert env.service.storage.list_keys("datasets") == []


@pytest.fixture
def pg_proxy(postgres_url):
    from urllib.parse import urlsplit

    target = urlsplit(postgres_url)
    with Proxy(target.hostname, target.port or 5432) as proxy:
        schema = f"synth_test_{uuid.uuid4().hex[:12]}"
        path = target.path
        url = (f"postgresql://{target.username}@{proxy.address}{path}?schema={schema}"
               "&pool_timeout=2&connect_timeout=1&reconnect_timeout=2")
        yield proxy, url
        proxy.restore()
        open_metadata(url).drop_schema()


def _wait_until_ready(env, attempts: int = 40) -> None:
    """The service recovers by itself once the backend is back (bounded wait)."""
    for _ in range(attempts):
        if env.client.get("/readyz").status_code == 200:
            return
    raise AssertionError("the service did not recover after the outage ended")


def test_postgresql_cut_mid_upload_is_503_and_leaves_nothing(tmp_path, pg_proxy, monkeypatch):
    proxy, url = pg_proxy
    env = Env(make_settings(tmp_path, metadata_url=url))
    try:
        env.client.get("/readyz")
        during_storage_write(env.service.storage, monkeypatch, proxy.cut)
        assert_outage(upload(env.client, env.writer, CSV))
        assert_outage(env.client.get("/v1/datasets", headers=auth(env.reader)))
        assert env.client.get("/readyz").status_code == 503
        proxy.restore()
        monkeypatch.undo()
        _wait_until_ready(env)
        _assert_nothing_stored(env)
        assert upload(env.client, env.writer, CSV).status_code == 201  # back by itself
    finally:
        env.close()


def test_redis_cut_mid_request_is_503_not_an_unlimited_pass(tmp_path, redis_url):
    from urllib.parse import urlsplit

    target = urlsplit(redis_url)
    with Proxy(target.hostname, target.port) as proxy:
        env = Env(make_settings(tmp_path, rate_limit_url=f"redis://{proxy.address}/0"
                                                        f"?prefix=t{uuid.uuid4().hex}:"))
        try:
            assert env.client.get("/v1/datasets", headers=auth(env.reader)).status_code == 200
            proxy.cut()
            assert_outage(env.client.get("/v1/datasets", headers=auth(env.reader)))
            assert_outage(upload(env.client, env.writer, CSV))
            assert env.client.get("/readyz").json()["checks"]["rate_limit"] == "failed"
            proxy.restore()
            assert env.client.get("/v1/datasets", headers=auth(env.reader)).status_code == 200
            _assert_nothing_stored(env)
        finally:
            env.close()


def test_file_storage_gone_mid_upload_is_503_and_leaves_nothing(env, monkeypatch):
    env.client.get("/readyz")
    root = env.service.storage.root
    moved = root.with_name("objects-away")

    def vanish() -> None:
        root.rename(moved)
        root.write_bytes(b"not a directory")

    during_storage_write(env.service.storage, monkeypatch, vanish, after=False)
    assert_outage(upload(env.client, env.writer, CSV))
    root.unlink()
    moved.rename(root)
    monkeypatch.undo()
    _assert_nothing_stored(env)


def test_sqlite_locked_by_another_process_is_503_and_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "meta.sqlite3"
    env = Env(make_settings(tmp_path, metadata_url=f"sqlite:///{path}?timeout=0.2"))
    blocker = sqlite3.connect(path, timeout=0.2, isolation_level=None, check_same_thread=False)
    try:
        env.client.get("/readyz")
        during_storage_write(env.service.storage, monkeypatch,
                             lambda: blocker.execute("BEGIN EXCLUSIVE"))
        assert_outage(upload(env.client, env.writer, CSV))
        blocker.execute("ROLLBACK")
        monkeypatch.undo()
        _assert_nothing_stored(env)
    finally:
        blocker.close()
        env.close()


def test_the_local_metadata_file_is_readable_by_its_owner_only(env):
    env.client.get("/readyz")
    path = env.service.store.path
    assert path.stat().st_mode & 0o777 == 0o600
    assert upload(env.client, env.writer, CSV).status_code == 201
    for sibling in path.parent.glob(path.name + "-*"):
        assert sibling.stat().st_mode & 0o077 == 0, sibling


# The PostgreSQL store.


@pytest.fixture
def pg_store(pg_proxy):
    proxy, url = pg_proxy
    store = open_metadata(url)
    store.migrate()
    yield proxy, store
    store.close()


def test_an_insert_whose_answer_is_lost_is_not_replayed_as_a_duplicate(pg_store):
    proxy, store = pg_store
    store.ping()
    proxy.drop_after_request(b"INSERT")
    with pytest.raises(OutcomeUnknown):
        store.insert(JobRecord(id="job_once", kind="train"))
    assert proxy.dropped.is_set()
    assert [j.id for j in store.query(JobRecord)] == ["job_once"]  # it did commit, once


def test_a_conditional_update_whose_answer_is_lost_is_not_reported_as_failed(pg_store):
    proxy, store = pg_store
    store.insert(JobRecord(id="job_claim", kind="train", status="queued"))
    proxy.drop_after_request(b"UPDATE")
    with pytest.raises(OutcomeUnknown):
        store.update(JobRecord, "job_claim", {"status": "running"}, expect={"status": "queued"})
    assert store.get(JobRecord, "job_claim").status == "running"


def test_reads_after_a_dropped_connection_use_a_fresh_checked_one(pg_store):
    proxy, store = pg_store
    store.insert(JobRecord(id="job_read", kind="train"))
    proxy.reset()  # every pooled connection is now dead
    assert store.get(JobRecord, "job_read").id == "job_read"


def test_an_unreachable_database_is_a_503_not_a_hang(pg_store):
    proxy, store = pg_store
    proxy.cut()
    with pytest.raises(BackendUnavailable) as refused:
        store.get(JobRecord, "anything")
    assert refused.value.status == 503 and refused.value.headers["Retry-After"]


def test_metadata_calls_do_not_queue_behind_one_connection(pg_store):
    """While one statement runs, another is answered on a second connection (and sees the
    first one running)."""
    _proxy, store = pg_store
    slow = threading.Thread(target=store._run, args=("SELECT pg_sleep(2) AS slow_statement",))
    slow.start()
    try:
        seen = 0
        for _ in range(200):
            rows = store._run("SELECT count(*) AS n FROM pg_stat_activity WHERE state = "
                              "'active' AND position('AS slow_statement' in query) > 0 "
                              "AND position('pg_stat_activity' in query) = 0").rows
            seen = rows[0]["n"]
            if seen or not slow.is_alive():
                break
        assert seen == 1 and slow.is_alive()
    finally:
        slow.join()


def test_a_second_store_in_a_process_keeps_the_first_seeing_other_processes_writes(tmp_path):
    # Regression: opening and closing the database file to set its mode dropped this
    # process's SQLite locks; a writer elsewhere then deleted the WAL on closing, and the
    # first store read a frozen snapshot from then on (a Cloud Run task's result was never
    # seen by the API).
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path}/metadata.sqlite3"
    first = open_metadata(url)
    first.migrate()
    assert first.query(JobRecord) == []
    second = open_metadata(url)  # e.g. a job runner's own store in the API process
    second.migrate()
    writer = f"""
import sys
from synthdata_service.backends import open_metadata
from synthdata_service.backends.metadata import JobRecord
store = open_metadata({url!r})
store.insert(JobRecord(id=sys.argv[1], owner="o", kind="report", model_id=None,
                       payload={{}}, message="queued", created_at="2026-01-01T00:00:00Z"))
print("written", flush=True)
sys.stdin.read()  # stays connected until told to go
store.close()
"""

    def write_elsewhere(job_id: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", writer, job_id], text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert process.stdout.readline().strip() == "written"
        return process

    done = write_elsewhere("job_one")
    done.communicate(timeout=60)  # its close found no other lock: it removed the WAL
    still_open = write_elsewhere("job_two")  # a new WAL the first store must follow
    try:
        assert sorted(job.id for job in first.query(JobRecord)) == ["job_one", "job_two"]
    finally:
        still_open.communicate(timeout=60)
        first.close()
        second.close()
