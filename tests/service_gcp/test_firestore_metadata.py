"""`firestore://` metadata against Google's Firestore emulator: the same backend contract
tests SQLite and PostgreSQL pass (imported from tests/service/test_backends.py), then what
is particular to a document store, then the whole API on Firestore and GCS."""

from __future__ import annotations

import pytest

from synthdata_service.backends import open_metadata
from synthdata_service.backends.firestore_metadata import FirestoreMetadataStore
from synthdata_service.backends.metadata import DuplicateRecord, JobRecord, ModelVersionRecord
from tests.service import test_backends as _contract
from tests.service.conftest import Env, auth, csv_bytes, make_settings, wait_job


@pytest.fixture
def store(firestore_url):
    backend = open_metadata(firestore_url)
    backend.migrate()
    yield backend
    backend.close()


CONTRACT_TESTS = _contract.store_contract_tests()
globals().update(CONTRACT_TESTS)  # collected here, run against the `store` above



def test_urls_name_the_database_and_take_the_project_from_the_environment(firestore_url):
    store = open_metadata(firestore_url)
    assert isinstance(store, FirestoreMetadataStore)
    assert store.database == firestore_url.split("://")[1] and store.project == "synth-test"
    assert FirestoreMetadataStore.from_url("firestore://(default)").database == "(default)"
    assert FirestoreMetadataStore.from_url("firestore://").database == "(default)"
    with pytest.raises(ValueError, match="firestore://<database-id>"):
        FirestoreMetadataStore.from_url("firestore://project/database")


def test_records_persist_across_clients_and_databases_are_isolated(firestore_url, store):
    store.insert(JobRecord(id="j1", payload={"nested": [[1, 2], [3]]}, progress=0.5))
    again = open_metadata(firestore_url)
    assert again.get(JobRecord, "j1").payload == {"nested": [[1, 2], [3]]}
    assert open_metadata(firestore_url + "-other").get(JobRecord, "j1") is None


def test_deleting_a_version_frees_its_unique_key(store):
    store.insert(ModelVersionRecord(id="v1", model_id="m", version=1))
    assert store.delete(ModelVersionRecord, "v1")
    store.insert(ModelVersionRecord(id="v2", model_id="m", version=1))
    with pytest.raises(DuplicateRecord):
        store.insert(ModelVersionRecord(id="v3", model_id="m", version=1))


def test_an_update_that_moves_a_unique_key_is_checked_and_moves_its_guard(store):
    store.insert(ModelVersionRecord(id="v1", model_id="m", version=1))
    store.insert(ModelVersionRecord(id="v2", model_id="m", version=2))
    with pytest.raises(DuplicateRecord):
        store.update(ModelVersionRecord, "v2", {"version": 1})
    assert store.update(ModelVersionRecord, "v2", {"version": 3})
    store.insert(ModelVersionRecord(id="v4", model_id="m", version=2))  # 2 is free again
    assert [v.version for v in store.versions("m")] == [1, 2, 3]


def test_filtered_queries_are_ordered_and_limited_without_composite_indexes(store):
    for index, owner in enumerate(["a", "b", "a", "a", None]):
        store.insert(JobRecord(id=f"j{index}", owner=owner or "x", kind="train",
                               created_at=f"2024-01-0{5 - index}", started_at=None))
    newest = store.query(JobRecord, {"owner": "a", "kind": "train"}, order_by="created_at",
                         descending=True, limit=2)
    assert [j.id for j in newest] == ["j0", "j2"]
    assert [j.id for j in store.query(JobRecord, {"owner": ("a", "b")}, order_by="created_at")] \
        == ["j3", "j2", "j1", "j0"]
    assert store.query(JobRecord, {"owner": ()}) == []


def test_expect_accepts_a_tuple_of_allowed_values(store):
    store.insert(JobRecord(id="j1", status="running"))
    assert not store.update(JobRecord, "j1", {"status": "failed"}, expect={"status": "queued"})
    assert store.update(JobRecord, "j1", {"status": "failed"},
                        expect={"status": ("queued", "running")})
    assert store.get(JobRecord, "j1").status == "failed"
    assert not store.update(JobRecord, "missing", {"status": "failed"})


def test_the_whole_api_runs_on_firestore_and_gcs(tmp_path, firestore_url, gcs_url, diamonds):
    env = Env(make_settings(tmp_path, metadata_url=firestore_url, storage_url=gcs_url))
    try:
        model = env.train(csv_bytes(diamonds.head(200)),
                          parameters={"default_distribution": "norm"})
        rows = env.client.post(f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                               json={"num_rows": 10, "seed": 1}).json()["rows"]
        assert len(rows) == 10
        ready = env.client.get("/readyz").json()
        assert ready["checks"] == {"storage": "ok", "metadata": "ok", "rate_limit": "ok"}
        link = env.client.post(f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                               json={"num_rows": 50, "delivery": "link", "format": "csv"}).json()
        assert wait_job(env.client, env.reader, link["job_id"])["status"] == "succeeded"
        sample = env.client.get(f"/v1/samples/{link['id']}", headers=auth(env.reader)).json()
        # The emulator's anonymous credentials cannot sign: the service signs its own link.
        assert "/download?expires=" in sample["download_url"]
        download = env.client.get(sample["download_url"])
        assert download.status_code == 200 and download.text.count("\n") == 51
        assert any(key.startswith("datasets/") for key in env.service.storage.list_keys())
        events = env.client.get("/v1/audit", headers=auth(env.admin)).json()
        assert {"dataset.create", "model.create", "model.sample"} <= {e["action"] for e in events}
    finally:
        env.close()
