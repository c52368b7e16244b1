"""`MetadataStore` on GCP: a Firestore (native mode) database for the service's records.

Secure by default: point-in-time recovery (7 days of versions), delete protection in
production, a customer-managed Cloud KMS key when the spec asks for one (the Firestore
service agent is granted exactly that key), and a deletion policy from the removal policy
('retain' abandons the database on `terraform destroy`, 'destroy' deletes it).
"""

from __future__ import annotations

from typing import Any

from cdktn_provider_google.data_google_project import DataGoogleProject
from cdktn_provider_google.firestore_database import (
    FirestoreDatabase,
    FirestoreDatabaseCmekConfig,
)
from cdktn_provider_google.kms_crypto_key import KmsCryptoKey
from cdktn_provider_google.kms_crypto_key_iam_member import KmsCryptoKeyIamMember
from cdktn_provider_google.project_iam_member import (
    ProjectIamMember,
    ProjectIamMemberCondition,
)
from constructs import Construct

from ..naming import gcp_names, gcp_region
from ..spec import PlatformSpec
from .apis import enable_apis
from .defaults import (
    check_choice,
    datastore_condition,
    deletion_policy,
    firestore_delete_protection,
    grantee_member,
    required_apis,
    warn_weakened,
)
from .key import CustomerManagedKey, grant_encrypt_decrypt

__all__ = ["MetadataStore"]


class MetadataStore(Construct):
    """A Firestore native database with PITR, delete protection in prod and optional CMEK.

    Public attributes: `database` (`FirestoreDatabase`), `store_name` (the database id),
    `metadata_url` (`firestore://<database>`), `encryption_key` (`KmsCryptoKey` or None),
    `key` (`CustomerManagedKey` or None, when this construct made the key), `project_info`
    (the `google_project` data source, for the Firestore service agent's address),
    `key_grant` (the agent's `KmsCryptoKeyIamMember` or None).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        encryption_key: KmsCryptoKey | None = None,
        point_in_time_recovery: bool = True,
        deletion_protection: bool | None = None,
        removal_policy: str | None = None,
    ) -> None:
        """Arguments (all keyword-only):

        spec: the platform spec; name, region and the defaults below come from it.
        encryption_key: a Cloud KMS key in the database's region. Default: a new key ring
            and key when `spec.storage.encryption == 'customer_managed'`, else
            Google-managed encryption. The platform passes its bucket's key.
        point_in_time_recovery: keep 7 days of versions to read or restore. Default: on.
            Turning it off warns.
        deletion_protection: refuse deletion of the database. Default: on in production
            (`spec.environment == 'prod'`), off elsewhere. Turning it off in prod warns.
        removal_policy: 'retain' abandons the database on destroy (data kept), 'destroy'
            deletes it. Default: `spec.removal_policy`.
        """
        super().__init__(scope, id)
        removal_policy = check_choice(
            removal_policy or spec.removal_policy, ("retain", "destroy"), argument="removal_policy"
        )
        if not point_in_time_recovery:
            warn_weakened("MetadataStore", "point-in-time recovery on",
                          "point_in_time_recovery=False")
        if deletion_protection is False and spec.is_production:
            warn_weakened("MetadataStore", "delete protection on in prod",
                          "deletion_protection=False")
        if deletion_protection is None:
            deletion_protection = spec.is_production
        names = gcp_names(spec)
        project = spec.gcp.project
        self.spec = spec
        self._grants = 0
        apis = enable_apis(self, project, required_apis(spec, "metadata"))

        self.key: CustomerManagedKey | None = None
        if encryption_key is None and spec.storage.encryption == "customer_managed":
            self.key = CustomerManagedKey(
                self, "Key", spec=spec, key_ring_name=names.metadata_key_ring,
                key_name=names.metadata_crypto_key, removal_policy=removal_policy,
            )
            encryption_key = self.key.crypto_key
        self.encryption_key: KmsCryptoKey | None = encryption_key
        self.project_info = DataGoogleProject(self, "Project", project_id=project)
        self.key_grant: KmsCryptoKeyIamMember | None = None
        depends: list[Any] = list(apis)
        if encryption_key is not None:
            # Firestore encrypts with its service agent, which needs the key first.
            agent = (f"serviceAccount:service-{self.project_info.number}"
                     "@gcp-sa-firestore.iam.gserviceaccount.com")
            self.key_grant = grant_encrypt_decrypt(
                self, "FirestoreAgentKeyGrant", encryption_key, agent)
            depends.append(self.key_grant)

        self.database = FirestoreDatabase(
            self, "Database",
            project=project,
            name=names.firestore_database,
            location_id=gcp_region(spec),
            type="FIRESTORE_NATIVE",
            concurrency_mode="OPTIMISTIC",
            app_engine_integration_mode="DISABLED",
            point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED"
            if point_in_time_recovery else "POINT_IN_TIME_RECOVERY_DISABLED",
            delete_protection_state=firestore_delete_protection(deletion_protection),
            deletion_policy=deletion_policy(removal_policy),
            cmek_config=FirestoreDatabaseCmekConfig(kms_key_name=encryption_key.id)
            if encryption_key is not None else None,
            depends_on=depends,
        )
        self.store_name: str = self.database.name
        self.metadata_url: str = f"firestore://{self.database.name}"

    def grant_read_write(self, grantee: Any) -> ProjectIamMember:
        """Let `grantee` read and write documents in exactly this database.

        Firestore has no per-database IAM resource, so this is `roles/datastore.user` on the
        project with an IAM condition on the database's resource name: the grant does
        not reach other databases of the project.
        """
        member, key = grantee_member(grantee)
        if key is None:
            self._grants += 1
            key = str(self._grants)
        return ProjectIamMember(
            self, f"ReadWriteGrant-{key}",
            project=self.spec.gcp.project,
            role="roles/datastore.user",
            member=member,
            condition=ProjectIamMemberCondition(
                title=f"only-{gcp_names(self.spec).firestore_database}"[:100],
                description="Limits the grant to the platform's Firestore database",
                expression=datastore_condition(self.spec.gcp.project, self.database.name),
            ),
        )
