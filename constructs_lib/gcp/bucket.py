"""`SecureBucket` on GCP: a Cloud Storage bucket for datasets, models and samples.

Secure by default: uniform bucket-level access (no object ACLs), public access prevention
enforced, versioning, lifecycle rules from the spec (samples expire, old versions expire,
stale multipart uploads are aborted), access logs written to a separate log bucket, a
customer-managed Cloud KMS key when the spec asks for one, and the spec's labels. Names
are generated per construct path unless asked for (`physical_names=`, `bucket_name=`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cdktn_provider_google.kms_crypto_key import KmsCryptoKey
from cdktn_provider_google.storage_bucket import (
    StorageBucket,
    StorageBucketEncryption,
    StorageBucketLifecycleRule,
    StorageBucketLifecycleRuleAction,
    StorageBucketLifecycleRuleCondition,
    StorageBucketLogging,
    StorageBucketVersioning,
)
from cdktn_provider_google.storage_bucket_iam_member import (
    StorageBucketIamMember,
    StorageBucketIamMemberCondition,
)
from constructs import Construct

from ..naming import gcp_labels, gcp_names
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .apis import agent_key_grant, enable_apis, key_id
from .defaults import SECURE_BUCKET, object_prefix_condition, required_apis, samples_prefix
from .iam import grant
from .key import CustomerManagedKey
from .stack import Placement, merged, physical_name, placement, say_override

__all__ = ["ImportedBucket", "SecureBucket", "data_lifecycle", "storage_bucket"]

#: Group that writes GCS usage and storage logs into a log bucket (Google's documented
#: principal; with uniform bucket-level access it needs an IAM grant, not an ACL).
LOG_WRITER = "group:cloud-storage-analytics@google.com"

#: Bucket roles of the grant methods. GCP has no predefined role that deletes objects
#: without reading them: `grant_delete` gives `objectUser`, like `grant_read_write`.
ROLES = {
    "Read": "roles/storage.objectViewer",
    "Write": "roles/storage.objectCreator",
    "ReadWrite": "roles/storage.objectUser",
    "Delete": "roles/storage.objectUser",
}


def _rule(action: str, **condition: Any) -> StorageBucketLifecycleRule:
    return StorageBucketLifecycleRule(
        action=StorageBucketLifecycleRuleAction(type=action),
        condition=StorageBucketLifecycleRuleCondition(**condition),
    )


def data_lifecycle(
    retention_days: int, noncurrent_version_days: int, expire_prefix: str | None
) -> list[StorageBucketLifecycleRule]:
    """Expire samples (or the whole bucket), then their old versions; abort stale uploads."""
    expire = {"matches_prefix": [expire_prefix]} if expire_prefix else {}
    return [
        _rule("Delete", age=retention_days, with_state="LIVE", **expire),
        _rule("Delete", days_since_noncurrent_time=noncurrent_version_days, with_state="ARCHIVED"),
        _rule("AbortIncompleteMultipartUpload", age=7),
    ]


def storage_bucket(
    scope: Construct,
    id: str,
    *,
    spec: PlatformSpec,
    where: Placement,
    name: str,
    removal_policy: RemovalPolicy,
    lifecycle_rules: list[StorageBucketLifecycleRule],
    versioned: bool = True,
    kms_key: Any = None,
    log_bucket: StorageBucket | None = None,
    depends_on: list[Any] | None = None,
    props: Mapping[str, Any] | None = None,
    owner: Construct | None = None,
) -> StorageBucket:
    """A `StorageBucket` with the settings every bucket of the platform shares; `props`
    replace defaults (each replaced secure default is said out loud on `owner`)."""
    defaults = {
        "uniform_bucket_level_access": True,
        "public_access_prevention": "enforced",
        "versioning": StorageBucketVersioning(enabled=versioned),
        "storage_class": "STANDARD",
        "lifecycle_rule": lifecycle_rules,
        "force_destroy": removal_policy is RemovalPolicy.DESTROY,
        "labels": gcp_labels(spec),
    }
    values = merged(owner or scope, defaults, props, SECURE_BUCKET,
                    fixed=("name", "project", "location", "encryption", "logging"),
                    argument="bucket_props")
    return StorageBucket(
        scope, id,
        name=name,
        project=where.project,
        location=where.region.upper(),
        encryption=StorageBucketEncryption(default_kms_key_name=key_id(kms_key))
        if kms_key is not None else None,
        logging=StorageBucketLogging(log_bucket=log_bucket.name, log_object_prefix=name)
        if log_bucket is not None else None,
        depends_on=depends_on,
        **values,
    )


class _BucketGrants:
    """Grant methods shared by `SecureBucket` and its imported form. Every grant is
    conditioned to `<purpose>/` objects (and listing the bucket)."""

    bucket_name: str
    purpose: str

    def grant_read(self, grantee: Any) -> StorageBucketIamMember:
        """Let `grantee` list the bucket and read objects under `<purpose>/`."""
        return self._grant(grantee, "Read")

    def grant_write(self, grantee: Any) -> StorageBucketIamMember:
        """Let `grantee` create objects under `<purpose>/` (`objectCreator`: no reading,
        no overwriting)."""
        return self._grant(grantee, "Write")

    def grant_read_write(self, grantee: Any) -> StorageBucketIamMember:
        """Let `grantee` list the bucket and read, write and delete objects under
        `<purpose>/` (`roles/storage.objectUser`: no IAM or bucket administration)."""
        return self._grant(grantee, "ReadWrite")

    def grant_delete(self, grantee: Any) -> StorageBucketIamMember:
        """Let `grantee` delete objects under `<purpose>/`. GCP has no predefined role that
        deletes without reading, so this is `roles/storage.objectUser` (as read-write)."""
        return self._grant(grantee, "Delete")

    def _grant(self, grantee: Any, kind: str) -> StorageBucketIamMember:
        bucket_name, purpose = self.bucket_name, self.purpose

        def make(scope: Construct, construct_id: str, member: str) -> StorageBucketIamMember:
            return StorageBucketIamMember(
                scope, construct_id,
                bucket=bucket_name,
                role=ROLES[kind],
                member=member,
                condition=StorageBucketIamMemberCondition(
                    title=f"only-{purpose}-prefix",
                    description=f"Objects under {purpose}/ of this bucket (and listing it)",
                    expression=object_prefix_condition(bucket_name, purpose),
                ),
            )

        return grant(self, grantee, f"Bucket{kind}", make)  # type: ignore[arg-type]


def _check_purpose(purpose: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,40}", purpose):
        raise ValueError(f"purpose: {purpose!r} must be a short lowercase prefix like 'data'")
    return purpose


class ImportedBucket(Construct, _BucketGrants):
    """An existing bucket brought in with `SecureBucket.from_bucket_name`: nothing is
    created; grants and the storage URL work as on a `SecureBucket`."""

    def __init__(self, scope: Construct, id: str, *, bucket_name: str, purpose: str,
                 encryption_key: Any = None) -> None:
        super().__init__(scope, id)
        self.bucket = None
        self.bucket_name = bucket_name
        self.purpose = _check_purpose(purpose)
        self.storage_url = f"gs://{bucket_name}/{purpose}"
        self.encryption_key = encryption_key
        self.access_log_bucket = None


class SecureBucket(Construct, _BucketGrants):
    """A private, versioned, logged and (by default) CMEK-encrypted GCS bucket.

    Public attributes: `bucket` (`StorageBucket`), `bucket_name`, `storage_url`
    (`gs://<bucket>/<purpose>`), `encryption_key` (the key: `CustomerManagedKey`,
    `KmsCryptoKey` or key id string; None with Google-managed encryption), `key`
    (`CustomerManagedKey` or None, when this construct made the key), `access_log_bucket`
    (`StorageBucket` or None), `key_grant` (the Cloud Storage agent's
    `KmsCryptoKeyIamMember` or None), `log_writer_grant`, `placement`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        purpose: str = "data",
        encryption_key: CustomerManagedKey | KmsCryptoKey | str | None = None,
        versioned: bool = True,
        access_logs: bool | None = None,
        retention_days: int | None = None,
        removal_policy: RemovalPolicy | str | None = None,
        physical_names: PhysicalNames | str | None = None,
        bucket_name: str | None = None,
        bucket_props: Mapping[str, Any] | None = None,
    ) -> None:
        """Arguments (all keyword-only):

        spec: the platform spec; labels and the defaults below come from it; project and
            region from it or the stack's google provider.
        purpose: what the bucket holds: the storage URL's prefix (`gs://<bucket>/<purpose>`)
            and the prefix grants are limited to. Default: 'data'.
        encryption_key: a Cloud KMS key (`CustomerManagedKey`, `KmsCryptoKey` or key id) to
            encrypt objects with. Default: a new key ring and key (90-day rotation) when
            `storage.encryption` is 'customer_managed', else Google-managed encryption.
        versioned: keep old object versions. Default: on. Turning it off warns.
        access_logs: write usage logs to a separate log bucket. Default:
            `storage.access_logs` (on). Turning it off here warns.
        retention_days: days generated samples (`<purpose>/samples/`) are kept. Default:
            `storage.retention_days`. Old versions are kept `noncurrent_version_days`.
        removal_policy: RETAIN (destroy fails while objects remain; the key is kept) or
            DESTROY (`force_destroy`: objects and versions go with the bucket). Default:
            the spec's `removal_policy`.
        physical_names: GENERATED (default: unique per construct path and project) or
            FROM_SPEC (`gcp_names(spec).data_bucket`).
        bucket_name: an explicit physical name (its log bucket: `<name>-logs`).
        bucket_props: `StorageBucket` arguments merged over the defaults; replacing a
            secure default (uniform access, public access prevention, versioning) warns.
        """
        super().__init__(scope, id)
        self.spec = spec
        self.purpose = _check_purpose(purpose)
        self.placement = where = placement(self, spec)
        removal = RemovalPolicy.resolve(removal_policy, spec)
        naming = PhysicalNames.resolve(physical_names)
        if not versioned:
            say_override(self, "versioned=False", "versioning on")
        if access_logs is False and spec.storage.access_logs:
            say_override(self, "access_logs=False", "access logs on")
        access_logs = spec.storage.access_logs if access_logs is None else access_logs
        retention_days = spec.storage.retention_days if retention_days is None else retention_days
        if retention_days < 1:
            raise ValueError(f"retention_days: {retention_days} must be at least 1")
        names = gcp_names(spec, project=where.project, region=where.region)
        apis = enable_apis(self, where, required_apis("bucket"))

        self.key: CustomerManagedKey | None = None
        if encryption_key is None and spec.storage.encryption == "customer_managed":
            self.key = CustomerManagedKey(self, "Key", spec=spec, where=where,
                                          removal_policy=removal, physical_names=naming)
            encryption_key = self.key
        self.encryption_key = encryption_key
        self.key_grant = None
        depends: list[Any] = list(apis)
        if encryption_key is not None:
            # The bucket's default key is used by the Cloud Storage agent, which must be
            # allowed to use it before the bucket exists.
            self.key_grant = agent_key_grant(self, where, encryption_key,
                                             "storage.googleapis.com")
            depends.append(self.key_grant)

        name = physical_name(self, "bucket", where, part="Bucket", given=bucket_name,
                             from_spec=names.data_bucket, names=naming)
        self.access_log_bucket: StorageBucket | None = None
        self.log_writer_grant: StorageBucketIamMember | None = None
        if access_logs:
            log_name = physical_name(self, "bucket", where, part="AccessLogs",
                                     given=f"{bucket_name[:58]}-logs" if bucket_name else None,
                                     from_spec=names.access_log_bucket, names=naming)
            self.access_log_bucket = storage_bucket(
                self, "AccessLogBucket",
                spec=spec, where=where, name=log_name, removal_policy=removal,
                lifecycle_rules=data_lifecycle(spec.monitoring.log_retention_days, 1, None),
                kms_key=encryption_key, depends_on=depends,
            )
            self.log_writer_grant = StorageBucketIamMember(
                self, "LogWriterGrant",
                bucket=self.access_log_bucket.name,
                role="roles/storage.objectCreator",
                member=LOG_WRITER,
            )

        self.bucket = storage_bucket(
            self, "Bucket",
            spec=spec, where=where, name=name, removal_policy=removal,
            lifecycle_rules=data_lifecycle(retention_days, spec.storage.noncurrent_version_days,
                                           samples_prefix(purpose)),
            versioned=versioned, kms_key=encryption_key, log_bucket=self.access_log_bucket,
            depends_on=depends + ([self.log_writer_grant] if self.log_writer_grant else []),
            props=bucket_props, owner=self,
        )
        self.bucket_name: str = self.bucket.name
        self.storage_url: str = f"gs://{self.bucket.name}/{purpose}"

    @classmethod
    def from_bucket_name(cls, scope: Construct, id: str, bucket_name: str, *,
                         spec: PlatformSpec, purpose: str = "data",
                         encryption_key: Any = None) -> ImportedBucket:
        """An existing bucket as the platform's bucket: nothing is created, grants work
        (conditioned to `<purpose>/`). `encryption_key` only records the bucket's key; the
        bucket's own settings stay as they are. `spec` is taken for the interface's sake
        (every cloud's importer has the same signature)."""
        del spec
        return ImportedBucket(scope, id, bucket_name=bucket_name, purpose=purpose,
                              encryption_key=encryption_key)
