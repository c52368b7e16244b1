"""Cloud Storage and Firestore cut mid-request (each emulator behind a loopback proxy): a
503 with Retry-After within the backends' bounded retries, and nothing half-written (as
seen afterwards by clients talking to the emulators directly)."""

from __future__ import annotations

import pytest

from synthdata_service.backends import open_metadata, open_storage
from synthdata_service.backends.metadata import DatasetRecord
from tests.outage import Proxy, assert_outage, during_storage_write
from tests.service.conftest import Env, auth, make_settings, upload

CSV = b"a,b\n1,x\n2,y\n3,z\n"
_FAST = "retry_seconds=1&timeout=10"


def _port(host: str) -> int:
    return int(host.rsplit(":", 1)[1])


@pytest.fixture
def gcs_proxy(gcs_emulator, monkeypatch):
    with Proxy("127.0.0.1", _port(gcs_emulator)) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{proxy.address}")
        yield proxy


@pytest.fixture
def firestore_proxy(firestore_emulator, monkeypatch):
    with Proxy("127.0.0.1", _port(firestore_emulator)) as proxy:
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", proxy.address)
        yield proxy


def test_cloud_storage_cut_mid_upload_is_503_and_leaves_nothing(
        tmp_path, gcs_url, gcs_emulator, gcs_proxy, monkeypatch):
    env = Env(make_settings(tmp_path, storage_url=f"{gcs_url}?{_FAST}"))
    try:
        env.client.get("/readyz")
        during_storage_write(env.service.storage, monkeypatch, gcs_proxy.cut, after=False)
        assert_outage(upload(env.client, env.writer, CSV), "Cloud Storage")
        assert env.service.store.query(DatasetRecord) == []
    finally:
        env.close()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    assert open_storage(gcs_url).list_keys("datasets") == []


def test_firestore_cut_mid_upload_is_503_and_leaves_nothing(
        tmp_path, firestore_url, firestore_emulator, firestore_proxy, monkeypatch):
    env = Env(make_settings(tmp_path, metadata_url=f"{firestore_url}?{_FAST}"))
    try:
        env.client.get("/readyz")
        during_storage_write(env.service.storage, monkeypatch, firestore_proxy.cut, after=True)
        assert_outage(upload(env.client, env.writer, CSV), "Firestore")
        assert_outage(env.client.get("/v1/datasets", headers=auth(env.reader)), "Firestore")
        assert env.service.storage.list_keys("datasets") == []
    finally:
        env.close()
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    assert open_metadata(firestore_url).query(DatasetRecord) == []
