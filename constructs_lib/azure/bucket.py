"""`SecureBucket` on Azure: a storage account with one private blob container.

Secure by default: HTTPS only, TLS 1.2 minimum, no public blob access, shared-key access
off (Entra ID only: SAS links are user-delegation SAS), OAuth by default in the portal,
infrastructure (double) encryption, no cross-tenant replication, no local users / SFTP,
geo-zone-redundant replication (read access in prod), versioning, blob and container soft
delete (7 days), a lifecycle policy from the spec (samples under `<purpose>/samples/`
expire after `storage.retention_days`, old versions after `storage.noncurrent_version_days`),
blob and queue access logs (read / write / delete) to Log Analytics, a customer-managed
Key Vault key when the spec asks for one, and the spec's tags. With `network.vpc`, public
network access is off and private endpoints serve the account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cdktn_provider_azurerm.key_vault_key import KeyVaultKey
from cdktn_provider_azurerm.log_analytics_workspace import LogAnalyticsWorkspace
from cdktn_provider_azurerm.monitor_diagnostic_setting import (
    MonitorDiagnosticSetting,
    MonitorDiagnosticSettingEnabledLog,
)
from cdktn_provider_azurerm.storage_account import (
    StorageAccount,
    StorageAccountBlobProperties,
    StorageAccountBlobPropertiesContainerDeleteRetentionPolicy,
    StorageAccountBlobPropertiesDeleteRetentionPolicy,
    StorageAccountCustomerManagedKey,
    StorageAccountIdentity,
    StorageAccountNetworkRules,
)
from cdktn_provider_azurerm.storage_container import StorageContainer
from cdktn_provider_azurerm.storage_management_policy import (
    StorageManagementPolicy,
    StorageManagementPolicyRule,
    StorageManagementPolicyRuleActions,
    StorageManagementPolicyRuleActionsBaseBlob,
    StorageManagementPolicyRuleActionsVersion,
    StorageManagementPolicyRuleFilters,
)
from constructs import Construct

from ..naming import azure_names, azure_tags
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .base import Group, grant_role, lifecycle, merged, physical_name, resolve_group, say_override
from .defaults import ROLES
from .key import Encryption

__all__ = ["SecureBucket", "log_workspace", "secure_account"]

SECURE_ACCOUNT = {
    "https_traffic_only_enabled": "HTTPS only",
    "min_tls_version": "TLS 1.2 minimum",
    "allow_nested_items_to_be_public": "no public blob access",
    "shared_access_key_enabled": "shared-key access off (Entra ID only)",
    "infrastructure_encryption_enabled": "infrastructure encryption",
    "public_network_access_enabled": "no public network access with network.vpc",
    "cross_tenant_replication_enabled": "no cross-tenant replication",
    "local_user_enabled": "no local users",
    "sftp_enabled": "no SFTP",
    "default_to_oauth_authentication": "Entra ID by default",
    "account_replication_type": "geo-zone-redundant replication",
}
_FIXED = ("name", "resource_group_name", "location", "identity", "customer_managed_key",
          "blob_properties", "tags", "lifecycle")


def log_workspace(scope: Construct, spec: PlatformSpec, group: Group) -> LogAnalyticsWorkspace:
    """A Log Analytics workspace keeping logs `monitoring.log_retention_days`."""
    return LogAnalyticsWorkspace(
        scope, "Logs",
        name=physical_name(scope, "Logs", max_len=63, prefix="log-"),
        location=group.location, resource_group_name=group.name,
        sku="PerGB2018", retention_in_days=spec.monitoring.log_retention_days,
        local_authentication_enabled=False,
        tags=azure_tags(spec),
    )


def secure_account(scope: Construct, id: str, *, spec: PlatformSpec, group: Group, name: str,
                   removal_policy: RemovalPolicy, private: bool, versioned: bool = True,
                   props: Mapping[str, Any] | None = None, argument: str = "bucket_props",
                   **settings: Any) -> StorageAccount:
    """A `StorageAccount` with the settings every account of the platform shares."""
    defaults = {
        "account_tier": "Standard",
        "account_kind": "StorageV2",
        "account_replication_type": "RAGZRS" if spec.is_production else "GZRS",
        "access_tier": "Hot",
        "https_traffic_only_enabled": True,
        "min_tls_version": "TLS1_2",
        "allow_nested_items_to_be_public": False,
        "shared_access_key_enabled": False,
        "default_to_oauth_authentication": True,
        "infrastructure_encryption_enabled": True,
        "cross_tenant_replication_enabled": False,
        "local_user_enabled": False,
        "sftp_enabled": False,
        "public_network_access_enabled": not private,
        "network_rules": StorageAccountNetworkRules(
            default_action="Deny" if private else "Allow", bypass=["AzureServices"]),
    }
    values = merged(scope, defaults, props, SECURE_ACCOUNT, fixed=_FIXED, argument=argument)
    return StorageAccount(
        scope, id,
        name=name,
        resource_group_name=group.name,
        location=group.location,
        blob_properties=StorageAccountBlobProperties(
            versioning_enabled=versioned,
            change_feed_enabled=versioned,
            delete_retention_policy=StorageAccountBlobPropertiesDeleteRetentionPolicy(days=7),
            container_delete_retention_policy=(
                StorageAccountBlobPropertiesContainerDeleteRetentionPolicy(days=7)),
        ),
        tags=azure_tags(spec),
        lifecycle=lifecycle(removal_policy),
        **settings,
        **values,
    )


class SecureBucket(Construct):
    """A private, versioned, logged and (by default) CMK-encrypted storage account and
    blob container.

    Public attributes: `account` (`StorageAccount`), `container` (`StorageContainer`),
    `bucket_name` (the account name), `container_name`, `storage_url`
    (`az://<account>/<container>/<purpose>`), `encryption_key` (`KeyVaultKey` or None),
    `encryption_identity` and `key_grant` (with a key), `lifecycle_policy`, `access_logs`
    (`MonitorDiagnosticSetting` or None), `log_workspace`, `resource_group` (`Group`),
    `container_resource_id` (the container's ARM id: what grants are scoped to).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        purpose: str = "data",
        encryption_key: KeyVaultKey | None = None,
        versioned: bool = True,
        access_logs: bool | None = None,
        retention_days: int | None = None,
        removal_policy: RemovalPolicy | str | None = None,
        physical_names: PhysicalNames | str | None = None,
        bucket_name: str | None = None,
        bucket_props: Mapping[str, Any] | None = None,
        resource_group: Any = None,
        log_workspace_id: str | None = None,
        network: Any = None,
    ) -> None:
        """Arguments (keyword-only):

        spec: the platform spec; names, tags, location and the defaults below come from it.
        purpose: the prefix inside the container the storage URL points at
            (`az://<account>/<container>/<purpose>`). Default: 'data'.
        encryption_key: a Key Vault key (`KeyVaultKey`) to encrypt with; this construct
            makes the identity that uses it. Default: with `storage.encryption:
            customer_managed`, a new vault and key; else Microsoft-managed keys.
        versioned: keep old versions. Default: on; off warns.
        access_logs: blob read / write / delete logs to Log Analytics. Default:
            `storage.access_logs`; off warns.
        retention_days: days samples are kept. Default: `storage.retention_days`.
        removal_policy: 'retain' (Terraform refuses to destroy the account) or 'destroy'.
            Default: `spec.removal_policy`.
        physical_names: GENERATED (default) or FROM_SPEC (`azure_names(spec)`).
        bucket_name: the storage account's name (3-24 lowercase letters and digits).
        bucket_props: `StorageAccount` properties merged over the secure defaults; each
            replaced secure default warns.
        resource_group: Azure only: a `ResourceGroup`, a `Group` or a group name. Default:
            a new group.
        log_workspace_id: Azure only: Log Analytics workspace for the access logs.
            Default: a new workspace when access logs are on.
        network: Azure only: the platform's `PrivateNetwork` (network.vpc).
        """
        super().__init__(scope, id)
        removal = RemovalPolicy.resolve(removal_policy, spec)
        names = PhysicalNames.resolve(physical_names)
        if not versioned:
            say_override(self, "versioned=False", "versioning on")
        if access_logs is False and spec.storage.access_logs:
            say_override(self, "access_logs=False", "access logs on")
        access_logs = spec.storage.access_logs if access_logs is None else access_logs
        retention_days = spec.storage.retention_days if retention_days is None else retention_days
        if retention_days < 1:
            raise ValueError(f"retention_days: {retention_days} must be at least 1")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,40}", purpose):
            raise ValueError(f"purpose: {purpose!r} must be a short lowercase prefix like 'data'")
        if bucket_name is not None and not re.fullmatch(r"[a-z0-9]{3,24}", bucket_name):
            raise ValueError(f"bucket_name: {bucket_name!r} must be 3-24 lowercase letters and "
                             "digits (a storage account name)")
        self.spec = spec
        self.purpose = purpose
        self.resource_group = resolve_group(self, spec, resource_group, names)
        group = self.resource_group
        name = bucket_name or (azure_names(spec).storage_account
                               if names == PhysicalNames.FROM_SPEC else
                               physical_name(self, "Account", max_len=24, separator="",
                                             unique=True, spec=spec))

        encryption = Encryption(self, spec=spec, group=group, key=encryption_key,
                                removal_policy=removal, physical_names=names, network=network)
        self.vault = encryption.vault
        self.encryption_key: KeyVaultKey | None = encryption.key
        self.encryption_identity, self.key_grant = encryption.identity, encryption.grant
        settings: dict[str, Any] = {}
        depends: list[Any] = []
        if self.encryption_key is not None:
            settings["identity"] = StorageAccountIdentity(
                type="UserAssigned", identity_ids=[self.encryption_identity.id])
            settings["customer_managed_key"] = StorageAccountCustomerManagedKey(
                key_vault_key_id=self.encryption_key.versionless_id,
                user_assigned_identity_id=self.encryption_identity.id)
            settings["queue_encryption_key_type"] = "Account"
            settings["table_encryption_key_type"] = "Account"
            depends.append(self.key_grant)
        self.account = secure_account(
            self, "Account", spec=spec, group=group, name=name, removal_policy=removal,
            private=network is not None, versioned=versioned, props=bucket_props,
            depends_on=depends or None, **settings)
        self.container = StorageContainer(
            self, "Container",
            name=azure_names(spec).data_container,
            storage_account_id=self.account.id,
            container_access_type="private",
        )
        if network is not None:
            network.private_endpoint(self, "BlobEndpoint", self.account.id, "blob", group)
            network.private_endpoint(self, "QueueEndpoint", self.account.id, "queue", group)
        prefix = f"{self.container.name}/{purpose}/samples/"
        self.lifecycle_policy = StorageManagementPolicy(
            self, "Lifecycle",
            storage_account_id=self.account.id,
            rule=[
                StorageManagementPolicyRule(
                    name="expire-samples", enabled=True,
                    filters=StorageManagementPolicyRuleFilters(
                        blob_types=["blockBlob"], prefix_match=[prefix]),
                    actions=StorageManagementPolicyRuleActions(
                        base_blob=StorageManagementPolicyRuleActionsBaseBlob(
                            delete_after_days_since_modification_greater_than=retention_days)),
                ),
                StorageManagementPolicyRule(
                    name="expire-old-versions", enabled=True,
                    filters=StorageManagementPolicyRuleFilters(blob_types=["blockBlob"]),
                    actions=StorageManagementPolicyRuleActions(
                        version=StorageManagementPolicyRuleActionsVersion(
                            delete_after_days_since_creation=(
                                spec.storage.noncurrent_version_days))),
                ),
            ],
        )
        self.log_workspace: LogAnalyticsWorkspace | None = None
        self.access_logs: MonitorDiagnosticSetting | None = None
        if access_logs:
            if log_workspace_id is None:
                self.log_workspace = log_workspace(self, spec, group)
                log_workspace_id = self.log_workspace.id
            self.access_logs = MonitorDiagnosticSetting(
                self, "AccessLogs",
                name="synth-blob-access",
                target_resource_id=f"{self.account.id}/blobServices/default",
                log_analytics_workspace_id=log_workspace_id,
                enabled_log=[MonitorDiagnosticSettingEnabledLog(category=c)
                             for c in ("StorageRead", "StorageWrite", "StorageDelete")],
            )
            self.queue_access_logs = MonitorDiagnosticSetting(
                self, "QueueAccessLogs",
                name="synth-queue-access",
                target_resource_id=f"{self.account.id}/queueServices/default",
                log_analytics_workspace_id=log_workspace_id,
                enabled_log=[MonitorDiagnosticSettingEnabledLog(category=c)
                             for c in ("StorageRead", "StorageWrite", "StorageDelete")],
            )
        self.bucket_name: str = self.account.name
        self.container_name: str = self.container.name
        self.container_resource_id: str = (
            f"{self.account.id}/blobServices/default/containers/{self.container.name}")
        self.storage_url: str = f"az://{self.account.name}/{self.container.name}/{purpose}"

    @classmethod
    def from_bucket_name(cls, scope: Construct, id: str, bucket_name: str, *,
                         spec: PlatformSpec, resource_group: str,
                         container_name: str = "synth-data", purpose: str = "data") -> Any:
        """An existing storage account (and container) as a bucket the library's
        constructs take: `bucket_name` is the account name."""
        return ImportedBucket(scope, id, spec=spec, account_name=bucket_name,
                              resource_group=resource_group, container_name=container_name,
                              purpose=purpose)

    def grant_read(self, grantee: Any) -> Any:
        """Let `grantee` (a `UserAssignedIdentity` or an object id) read blobs of exactly
        this container."""
        return grant_role(self, grantee, ROLES["blob_read"], self.container_resource_id)

    def grant_write(self, grantee: Any) -> Any:
        """Let `grantee` write blobs of exactly this container (Azure has no write-only data
        role: this is Storage Blob Data Contributor)."""
        return self.grant_read_write(grantee)

    def grant_read_write(self, grantee: Any) -> Any:
        """Read, write and delete blobs of exactly this container, and ask for user
        delegation keys (download links)."""
        return grant_role(self, grantee, ROLES["blob_read_write"], self.container_resource_id)

    def grant_delete(self, grantee: Any) -> Any:
        """Delete blobs of exactly this container (Storage Blob Data Contributor)."""
        return self.grant_read_write(grantee)


class ImportedBucket(Construct):
    """An existing storage account + container, read with data sources."""

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, account_name: str,
                 resource_group: str, container_name: str, purpose: str) -> None:
        super().__init__(scope, id)
        from cdktn_provider_azurerm.data_azurerm_storage_account import (
            DataAzurermStorageAccount,
        )

        self.spec = spec
        self.purpose = purpose
        self.account = DataAzurermStorageAccount(self, "Account", name=account_name,
                                                 resource_group_name=resource_group)
        self.resource_group = Group(resource_group, self.account.location)
        self.encryption_key = None
        self.bucket_name = account_name
        self.container_name = container_name
        self.container_resource_id = (
            f"{self.account.id}/blobServices/default/containers/{container_name}")
        self.storage_url = f"az://{account_name}/{container_name}/{purpose}"

    grant_read = SecureBucket.grant_read
    grant_write = SecureBucket.grant_write
    grant_read_write = SecureBucket.grant_read_write
    grant_delete = SecureBucket.grant_delete
