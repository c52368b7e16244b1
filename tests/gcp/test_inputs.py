"""Bad input fails with a clear error before anything is synthesized; overridden secure
defaults are said out loud (the core's warning class and a cdktn annotation)."""

from __future__ import annotations

import pytest

from constructs_lib import PlatformSpec, RemovalPolicy, SecureDefaultOverridden

SPEC = PlatformSpec(name="demo", gcp={"project": "demo-project", "region": "europe-west1"})


@pytest.fixture(scope="module")
def gcp(gcp_tmp):
    """The GCP module and a factory of fresh stacks (construction only, no synth)."""
    from cdktn import App, TerraformStack
    from cdktn_provider_google.provider import GoogleProvider

    import constructs_lib.gcp as module

    def new_stack(project=None, region=None):
        stack = TerraformStack(App(outdir=str(gcp_tmp / "unused.out")), "Inputs")
        GoogleProvider(stack, "google", project=project, region=region)
        return stack

    return module, new_stack


def annotations(construct) -> list[str]:
    return [entry.data for entry in construct.node.metadata if entry.type == "@cdktf/warn"]


def test_a_stack_that_names_no_project_is_refused_naming_both_places(gcp):
    module, new_stack = gcp
    with pytest.raises(ValueError, match=r"gcp\.project.*`project=` on the stack's "
                                         r"GoogleProvider"):
        module.SecureBucket(new_stack(region="europe-west1"), "Data",
                            spec=PlatformSpec(name="demo"))


def test_a_stack_that_names_no_gcp_region_is_refused_naming_both_places(gcp):
    module, new_stack = gcp
    with pytest.raises(ValueError, match=r"gcp\.region.*'eu-west-1' is not a GCP region.*"
                                         r"`region=` on the stack's GoogleProvider"):
        module.SecureBucket(new_stack(project="demo-project"), "Data",
                            spec=PlatformSpec(name="demo"))


def test_a_project_from_an_unresolved_variable_is_refused(gcp):
    from cdktn import TerraformVariable

    module, new_stack = gcp
    stack = new_stack(region="europe-west1")
    stack.node.find_child("google").project = TerraformVariable(stack, "project").string_value
    with pytest.raises(ValueError, match="unresolved value"):
        module.SecureBucket(stack, "Data", spec=PlatformSpec(name="demo"))


def test_public_invokers_are_refused(gcp):
    module, new_stack = gcp
    for member in ("allUsers", "allAuthenticatedUsers"):
        with pytest.raises(ValueError, match="would make the generator public"):
            module.SyntheticDataPlatform(new_stack(), "Synth", spec=SPEC,
                                         invoker_members=[member], image="r/i@sha256:0")


def test_malformed_invoker_member_is_refused(gcp):
    module, new_stack = gcp
    with pytest.raises(ValueError, match="not an IAM member.*'user:EMAIL'"):
        module.SyntheticDataPlatform(new_stack(), "Synth", spec=SPEC,
                                     invoker_members=["alice@example.com"])


def test_source_packaging_needs_a_function_bundle(gcp, tmp_path):
    module, new_stack = gcp
    spec = SPEC.model_copy(update={"generator": SPEC.generator.model_copy(
        update={"packaging": "source"})})
    with pytest.raises(ValueError, match="is not a function bundle"):
        module.SyntheticDataPlatform(new_stack(), "Synth", spec=spec, source_dir=tmp_path,
                                     image="r/i@sha256:0")


def test_unknown_ingress_is_refused(gcp):
    module, new_stack = gcp
    with pytest.raises(ValueError, match="ingress"):
        module.SyntheticDataPlatform(new_stack(), "Synth", spec=SPEC, ingress="public",
                                     image="r/i@sha256:0")


def test_environment_may_add_variables_but_not_replace_the_contracts(gcp):
    module, new_stack = gcp
    platform = module.SyntheticDataPlatform(new_stack(), "Synth", spec=SPEC,
                                            image="r/i@sha256:0",
                                            environment={"SYNTH_RATE_LIMIT_URL": "redis://r"})
    assert platform.generator.runtime_environment["SYNTH_RATE_LIMIT_URL"] == "redis://r"
    for variable in ("SYNTH_STORAGE_URL", "SYNTH_CORS_ORIGINS", "SYNTH_SERVER"):
        with pytest.raises(ValueError, match=variable):
            module.SyntheticDataPlatform(new_stack(), "Synth", spec=SPEC, image="r/i@sha256:0",
                                         environment={variable: "x"})


