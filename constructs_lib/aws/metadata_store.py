"""`MetadataStore` on DynamoDB: datasets, models, jobs, keys and the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .defaults import (
    cdk_removal_policy,
    grant,
    merge_overrides,
    skip_unless_customer_managed,
    spec_names,
    tag,
    warn_override,
)
from .key import platform_key

__all__ = ["STORE_SECURE_DEFAULTS", "MetadataStore", "MetadataStoreBase"]

# What the service's DynamoDB backend uses (items and transactions; never Scan).
_READ = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem",
         "dynamodb:DescribeTable"]
_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
_KMS_READ = ["kms:Decrypt", "kms:DescribeKey"]
_KMS_WRITE = ["kms:Encrypt", "kms:GenerateDataKey"]

#: The table's secure defaults (`store_props` keys): replacing one is said out loud.
STORE_SECURE_DEFAULTS = {
    "point_in_time_recovery_specification": "point-in-time recovery on",
    "encryption": "encrypted with the customer-managed key (or DynamoDB's own)",
    "deletion_protection": "deletion protection on in prod",
}
#: Set from the construct's own arguments or the service's data layout.
_STORE_FIXED = ("table_name", "encryption_key", "removal_policy", "partition_key",
                "sort_key", "time_to_live_attribute")


class MetadataStoreBase(Construct):
    """What every metadata store the platform can use offers: a created `MetadataStore` or
    one brought in with `MetadataStore.from_store_name` / `MetadataStore.from_table`.

    Attributes: `table` (a `dynamodb.ITable`), `store_name` = `table_name`, `table_arn`,
    `metadata_url` (`dynamodb://<table>`) and `encryption_key`. Grants add to the grantee's
    own policy (in the grantee's stack).
    """

    table: dynamodb.ITable
    encryption_key: kms.IKey | None

    def _expose(self, spec: PlatformSpec, table: dynamodb.ITable,
                key: kms.IKey | None) -> None:
        self.spec = spec
        self.table = table
        self.encryption_key = key
        self.table_name: str = table.table_name
        self.store_name: str = table.table_name
        self.table_arn: str = table.table_arn
        self.metadata_url: str = f"dynamodb://{table.table_name}"

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Item reads and queries on this table only, plus decrypting with its key."""
        return self._grant(grantee, _READ, _KMS_READ)

    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Item reads and writes (and the conditional / transactional writes built on them)
        on this table only, plus its key. What the service needs."""
        return self._grant(grantee, _READ + _WRITE, _KMS_READ + _KMS_WRITE)

    def _grant(self, grantee: iam.IGrantable, actions: list[str],
               key_actions: list[str]) -> iam.Grant:
        key = [self.encryption_key.key_arn] if self.encryption_key is not None else []
        return grant(grantee, (actions, [self.table_arn]), (key_actions, key))


class MetadataStore(MetadataStoreBase):
    """One DynamoDB table (single-table design: `pk` / `sk` keys, `expires_at` TTL).

        store = MetadataStore(stack, "Metadata", spec=spec)
        store.grant_read(my_role)

    Attributes (besides `MetadataStoreBase`'s): `table` (the `dynamodb.Table`). Tagged from
    the spec.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        encryption_key: kms.IKey | None = None,
        point_in_time_recovery: bool = True,
        deletion_protection: bool | None = None,
        removal_policy: RemovalPolicy | str | None = None,
        physical_names: PhysicalNames | str | None = None,
        store_name: str | None = None,
        store_props: Mapping[str, Any] | None = None,
    ) -> None:
        """
        :param spec: the platform spec.
        :param encryption_key: KMS key for the table. Default: a new rotating key when the
            spec asks for customer-managed encryption, else DynamoDB's AWS-owned key.
        :param point_in_time_recovery: continuous backups for 35 days. Default: on.
        :param deletion_protection: refuse `DeleteTable`. Default: on in prod, off elsewhere.
        :param removal_policy: Default: the spec's `removal_policy` (retain).
        :param physical_names: GENERATED (default): CloudFormation names the table;
            FROM_SPEC: `synth-<name>-<env>-metadata`.
        :param store_name: an explicit table name. Default: per `physical_names`.
        :param store_props: `dynamodb.Table` properties merged over the secure defaults;
            each secure default replaced is warned and annotated. Default: none.
        """
        super().__init__(scope, id)
        tag(self, spec)
        names = spec_names(self, spec, physical_names)
        policy = cdk_removal_policy(removal_policy, spec)
        if not point_in_time_recovery:
            warn_override(self, "point_in_time_recovery=False", "point-in-time recovery on")
        if deletion_protection is None:
            deletion_protection = spec.is_production
        elif not deletion_protection and spec.is_production:
            warn_override(self, "deletion_protection=False", "deletion protection on in prod")
        if encryption_key is None and spec.storage.encryption == "customer_managed":
            encryption_key = platform_key(
                self, "Key", spec, what="the metadata table",
                alias=f"{names.kms_alias}/metadata" if names else None, removal_policy=policy)

        defaults = dict(
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED if encryption_key
            else dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=point_in_time_recovery),
            deletion_protection=deletion_protection,
        )
        props = merge_overrides(self, "store_props", defaults, store_props,
                                STORE_SECURE_DEFAULTS, fixed=_STORE_FIXED)
        table = dynamodb.Table(
            self, "Table",
            table_name=store_name or (names.metadata_table if names else None),
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expires_at",
            encryption_key=encryption_key,
            removal_policy=policy,
            **props,
        )
        skip_unless_customer_managed(encryption_key, {"CKV_AWS_119": table})
        self._expose(spec, table, encryption_key)
        self.table: dynamodb.Table = table

    @classmethod
    def from_store_name(cls, scope: Construct, id: str, store_name: str, *,
                        spec: PlatformSpec,
                        encryption_key: kms.IKey | None = None) -> MetadataStoreBase:
        """An existing table, by name, as the platform's metadata store (nothing is
        created). It must have the service's layout: string keys `pk` and `sk`.

        :param encryption_key: the table's customer-managed key, if any (the grants cover
            it). Default: none.
        """
        construct = _ImportedStore(scope, id)
        table = dynamodb.Table.from_table_attributes(
            construct, "Table", table_name=store_name, encryption_key=encryption_key)
        construct._expose(spec, table, encryption_key)
        return construct

    @classmethod
    def from_table(cls, scope: Construct, id: str, table: dynamodb.ITable, *,
                   spec: PlatformSpec,
                   encryption_key: kms.IKey | None = None) -> MetadataStoreBase:
        """Any `dynamodb.ITable` with the service's layout as the platform's store.

        :param encryption_key: Default: the table's own `encryption_key`, if it has one.
        """
        construct = _ImportedStore(scope, id)
        construct._expose(spec, table, encryption_key or table.encryption_key)
        return construct


class _ImportedStore(MetadataStoreBase):
    """A table the platform uses but did not create."""
