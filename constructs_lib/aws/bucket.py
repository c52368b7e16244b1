"""`SecureBucket` on S3: the store for datasets, fitted models and generated samples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import RemovalPolicy as CdkRemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .defaults import (
    acknowledge,
    apply_feature_flags,
    cdk_removal_policy,
    checkov_skip,
    grant,
    lifecycle_rules,
    merge_overrides,
    skip_unless_customer_managed,
    spec_bucket_name,
    spec_names,
    tag,
    warn_override,
)
from .key import platform_key

__all__ = ["BUCKET_SECURE_DEFAULTS", "SecureBucket", "SecureBucketBase"]

_READ_OBJECT = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes"]
_READ_BUCKET = ["s3:ListBucket", "s3:GetBucketLocation"]
_WRITE_OBJECT = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
_WRITE_BUCKET = ["s3:ListBucketMultipartUploads"]
_DELETE_OBJECT = ["s3:DeleteObject"]
_KMS_READ = ["kms:Decrypt"]
# Completing a multipart upload under SSE-KMS decrypts the parts' data keys.
_KMS_WRITE = ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"]

#: The bucket's secure defaults (`bucket_props` keys): replacing one is said out loud.
BUCKET_SECURE_DEFAULTS = {
    "encryption": "encrypted at rest with the key (SSE-KMS), or SSE-S3 without one",
    "block_public_access": "all public access blocked",
    "object_ownership": "bucket owner enforced, ACLs disabled",
    "enforce_ssl": "a bucket policy denying plain HTTP",
    "minimum_tls_version": "TLS 1.2 or later only",
    "versioned": "versioning on",
    "server_access_logs_bucket": "server access logs to a separate bucket",
    "lifecycle_rules": "samples, old versions and unfinished uploads expire",
}
#: Set from the construct's own arguments; `bucket_props` may not name them.
_BUCKET_FIXED = ("bucket_name", "encryption_key", "removal_policy")


class SecureBucketBase(Construct):
    """What every bucket the platform can use offers: a created `SecureBucket` or one
    brought in with `SecureBucket.from_bucket_name` / `SecureBucket.from_bucket`.

    Attributes: `bucket` (an `s3.IBucket`), `bucket_name`, `bucket_arn`, `purpose` (the
    key prefix the service uses), `storage_url` (the runtime contract's
    `s3://<bucket>/<purpose>[?kms_key=<key arn>]`) and `encryption_key`. Grants are
    methods with explicit actions on the `purpose/` prefix (no `s3:*`-style wildcards);
    each adds its statements to the grantee's own policy, in the grantee's stack, so a
    consumer stack that grants itself access depends on this one and never the reverse.
    """

    bucket: s3.IBucket
    encryption_key: kms.IKey | None
    purpose: str

    def _expose(self, spec: PlatformSpec, bucket: s3.IBucket, key: kms.IKey | None,
                purpose: str) -> None:
        self.spec = spec
        self.bucket = bucket
        self.encryption_key = key
        self.purpose = purpose
        self.bucket_name: str = bucket.bucket_name
        self.bucket_arn: str = bucket.bucket_arn
        # The service sends SSE-KMS headers naming this key on every write.
        key_query = f"?kms_key={key.key_arn}" if key is not None else ""
        self.storage_url: str = f"s3://{bucket.bucket_name}/{purpose}{key_query}"

    @property
    def objects_arn(self) -> str:
        """`<bucket arn>/<purpose>/*`: the objects the grants cover."""
        return self.bucket.arn_for_objects(f"{self.purpose}/*")

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read objects under the prefix (and list the bucket); decrypt with the key."""
        return self._grant(grantee, _READ_OBJECT, _READ_BUCKET, _KMS_READ)

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Write objects under the prefix, including multipart uploads; no reads, no deletes."""
        return self._grant(grantee, _WRITE_OBJECT, _WRITE_BUCKET, _KMS_WRITE)

    def grant_delete(self, grantee: iam.IGrantable) -> iam.Grant:
        """Delete objects under the prefix (versioning keeps the old versions)."""
        return self._grant(grantee, _DELETE_OBJECT, [], [])

    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read, write and delete objects under the prefix: what the service needs."""
        return self._grant(
            grantee, _READ_OBJECT + _WRITE_OBJECT + _DELETE_OBJECT,
            _READ_BUCKET + _WRITE_BUCKET, sorted(set(_KMS_READ + _KMS_WRITE)),
        )

    def _grant(self, grantee: iam.IGrantable, object_actions: list[str],
               bucket_actions: list[str], key_actions: list[str]) -> iam.Grant:
        key = [self.encryption_key.key_arn] if self.encryption_key is not None else []
        return grant(grantee, (object_actions, [self.objects_arn]),
                     (bucket_actions, [self.bucket_arn]), (key_actions, key))


