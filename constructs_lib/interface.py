"""The one construct interface every cloud implements.

`constructs_lib.aws`, `constructs_lib.gcp`, `constructs_lib.azure` and
`constructs_lib.kubernetes` each export these classes, with these constructor arguments
(same names; the same types wherever the type is not the cloud's own resource type) and
these public attributes and methods. A user switches clouds by switching the import.
The native resources each construct creates are public attributes too (named per cloud:
`bucket.bucket` is an `s3.Bucket` on AWS and a `StorageBucket` on GCP) so a user can
reach in and adjust them.

How the constructs behave inside users' apps (the rules each cloud follows):

* Physical names are generated per construct path unless `physical_names=
  PhysicalNames.FROM_SPEC` (or an explicit `bucket_name=` / `store_name=`) asks for
  spec-derived ones, so any number of platforms fit in one stack, account or project.
* Anything the platform would create can be brought instead: `encryption_key=`, `vpc=` /
  `vpc_subnets=`, `bucket=`, `metadata_store=`, `image=` (the cloud's own types; the
  library's own constructs also come back from `SecureBucket.from_bucket_name` and
  `MetadataStore.from_store_name`).
* `*_props=` arguments merge the user's properties over the secure defaults; each
  secure default replaced is said out loud (`SecureDefaultOverridden` plus the engine's
  warning annotation).
* Grants are methods on the resource and create their policy in the grantee's scope.
* Outputs are written only with `outputs=True`, with ids scoped by the construct id.
* Every spec field is honoured or refused with `UnsupportedOnCloud` naming the field.

`constructs_lib.parity.check_module` checks a cloud module against this; the behaviour
itself is compared through the facts each cloud's synthesized output shows
(`constructs_lib.facts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "CLOUD_TYPE",
    "CONSTRUCT_NAMES",
    "CONSTRUCTOR_ARGUMENTS",
    "IMPORTERS",
    "JobRunnerLike",
    "MetadataStoreLike",
    "PlatformLike",
    "SecureBucketLike",
    "ServerlessGeneratorLike",
]

#: Class names each cloud module exports.
CONSTRUCT_NAMES = ("SecureBucket", "MetadataStore", "JobRunner", "ServerlessGenerator",
                   "SyntheticDataPlatform")

#: Marks an argument whose type is the cloud's own (a KMS key, a VPC, an image, ...).
CLOUD_TYPE = "<cloud type>"

_SPEC = "PlatformSpec"
_REMOVAL = "RemovalPolicy | str | None"
_NAMES = "PhysicalNames | str | None"
_PROPS = "Mapping[str, Any] | None"
_ENV = "Mapping[str, str] | None"

#: Keyword-only constructor arguments (after `scope, id`) of every cloud, with the type
#: annotation each must carry (`CLOUD_TYPE`: the cloud's own). A cloud may add arguments
#: of its own only with defaults.
CONSTRUCTOR_ARGUMENTS: dict[str, dict[str, str]] = {
    "SecureBucket": {
        "spec": _SPEC,
        "purpose": "str",
        "encryption_key": CLOUD_TYPE,
        "versioned": "bool",
        "access_logs": "bool | None",
        "retention_days": "int | None",
        "removal_policy": _REMOVAL,
        "physical_names": _NAMES,
        "bucket_name": "str | None",
        "bucket_props": _PROPS,
    },
    "MetadataStore": {
        "spec": _SPEC,
        "encryption_key": CLOUD_TYPE,
        "point_in_time_recovery": "bool",
        "deletion_protection": "bool | None",
        "removal_policy": _REMOVAL,
        "physical_names": _NAMES,
        "store_name": "str | None",
        "store_props": _PROPS,
    },
    "JobRunner": {
        "spec": _SPEC,
        "bucket": CLOUD_TYPE,
        "metadata_store": CLOUD_TYPE,
        "api_keys_secret": CLOUD_TYPE,
        "image": CLOUD_TYPE,
        "encryption_key": CLOUD_TYPE,
        "vpc": CLOUD_TYPE,
        "vpc_subnets": CLOUD_TYPE,
        "environment": _ENV,
        "physical_names": _NAMES,
    },
    "ServerlessGenerator": {
        "spec": _SPEC,
        "bucket": CLOUD_TYPE,
        "metadata_store": CLOUD_TYPE,
        "api_keys_secret": CLOUD_TYPE,
        "image": CLOUD_TYPE,
        "job_runner": CLOUD_TYPE,
        "encryption_key": CLOUD_TYPE,
        "vpc": CLOUD_TYPE,
        "vpc_subnets": CLOUD_TYPE,
        "environment": _ENV,
        "physical_names": _NAMES,
    },
    "SyntheticDataPlatform": {
        "spec": _SPEC,
        "encryption_key": CLOUD_TYPE,
        "vpc": CLOUD_TYPE,
        "vpc_subnets": CLOUD_TYPE,
        "bucket": CLOUD_TYPE,
        "metadata_store": CLOUD_TYPE,
        "image": CLOUD_TYPE,
        "environment": _ENV,
        "physical_names": _NAMES,
        "outputs": "bool",
    },
}

#: Class methods that bring an existing resource in as the library's own construct:
#: `(scope, id, <name>, *, spec, ...)`.
IMPORTERS: dict[str, tuple[str, ...]] = {
    "SecureBucket": ("from_bucket_name",),
    "MetadataStore": ("from_store_name",),
}


@runtime_checkable
class SecureBucketLike(Protocol):
    bucket_name: str
    """Physical bucket name (a token until deploy on CDK / Terraform)."""
    storage_url: str
    """The runtime contract's storage URL for this bucket (`s3://`, `gs://`, `az://`)."""
    encryption_key: Any | None
    """The customer-managed key, or None with provider-managed encryption."""

    def grant_read(self, grantee: Any) -> Any: ...
    def grant_write(self, grantee: Any) -> Any: ...
    def grant_read_write(self, grantee: Any) -> Any: ...
    def grant_delete(self, grantee: Any) -> Any: ...


@runtime_checkable
class MetadataStoreLike(Protocol):
    store_name: str
    """Physical table / database name."""
    metadata_url: str
    """The runtime contract's metadata URL (`dynamodb://`, `firestore://`, ...)."""
    encryption_key: Any | None

    def grant_read(self, grantee: Any) -> Any: ...
    def grant_read_write(self, grantee: Any) -> Any: ...


@runtime_checkable
class JobRunnerLike(Protocol):
    jobs_url: str
    """The runtime contract's SYNTH_JOBS_URL for services that submit to this runner."""

    def grant_submit(self, grantee: Any) -> Any: ...


@runtime_checkable
class ServerlessGeneratorLike(Protocol):
    endpoint_url: str
    """HTTPS base URL of the service (`/healthz`, `/v1/...` below it)."""
    runtime_environment: Mapping[str, str]
    """The runtime contract's variables as handed to the service."""
    identity: Any
    """The principal the service runs as (IAM role, service account, managed identity)."""

    def grant_invoke(self, grantee: Any) -> Any: ...


@runtime_checkable
class PlatformLike(Protocol):
    spec: Any
    bucket: SecureBucketLike
    metadata_store: MetadataStoreLike
    job_runner: Any
    generator: ServerlessGeneratorLike
    endpoint_url: str
    api_keys_secret: Any
    encryption_key: Any
    outputs: Mapping[str, Any]
