"""`CustomerManagedKey`: a Cloud KMS key ring and a rotating symmetric key.

Made by `SyntheticDataPlatform` (one key for bucket, database, registry, secret and Cloud
Run) and by a standalone `SecureBucket` / `MetadataStore` when
`storage.encryption == 'customer_managed'` and no `encryption_key=` is given. Cloud KMS
never deletes key rings or keys (only key versions, after a 30-day schedule): with the
removal policy RETAIN, Terraform refuses to destroy the key (`prevent_destroy`), since data
kept in a retained bucket or database must stay readable.
"""

from __future__ import annotations

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.kms_crypto_key import KmsCryptoKey
from cdktn_provider_google.kms_key_ring import KmsKeyRing
from constructs import Construct

from ..naming import gcp_labels, gcp_names
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .apis import enable_apis
from .defaults import KEY_ROTATION_PERIOD, required_apis
from .stack import Placement, physical_name

__all__ = ["CustomerManagedKey"]


class CustomerManagedKey(Construct):
    """A key ring and one ENCRYPT_DECRYPT key rotated every 90 days, in the region.

    Attributes: `key_ring` (`KmsKeyRing`), `crypto_key` (`KmsCryptoKey`), `key_id` (the
    key's resource id, what buckets and databases reference). Wherever an `encryption_key=`
    is taken, this construct, its `crypto_key` or a key id string may be given.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        where: Placement,
        removal_policy: RemovalPolicy,
        physical_names: PhysicalNames = PhysicalNames.GENERATED,
        purpose: str = "data",
    ) -> None:
        super().__init__(scope, id)
        names = gcp_names(spec, project=where.project, region=where.region)
        from_spec = {"data": (names.key_ring, names.crypto_key),
                     "metadata": (names.metadata_key_ring, names.metadata_crypto_key)}
        ring_name, key_name = from_spec.get(purpose, (None, None))
        retain = TerraformResourceLifecycle(
            prevent_destroy=removal_policy is RemovalPolicy.RETAIN)
        self.key_ring = KmsKeyRing(
            self, "KeyRing",
            name=physical_name(self, "kms", where, names=physical_names, from_spec=ring_name),
            location=where.region,
            project=where.project,
            depends_on=enable_apis(self, where, required_apis("kms")),
            lifecycle=retain,
        )
        self.crypto_key = KmsCryptoKey(
            self, "CryptoKey",
            name=physical_name(self, "kms", where, part="Key", names=physical_names,
                               from_spec=key_name),
            key_ring=self.key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=KEY_ROTATION_PERIOD,
            destroy_scheduled_duration="2592000s",  # 30 days to undo a key deletion
            labels=gcp_labels(spec),
            lifecycle=retain,
        )
        self.key_id: str = self.crypto_key.id
