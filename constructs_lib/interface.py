"""The one construct interface every cloud implements.

`constructs_lib.aws`, `constructs_lib.gcp`, `constructs_lib.azure` and
`constructs_lib.kubernetes` each export these four classes, with these constructor
arguments and these public attributes. A user switches clouds by switching the import.
The native resources each construct creates are public attributes too (named per cloud:
`bucket.bucket` is an `s3.Bucket` on AWS and a `StorageBucket` on GCP) so a user can
reach in and adjust them.

`constructs_lib.parity.check_platform` runs any cloud's platform through this interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "CONSTRUCT_NAMES",
    "CONSTRUCTOR_ARGUMENTS",
    "MetadataStoreLike",
    "PlatformLike",
    "SecureBucketLike",
    "ServerlessGeneratorLike",
]

#: Class names each cloud module exports.
CONSTRUCT_NAMES = ("SecureBucket", "MetadataStore", "ServerlessGenerator", "SyntheticDataPlatform")

#: Keyword-only constructor arguments (after `scope, id`) shared by every cloud.
#: A cloud may add arguments of its own only with defaults.
CONSTRUCTOR_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "SecureBucket": (
        "spec", "purpose", "encryption_key", "versioned", "access_logs", "retention_days",
        "removal_policy",
    ),
    "MetadataStore": ("spec", "encryption_key", "point_in_time_recovery", "deletion_protection",
                      "removal_policy"),
    "ServerlessGenerator": ("spec", "bucket", "metadata_store", "api_keys_secret",
                            "environment"),
    "SyntheticDataPlatform": ("spec",),
}


@runtime_checkable
class SecureBucketLike(Protocol):
    bucket_name: str
    """Physical bucket name (a token until deploy on CDK / Terraform)."""
    storage_url: str
    """The runtime contract's storage URL for this bucket (`s3://`, `gs://`, `az://`)."""
    encryption_key: Any | None
    """The customer-managed key, or None with provider-managed encryption."""
    access_log_bucket: Any | None

    def grant_read(self, grantee: Any) -> Any: ...
    def grant_read_write(self, grantee: Any) -> Any: ...


@runtime_checkable
class MetadataStoreLike(Protocol):
    store_name: str
    """Physical table / database name."""
    metadata_url: str
    """The runtime contract's metadata URL (`dynamodb://`, `firestore://`, ...)."""

    def grant_read_write(self, grantee: Any) -> Any: ...


@runtime_checkable
class ServerlessGeneratorLike(Protocol):
    endpoint_url: str
    """HTTPS base URL of the service (`/healthz`, `/v1/...` below it)."""
    runtime_environment: Mapping[str, str]
    """The runtime contract's variables as handed to the service."""
    identity: Any
    """The principal the service runs as (IAM role, service account, managed identity)."""


@runtime_checkable
class PlatformLike(Protocol):
    spec: Any
    bucket: SecureBucketLike
    metadata_store: MetadataStoreLike
    generator: ServerlessGeneratorLike
    endpoint_url: str
    api_keys_secret: Any
