"""Resource ids stay the same whatever else the process built first: an id hashed from an
unresolved token's text (`${TfToken[TOKEN.57]}`) changed with the token counter, so a
second synth in one process (another stack, another test) renamed every role assignment,
which Terraform would destroy and recreate."""

from __future__ import annotations

import json

from cdktn import App, TerraformStack, Testing

from constructs_lib import PlatformSpec

SPEC = PlatformSpec(name="stable", generator={"timeout_seconds": 200})


def _role_assignment_ids(tmp_path, name: str) -> list[str]:
    from cdktn_provider_azurerm.provider import AzurermProvider

    from constructs_lib.azure import SyntheticDataPlatform

    stack = TerraformStack(App(outdir=str(tmp_path / name)), "s")
    AzurermProvider(stack, "azurerm", features=[{}])
    SyntheticDataPlatform(stack, "Synth", spec=SPEC)
    return sorted(json.loads(Testing.synth(stack))["resource"]["azurerm_role_assignment"])


def test_role_assignment_ids_do_not_depend_on_what_was_built_before(tmp_path):
    first = _role_assignment_ids(tmp_path, "first")
    second = _role_assignment_ids(tmp_path, "second")  # the token counter has moved on
    assert first == second and len(first) > 5
