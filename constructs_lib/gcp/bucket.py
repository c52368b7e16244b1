"""`SecureBucket` on GCP: a Cloud Storage bucket for datasets, models and samples.

Secure by default: uniform bucket-level access (no object ACLs), public access prevention
enforced, versioning, lifecycle rules from the spec (samples expire, old versions expire,
stale multipart uploads are aborted), access logs written to a separate log bucket, a
customer-managed Cloud KMS key when the spec asks for one, and the spec's labels.
"""

from __future__ import annotations

import re
from typing import Any

from cdktn_provider_google.data_google_storage_project_service_account import (
    DataGoogleStorageProjectServiceAccount,
)
from cdktn_provider_google.kms_crypto_key import KmsCryptoKey
from cdktn_provider_google.kms_crypto_key_iam_member import KmsCryptoKeyIamMember
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
from .apis import enable_apis
from .defaults import (
    bucket_location,
    check_choice,
    force_destroy,
    grantee_member,
    object_prefix_condition,
    required_apis,
    samples_prefix,
    warn_weakened,
)
from .key import CustomerManagedKey, grant_encrypt_decrypt

__all__ = ["SecureBucket", "secure_bucket"]

#: Group that writes GCS usage and storage logs into a log bucket (Google's documented
#: principal; with uniform bucket-level access it needs an IAM grant, not an ACL).
LOG_WRITER = "group:cloud-storage-analytics@google.com"


def secure_bucket(
    scope: Construct,
    id: str,
    *,
    spec: PlatformSpec,
    name: str,
    removal_policy: str,
    lifecycle_rules: list[StorageBucketLifecycleRule],
    versioned: bool = True,
    kms_key_id: str | None = None,
    log_bucket: StorageBucket | None = None,
    depends_on: list[Any] | None = None,
) -> StorageBucket:
    """A `StorageBucket` with the settings every bucket of the platform shares."""
    return StorageBucket(
        scope, id,
        name=name,
        project=spec.gcp.project,
        location=bucket_location(spec),
        storage_class="STANDARD",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning=StorageBucketVersioning(enabled=versioned),
        lifecycle_rule=lifecycle_rules,
        encryption=StorageBucketEncryption(default_kms_key_name=kms_key_id) if kms_key_id else None,
        logging=StorageBucketLogging(log_bucket=log_bucket.name, log_object_prefix=name)
        if log_bucket is not None else None,
        force_destroy=force_destroy(removal_policy),
        labels=gcp_labels(spec),
        depends_on=depends_on,
    )


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


