"""Backends by URL: storage (file://), metadata (sqlite://, postgresql:// against the local
server), the registry, and the whole API on PostgreSQL."""

from __future__ import annotations

import inspect
import threading
import uuid

import pytest

from synthdata_service.backends import open_metadata, open_storage, registered_schemes
from synthdata_service.backends.metadata import DuplicateRecord, JobRecord, ModelVersionRecord
from synthdata_service.backends.registry import UnknownBackend
from synthdata_service.backends.storage import ObjectNotFound

from .conftest import Env, auth, csv_bytes, make_settings, wait_job


@pytest.fixture
def pg_url(postgres_url):
    schema = f"synth_test_{uuid.uuid4().hex[:12]}"
    url = f"{postgres_url}?schema={schema}"
    yield url
    store = open_metadata(url)
    store.drop_schema()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        backend = open_metadata(f"sqlite:///{tmp_path / 'meta.sqlite3'}")
        backend.migrate()
        yield backend
        backend.close()
    else:
        base = request.getfixturevalue("postgres_url")
        url = f"{base}?schema=synth_test_{uuid.uuid4().hex[:12]}"
        backend = open_metadata(url)
        backend.migrate()
        yield backend
        backend.drop_schema()


def test_migrations_are_recorded_and_idempotent(store):
    assert store.migrate() == store.migrate() == store.schema_version() >= 1


def test_insert_get_query_update_delete(store):
    store.insert(JobRecord(id="j1", kind="train", payload={"a": [1, 2]}, created_at="2024-01-01"))
    store.insert(JobRecord(id="j2", kind="sample", created_at="2024-01-02"))
    assert store.get(JobRecord, "j1").payload == {"a": [1, 2]}
    assert store.get(JobRecord, "nope") is None
    newest_first = store.query(JobRecord, order_by="created_at", descending=True)
    assert [j.id for j in newest_first] == ["j2", "j1"]
    assert [j.id for j in store.query(JobRecord, {"kind": ("train", "report")})] == ["j1"]
    assert [j.id for j in store.query(JobRecord, {"result": None}, limit=1)] == ["j1"]
    assert store.update(JobRecord, "j1", {"cancel_requested": True})
    assert store.get(JobRecord, "j1").cancel_requested is True
    assert store.delete(JobRecord, "j1") and not store.delete(JobRecord, "j1")


def test_duplicates_are_refused(store):
    store.insert(JobRecord(id="j1"))
    with pytest.raises(DuplicateRecord):
        store.insert(JobRecord(id="j1"))
    store.insert(ModelVersionRecord(id="v1", model_id="m", version=1))
    with pytest.raises(DuplicateRecord):  # unique (model_id, version)
        store.insert(ModelVersionRecord(id="v2", model_id="m", version=1))


def test_conditional_update_lets_exactly_one_worker_claim_a_job(store):
    store.insert(JobRecord(id="j1", status="queued"))
    wins = []

    def claim():
        wins.append(store.update(JobRecord, "j1", {"status": "running"},
                                 expect={"status": "queued"}))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1


def test_unknown_fields_are_refused_not_interpolated(store):
    with pytest.raises(ValueError):
        store.query(JobRecord, {"status = 'x' OR 1=1 --": "y"})
    with pytest.raises(ValueError):
        store.update(JobRecord, "j1", {"id; DROP TABLE jobs": 1})


def test_file_storage_round_trip_and_key_safety(tmp_path):
    storage = open_storage((tmp_path / "objects").as_uri())
    storage.put_stream("a/b/c.bin", [b"one", b"two"])
    assert storage.get_bytes("a/b/c.bin") == b"onetwo" and storage.size("a/b/c.bin") == 6
    assert b"".join(storage.iter_chunks("a/b/c.bin", 2)) == b"onetwo"
    assert storage.list_keys("a") == ["a/b/c.bin"]
    for bad in ("../escape", "/etc/passwd", "a/../../b", "a//b", ""):
        with pytest.raises(ValueError):
            storage.put_bytes(bad, b"x")
    with pytest.raises(ObjectNotFound):
        storage.get_bytes("missing")
    assert storage.delete_prefix("a") == 1 and storage.list_keys() == []
    storage.check()


def test_failed_streaming_write_leaves_no_object(tmp_path):
    storage = open_storage((tmp_path / "objects").as_uri())

    def chunks():
        yield b"partial"
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        storage.put_stream("x/y.csv", chunks())
    assert storage.list_keys() == [] and not storage.exists("x/y.csv")


def test_registry_knows_its_schemes_and_names_unknown_ones():
    assert {"sqlite", "postgresql"} <= set(registered_schemes("metadata"))
    assert "file" in registered_schemes("storage")
    assert "inline" in registered_schemes("jobs")
    with pytest.raises(UnknownBackend, match="file://"):
        open_storage("ftp://example/bucket")


def test_a_new_backend_registers_by_scheme_without_touching_callers(tmp_path):
    from synthdata_service.backends import register_storage
    from synthdata_service.backends.file_storage import FileStorage

    class MemoryishStorage(FileStorage):
        @classmethod
        def from_url(cls, url: str):
            return cls(tmp_path / url.split("://", 1)[1])

    register_storage("testmem", MemoryishStorage)
    storage = open_storage("testmem://bucket")
    storage.put_bytes("k", b"v")
    assert isinstance(storage, MemoryishStorage) and storage.get_bytes("k") == b"v"


def test_the_whole_api_runs_on_postgresql(tmp_path, pg_url, diamonds):
    env = Env(make_settings(tmp_path, metadata_url=pg_url))
    try:
        model = env.train(csv_bytes(diamonds.head(200)),
                          parameters={"default_distribution": "norm"})
        rows = env.client.post(f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                               json={"num_rows": 10, "seed": 1}).json()["rows"]
        assert len(rows) == 10
        ready = env.client.get("/readyz").json()
        assert ready["checks"]["metadata"] == "ok"
        link = env.client.post(f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                               json={"num_rows": 50, "delivery": "link"}).json()
        assert wait_job(env.client, env.reader, link["job_id"])["status"] == "succeeded"
        events = env.client.get("/v1/audit", headers=auth(env.admin)).json()
        assert {"dataset.create", "model.create", "model.sample"} <= {e["action"] for e in events}
    finally:
        env.close()


def store_contract_tests() -> dict:
    """Every test of this suite that takes only the `store` fixture, for another
    backend's test module to collect against its own `store` (DynamoDB, Firestore,
    Cosmos DB): `globals().update(store_contract_tests())`."""
    found = {name: function for name, function in globals().items()
             if name.startswith("test_") and callable(function)
             and list(inspect.signature(function).parameters) == ["store"]}
    assert {"test_insert_get_query_update_delete", "test_duplicates_are_refused",
            "test_conditional_update_lets_exactly_one_worker_claim_a_job"} <= set(found)
    return found
