"""`dynamodb://` metadata against moto: the same contract tests the SQLite and PostgreSQL
stores pass (imported from tests/service, run here on the `store` fixture below), plus
what is specific to the single-table layout."""

from __future__ import annotations

import threading
import uuid

import pytest

from synthdata_service.backends import open_metadata
from synthdata_service.backends._aws import BackendUnavailable
from synthdata_service.backends.dynamodb_metadata import DynamoDbMetadataStore
from synthdata_service.backends.metadata import (
    ArtifactRecord,
    DatasetRecord,
    DuplicateRecord,
    JobRecord,
    ModelVersionRecord,
)
from tests.service.test_backends import (  # noqa: F401 - collected here, on DynamoDB
    test_conditional_update_lets_exactly_one_worker_claim_a_job,
    test_duplicates_are_refused,
    test_insert_get_query_update_delete,
    test_migrations_are_recorded_and_idempotent,
    test_unknown_fields_are_refused_not_interpolated,
)


@pytest.fixture
def store(local_aws) -> DynamoDbMetadataStore:
    """A fresh table per test (the contract tests use fixed ids like `j1`)."""
    table = f"meta-{uuid.uuid4().hex[:8]}"
    local_aws.client("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    backend = open_metadata(f"dynamodb://{table}")
    backend.migrate()
    return backend


def test_the_table_url_opens_the_dynamodb_store(store):
    assert isinstance(store, DynamoDbMetadataStore) and store.url.startswith("dynamodb://")


def test_field_types_survive_the_round_trip(store):
    store.insert(JobRecord(id="j1", progress=0.25, attempts=2, cancel_requested=True,
                           payload={"nested": {"x": [1, 2.5, None]}}, result=None))
    job = store.get(JobRecord, "j1")
    assert job.progress == 0.25 and isinstance(job.progress, float)
    assert job.attempts == 2 and isinstance(job.attempts, int)
    assert job.cancel_requested is True and job.result is None
    assert job.payload == {"nested": {"x": [1, 2.5, None]}}
    store.insert(ModelVersionRecord(id="v1", model_id="m", version=1, fit_seconds=2.0))
    assert isinstance(store.get(ModelVersionRecord, "v1").fit_seconds, float)


def test_ordering_and_limits_match_sql(store):
    for index, created in enumerate(["2024-01-03", "2024-01-01", "2024-01-02"]):
        store.insert(JobRecord(id=f"j{index}", owner="a" if index else "b", created_at=created))
    newest = store.query(JobRecord, order_by="created_at", descending=True, limit=2)
    assert [j.created_at for j in newest] == ["2024-01-03", "2024-01-02"]
    assert [j.id for j in store.query(JobRecord, {"owner": "a"}, order_by="created_at")] == \
        ["j1", "j2"]
    assert store.query(JobRecord, {"status": ()}) == []


def test_a_large_profile_is_compressed_under_the_item_limit(store, local_aws):
    profile = {f"column_{i}": {"histogram": list(range(200)), "name": "x" * 50}
               for i in range(300)}  # about 300 KB of JSON
    store.insert(DatasetRecord(id="d1", profile=profile))
    assert store.get(DatasetRecord, "d1").profile == profile
    item = local_aws.client("dynamodb").get_item(
        TableName=store.table, Key={"pk": {"S": "datasets"}, "sk": {"S": "d1"}})["Item"]
    assert "B" in item["r"]["M"]["profile"]


def test_a_record_field_named_expires_at_never_sets_the_tables_ttl(store, local_aws):
    store.insert(ArtifactRecord(id="a1", expires_at="2000-01-01T00:00:00+00:00"))
    item = local_aws.client("dynamodb").get_item(
        TableName=store.table, Key={"pk": {"S": "artifacts"}, "sk": {"S": "a1"}})["Item"]
    assert "expires_at" not in item  # the TTL attribute is top level; fields live in `r`
    assert store.get(ArtifactRecord, "a1").expires_at == "2000-01-01T00:00:00+00:00"


def test_deleting_a_version_frees_its_number(store):
    store.insert(ModelVersionRecord(id="v1", model_id="m", version=1))
    assert store.delete(ModelVersionRecord, "v1")
    store.insert(ModelVersionRecord(id="v2", model_id="m", version=1))
    with pytest.raises(DuplicateRecord):
        store.insert(ModelVersionRecord(id="v3", model_id="m", version=1))


def test_two_replicas_racing_for_a_job_get_one_claim(store):
    replicas = [open_metadata(store.url) for _ in range(2)]
    store.insert(JobRecord(id="race", status="queued"))
    wins, barrier = [], threading.Barrier(2)

    def claim(replica):
        barrier.wait()
        wins.append(replica.update(JobRecord, "race", {"status": "running"},
                                   expect={"status": "queued", "cancel_requested": False}))

    threads = [threading.Thread(target=claim, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False, True]
    assert store.get(JobRecord, "race").status == "running"


def test_update_of_a_missing_record_is_not_applied(store):
    assert store.update(JobRecord, "ghost", {"status": "running"}) is False
    assert store.delete(JobRecord, "ghost") is False


def test_a_missing_table_is_backend_unavailable(local_aws):
    backend = open_metadata("dynamodb://no-such-table")
    with pytest.raises(BackendUnavailable) as caught:
        backend.migrate()
    assert caught.value.status == 503 and caught.value.headers["Retry-After"]
    with pytest.raises(BackendUnavailable):
        backend.get(JobRecord, "x")
