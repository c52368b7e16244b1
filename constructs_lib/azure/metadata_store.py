"""`MetadataStore` on Azure: a Cosmos DB for NoSQL account (serverless) for the service's
records.

Secure by default: local (key) authentication off - only Entra ID identities holding the
built-in data role on exactly this database get in -, key-based metadata writes off, TLS
1.2, continuous backup (point-in-time restore, 7 days), a delete lock in production, a
customer-managed Key Vault key when the spec asks for one, no public network access with
`network.vpc`. The database and its one container (`records`, partition key `/pk`, what
`cosmos://` expects) are made here: Entra ID data roles cannot create them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdktn_provider_azurerm.cosmosdb_account import (
    CosmosdbAccount,
    CosmosdbAccountBackup,
    CosmosdbAccountCapabilities,
    CosmosdbAccountConsistencyPolicy,
    CosmosdbAccountGeoLocation,
    CosmosdbAccountIdentity,
)
from cdktn_provider_azurerm.cosmosdb_sql_container import CosmosdbSqlContainer
from cdktn_provider_azurerm.cosmosdb_sql_database import CosmosdbSqlDatabase
from cdktn_provider_azurerm.cosmosdb_sql_role_assignment import CosmosdbSqlRoleAssignment
from cdktn_provider_azurerm.key_vault_key import KeyVaultKey
from cdktn_provider_azurerm.management_lock import ManagementLock
from constructs import Construct

from ..naming import azure_names, azure_tags
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .base import Group, lifecycle, merged, physical_name, principal_of, resolve_group, say_override
from .defaults import COSMOS_CONTAINER, COSMOS_DATA_CONTRIBUTOR, COSMOS_DATA_READER
from .key import Encryption

__all__ = ["MetadataStore"]

SECURE_STORE = {
    "local_authentication_enabled": "local (key) authentication off",
    "access_key_metadata_writes_enabled": "no key-based metadata writes",
    "minimal_tls_version": "TLS 1.2",
    "public_network_access_enabled": "no public network access with network.vpc",
}
_FIXED = ("name", "resource_group_name", "location", "backup", "identity", "key_vault_key_id",
          "default_identity_type", "tags", "lifecycle")


class MetadataStore(Construct):
    """A serverless Cosmos DB for NoSQL account, database and container.

    Public attributes: `account` (`CosmosdbAccount`), `database` (`CosmosdbSqlDatabase`),
    `container` (`CosmosdbSqlContainer`), `store_name` (the account name),
    `metadata_url` (`cosmos://<account>/<database>`), `encryption_key`,
    `encryption_identity`, `key_grant`, `delete_lock` (`ManagementLock` or None),
    `resource_group` (`Group`), `database_scope` (what grants are scoped to).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        encryption_key: KeyVaultKey | None = None,
        point_in_time_recovery: bool = True,
        deletion_protection: bool | None = None,
        removal_policy: RemovalPolicy | str | None = None,
        physical_names: PhysicalNames | str | None = None,
        store_name: str | None = None,
        store_props: Mapping[str, Any] | None = None,
        resource_group: Any = None,
        network: Any = None,
    ) -> None:
        """Arguments (keyword-only):

        spec: the platform spec.
        encryption_key: a Key Vault key to encrypt with (this construct makes the identity
            that uses it). Default: with `storage.encryption: customer_managed`, a new
            vault and key; else Microsoft-managed keys. The platform passes its key.
        point_in_time_recovery: continuous backup (restore to any second of the last 7
            days). Default: on; off (periodic backup) warns.
        deletion_protection: a `CanNotDelete` lock on the account. Default: in production.
        removal_policy: 'retain' (Terraform refuses to destroy the account) or 'destroy'.
        physical_names / store_name: the account name (3-44 lowercase letters, digits, -).
        store_props: `CosmosdbAccount` properties merged over the secure defaults.
        resource_group, network: Azure only, as on `SecureBucket`.
        """
        super().__init__(scope, id)
        removal = RemovalPolicy.resolve(removal_policy, spec)
        names = PhysicalNames.resolve(physical_names)
        if not point_in_time_recovery:
            say_override(self, "point_in_time_recovery=False", "continuous backup on")
        if deletion_protection is False and spec.is_production:
            say_override(self, "deletion_protection=False", "delete lock on in prod")
        if deletion_protection is None:
            deletion_protection = spec.is_production
        self.spec = spec
        self.resource_group = resolve_group(self, spec, resource_group, names)
        group = self.resource_group
        name = store_name or (azure_names(spec).cosmos_account
                              if names == PhysicalNames.FROM_SPEC else
                              physical_name(self, "Account", max_len=44, unique=True,
                                            spec=spec))
        encryption = Encryption(self, spec=spec, group=group, key=encryption_key,
                                removal_policy=removal, physical_names=names, network=network)
        self.vault = encryption.vault
        self.encryption_key: KeyVaultKey | None = encryption.key
        self.encryption_identity, self.key_grant = encryption.identity, encryption.grant
        settings: dict[str, Any] = {}
        depends: list[Any] = []
        if self.encryption_key is not None:
            settings.update(
                identity=CosmosdbAccountIdentity(
                    type="UserAssigned", identity_ids=[self.encryption_identity.id]),
                key_vault_key_id=self.encryption_key.versionless_id,
                default_identity_type=f"UserAssignedIdentity={self.encryption_identity.id}",
            )
            depends.append(self.key_grant)
        defaults = {
            "offer_type": "Standard",
            "kind": "GlobalDocumentDB",
            "local_authentication_enabled": False,
            "access_key_metadata_writes_enabled": False,
            "minimal_tls_version": "Tls12",
            "public_network_access_enabled": network is None,
            "free_tier_enabled": False,
            "automatic_failover_enabled": False,
            "consistency_policy": CosmosdbAccountConsistencyPolicy(consistency_level="Session"),
            "capabilities": [CosmosdbAccountCapabilities(name="EnableServerless")],
            "geo_location": [CosmosdbAccountGeoLocation(location=group.location,
                                                        failover_priority=0)],
        }
        values = merged(self, defaults, store_props, SECURE_STORE, fixed=_FIXED,
                        argument="store_props")
        self.account = CosmosdbAccount(
            self, "Account",
            name=name,
            location=group.location,
            resource_group_name=group.name,
            backup=CosmosdbAccountBackup(type="Continuous", tier="Continuous7Days")
            if point_in_time_recovery else
            CosmosdbAccountBackup(type="Periodic", interval_in_minutes=240,
                                  retention_in_hours=8),
            tags=azure_tags(spec),
            lifecycle=lifecycle(removal),
            depends_on=depends or None,
            **settings,
            **values,
        )
        database_name = azure_names(spec).cosmos_database
        self.database = CosmosdbSqlDatabase(
            self, "Database", name=database_name, account_name=self.account.name,
            resource_group_name=group.name)
        self.container = CosmosdbSqlContainer(
            self, "Container", name=COSMOS_CONTAINER, database_name=self.database.name,
            account_name=self.account.name, resource_group_name=group.name,
            partition_key_paths=["/pk"], partition_key_version=2)
        if network is not None:
            network.private_endpoint(self, "Endpoint", self.account.id, "Sql", group)
        self.delete_lock: ManagementLock | None = None
        if deletion_protection:
            self.delete_lock = ManagementLock(
                self, "DeleteLock", name="synth-metadata-cannot-delete",
                scope=self.account.id, lock_level="CanNotDelete",
                notes="Production metadata: remove this lock deliberately before deleting")
        self.store_name: str = self.account.name
        self.database_scope: str = f"{self.account.id}/dbs/{self.database.name}"
        self.metadata_url: str = f"cosmos://{self.account.name}/{self.database.name}"

    @classmethod
    def from_store_name(cls, scope: Construct, id: str, store_name: str, *,
                        spec: PlatformSpec, resource_group: str,
                        database_name: str = "synth") -> Any:
        """An existing Cosmos DB account (with the `records` container, partition key /pk,
        in `database_name`) as a metadata store the library's constructs take."""
        return ImportedStore(scope, id, spec=spec, account_name=store_name,
                             resource_group=resource_group, database_name=database_name)

    def _grant(self, grantee: Any, role: str, label: str) -> CosmosdbSqlRoleAssignment:
        where = grantee if isinstance(grantee, Construct) else self
        construct_id = f"Cosmos{label}-{self.node.addr[:8]}"
        existing = where.node.try_find_child(construct_id)
        if existing is not None:
            return existing  # type: ignore[return-value]
        return CosmosdbSqlRoleAssignment(
            where, construct_id,
            resource_group_name=self.resource_group.name,
            account_name=self.account.name,
            role_definition_id=f"{self.account.id}/sqlRoleDefinitions/{role}",
            principal_id=principal_of(grantee),
            scope=self.database_scope,
        )

    def grant_read(self, grantee: Any) -> CosmosdbSqlRoleAssignment:
        """Read documents of exactly this database (Cosmos DB Built-in Data Reader)."""
        return self._grant(grantee, COSMOS_DATA_READER, "Read")

    def grant_read_write(self, grantee: Any) -> CosmosdbSqlRoleAssignment:
        """Read and write documents of exactly this database (Built-in Data Contributor)."""
        return self._grant(grantee, COSMOS_DATA_CONTRIBUTOR, "ReadWrite")


class ImportedStore(Construct):
    """An existing Cosmos DB account, read with a data source."""

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, account_name: str,
                 resource_group: str, database_name: str) -> None:
        super().__init__(scope, id)
        from cdktn_provider_azurerm.data_azurerm_cosmosdb_account import (
            DataAzurermCosmosdbAccount,
        )

        self.spec = spec
        self.account = DataAzurermCosmosdbAccount(self, "Account", name=account_name,
                                                  resource_group_name=resource_group)
        self.resource_group = Group(resource_group, self.account.location)
        self.encryption_key = None
        self.store_name = account_name
        self.database_scope = f"{self.account.id}/dbs/{database_name}"
        self.metadata_url = f"cosmos://{account_name}/{database_name}"

    _grant = MetadataStore._grant
    grant_read = MetadataStore.grant_read
    grant_read_write = MetadataStore.grant_read_write
