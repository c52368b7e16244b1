"""`s3://` storage against moto: the storage contract, multipart uploads with SSE-KMS
headers matching the bucket's key, and presigned links a plain HTTP client can follow."""

from __future__ import annotations

import io
from urllib.parse import quote

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthdata_service.backends import open_storage
from synthdata_service.backends._aws import BackendUnavailable
from synthdata_service.backends.s3_storage import S3Storage
from synthdata_service.backends.storage import ObjectNotFound

MiB = 1 << 20


@pytest.fixture
def storage(local_aws, prefix) -> S3Storage:
    return open_storage(f"s3://{local_aws.bucket}/{prefix}"
                        f"?kms_key={quote(local_aws.kms_key_arn, safe='')}")


def _head(local_aws, storage: S3Storage, key: str) -> dict:
    return local_aws.client("s3").head_object(Bucket=storage.bucket,
                                              Key=f"{storage.prefix}/{key}")


def test_round_trip_under_the_urls_prefix(storage, local_aws):
    storage.put_bytes("a/b/c.bin", b"onetwo")
    storage.put_stream("a/d.bin", [b"x", b"y"])
    assert storage.get_bytes("a/b/c.bin") == b"onetwo" and storage.size("a/b/c.bin") == 6
    assert b"".join(storage.iter_chunks("a/b/c.bin", 2)) == b"onetwo"
    assert storage.exists("a/d.bin") and not storage.exists("a/none.bin")
    assert storage.list_keys("a") == ["a/b/c.bin", "a/d.bin"]
    assert storage.list_keys() == ["a/b/c.bin", "a/d.bin"]
    assert _head(local_aws, storage, "a/b/c.bin")["ContentLength"] == 6  # really prefixed
    storage.delete("a/d.bin")
    storage.delete("a/d.bin")  # a missing key is not an error
    assert storage.list_keys("a") == ["a/b/c.bin"]
    assert storage.delete_prefix("a") == 1 and storage.list_keys() == []


def test_missing_objects_raise_object_not_found(storage):
    for read in (storage.get_bytes, storage.size, storage.open_read):
        with pytest.raises(ObjectNotFound):
            read("nothing/here")


def test_keys_that_could_escape_the_prefix_are_refused(storage):
    for bad in ("../escape", "/etc/passwd", "a/../../b", "a//b", ""):
        with pytest.raises(ValueError):
            storage.put_bytes(bad, b"x")


def test_writes_send_the_buckets_kms_key(storage, local_aws):
    storage.put_bytes("small.bin", b"x" * 10)
    head = _head(local_aws, storage, "small.bin")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == local_aws.kms_key_arn


def test_without_kms_key_no_sse_headers_are_sent(local_aws, prefix):
    storage = open_storage(f"s3://{local_aws.bucket}/{prefix}")
    sent = []
    storage._s3.meta.events.register(
        "provide-client-params.s3.PutObject", lambda params, **_: sent.append(dict(params)))
    storage.put_bytes("plain.bin", b"x")
    assert sent and "ServerSideEncryption" not in sent[0] and "SSEKMSKeyId" not in sent[0]


def test_large_streams_upload_in_parts_with_bounded_memory(local_aws, prefix):
    storage = S3Storage(local_aws.bucket, prefix, kms_key=local_aws.kms_key_arn,
                        part_size=5 * MiB)
    payload = bytes(range(256)) * (4 * 1024)  # 1 MiB
    size = storage.put_stream("big/sample.csv", (payload for _ in range(12)))
    assert size == 12 * MiB == storage.size("big/sample.csv")
    head = _head(local_aws, storage, "big/sample.csv")
    assert head["ETag"].strip('"').endswith("-3")  # three parts: 5 + 5 + 2 MiB
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == local_aws.kms_key_arn
    assert storage.get_bytes("big/sample.csv") == payload * 12


def test_a_failed_stream_leaves_no_object_and_no_open_upload(local_aws, prefix):
    storage = S3Storage(local_aws.bucket, prefix, part_size=5 * MiB)

    def chunks():
        yield b"x" * (6 * MiB)
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        storage.put_stream("x/y.csv", chunks())
    assert not storage.exists("x/y.csv")
    uploads = local_aws.client("s3").list_multipart_uploads(Bucket=local_aws.bucket,
                                                            Prefix=prefix)
    assert not uploads.get("Uploads")


def test_open_read_is_seekable_for_parquet(storage):
    frame = pd.DataFrame({"a": range(1000), "b": ["x"] * 1000})
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    storage.put_bytes("datasets/d/t.parquet", buffer.getvalue())
    with storage.open_read("datasets/d/t.parquet") as handle:
        assert pq.read_table(handle).to_pandas().equals(frame)


def test_presigned_links_download_with_a_filename(storage):
    storage.put_bytes("samples/m/s.csv", b"a,b\n1,2\n")
    url = storage.signed_url("samples/m/s.csv", 60, filename="s.csv")
    assert "X-Amz-Expires=60" in url and "X-Amz-Signature=" in url
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == b"a,b\n1,2\n"
    assert 'filename="s.csv"' in response.headers["content-disposition"]


def test_presigned_links_are_capped_at_seven_days(storage):
    storage.put_bytes("k.bin", b"x")
    assert "X-Amz-Expires=604800" in storage.signed_url("k.bin", 10 * 24 * 3600)


def test_readiness_probe_writes_and_removes(storage):
    storage.check()
    assert storage.list_keys() == []


def test_a_missing_bucket_is_backend_unavailable(local_aws):
    storage = open_storage("s3://no-such-bucket/data")
    with pytest.raises(BackendUnavailable) as caught:
        storage.put_bytes("k", b"x")
    assert caught.value.status == 503 and caught.value.headers["Retry-After"]
    with pytest.raises(BackendUnavailable):
        storage.check()
