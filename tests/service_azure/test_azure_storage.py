"""`az://` storage against Azurite: the behaviour the file, S3 and GCS stores share, the
block-blob streaming write, and download links (user-delegation SAS with an Entra token,
service SAS with the emulator's key)."""

from __future__ import annotations

import httpx
import pytest

from synthdata_service.backends import open_storage
from synthdata_service.backends.azure_storage import AzureBlobStorage
from synthdata_service.backends.storage import ObjectNotFound

from .conftest import ACCOUNT, CONTAINER, FakeEntraToken


def test_urls_name_account_container_and_prefix(az_url):
    storage = open_storage(az_url)
    assert isinstance(storage, AzureBlobStorage)
    assert storage.account == ACCOUNT and storage.container_name == CONTAINER
    assert storage.url == az_url
    with pytest.raises(ValueError, match="az://<account>/<container>"):
        AzureBlobStorage.from_url("az://account-only")


def test_round_trip_listing_deletion_and_key_safety(az_url):
    storage = open_storage(az_url)
    storage.put_bytes("a/b/one.bin", b"one")
    assert storage.put_stream("a/b/two.bin", [b"tw", b"o"]) == 3
    assert storage.get_bytes("a/b/one.bin") == b"one" and storage.size("a/b/two.bin") == 3
    assert b"".join(storage.iter_chunks("a/b/two.bin", 2)) == b"two"
    assert storage.list_keys("a") == ["a/b/one.bin", "a/b/two.bin"]
    assert storage.exists("a/b/one.bin") and not storage.exists("a/b/none.bin")
    for bad in ("../escape", "/etc/passwd", "a//b", ""):
        with pytest.raises(ValueError):
            storage.put_bytes(bad, b"x")
    with pytest.raises(ObjectNotFound):
        storage.get_bytes("missing")
    with pytest.raises(ObjectNotFound):
        storage.open_read("missing")
    storage.delete("a/b/none.bin")  # a missing key is not an error
    assert storage.delete_prefix("a") == 2 and storage.list_keys() == []
    storage.check()


def test_streaming_write_is_staged_in_blocks_and_committed_whole(az_url):
    storage = AzureBlobStorage.from_url(az_url, chunk_size=1024)
    data = bytes(range(256)) * 20  # 5 blocks of 1 KiB
    assert storage.put_stream("big.bin", (data[i:i + 700] for i in range(0, len(data), 700))) \
        == len(data)
    blocks = storage._blob("big.bin").get_block_list("committed")[0]
    assert len(blocks) == 5
    with storage.open_read("big.bin") as handle:
        assert handle.read() == data


def test_a_failed_streaming_write_leaves_no_object(az_url):
    storage = open_storage(az_url)

    def chunks():
        yield b"partial" * 1000
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        storage.put_stream("x/y.csv", chunks())
    assert storage.list_keys() == [] and not storage.exists("x/y.csv")


def test_reads_are_pinned_to_the_version_they_started_on(az_url):
    from azure.core.exceptions import ResourceModifiedError

    # small ranged reads, so the second read is a request of its own
    storage = AzureBlobStorage.from_url(az_url, chunk_size=1024, max_single_get_size=1024,
                                        max_chunk_get_size=1024)
    storage.put_bytes("k", b"a" * 4096)
    with storage.open_read("k") as handle:
        first = handle.read(1024)
        storage.put_bytes("k", b"b" * 4096)
        with pytest.raises(ResourceModifiedError):  # never a mix of two versions
            handle.read()
    assert first == b"a" * 1024


def test_key_signed_links_download_only_their_blob(az_url, certificate):
    storage = open_storage(az_url)
    storage.put_bytes("samples/s1.csv", b"a,b\n1,2\n")
    url = storage.signed_url("samples/s1.csv", 60, filename="s1.csv")
    assert url and "sig=" in url and "sp=r" in url
    answer = httpx.get(url, verify=certificate.context())
    assert answer.status_code == 200 and answer.content == b"a,b\n1,2\n"
    assert 'filename="s1.csv"' in answer.headers["content-disposition"]
    other = url.replace("samples/s1.csv", "samples/s2.csv")
    assert httpx.get(other, verify=certificate.context()).status_code == 403


def test_entra_identities_sign_user_delegation_links(azure_env, azurite, az_url, certificate):
    # As on Azure: endpoints only, a token credential, no key anywhere.
    storage = AzureBlobStorage.from_url(az_url, connection_string=azurite.endpoints_only,
                                        credential=FakeEntraToken())
    storage.put_bytes("samples/s2.csv", b"x\n1\n")
    url = storage.signed_url("samples/s2.csv", 120)
    assert url and "skoid=" in url  # the delegation key's object id: a user-delegation SAS
    answer = httpx.get(url, verify=certificate.context())
    assert answer.status_code == 200 and answer.content == b"x\n1\n"
    assert storage.signed_url("samples/s2.csv", 60) is not None  # the key is reused
