"""`SecureBucket` on S3: the store for datasets, fitted models and generated samples."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ..naming import aws_names
from ..spec import PlatformSpec
from .defaults import (
    FEATURE_FLAGS,
    acknowledge,
    checkov_skip,
    lifecycle_rules,
    skip_unless_customer_managed,
    warn_override,
)
from .defaults import (
    removal_policy as default_removal_policy,
)
from .key import platform_key

__all__ = ["SecureBucket"]

_READ_OBJECT = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes"]
_WRITE_OBJECT = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                 "s3:ListMultipartUploadParts"]
_READ_BUCKET = ["s3:ListBucket", "s3:GetBucketLocation"]
_WRITE_BUCKET = ["s3:ListBucketMultipartUploads"]


class SecureBucket(Construct):
    """An S3 bucket that is private, encrypted, versioned, logged and expires old data.

    Attributes: `bucket` (the `s3.Bucket`), `bucket_name`, `bucket_arn`, `storage_url`
    (`s3://<bucket>/data?kms_key=<key arn>`, the runtime contract's storage URL),
    `encryption_key` (the KMS key, None with provider-managed encryption) and
    `access_log_bucket` (None without access logs). Grants are methods with explicit
    actions (no `s3:*`-style wildcards).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        purpose: str = "data",
        encryption_key: kms.IKey | None = None,
        versioned: bool = True,
        access_logs: bool | None = None,
        retention_days: int | None = None,
        removal_policy: RemovalPolicy | None = None,
        bucket_name: str | None = None,
    ) -> None:
        """
        :param spec: the platform spec; names, tags, retention and encryption derive from it.
        :param purpose: what the bucket holds; the storage URL's prefix. Default: "data".
        :param encryption_key: KMS key to encrypt with. Default: a new rotating key when the
            spec asks for customer-managed encryption, else S3-managed (SSE-S3) encryption.
        :param versioned: keep old object versions. Default: on.
        :param access_logs: write server access logs to a separate bucket. Default: the
            spec's `storage.access_logs` (on).
        :param retention_days: days samples are kept. Default: the spec's
            `storage.retention_days`.
        :param removal_policy: what deleting the stack does to the bucket. Default: from the
            spec's `removal_policy` (retain).
        :param bucket_name: physical name. Default: derived by `naming.aws_names`.
        """
        super().__init__(scope, id)
        for flag, value in FEATURE_FLAGS.items():
            self.node.set_context(flag, value)
        self.spec = spec
        names = aws_names(spec)
        # 'destroy' deletes the bucket with the stack only once it is empty: the
        # auto-delete custom resource would add a Lambda with broad S3 rights.
        policy = removal_policy or default_removal_policy(spec)
        if not versioned:
            warn_override(self, "versioned=False", "versioning on")
        if access_logs is None:
            access_logs = spec.storage.access_logs
        elif not access_logs:
            warn_override(self, "access_logs=False", "server access logs on")
        retention = retention_days if retention_days is not None else spec.storage.retention_days

        if encryption_key is None and spec.storage.encryption == "customer_managed":
            encryption_key = platform_key(self, "Key", spec)
        self.encryption_key: kms.IKey | None = encryption_key

        self.access_log_bucket: s3.Bucket | None = None
        if access_logs:
            self.access_log_bucket = s3.Bucket(
                self, "AccessLogs",
                bucket_name=None if bucket_name else names.access_log_bucket,
                # Server access log delivery supports only SSE-S3 on the target bucket.
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                enforce_ssl=True,
                minimum_tls_version=1.2,
                versioned=True,
                lifecycle_rules=[
                    s3.LifecycleRule(id="expire-access-logs",
                                     expiration=Duration.days(max(retention, 90)),
                                     noncurrent_version_expiration=Duration.days(7)),
                ],
                removal_policy=policy,
                auto_delete_objects=False,
            )
            acknowledge(self.access_log_bucket, "AwsSolutions-S1",
                        "This is the access-log bucket itself; logging it to another bucket "
                        "would only move the question one bucket further.")
            checkov_skip(self.access_log_bucket, "CKV_AWS_18",
                         "Access-log bucket: its own access logs would recurse.")
            checkov_skip(self.access_log_bucket, "CKV_AWS_145",
                         "S3 server access log delivery only supports SSE-S3 on the target.")

        self.bucket = s3.Bucket(
            self, "Bucket",
            bucket_name=bucket_name or names.data_bucket,
            encryption=(s3.BucketEncryption.KMS if encryption_key
                        else s3.BucketEncryption.S3_MANAGED),
            encryption_key=encryption_key,
            bucket_key_enabled=bool(encryption_key),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=versioned,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=f"{purpose}/" if self.access_log_bucket else None,
            lifecycle_rules=lifecycle_rules(retention, spec.storage.noncurrent_version_days),
            removal_policy=policy,
            auto_delete_objects=False,
        )
        skip_unless_customer_managed(encryption_key, {"CKV_AWS_145": self.bucket})
        self.purpose = purpose
        self.bucket_name: str = self.bucket.bucket_name
        self.bucket_arn: str = self.bucket.bucket_arn
        # The service sends SSE-KMS headers naming this key on every write.
        key_query = f"?kms_key={encryption_key.key_arn}" if encryption_key else ""
        self.storage_url: str = f"s3://{self.bucket.bucket_name}/{purpose}{key_query}"

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read objects (and list the bucket); decrypt with the bucket key."""
        return self._grant(grantee, _READ_OBJECT, _READ_BUCKET, ["kms:Decrypt"])

    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read, write and delete objects, including multipart uploads."""
        return self._grant(
            grantee, _READ_OBJECT + _WRITE_OBJECT, _READ_BUCKET + _WRITE_BUCKET,
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        )

    def _grant(self, grantee: iam.IGrantable, object_actions: list[str],
               bucket_actions: list[str], key_actions: list[str]) -> iam.Grant:
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=object_actions,
            resource_arns=[self.bucket.arn_for_objects(f"{self.purpose}/*")],
        )
        iam.Grant.add_to_principal(grantee=grantee, actions=bucket_actions,
                                   resource_arns=[self.bucket.bucket_arn])
        if self.encryption_key is not None:
            iam.Grant.add_to_principal(grantee=grantee, actions=key_actions,
                                       resource_arns=[self.encryption_key.key_arn])
        return grant

    @property
    def object_arn_pattern(self) -> str:
        """The resolved `<bucket arn>/<purpose>/*` string nag reports for object grants."""
        stack = Stack.of(self)
        logical = stack.resolve(stack.get_logical_id(self.bucket.node.default_child))
        return f"Resource::<{logical}.Arn>/{self.purpose}/*"
