"""`s3://bucket/prefix?kms_key=<key ARN>` storage: Amazon S3 (or anything S3-compatible).

* Keys live under the URL's prefix (`s3://b/data` + `models/m/v1/model.pkl` ->
  `data/models/m/v1/model.pkl`).
* `kms_key` (URL-encoded key ARN): every PutObject and CreateMultipartUpload sends
  `ServerSideEncryption=aws:kms` with that key, matching the bucket's customer-managed key
  (a bucket policy that insists on it does not refuse our writes). Without it no SSE
  header is sent and the bucket's default encryption applies.
* `put_stream` uploads in parts of `part_mb` MiB (default 8, S3's minimum is 5), so a 1 GB
  sample costs one part of memory; small streams become one PutObject. An upload that
  fails midway is aborted: no partial object ever appears (S3 publishes an object only
  when the upload completes).
* `signed_url` presigns a GET (SigV4) with a download filename; S3 caps presigned links at
  7 days, and a link signed with a role's temporary credentials stops working when those
  expire, whichever comes first.
* Reads are downloaded once into a spooled temporary file (memory up to 32 MiB, then
  /tmp), because Parquet readers seek; `iter_chunks` streams without buffering.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, unquote, urlsplit

from ._aws import ClientFactory, aws_errors, error_code
from .storage import ObjectNotFound, Storage, check_key

__all__ = ["S3Storage"]

_MiB = 1 << 20
_MIN_PART = 5 * _MiB
_MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_SPOOL_BYTES = 32 * _MiB
_NOT_FOUND = ("NoSuchKey", "404", "NotFound")


class S3Storage(Storage):
    """Blobs in one bucket under one prefix."""

    def __init__(self, bucket: str, prefix: str = "", *, kms_key: str | None = None,
                 part_size: int = 8 * _MiB, region: str | None = None,
                 clients: ClientFactory | None = None) -> None:
        if not bucket:
            raise ValueError("an s3:// storage URL needs a bucket: s3://<bucket>/<prefix>")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.kms_key = kms_key or None
        self.part_size = max(_MIN_PART, int(part_size))
        self._clients = clients or ClientFactory(
            region=region, read_timeout=60, signature_version="s3v4",
            s3={"addressing_style": "path"} if _custom_endpoint() else {})
        query = f"?kms_key={kms_key}" if kms_key else ""
        self.url = f"s3://{bucket}/{self.prefix}{query}"

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        part_mb = int(query.get("part_mb", 8))
        return cls(parts.netloc, unquote(parts.path), kms_key=query.get("kms_key"),
                   part_size=part_mb * _MiB, region=query.get("region"))

    # Plumbing.

    @property
    def _s3(self) -> Any:
        return self._clients.client("s3")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _sse(self) -> dict[str, str]:
        if not self.kms_key:
            return {}
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key}

    def _head(self, key: str) -> dict:
        with aws_errors("S3"):
            try:
                return self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
            except Exception as exc:
                if error_code(exc) in _NOT_FOUND:
                    raise ObjectNotFound(key) from None
                raise

    def _get(self, key: str) -> Any:
        with aws_errors("S3"):
            try:
                return self._s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            except Exception as exc:
                if error_code(exc) in _NOT_FOUND:
                    raise ObjectNotFound(key) from None
                raise

    # The interface.

    def put_bytes(self, key: str, data: bytes) -> None:
        if len(data) > self.part_size:
            self.put_stream(key, [data])
            return
        with aws_errors("S3"):
            self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **self._sse())

    def put_stream(self, key: str, chunks: Iterable[bytes]) -> int:
        full_key = self._key(key)
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict] = []
        size = 0
        try:
            for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                while len(buffer) >= self.part_size:
                    if upload_id is None:
                        with aws_errors("S3"):
                            upload_id = self._s3.create_multipart_upload(
                                Bucket=self.bucket, Key=full_key, **self._sse())["UploadId"]
                    part, buffer = bytes(buffer[:self.part_size]), buffer[self.part_size:]
                    parts.append(self._upload_part(full_key, upload_id, len(parts) + 1, part))
            if upload_id is None:  # small: one PutObject
                with aws_errors("S3"):
                    self._s3.put_object(Bucket=self.bucket, Key=full_key, Body=bytes(buffer),
                                        **self._sse())
                return size
            if buffer:
                parts.append(self._upload_part(full_key, upload_id, len(parts) + 1,
                                               bytes(buffer)))
                buffer = bytearray()
            with aws_errors("S3"):
                self._s3.complete_multipart_upload(
                    Bucket=self.bucket, Key=full_key, UploadId=upload_id,
                    MultipartUpload={"Parts": parts})
            return size
        except BaseException:
            if upload_id is not None:
                try:
                    self._s3.abort_multipart_upload(Bucket=self.bucket, Key=full_key,
                                                    UploadId=upload_id)
                except Exception:  # noqa: BLE001 - the bucket's lifecycle rule reaps leftovers
                    pass
            raise

    def _upload_part(self, full_key: str, upload_id: str, number: int, data: bytes) -> dict:
        with aws_errors("S3"):
            etag = self._s3.upload_part(Bucket=self.bucket, Key=full_key, UploadId=upload_id,
                                        PartNumber=number, Body=data)["ETag"]
        return {"ETag": etag, "PartNumber": number}

    def get_bytes(self, key: str) -> bytes:
        body = self._get(key)
        with aws_errors("S3"):
            try:
                return body.read()
            finally:
                body.close()

    def open_read(self, key: str) -> BinaryIO:
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
        try:
            for chunk in self.iter_chunks(key):
                spool.write(chunk)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return spool  # type: ignore[return-value]

    def iter_chunks(self, key: str, chunk_size: int = _MiB) -> Iterator[bytes]:
        body = self._get(key)
        try:
            with aws_errors("S3"):
                yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except ObjectNotFound:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def delete(self, key: str) -> None:
        with aws_errors("S3"):
            self._s3.delete_object(Bucket=self.bucket, Key=self._key(key))

    def _full_keys(self, prefix: str) -> Iterator[str]:
        root = self._key(prefix) + "/" if prefix else (f"{self.prefix}/" if self.prefix else "")
        paginator = self._s3.get_paginator("list_objects_v2")
        with aws_errors("S3"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=root):
                for item in page.get("Contents", ()):
                    yield item["Key"]

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        batch: list[str] = []

        def flush() -> None:
            with aws_errors("S3"):
                self._s3.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": k} for k in batch], "Quiet": True})

        for full_key in list(self._full_keys(prefix)):
            batch.append(full_key)
            count += 1
            if len(batch) == 1000:
                flush()
                batch = []
        if batch:
            flush()
        return count

    def list_keys(self, prefix: str = "") -> list[str]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(key[strip:] for key in self._full_keys(prefix))

    def signed_url(self, key: str, expires_in: int, *, filename: str | None = None) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._key(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        with aws_errors("S3"):
            return self._s3.generate_presigned_url(
                "get_object", Params=params,
                ExpiresIn=max(1, min(int(expires_in), _MAX_PRESIGN_SECONDS)))

    def check(self) -> None:
        """A write probe: catches a missing bucket, a missing permission or a KMS key the
        role cannot use, not just an unreachable endpoint."""
        probe = f"{self.prefix}/.readyz" if self.prefix else ".readyz"
        with aws_errors("S3"):
            self._s3.put_object(Bucket=self.bucket, Key=probe, Body=b"ok", **self._sse())
            self._s3.delete_object(Bucket=self.bucket, Key=probe)


def _custom_endpoint() -> bool:
    """Path-style addressing for emulators (moto, MinIO): `bucket.localhost` rarely resolves."""
    import os

    return bool(os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
