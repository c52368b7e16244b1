"""APIs, service agents and the agents' key grants: what makes a first apply work.

Every construct asks for the APIs it uses; the first request in a stack creates the
`google_project_service`, later ones reuse it, and resources `depends_on` exactly the APIs
they need, so one `terraform apply` works on a fresh project. APIs stay enabled on
destroy (`disable_on_destroy=False`): other workloads in the project may use them.

A Google service that encrypts with a customer-managed key does so as its service agent,
which must exist and hold `roles/cloudkms.cryptoKeyEncrypterDecrypter` on the key before
the encrypted resource is created. As in cloud-foundation-fabric's project module, each
agent is created explicitly (google-beta `google_project_service_identity`; the GCS agent
through its data source), and every agent key grant `depends_on` both the API and the
identity. Agents and grants are created once per stack, key and service, at the stack's
root, so two constructs sharing a key never write two bindings for one agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cdktn import TerraformResource, TerraformStack
from cdktn_provider_google.data_google_storage_project_service_account import (
    DataGoogleStorageProjectServiceAccount,
)
from cdktn_provider_google.kms_crypto_key_iam_member import KmsCryptoKeyIamMember
from cdktn_provider_google.project_service import ProjectService
from constructs import Construct

from .._terraform import stable_text
from .stack import Placement, beta_provider, short_hash

__all__ = ["ENCRYPTER_DECRYPTER", "agent_key_grant", "enable_apis", "key_id", "service_agent"]

ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


def enable_apis(scope: Construct, where: Placement,
                services: Sequence[str]) -> list[ProjectService]:
    """The `google_project_service` of each API in `services`, created on first use."""
    stack = TerraformStack.of(scope)
    enabled = []
    for service in services:
        construct_id = f"Api-{where.project}-{service.split('.')[0]}"
        existing = stack.node.try_find_child(construct_id)
        if existing is None:
            existing = ProjectService(
                stack, construct_id,
                project=where.project,
                service=service,
                disable_on_destroy=False,
                disable_dependent_services=False,
            )
        enabled.append(existing)
    return enabled


def service_agent(scope: Construct, where: Placement, service: str) -> tuple[str, list[Any]]:
    """(IAM member of `service`'s agent, what a grant to it must depend on: the API and the
    agent itself). Cloud Storage's agent comes from its data source (reading it creates the
    agent); every other agent from google-beta's `google_project_service_identity`."""
    stack = TerraformStack.of(scope)
    api = enable_apis(scope, where, [service])
    prefix = service.split(".")[0]
    construct_id = f"Agent-{where.project}-{prefix}"
    agent = stack.node.try_find_child(construct_id)
    if service == "storage.googleapis.com":
        if agent is None:
            agent = DataGoogleStorageProjectServiceAccount(
                stack, construct_id, project=where.project, depends_on=api)
        return f"serviceAccount:{agent.email_address}", [*api, agent]
    if agent is None:
        # google_project_service_identity exists only in google-beta; declared without
        # that package's Python bindings (see `beta_provider`).
        agent = TerraformResource(
            stack, construct_id, terraform_resource_type="google_project_service_identity",
            depends_on=api)
        agent.add_override("provider", beta_provider(scope, where))
        agent.add_override("project", where.project)
        agent.add_override("service", service)
    return f"serviceAccount:{agent.get_string_attribute('email')}", [*api, agent]


def key_id(key: Any) -> str:
    """The resource id of a Cloud KMS key given as a `KmsCryptoKey` (or anything with an
    `id`, such as `CustomerManagedKey.crypto_key`) or as its id string."""
    if isinstance(key, str):
        if not key.startswith("projects/") and "${" not in key:
            raise ValueError(
                f"encryption_key: {key!r} is not a Cloud KMS key id; give "
                "'projects/<p>/locations/<region>/keyRings/<ring>/cryptoKeys/<key>' or a "
                "KmsCryptoKey")
        return key
    crypto_key = getattr(key, "crypto_key", key)
    return crypto_key.id


def agent_key_grant(scope: Construct, where: Placement, key: Any,
                    service: str) -> KmsCryptoKeyIamMember:
    """Let `service`'s agent use exactly `key` (never the key ring or the project), after
    the API and the agent exist. Created once per stack, key and service."""
    stack = TerraformStack.of(scope)
    identity = key_id(key)
    owner = getattr(getattr(key, "crypto_key", key), "node", None)
    key_part = owner.path if owner is not None else stable_text(scope, identity)
    construct_id = f"KeyGrant-{service.split('.')[0]}-{short_hash(key_part)}"
    existing = stack.node.try_find_child(construct_id)
    if existing is not None:
        return existing
    member, depends = service_agent(scope, where, service)
    return KmsCryptoKeyIamMember(
        stack, construct_id,
        crypto_key_id=identity,
        role=ENCRYPTER_DECRYPTER,
        member=member,
        depends_on=depends,
    )