class SecureBucket(SecureBucketBase):
    """An S3 bucket that is private, encrypted, versioned, logged and expires old data.

        bucket = SecureBucket(stack, "Data", spec=spec)
        bucket.grant_read(my_role)

    Attributes (besides `SecureBucketBase`'s): `bucket` (the `s3.Bucket`) and
    `access_log_bucket` (None without access logs). Tagged from the spec.
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
        removal_policy: RemovalPolicy | str | None = None,
        physical_names: PhysicalNames | str | None = None,
        bucket_name: str | None = None,
        bucket_props: Mapping[str, Any] | None = None,
    ) -> None:
        """
        :param spec: the platform spec; tags, retention and encryption derive from it.
        :param purpose: what the bucket holds: the key prefix the service and the grants
            use, and part of spec-derived names. Default: "data".
        :param encryption_key: KMS key to encrypt with. Default: a new rotating key when the
            spec asks for customer-managed encryption, else S3-managed (SSE-S3) encryption.
        :param versioned: keep old object versions. Default: on.
        :param access_logs: write server access logs to a separate bucket. Default: the
            spec's `storage.access_logs` (on).
        :param retention_days: days samples are kept. Default: the spec's
            `storage.retention_days`.
        :param removal_policy: what deleting the stack does to the bucket (and its log
            bucket and key). Default: the spec's `removal_policy` (retain). With DESTROY the
            buckets are emptied of every object version first, so they delete cleanly.
        :param physical_names: GENERATED (default): CloudFormation names the buckets;
            FROM_SPEC: `synth-<name>-<env>-<purpose>-...` with the account in it.
        :param bucket_name: an explicit physical name for the data bucket. Default: per
            `physical_names`.
        :param bucket_props: `s3.Bucket` properties merged over the secure defaults; each
            secure default replaced is warned and annotated. Default: none.
        """
        super().__init__(scope, id)
        apply_feature_flags(self)
        tag(self, spec)
        names = spec_names(self, spec, physical_names)
        policy = cdk_removal_policy(removal_policy, spec)
        destroy = policy == CdkRemovalPolicy.DESTROY
        if not versioned:
            warn_override(self, "versioned=False", "versioning on")
        if access_logs is None:
            access_logs = spec.storage.access_logs
        elif not access_logs:
            warn_override(self, "access_logs=False", "server access logs on")
        retention = retention_days if retention_days is not None else spec.storage.retention_days

        if encryption_key is None and spec.storage.encryption == "customer_managed":
            encryption_key = platform_key(
                self, "Key", spec, what=f"the {purpose} bucket",
                alias=f"{names.kms_alias}/{purpose}-bucket" if names else None,
                removal_policy=policy)

        self.access_log_bucket: s3.Bucket | None = None
        if access_logs:
            self.access_log_bucket = s3.Bucket(
                self, "AccessLogs",
                bucket_name=spec_bucket_name(self, spec, f"{purpose}-logs") if names else None,
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
                auto_delete_objects=destroy,
            )
            acknowledge(self.access_log_bucket, "AwsSolutions-S1",
                        "This is the access-log bucket itself; logging it to another bucket "
                        "would only move the question one bucket further.")
            checkov_skip(self.access_log_bucket, "CKV_AWS_18",
                         "Access-log bucket: its own access logs would recurse.")
            checkov_skip(self.access_log_bucket, "CKV_AWS_145",
                         "S3 server access log delivery only supports SSE-S3 on the target.")

        defaults = dict(
            encryption=(s3.BucketEncryption.KMS if encryption_key
                        else s3.BucketEncryption.S3_MANAGED),
            bucket_key_enabled=bool(encryption_key),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=versioned,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=f"{purpose}/" if self.access_log_bucket else None,
            lifecycle_rules=lifecycle_rules(purpose, retention,
                                            spec.storage.noncurrent_version_days),
            # A versioned bucket deletes only once every version is gone: CDK's
            # auto-delete custom resource empties it when the stack is destroyed.
            auto_delete_objects=destroy,
        )
        props = merge_overrides(self, "bucket_props", defaults, bucket_props,
                                BUCKET_SECURE_DEFAULTS, fixed=_BUCKET_FIXED)
        bucket = s3.Bucket(
            self, "Bucket",
            bucket_name=bucket_name or (spec_bucket_name(self, spec, purpose) if names else None),
            encryption_key=encryption_key,
            removal_policy=policy,
            **props,
        )
        skip_unless_customer_managed(encryption_key, {"CKV_AWS_145": bucket})
        if destroy:
            _acknowledge_auto_delete_provider(self)
        self._expose(spec, bucket, encryption_key, purpose)
        self.bucket: s3.Bucket = bucket

    @classmethod
    def from_bucket_name(cls, scope: Construct, id: str, bucket_name: str, *,
                         spec: PlatformSpec, purpose: str = "data",
                         encryption_key: kms.IKey | None = None) -> SecureBucketBase:
        """An existing bucket, by name, as the platform's bucket (nothing is created).

        :param encryption_key: the bucket's KMS key, if it encrypts with one: the service
            names it on writes and the grants cover it. Default: none (SSE-S3).
        """
        construct = _ImportedBucket(scope, id)
        bucket = s3.Bucket.from_bucket_name(construct, "Bucket", bucket_name)
        construct._expose(spec, bucket, encryption_key, purpose)
        return construct

    @classmethod
    def from_bucket(cls, scope: Construct, id: str, bucket: s3.IBucket, *,
                    spec: PlatformSpec, purpose: str = "data",
                    encryption_key: kms.IKey | None = None) -> SecureBucketBase:
        """Any `s3.IBucket` (one of your own stack's, or imported) as the platform's bucket.

        :param encryption_key: Default: the bucket's own `encryption_key`, if it has one.
        """
        construct = _ImportedBucket(scope, id)
        construct._expose(spec, bucket, encryption_key or bucket.encryption_key, purpose)
        return construct


class _ImportedBucket(SecureBucketBase):
    """A bucket the platform uses but did not create."""


_AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"


def _acknowledge_auto_delete_provider(scope: Construct) -> None:
    """CDK's stack-wide auto-delete provider (a Lambda that empties buckets on delete):
    record why its CDK-made role and function pass, on the provider itself."""
    provider = Stack.of(scope).node.try_find_child(_AUTO_DELETE_PROVIDER)
    if provider is None:
        return
    acknowledge(provider, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "service-role/AWSLambdaBasicExecutionRole]",
                "CDK's auto-delete provider logs with the basic execution role; its S3 "
                "rights come from each bucket's own policy, for that bucket only.")
    handler = provider.node.try_find_child("Handler")
    if handler is not None:
        for check, reason in (
            ("CKV_AWS_115", "Runs only when CloudFormation deletes a bucket of this stack."),
            ("CKV_AWS_116", "Invoked synchronously by CloudFormation, which reports failures."),
            ("CKV_AWS_117", "Reaches only the S3 API; no private network to join."),
            ("CKV_AWS_173", "Has no environment variables."),
        ):
            checkov_skip(handler, check, f"CDK's auto-delete provider: {reason}")
