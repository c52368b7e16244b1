"""Grants in the grantee's scope.

Every `grant_*` method of the GCP constructs goes through `grant()`: the IAM member is
created beside the grantee (a `ServiceAccount`, or the identity of a library construct
such as `ServerlessGenerator`), so a consumer stack that grants itself access to a
platform in another stack only refers to the platform - never the other way round - and
no dependency cycle can form. A grantee given as a member string (`group:...`) has no
scope of its own; its grant lives beside the resource. Granting the same thing twice
returns the first grant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from constructs import Construct

from .._terraform import stable_text
from .defaults import member_for
from .stack import short_hash

__all__ = ["RuntimeIdentity", "grant", "grantee_member", "runtime_identity"]

T = TypeVar("T")


def _identity(grantee: Any) -> Any:
    """The service account behind a grantee: itself, or a library construct's `identity`."""
    identity = getattr(grantee, "identity", None)
    if identity is not None and hasattr(identity, "email") and hasattr(identity, "node"):
        return identity
    return grantee


def grantee_member(grantee: Any) -> tuple[str, Construct | None]:
    """(IAM member, scope to create the grant in, or None for a plain member string)."""
    grantee = _identity(grantee)
    if hasattr(grantee, "email") and hasattr(grantee, "node"):  # a ServiceAccount
        return f"serviceAccount:{grantee.email}", grantee
    if not isinstance(grantee, str):
        raise TypeError(
            f"grantee: {type(grantee).__name__} is not a grantee; give a ServiceAccount, a "
            "construct with an `identity` (ServerlessGenerator, JobRunner) or an IAM member "
            "string such as 'group:data-science@example.com'")
    return member_for(grantee), None


def grant(resource: Construct, grantee: Any, kind: str,
          make: Callable[[Construct, str, str], T]) -> T:
    """Create (once) the grant `kind` on `resource` to `grantee`: `make(scope, id, member)`.

    With a service-account grantee the grant is created in the scope that holds the
    account, named for the account and the resource's path; with a member string, under
    `resource`, named for the member.
    """
    member, account = grantee_member(grantee)
    if account is not None:
        scope = account.node.scope
        construct_id = f"{account.node.id}-{kind}-{short_hash(resource.node.path)}"
    else:
        scope = resource
        readable = re.sub(r"[^A-Za-z0-9]+", "-", member).strip("-")
        construct_id = f"{kind}-{readable}" if "${" not in member else \
            f"{kind}-{short_hash(stable_text(resource, member))}"
    existing = scope.node.try_find_child(construct_id)
    if existing is not None:
        return existing  # type: ignore[return-value]
    return make(scope, construct_id, member)


@dataclass(frozen=True)
class RuntimeIdentity:
    """A runtime service account and its grants on the platform's data."""

    account: Any
    bucket_grant: Any
    database_grant: Any
    secret_grant: Any

    @property
    def grants(self) -> list[Any]:
        return [self.bucket_grant, self.database_grant, self.secret_grant]


def runtime_identity(owner: Construct, *, project: str, account_id: str, display_name: str,
                     description: str, bucket: Any, metadata_store: Any, secret: str,
                     depends_on: Sequence[Any]) -> RuntimeIdentity:
    """The service account the service (or its jobs) runs as - `owner`'s child "Identity" -
    with object read-write on the bucket's prefix, read-write on exactly the database and
    access to exactly the pepper secret; nothing else."""
    from cdktn_provider_google.secret_manager_secret_iam_member import (
        SecretManagerSecretIamMember,
    )
    from cdktn_provider_google.service_account import ServiceAccount

    account = ServiceAccount(owner, "Identity", project=project, account_id=account_id,
                             display_name=display_name, description=description,
                             depends_on=list(depends_on))
    return RuntimeIdentity(
        account=account,
        bucket_grant=bucket.grant_read_write(account),
        database_grant=metadata_store.grant_read_write(account),
        secret_grant=SecretManagerSecretIamMember(
            owner, "SecretGrant", project=project, secret_id=secret,
            role="roles/secretmanager.secretAccessor",
            member=f"serviceAccount:{account.email}"),
    )