class SecureBucket(Construct):
    """A private, versioned, logged and (by default) CMEK-encrypted GCS bucket.

    Public attributes: `bucket` (`StorageBucket`), `bucket_name`, `storage_url`
    (`gs://<bucket>/data`), `encryption_key` (`KmsCryptoKey` or None), `key`
    (`CustomerManagedKey` or None, when this construct made the key), `access_log_bucket`
    (`StorageBucket` or None), `storage_agent` (the project's GCS service agent, a data
    source), `key_grant` (the agent's `KmsCryptoKeyIamMember` or None), `log_writer_grant`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        purpose: str = "data",
        encryption_key: KmsCryptoKey | None = None,
        versioned: bool = True,
        access_logs: bool | None = None,
        retention_days: int | None = None,
        removal_policy: str | None = None,
        bucket_name: str | None = None,
    ) -> None:
        """Arguments (all keyword-only):

        spec: the platform spec; names, labels, region and the defaults below come from it.
        purpose: what the bucket holds: the storage URL's prefix (`gs://<bucket>/<purpose>`)
            and the prefix grants are limited to. Default: 'data'.
        encryption_key: a Cloud KMS key to encrypt objects with. Default: a new key ring and
            key (90-day rotation) when `spec.storage.encryption == 'customer_managed'`,
            else Google-managed encryption.
        versioned: keep old object versions. Default: on. Turning it off warns.
        access_logs: write usage logs to a separate log bucket. Default:
            `spec.storage.access_logs` (on). Turning it off here warns.
        retention_days: days generated samples (`<purpose>/samples/`) are kept. Default:
            `spec.storage.retention_days`. Old versions are kept
            `spec.storage.noncurrent_version_days`.
        removal_policy: 'retain' (destroy fails while objects remain; the key is kept) or
            'destroy' (`force_destroy`). Default: `spec.removal_policy`.
        bucket_name: physical name. Default: `gcp_names(spec).data_bucket` (its log bucket
            `gcp_names(spec).access_log_bucket`).
        """
        super().__init__(scope, id)
        removal_policy = check_choice(
            removal_policy or spec.removal_policy, ("retain", "destroy"), argument="removal_policy"
        )
        if not versioned:
            warn_weakened("SecureBucket", "versioning on", "versioned=False")
        if access_logs is False and spec.storage.access_logs:
            warn_weakened("SecureBucket", "access logs on", "access_logs=False")
        access_logs = spec.storage.access_logs if access_logs is None else access_logs
        retention_days = spec.storage.retention_days if retention_days is None else retention_days
        if retention_days < 1:
            raise ValueError(f"retention_days: {retention_days} must be at least 1")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,40}", purpose):
            raise ValueError(f"purpose: {purpose!r} must be a short lowercase prefix like 'data'")
        names = gcp_names(spec)
        project = spec.gcp.project
        self.spec = spec
        self.purpose = purpose
        self._grants = 0
        apis = enable_apis(self, project, required_apis(spec, "bucket"))

        self.key: CustomerManagedKey | None = None
        if encryption_key is None and spec.storage.encryption == "customer_managed":
            self.key = CustomerManagedKey(
                self, "Key", spec=spec, key_ring_name=names.key_ring,
                key_name=names.crypto_key, removal_policy=removal_policy,
            )
            encryption_key = self.key.crypto_key
        self.encryption_key: KmsCryptoKey | None = encryption_key
        self.storage_agent = DataGoogleStorageProjectServiceAccount(
            self, "StorageAgent", project=project, depends_on=apis,
        )
        self.key_grant: KmsCryptoKeyIamMember | None = None
        depends = list(apis)
        if encryption_key is not None:
            # The bucket's default key is used by the GCS service agent, which must be
            # allowed to use it before the bucket exists.
            self.key_grant = grant_encrypt_decrypt(
                self, "StorageAgentKeyGrant", encryption_key,
                f"serviceAccount:{self.storage_agent.email_address}",
            )
            depends.append(self.key_grant)
        key_id = encryption_key.id if encryption_key is not None else None

        self.access_log_bucket: StorageBucket | None = None
        self.log_writer_grant: StorageBucketIamMember | None = None
        if access_logs:
            self.access_log_bucket = secure_bucket(
                self, "AccessLogBucket",
                spec=spec,
                name=f"{bucket_name[:58]}-logs" if bucket_name else names.access_log_bucket,
                removal_policy=removal_policy,
                lifecycle_rules=data_lifecycle(spec.monitoring.log_retention_days, 1, None),
                kms_key_id=key_id,
                depends_on=depends,
            )
            self.log_writer_grant = StorageBucketIamMember(
                self, "LogWriterGrant",
                bucket=self.access_log_bucket.name,
                role="roles/storage.objectCreator",
                member=LOG_WRITER,
            )

        self.bucket = secure_bucket(
            self, "Bucket",
            spec=spec,
            name=bucket_name or names.data_bucket,
            removal_policy=removal_policy,
            lifecycle_rules=data_lifecycle(retention_days, spec.storage.noncurrent_version_days,
                                           samples_prefix(purpose)),
            versioned=versioned,
            kms_key_id=key_id,
            log_bucket=self.access_log_bucket,
            depends_on=depends + ([self.log_writer_grant] if self.log_writer_grant else []),
        )
        self._physical_name = bucket_name or names.data_bucket
        self.bucket_name: str = self.bucket.name
        self.storage_url: str = f"gs://{self.bucket.name}/{purpose}"

    def grant_read(self, grantee: Any) -> StorageBucketIamMember:
        """Let `grantee` (member string, e-mail or `ServiceAccount`) list the bucket and
        read objects under `<purpose>/`."""
        return self._grant(grantee, "roles/storage.objectViewer", "Read")

    def grant_read_write(self, grantee: Any) -> StorageBucketIamMember:
        """Let `grantee` list the bucket and read, write and delete objects under
        `<purpose>/` (`roles/storage.objectUser`: no IAM or bucket administration)."""
        return self._grant(grantee, "roles/storage.objectUser", "ReadWrite")

    def _grant(self, grantee: Any, role: str, kind: str) -> StorageBucketIamMember:
        member, key = grantee_member(grantee)
        if key is None:
            self._grants += 1
            key = str(self._grants)
        return StorageBucketIamMember(
            self, f"{kind}Grant-{key}",
            bucket=self.bucket.name,
            role=role,
            member=member,
            condition=StorageBucketIamMemberCondition(
                title=f"only-{self.purpose}-prefix",
                description=f"Objects under {self.purpose}/ of this bucket (and listing it)",
                expression=object_prefix_condition(self._physical_name, self.purpose),
            ),
        )