def test_removal_policy_takes_the_shared_enum_or_its_name(gcp):
    module, new_stack = gcp
    for value in (RemovalPolicy.DESTROY, "destroy"):
        bucket = module.SecureBucket(new_stack(), "Data", spec=SPEC, removal_policy=value)
        assert bucket.bucket.force_destroy_input is True
    with pytest.raises(ValueError, match="RemovalPolicy.RETAIN or RemovalPolicy.DESTROY"):
        module.SecureBucket(new_stack(), "Data", spec=SPEC, removal_policy="keep")


def test_turning_off_versioning_or_logs_warns_and_annotates(gcp):
    module, new_stack = gcp
    with pytest.warns(SecureDefaultOverridden, match="versioning on"):
        bucket = module.SecureBucket(new_stack(), "Bucket", spec=SPEC, versioned=False)
    assert any("versioning on" in a for a in annotations(bucket))
    with pytest.warns(SecureDefaultOverridden, match="access logs on"):
        module.SecureBucket(new_stack(), "Bucket", spec=SPEC, access_logs=False)


def test_bucket_props_replacing_a_secure_default_warn_naming_it(gcp):
    module, new_stack = gcp
    with pytest.warns(SecureDefaultOverridden, match="public access prevention enforced"):
        bucket = module.SecureBucket(new_stack(), "Bucket", spec=SPEC,
                                     bucket_props={"public_access_prevention": "inherited",
                                                   "storage_class": "NEARLINE"})
    assert bucket.bucket.public_access_prevention_input == "inherited"
    assert bucket.bucket.storage_class_input == "NEARLINE"
    with pytest.raises(ValueError, match="bucket_props: name cannot be overridden"):
        module.SecureBucket(new_stack(), "Bucket", spec=SPEC, bucket_props={"name": "x"})


def test_turning_off_pitr_or_prod_delete_protection_warns(gcp):
    module, new_stack = gcp
    with pytest.warns(SecureDefaultOverridden, match="point-in-time recovery"):
        module.MetadataStore(new_stack(), "Store", spec=SPEC, point_in_time_recovery=False)
    with pytest.warns(SecureDefaultOverridden, match="delete protection"):
        module.MetadataStore(new_stack(), "Store",
                             spec=SPEC.model_copy(update={"environment": "prod"}),
                             deletion_protection=False)


def test_service_props_replacing_the_iam_check_warn(gcp):
    module, new_stack = gcp
    stack = new_stack()
    base = module.SyntheticDataPlatform(stack, "Synth", spec=SPEC, image="r/i@sha256:0")
    with pytest.warns(SecureDefaultOverridden, match="IAM check follows api.auth"):
        module.ServerlessGenerator(stack, "Other", spec=SPEC, bucket=base.bucket,
                                   metadata_store=base.metadata_store,
                                   api_keys_secret=base.api_keys_secret.secret,
                                   job_runner=base.job_runner, image="r/i@sha256:0",
                                   service_props={"invoker_iam_disabled": False})


def test_grants_accept_members_and_accounts_and_reject_public_principals(gcp):
    module, new_stack = gcp
    bucket = module.SecureBucket(new_stack(), "Bucket", spec=SPEC)
    assert bucket.grant_read("reader@demo.iam.gserviceaccount.com").member_input == \
        "serviceAccount:reader@demo.iam.gserviceaccount.com"
    assert bucket.grant_read_write("group:ds@example.com").member_input == "group:ds@example.com"
    with pytest.raises(ValueError, match="public"):
        bucket.grant_read("allUsers")
    with pytest.raises(TypeError, match="is not a grantee"):
        bucket.grant_read(42)


def test_granting_the_same_thing_twice_returns_the_first_grant(gcp):
    module, new_stack = gcp
    bucket = module.SecureBucket(new_stack(), "Bucket", spec=SPEC)
    assert bucket.grant_read("group:ds@example.com") is bucket.grant_read("group:ds@example.com")


def test_an_imported_store_needs_a_firestore_database_id(gcp):
    module, new_stack = gcp
    with pytest.raises(ValueError, match="is not a Firestore database id"):
        module.MetadataStore.from_store_name(new_stack(), "Db", "Bad_Name", spec=SPEC)
    assert module.MetadataStore.from_store_name(new_stack(), "Db", "(default)", spec=SPEC) \
        .metadata_url == "firestore://(default)"


def test_a_kms_key_must_be_a_key_id_or_a_key(gcp):
    module, new_stack = gcp
    with pytest.raises(ValueError, match="is not a Cloud KMS key id"):
        module.SecureBucket(new_stack(), "Bucket", spec=SPEC, encryption_key="my-key")


def test_vpc_subnets_take_one_subnetwork(gcp):
    module, new_stack = gcp
    with pytest.raises(ValueError, match="takes one subnetwork"):
        module.SyntheticDataPlatform(new_stack(), "Synth", spec=SPEC, image="r/i@sha256:0",
                                     vpc="projects/p/global/networks/n",
                                     vpc_subnets=["a", "b"])
