"""Key Vault: the platform's vault (RBAC mode) for the pepper and the customer-managed key,
and the identity a storage account or Cosmos DB account encrypts with.

The pepper's value never enters Terraform: the vault is made here, the secret is set once
by the operator (`az keyvault secret set`, printed as the `pepper_bootstrap_command`
output). The deploying principal gets `Key Vault Secrets Officer` (to set it) and `Key
Vault Crypto Officer` (so Terraform can create the key) on exactly this vault.
"""

from __future__ import annotations

from typing import Any

from cdktn_provider_azurerm.key_vault import KeyVault, KeyVaultNetworkAcls
from cdktn_provider_azurerm.key_vault_key import (
    KeyVaultKey,
    KeyVaultKeyRotationPolicy,
    KeyVaultKeyRotationPolicyAutomatic,
)
from cdktn_provider_azurerm.user_assigned_identity import UserAssignedIdentity
from constructs import Construct

from ..naming import azure_names, azure_tags
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .base import Group, client_config, grant_role, lifecycle, physical_name
from .defaults import ROLES

__all__ = ["Encryption", "PEPPER_SECRET", "PlatformVault", "encryption_identity"]

#: Name of the Key Vault secret that holds the API-key pepper.
PEPPER_SECRET = "synth-api-pepper"


class PlatformVault(Construct):
    """A Key Vault in RBAC mode (Premium: HSM-backed keys); with `with_key`, an RSA-HSM key
    that rotates itself 30 days before each version's two-year expiry.

    Attributes: `vault` (`KeyVault`), `key` (`KeyVaultKey` or None), `pepper_url` (the
    runtime contract's SYNTH_API_KEYS_SECRET: the pepper secret's identifier),
    `deployer_grants`. Purge protection is on in production and whenever the vault holds
    a customer-managed key (Azure requires it there); soft-deleted vaults are kept 90 days
    with 'retain', 7 with 'destroy'.
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, group: Group,
                 removal_policy: RemovalPolicy, physical_names: PhysicalNames,
                 with_key: bool, network: Any = None) -> None:
        super().__init__(scope, id)
        config = client_config(self)
        name = azure_names(spec).key_vault if physical_names == PhysicalNames.FROM_SPEC \
            else physical_name(self, "Vault", max_len=24, prefix="kv-", unique=True, spec=spec)
        private = network is not None
        self.vault = KeyVault(
            self, "Vault",
            name=name,
            location=group.location,
            resource_group_name=group.name,
            tenant_id=config.tenant_id,
            sku_name="premium",  # HSM-backed keys
            rbac_authorization_enabled=True,
            purge_protection_enabled=spec.is_production or with_key,
            soft_delete_retention_days=90 if removal_policy == RemovalPolicy.RETAIN else 7,
            public_network_access_enabled=not private,
            network_acls=KeyVaultNetworkAcls(
                default_action="Deny" if private else "Allow", bypass="AzureServices"),
            tags=azure_tags(spec),
            lifecycle=lifecycle(removal_policy),
        )
        if private:
            network.private_endpoint(self, "Endpoint", self.vault.id, "vault", group)
        self.deployer_grants = [
            grant_role(self, config.object_id, ROLES["secrets_write"], self.vault.id),
        ]
        self.key: KeyVaultKey | None = None
        if with_key:
            self.deployer_grants.append(
                grant_role(self, config.object_id, ROLES["keys_admin"], self.vault.id))
            self.key = KeyVaultKey(
                self, "Key",
                name="synth-data",
                key_vault_id=self.vault.id,
                key_type="RSA-HSM",
                key_size=3072,
                key_opts=["wrapKey", "unwrapKey"],
                rotation_policy=KeyVaultKeyRotationPolicy(
                    automatic=KeyVaultKeyRotationPolicyAutomatic(time_before_expiry="P30D"),
                    expire_after="P2Y",
                    notify_before_expiry="P29D",
                ),
                depends_on=list(self.deployer_grants),
                lifecycle=lifecycle(removal_policy),
            )
        self.pepper_url: str = f"{self.vault.vault_uri}secrets/{PEPPER_SECRET}"

    def grant_secret_read(self, grantee: Any) -> Any:
        """Let `grantee` read the vault's secrets (the pepper)."""
        return grant_role(self, grantee, ROLES["secrets_read"], self.vault.id)


class Encryption:
    """How a storage or Cosmos DB account is encrypted: `key` (None: Microsoft-managed),
    `identity` and `grant` (the identity that uses the key, and its role on it), `vault`
    (when the key was made here)."""

    def __init__(self, scope: Construct, *, spec: PlatformSpec, group: Group, key: Any,
                 removal_policy: RemovalPolicy, physical_names: PhysicalNames,
                 network: Any = None) -> None:
        self.vault: PlatformVault | None = None
        if key is None and spec.storage.encryption == "customer_managed":
            self.vault = PlatformVault(scope, "Vault", spec=spec, group=group,
                                       removal_policy=removal_policy,
                                       physical_names=physical_names, with_key=True,
                                       network=network)
            key = self.vault.key
        self.key: KeyVaultKey | None = key
        self.identity: UserAssignedIdentity | None = None
        self.grant: Any = None
        if key is not None:
            self.identity, self.grant = encryption_identity(scope, spec, group, key)


def encryption_identity(scope: Construct, spec: PlatformSpec, group: Group,
                        key: KeyVaultKey) -> tuple[UserAssignedIdentity, Any]:
    """A user-assigned identity allowed to wrap and unwrap with exactly `key` (what a
    storage or Cosmos DB account encrypts with), and that role assignment."""
    identity = UserAssignedIdentity(
        scope, "EncryptionIdentity",
        name=physical_name(scope, "EncryptionIdentity", max_len=90, prefix="id-"),
        location=group.location,
        resource_group_name=group.name,
        tags=azure_tags(spec),
    )
    grant = grant_role(scope, identity, ROLES["key_encryption"], key.resource_versionless_id)
    return identity, grant
