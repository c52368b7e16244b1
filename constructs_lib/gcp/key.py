"""`CustomerManagedKey`: a Cloud KMS key ring and a rotating symmetric key.

Used by `SecureBucket` and `MetadataStore` when `storage.encryption == 'customer_managed'`
and no key is passed in. Cloud KMS never deletes key rings or keys (only key versions,
after a 30-day schedule), so a key is created once per platform and environment. With
removal policy 'retain', Terraform refuses to destroy the key (`prevent_destroy`): data
kept in a retained bucket or database must stay readable.
"""

from __future__ import annotations

from typing import Any

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.kms_crypto_key import KmsCryptoKey
from cdktn_provider_google.kms_crypto_key_iam_member import KmsCryptoKeyIamMember
from cdktn_provider_google.kms_key_ring import KmsKeyRing
from constructs import Construct

from ..naming import gcp_labels, gcp_region
from ..spec import PlatformSpec
from .apis import enable_apis
from .defaults import KEY_ROTATION_PERIOD, required_apis

__all__ = ["CustomerManagedKey", "grant_encrypt_decrypt"]

ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


class CustomerManagedKey(Construct):
    """A key ring and one ENCRYPT_DECRYPT key rotated every 90 days, in the spec's region.

    Attributes: `key_ring` (`KmsKeyRing`), `crypto_key` (`KmsCryptoKey`), `key_id` (the
    key's resource id, what buckets and databases reference).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        key_ring_name: str,
        key_name: str,
        removal_policy: str,
    ) -> None:
        super().__init__(scope, id)
        project = spec.gcp.project
        apis = enable_apis(self, project, required_apis(spec, "kms"))
        retain = TerraformResourceLifecycle(prevent_destroy=removal_policy != "destroy")
        self.key_ring = KmsKeyRing(
            self, "KeyRing",
            name=key_ring_name,
            location=gcp_region(spec),
            project=project,
            depends_on=apis,
            lifecycle=retain,
        )
        self.crypto_key = KmsCryptoKey(
            self, "Key",
            name=key_name,
            key_ring=self.key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=KEY_ROTATION_PERIOD,
            destroy_scheduled_duration="2592000s",  # 30 days to undo a key deletion
            labels=gcp_labels(spec),
            lifecycle=retain,
        )
        self.key_id: str = self.crypto_key.id


def grant_encrypt_decrypt(
    scope: Construct, id: str, key: Any, member: str
) -> KmsCryptoKeyIamMember:
    """Let one service agent use exactly this key (never the key ring or the project)."""
    return KmsCryptoKeyIamMember(
        scope, id,
        crypto_key_id=key.id,
        role=ENCRYPTER_DECRYPTER,
        member=member,
    )
