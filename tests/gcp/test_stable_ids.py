"""A grant to a member given as an unresolved value (an account made elsewhere in the
user's app) keeps its id whatever else the process built first: hashing the token's text
(`${TfToken[TOKEN.57]}`) renamed it on every synth that came after another."""

from __future__ import annotations

import json

from cdktn import App, Testing

from constructs_lib import PlatformSpec

from .conftest import user_stack


def _member_grant_ids(tmp_path, name: str) -> list[str]:
    from cdktn_provider_google.service_account import ServiceAccount

    from constructs_lib.gcp import SyntheticDataPlatform

    stack = user_stack(App(outdir=str(tmp_path / name)), "s")
    analyst = ServiceAccount(stack, "Analyst", account_id="analyst")
    platform = SyntheticDataPlatform(stack, "Synth", spec=PlatformSpec(name="stable"))
    platform.bucket.grant_read(f"serviceAccount:{analyst.email}")
    resources = json.loads(Testing.synth(stack))["resource"]["google_storage_bucket_iam_member"]
    return sorted(k for k, v in resources.items() if "analyst" in json.dumps(v).lower())


def test_a_grant_to_an_unresolved_member_keeps_its_id(tmp_path):
    first = _member_grant_ids(tmp_path, "first")
    second = _member_grant_ids(tmp_path, "second")  # the token counter has moved on
    assert first == second and len(first) == 1
