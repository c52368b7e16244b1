"""`gs://` storage against the GCS emulator: the Storage contract, streamed writes in
bounded memory, atomicity of failed writes, and when URLs are signed."""

from __future__ import annotations

import gc
import os
import tracemalloc
from urllib.parse import parse_qs, urlsplit

import pytest

from synthdata_service.backends import open_storage
from synthdata_service.backends.gcs_storage import GcsStorage
from synthdata_service.backends.storage import ObjectNotFound

CHUNK = 256 * 1024  # the smallest resumable piece GCS accepts


@pytest.fixture
def storage(gcs_url) -> GcsStorage:
    return GcsStorage.from_url(gcs_url, chunk_size=CHUNK)


def test_gs_urls_open_gcs_storage_with_bucket_and_prefix(gcs_url):
    storage = open_storage(gcs_url)
    assert isinstance(storage, GcsStorage)
    assert storage.url == gcs_url and storage.prefix == gcs_url.rsplit("/", 1)[1]
    assert open_storage("gs://synth-test").prefix == ""


def test_round_trip_listing_and_deletion(storage):
    storage.put_bytes("a/b/c.bin", b"onetwo")
    storage.put_stream("a/d.bin", [b"x", b"yz"])
    storage.put_bytes("ab/e.bin", b"other")
    assert storage.get_bytes("a/b/c.bin") == b"onetwo" and storage.size("a/b/c.bin") == 6
    assert b"".join(storage.iter_chunks("a/b/c.bin", 2)) == b"onetwo"
    assert storage.exists("a/d.bin") and not storage.exists("a/missing")
    assert storage.list_keys("a") == ["a/b/c.bin", "a/d.bin"]  # not "ab/..."
    assert storage.list_keys() == ["a/b/c.bin", "a/d.bin", "ab/e.bin"]
    storage.delete("a/d.bin")
    storage.delete("a/d.bin")  # a missing key is not an error
    assert storage.delete_prefix("a") == 1 and storage.list_keys() == ["ab/e.bin"]


def test_prefixes_isolate_stores_in_one_bucket(gcs_url):
    first, second = GcsStorage.from_url(gcs_url + "-1"), GcsStorage.from_url(gcs_url + "-2")
    first.put_bytes("k", b"1")
    assert second.list_keys() == [] and not second.exists("k")


def test_missing_objects_raise_object_not_found(storage):
    for read in (storage.get_bytes, storage.open_read, storage.size):
        with pytest.raises(ObjectNotFound):
            read("nope/missing.csv")


def test_unsafe_keys_are_refused(storage):
    for bad in ("../escape", "/etc/passwd", "a/../../b", "a//b", ""):
        with pytest.raises(ValueError):
            storage.put_bytes(bad, b"x")


def test_streamed_write_is_chunked_and_memory_is_bounded(storage):
    piece = os.urandom(64 * 1024)
    pieces = 128  # 8 MiB through 256 KiB resumable chunks
    tracemalloc.start()
    try:
        size = storage.put_stream("big/blob.bin", (piece for _ in range(pieces)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == storage.size("big/blob.bin") == len(piece) * pieces
    assert peak < 3 * 1024 * 1024, f"peak {peak} bytes for an 8 MiB stream"
    with storage.open_read("big/blob.bin") as handle:
        assert handle.read(len(piece)) == piece


def test_failed_streaming_write_leaves_no_object(storage):
    def chunks():
        yield os.urandom(3 * CHUNK)  # enough for pieces to have been sent already
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        storage.put_stream("x/y.csv", chunks())
    assert storage.list_keys() == [] and not storage.exists("x/y.csv")


def test_a_failed_write_whose_cancel_also_fails_is_never_completed_later(storage,
                                                                          monkeypatch):
    # The outage that breaks a write often breaks the cancel too. The writer must not be
    # left for the garbage collector, whose close() would finalize the partial object.
    from google.cloud.storage.fileio import BlobWriter

    def cancel_fails(self):
        raise ConnectionError("the cancel could not be sent")

    monkeypatch.setattr(BlobWriter, "terminate", cancel_fails)

    def chunks():
        yield os.urandom(3 * CHUNK)
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        storage.put_stream("x/partial.csv", chunks())
    gc.collect()
    assert not storage.exists("x/partial.csv")


def test_readiness_check_writes_and_cleans_up(storage):
    storage.check()
    assert storage.list_keys() == []


def test_anonymous_credentials_cannot_sign_so_the_service_signs_its_own_link(storage):
    storage.put_bytes("s/rows.csv", b"a,b\n")
    assert storage.signed_url("s/rows.csv", 60, filename="rows.csv") is None


def test_service_account_keys_sign_v4_urls_locally(gcs_url):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.cloud import storage as gcs
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    credentials = service_account.Credentials.from_service_account_info({
        "type": "service_account", "project_id": "p", "private_key_id": "k1",
        "private_key": pem, "client_email": "synth@p.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token"})
    client = gcs.Client(project="p", credentials=credentials)
    storage = GcsStorage.from_url(gcs_url, client=client)
    url = storage.signed_url("s/rows.csv", 10 * 24 * 3600, filename='ro"ws.csv')
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path.endswith(f"/{storage.prefix}/s/rows.csv")
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == [str(7 * 24 * 3600)]  # capped at V4's one week
    assert query["response-content-disposition"] == ['attachment; filename="rows.csv"']
