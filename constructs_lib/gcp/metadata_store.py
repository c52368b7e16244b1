"""`MetadataStore` on GCP: a Firestore (native mode) database for the service's records.

Secure by default: point-in-time recovery (7 days of versions), delete protection in
production, a customer-managed Cloud KMS key when the spec asks for one (the Firestore
agent, created explicitly, is granted exactly that key before the database exists), and a
deletion policy from the removal policy (RETAIN abandons the database on `terraform
destroy`, DESTROY deletes it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cdktn_provider_google.firestore_database import (
    FirestoreDatabase,
    FirestoreDatabaseCmekConfig,
)
from cdktn_provider_google.kms_crypto_key import KmsCryptoKey
from cdktn_provider_google.project_iam_member import (
    ProjectIamMember,
    ProjectIamMemberCondition,
)
from constructs import Construct

from ..naming import gcp_names
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .apis import agent_key_grant, enable_apis, key_id
from .defaults import (
    SECURE_DATABASE,
    datastore_condition,
    deletion_policy,
    firestore_delete_protection,
    required_apis,
)
from .iam import grant
from .key import CustomerManagedKey
from .stack import merged, physical_name, placement, say_override

__all__ = ["ImportedStore", "MetadataStore"]

_DATABASE_ID = re.compile(r"^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$")
ROLES = {"Read": "roles/datastore.viewer", "ReadWrite": "roles/datastore.user"}


class _StoreGrants:
    """Grant methods shared by `MetadataStore` and its imported form.

    Firestore has no per-database IAM resource, so a grant is a project-level
    `google_project_iam_member` with an IAM condition on the database's resource name: it
    reaches no other database of the project.
    """

    store_name: str
    project: str

    def grant_read(self, grantee: Any) -> ProjectIamMember:
        """Let `grantee` read documents of exactly this database (`datastore.viewer`)."""
        return self._grant(grantee, "Read")

    def grant_read_write(self, grantee: Any) -> ProjectIamMember:
        """Let `grantee` read and write documents of exactly this database
        (`datastore.user`)."""
        return self._grant(grantee, "ReadWrite")

    def _grant(self, grantee: Any, kind: str) -> ProjectIamMember:
        project, database = self.project, self.store_name

        def make(scope: Construct, construct_id: str, member: str) -> ProjectIamMember:
            return ProjectIamMember(
                scope, construct_id,
                project=project,
                role=ROLES[kind],
                member=member,
                condition=ProjectIamMemberCondition(
                    title="only-this-database",
                    description="Limits the grant to one Firestore database",
                    expression=datastore_condition(project, database),
                ),
            )

        return grant(self, grantee, f"Store{kind}", make)  # type: ignore[arg-type]


class ImportedStore(Construct, _StoreGrants):
    """An existing Firestore database brought in with `MetadataStore.from_store_name`."""

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, store_name: str,
                 encryption_key: Any = None) -> None:
        super().__init__(scope, id)
        if not _DATABASE_ID.match(store_name):
            raise ValueError(f"store_name: {store_name!r} is not a Firestore database id "
                             "(4-63 lowercase letters, digits and '-', or '(default)')")
        self.database = None
        self.project = placement(self, spec).project
        self.store_name = store_name
        self.metadata_url = f"firestore://{store_name}"
        self.encryption_key = encryption_key


class MetadataStore(Construct, _StoreGrants):
    """A Firestore native database with PITR, delete protection in prod and optional CMEK.

    Public attributes: `database` (`FirestoreDatabase`), `store_name` (the database id),
    `metadata_url` (`firestore://<database>`), `encryption_key` (or None), `key`
    (`CustomerManagedKey` or None, when this construct made the key), `key_grant` (the
    Firestore agent's `KmsCryptoKeyIamMember` or None), `project`, `placement`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        encryption_key: CustomerManagedKey | KmsCryptoKey | str | None = None,
        point_in_time_recovery: bool = True,
        deletion_protection: bool | None = None,
        removal_policy: RemovalPolicy | str | None = None,
        physical_names: PhysicalNames | str | None = None,
        store_name: str | None = None,
        store_props: Mapping[str, Any] | None = None,
    ) -> None:
        """Arguments (all keyword-only):

        spec: the platform spec; project, region and the defaults below come from it (or
            the stack's google provider).
        encryption_key: a Cloud KMS key in the database's region. Default: a new key ring
            and key when `storage.encryption` is 'customer_managed', else Google-managed
            encryption. The platform passes its one key.
        point_in_time_recovery: keep 7 days of versions to read or restore. Default: on.
            Turning it off warns.
        deletion_protection: refuse deletion of the database. Default: on in production
            (`environment: prod`), off elsewhere. Turning it off in prod warns.
        removal_policy: RETAIN abandons the database on destroy (data kept), DESTROY
            deletes it. Default: the spec's `removal_policy`.
        physical_names: GENERATED (default) or FROM_SPEC (`gcp_names(spec)
            .firestore_database`).
        store_name: an explicit database id.
        store_props: `FirestoreDatabase` arguments merged over the defaults; replacing a
            secure default warns.
        """
        super().__init__(scope, id)
        self.spec = spec
        self.placement = where = placement(self, spec)
        self.project = where.project
        removal = RemovalPolicy.resolve(removal_policy, spec)
        naming = PhysicalNames.resolve(physical_names)
        if not point_in_time_recovery:
            say_override(self, "point_in_time_recovery=False", "point-in-time recovery on")
        if deletion_protection is False and spec.is_production:
            say_override(self, "deletion_protection=False", "delete protection on in prod")
        if deletion_protection is None:
            deletion_protection = spec.is_production
        if store_name is not None and not _DATABASE_ID.match(store_name):
            raise ValueError(f"store_name: {store_name!r} is not a Firestore database id "
                             "(4-63 lowercase letters, digits and '-', or '(default)')")
        apis = enable_apis(self, where, required_apis("metadata"))

        self.key: CustomerManagedKey | None = None
        if encryption_key is None and spec.storage.encryption == "customer_managed":
            self.key = CustomerManagedKey(self, "Key", spec=spec, where=where,
                                          removal_policy=removal, physical_names=naming,
                                          purpose="metadata")
            encryption_key = self.key
        self.encryption_key = encryption_key
        self.key_grant = None
        depends: list[Any] = list(apis)
        if encryption_key is not None:
            self.key_grant = agent_key_grant(self, where, encryption_key,
                                             "firestore.googleapis.com")
            depends.append(self.key_grant)

        names = gcp_names(spec, project=where.project, region=where.region)
        defaults = {
            "type": "FIRESTORE_NATIVE",
            "concurrency_mode": "OPTIMISTIC",
            "app_engine_integration_mode": "DISABLED",
            "point_in_time_recovery_enablement": "POINT_IN_TIME_RECOVERY_ENABLED"
            if point_in_time_recovery else "POINT_IN_TIME_RECOVERY_DISABLED",
            "delete_protection_state": firestore_delete_protection(deletion_protection),
            "deletion_policy": deletion_policy(removal),
        }
        values = merged(self, defaults, store_props, SECURE_DATABASE,
                        fixed=("name", "project", "location_id", "cmek_config"),
                        argument="store_props")
        self.database = FirestoreDatabase(
            self, "Database",
            project=where.project,
            name=physical_name(self, "firestore_database", where, part="Database",
                               given=store_name, from_spec=names.firestore_database,
                               names=naming),
            location_id=where.region,
            cmek_config=FirestoreDatabaseCmekConfig(kms_key_name=key_id(encryption_key))
            if encryption_key is not None else None,
            depends_on=depends,
            **values,
        )
        self.store_name: str = self.database.name
        self.metadata_url: str = f"firestore://{self.database.name}"

    @classmethod
    def from_store_name(cls, scope: Construct, id: str, store_name: str, *,
                        spec: PlatformSpec, encryption_key: Any = None) -> ImportedStore:
        """An existing Firestore database (its id, or '(default)') as the platform's store:
        nothing is created; grants work as on a `MetadataStore`."""
        return ImportedStore(scope, id, spec=spec, store_name=store_name,
                             encryption_key=encryption_key)
