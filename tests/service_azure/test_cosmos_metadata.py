"""`cosmos://` metadata against a local server speaking the Cosmos DB NoSQL protocol
(`@vercel/cosmosdb-server`): the same backend contract tests SQLite, PostgreSQL, DynamoDB
and Firestore pass (collected from tests/service/test_backends.py), then what is
particular to this store."""

from __future__ import annotations

import pytest

from synthdata_service.backends import open_metadata
from synthdata_service.backends.cosmos_metadata import CosmosMetadataStore
from synthdata_service.backends.metadata import DuplicateRecord, JobRecord, ModelVersionRecord
from tests.service import test_backends as _contract


@pytest.fixture
def store(cosmos_url):
    backend = open_metadata(cosmos_url)
    backend.migrate()
    yield backend
    backend.close()


CONTRACT_TESTS = _contract.store_contract_tests()
globals().update(CONTRACT_TESTS)  # collected here, run against the `store` above



def test_urls_name_account_and_database(cosmos_url):
    store = open_metadata(cosmos_url)
    assert isinstance(store, CosmosMetadataStore)
    assert store.account == "localaccount" and store.url == cosmos_url
    for bad in ("cosmos://account", "cosmos://account/db/extra", "cosmos:///db"):
        with pytest.raises(ValueError, match="cosmos://<account>/<database>"):
            CosmosMetadataStore.from_url(bad)


def test_records_persist_across_clients_and_databases_are_isolated(cosmos_url, store):
    store.insert(JobRecord(id="j1", payload={"nested": [[1, 2], [3]]}, progress=0.5))
    assert open_metadata(cosmos_url).get(JobRecord, "j1").payload == {"nested": [[1, 2], [3]]}
    other = open_metadata(cosmos_url + "x")
    other.migrate()
    assert other.get(JobRecord, "j1") is None


def test_guard_documents_never_show_up_as_records(store):
    store.insert(ModelVersionRecord(id="v1", model_id="m", version=1))
    assert [v.id for v in store.query(ModelVersionRecord)] == ["v1"]
    assert [v.id for v in store.versions("m")] == ["v1"]


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


def test_a_refused_duplicate_id_leaves_no_guard_behind(store):
    store.insert(ModelVersionRecord(id="v1", model_id="m", version=1))
    with pytest.raises(DuplicateRecord):
        store.insert(ModelVersionRecord(id="v1", model_id="m", version=2))
    store.insert(ModelVersionRecord(id="v2", model_id="m", version=2))  # 2 was not kept


def test_filtered_queries_are_ordered_and_limited_here(store):
    for index, owner in enumerate(["a", "b", "a", "a"]):
        store.insert(JobRecord(id=f"j{index}", owner=owner, kind="train",
                               created_at=f"2024-01-0{5 - index}"))
    newest = store.query(JobRecord, {"owner": "a", "kind": "train"}, order_by="created_at",
                         descending=True, limit=2)
    assert [j.id for j in newest] == ["j0", "j2"]
    assert store.query(JobRecord, {"owner": ()}) == []


def test_expect_accepts_a_tuple_of_allowed_values(store):
    store.insert(JobRecord(id="j1", status="running"))
    assert not store.update(JobRecord, "j1", {"status": "failed"}, expect={"status": "queued"})
    assert store.update(JobRecord, "j1", {"status": "failed"},
                        expect={"status": ("queued", "running")})
    assert not store.update(JobRecord, "missing", {"status": "failed"})


def test_ids_cosmos_cannot_hold_are_refused(store):
    for bad in ("a/b", "a#b", "a?b", "unique:x", ""):
        with pytest.raises(ValueError):
            store.insert(JobRecord(id=bad))
