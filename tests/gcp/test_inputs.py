"""Bad input fails with a clear error before anything is synthesized; weakened secure
defaults warn."""

from __future__ import annotations

import pytest

from constructs_lib import PlatformSpec


@pytest.fixture(scope="module")
def gcp(gcp_tmp):
    """The GCP module and a factory of fresh stacks (construction only, no synth)."""
    from cdktn import App, TerraformStack

    import constructs_lib.gcp as module

    def new_stack():
        return TerraformStack(App(outdir=str(gcp_tmp / "unused.out")), "Inputs")

    return module, new_stack


def test_public_invokers_are_refused(gcp):
    module, new_stack = gcp
    for member in ("allUsers", "allAuthenticatedUsers"):
        with pytest.raises(ValueError, match="would make the generator public"):
            module.SyntheticDataPlatform(new_stack(), "Synth", spec=PlatformSpec(name="demo"),
                                         invoker_members=[member])


def test_malformed_invoker_member_is_refused(gcp):
    module, new_stack = gcp
    with pytest.raises(ValueError, match="not an IAM member.*'user:EMAIL'"):
        module.SyntheticDataPlatform(new_stack(), "Synth", spec=PlatformSpec(name="demo"),
                                     invoker_members=["alice@example.com"])


def test_source_packaging_with_a_prebuilt_image_is_refused(gcp):
    module, new_stack = gcp
    spec = PlatformSpec(name="demo", generator={"packaging": "source",
                                                "image": "europe-docker.pkg.dev/p/r/i:1"})
    with pytest.raises(ValueError, match="Cloud Functions builds from source"):
        module.SyntheticDataPlatform(new_stack(), "Synth", spec=spec)


def test_source_packaging_needs_a_source_directory(gcp, tmp_path):
    module, new_stack = gcp
    spec = PlatformSpec(name="demo", generator={"packaging": "source"})
    with pytest.raises(ValueError, match="is not a directory"):
        module.SyntheticDataPlatform(new_stack(), "Synth", spec=spec,
                                     source_dir=tmp_path / "missing")


def test_unknown_ingress_is_refused(gcp):
    module, new_stack = gcp
    with pytest.raises(ValueError, match="ingress"):
        module.SyntheticDataPlatform(new_stack(), "Synth", spec=PlatformSpec(name="demo"),
                                     ingress="public")


def test_environment_may_not_replace_contract_variables(gcp):
    module, new_stack = gcp
    stack = new_stack()
    spec = PlatformSpec(name="demo")
    platform = module.SyntheticDataPlatform(stack, "Synth", spec=spec)
    with pytest.raises(ValueError, match="SYNTH_STORAGE_URL"):
        module.ServerlessGenerator(
            stack, "Other", spec=spec, bucket=platform.bucket,
            metadata_store=platform.metadata_store, api_keys_secret=platform.api_keys_secret,
            environment={"SYNTH_STORAGE_URL": "file:///tmp"})


def test_turning_off_versioning_or_logs_warns(gcp):
    module, new_stack = gcp
    from constructs_lib.gcp.defaults import SecureDefaultWarning

    spec = PlatformSpec(name="demo")
    with pytest.warns(SecureDefaultWarning, match="versioning on"):
        module.SecureBucket(new_stack(), "Bucket", spec=spec, versioned=False)
    with pytest.warns(SecureDefaultWarning, match="access logs on"):
        module.SecureBucket(new_stack(), "Bucket", spec=spec, access_logs=False)


def test_turning_off_pitr_or_prod_delete_protection_warns(gcp):
    module, new_stack = gcp
    from constructs_lib.gcp.defaults import SecureDefaultWarning

    with pytest.warns(SecureDefaultWarning, match="point-in-time recovery"):
        module.MetadataStore(new_stack(), "Store", spec=PlatformSpec(name="demo"),
                             point_in_time_recovery=False)
    with pytest.warns(SecureDefaultWarning, match="delete protection"):
        module.MetadataStore(new_stack(), "Store",
                             spec=PlatformSpec(name="demo", environment="prod"),
                             deletion_protection=False)


def test_grants_accept_members_emails_and_reject_public_principals(gcp):
    module, new_stack = gcp
    bucket = module.SecureBucket(new_stack(), "Bucket", spec=PlatformSpec(name="demo"))
    assert bucket.grant_read("reader@demo.iam.gserviceaccount.com").member_input == \
        "serviceAccount:reader@demo.iam.gserviceaccount.com"
    assert bucket.grant_read_write("group:ds@example.com").member_input == "group:ds@example.com"
    with pytest.raises(ValueError, match="public"):
        bucket.grant_read("allUsers")
