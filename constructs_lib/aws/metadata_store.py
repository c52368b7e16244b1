"""`MetadataStore` on DynamoDB: datasets, models, jobs, keys and the audit log."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ..naming import aws_names
from ..spec import PlatformSpec
from .defaults import removal_policy as default_removal_policy
from .defaults import skip_unless_customer_managed, warn_override
from .key import platform_key

__all__ = ["MetadataStore"]

# What the service's DynamoDB backend uses (items and transactions; never Scan).
_READ_WRITE = [
    "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
    "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable",
]


class MetadataStore(Construct):
    """One DynamoDB table (single-table design: `pk` / `sk` keys, `expires_at` TTL).

    Attributes: `table` (the `dynamodb.Table`), `store_name` / `table_name`, `table_arn`,
    `metadata_url` (`dynamodb://<table>`), `encryption_key`.
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
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        """
        :param spec: the platform spec.
        :param encryption_key: KMS key for the table. Default: a new rotating key when the
            spec asks for customer-managed encryption, else DynamoDB's AWS-owned key.
        :param point_in_time_recovery: continuous backups for 35 days. Default: on.
        :param deletion_protection: refuse `DeleteTable`. Default: on in prod, off elsewhere.
        :param removal_policy: Default: from the spec's `removal_policy` (retain).
        """
        super().__init__(scope, id)
        if not point_in_time_recovery:
            warn_override(self, "point_in_time_recovery=False", "point-in-time recovery on")
        if deletion_protection is None:
            deletion_protection = spec.is_production
        elif not deletion_protection and spec.is_production:
            warn_override(self, "deletion_protection=False", "deletion protection on in prod")
        if encryption_key is None and spec.storage.encryption == "customer_managed":
            encryption_key = platform_key(self, "Key", spec)
        self.encryption_key: kms.IKey | None = encryption_key

        self.table = dynamodb.Table(
            self, "Table",
            table_name=aws_names(spec).metadata_table,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED if encryption_key
            else dynamodb.TableEncryption.AWS_MANAGED,
            encryption_key=encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=point_in_time_recovery,
            ),
            deletion_protection=deletion_protection,
            time_to_live_attribute="expires_at",
            removal_policy=removal_policy or default_removal_policy(spec),
        )
        skip_unless_customer_managed(encryption_key, {"CKV_AWS_119": self.table})
        self.table_name: str = self.table.table_name
        self.store_name: str = self.table.table_name
        self.table_arn: str = self.table.table_arn
        self.metadata_url: str = f"dynamodb://{self.table.table_name}"

    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Item reads and writes on this table only, plus the table key."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=_READ_WRITE,
            resource_arns=[self.table.table_arn],
        )
        if self.encryption_key is not None:
            iam.Grant.add_to_principal(
                grantee=grantee, actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
                                          "kms:DescribeKey"],
                resource_arns=[self.encryption_key.key_arn],
            )
        return grant
