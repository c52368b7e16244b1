"""Enable the Google APIs a construct needs, once per stack.

Every construct asks for the APIs it uses; the first request in a stack creates the
`google_project_service`, later ones reuse it. Resources then `depends_on` exactly the
APIs they need, so one `terraform apply` works on a fresh project. APIs stay enabled on
destroy (`disable_on_destroy=False`): other workloads in the project may use them.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import TerraformStack
from cdktn_provider_google.project_service import ProjectService
from constructs import Construct

__all__ = ["enable_apis"]


def enable_apis(scope: Construct, project: str, services: Sequence[str]) -> list[ProjectService]:
    """The `google_project_service` of each API in `services`, created on first use."""
    stack = TerraformStack.of(scope)
    enabled = []
    for service in services:
        construct_id = f"Api-{project}-{service.split('.')[0]}"
        existing = stack.node.try_find_child(construct_id)
        if existing is None:
            existing = ProjectService(
                stack, construct_id,
                project=project,
                service=service,
                disable_on_destroy=False,
                disable_dependent_services=False,
            )
        enabled.append(existing)
    return enabled
