"""The constructs in users' own apps: several platforms in one stack, standalone stores,
bring your own, per-cloud workload identity, grants made in a consumer's stack, secure
defaults overridden out loud - each app synthesized once."""

from __future__ import annotations

from collections import Counter

import pytest

from constructs_lib import PhysicalNames, PlatformSpec, SecureDefaultOverridden, UnsupportedOnCloud

from .conftest import manifests, of_kind, synth

SPEC = PlatformSpec(name="users", storage={"encryption": "provider_managed"})


@pytest.fixture(scope="session")
def users(k8s_tmp):
    from cdktn import TerraformStack

    from constructs_lib.kubernetes import (
        MetadataStore,
        SecureBucket,
        SyntheticDataPlatform,
        Workload,
        providers,
    )

    def build(app):
        stacks = {}
        stack = stacks["two"] = TerraformStack(app, "two")
        providers(stack)
        SyntheticDataPlatform(stack, "First", spec=SPEC, outputs=True)
        SyntheticDataPlatform(stack, "Second", spec=SPEC, outputs=True)

        stack = stacks["standalone"] = TerraformStack(app, "standalone")
        providers(stack)
        for index in range(2):
            SecureBucket(stack, f"Bucket{index}", spec=SPEC)
            MetadataStore(stack, f"Store{index}", spec=SPEC)

        stack = stacks["byo"] = TerraformStack(app, "byo")
        providers(stack)
        bucket = SecureBucket.from_bucket_name(stack, "Existing", "team-bucket", spec=SPEC,
                                               endpoint="https://s3.internal.example:9000")
        store = MetadataStore.from_store_name(stack, "Db", "teamdb", spec=SPEC,
                                              host="pg.internal.example")
        SyntheticDataPlatform(stack, "Synth", spec=SPEC, bucket=bucket, metadata_store=store)

        stack = stacks["clouds"] = TerraformStack(app, "clouds")
        providers(stack)
        for key, identity, storage in (
            ("gke", {"provider": "gke",
                     "gcp_service_account": "synth-app@users-project.iam.gserviceaccount.com"},
             {"kms_key": "projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k"}),
            ("eks", {"provider": "eks_pod_identity",
                     "aws_role_arn": "arn:aws:iam::111122223333:role/synth"}, {}),
            ("aks", {"provider": "aks",
                     "azure_client_id": "00000000-1111-2222-3333-444444444444"},
             {"azure_account": "synthusers", "configure": False,
              "kms_key": "https://synth-kv.vault.azure.net/keys/data/0123"}),
        ):
            spec = PlatformSpec.from_dict({
                "name": "users", "storage": {"encryption": "customer_managed"},
                "kubernetes": {"namespace": f"users-{key}", "workload_identity": identity,
                               "storage": storage}})
            SyntheticDataPlatform(stack, key, spec=spec)

        platform_stack = stacks["platform"] = TerraformStack(app, "platform")
        providers(platform_stack)
        platform = SyntheticDataPlatform(platform_stack, "Synth", spec=SPEC)
        consumer = stacks["consumer"] = TerraformStack(app, "consumer")
        providers(consumer)
        notebook = Workload(consumer, "notebooks", "analyst", {"app": "notebook"})
        platform.bucket.grant_read(notebook)
        platform.metadata_store.grant_read_write(notebook)
        platform.job_runner.grant_submit(notebook)
        platform.generator.grant_invoke(notebook)

        stack = stacks["overrides"] = TerraformStack(app, "overrides")
        providers(stack)
        SyntheticDataPlatform(
            stack, "Synth", spec=SPEC, bucket_props={"block_public_access": False},
            deployment_props={"spec": {"template": {"spec": {"hostNetwork": True}}}})
        return stacks

    return synth(k8s_tmp / "users.out", build)


def _identities(template):
    seen = Counter((m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"])
                   for m in manifests(template))
    releases = Counter((r["namespace"], r["name"])
                       for r in template["resource"].get("helm_release", {}).values())
    return [k for k, n in seen.items() if n > 1] + [k for k, n in releases.items() if n > 1]


def test_two_platforms_from_one_spec_share_no_name_object_or_output(users):
    template = users.templates["two"]
    assert _identities(template) == []
    namespaces = of_kind(template, "Namespace")
    assert len(namespaces) == 2
    assert len(template["output"]) == 14 and all(
        key.startswith(("first_", "second_")) for key in template["output"])


def test_standalone_buckets_and_stores_from_one_spec_do_not_collide(users):
    template = users.templates["standalone"]
    assert _identities(template) == []
    jobs = [j["metadata"]["name"] for j in of_kind(template, "Job")]
    assert len(jobs) == 2  # one setup Job per bucket


def test_a_brought_bucket_and_store_are_used_and_nothing_is_made_for_them(users):
    template = users.templates["byo"]
    assert not [j for j in of_kind(template, "Job")
                if j["metadata"]["labels"]["app.kubernetes.io/component"] == "bucket-setup"]
    [deployment] = of_kind(template, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SYNTH_STORAGE_URL"]["value"].startswith("s3://team-bucket/data?")
    assert env["AWS_ENDPOINT_URL_S3"]["value"] == "https://s3.internal.example:9000"
    assert env["SYNTH_METADATA_URL"]["value"].startswith("postgresql://pg.internal.example:5432/"
                                                         "teamdb?")


def test_the_same_workload_reaches_each_clouds_bucket_through_workload_identity(users):
    template = users.templates["clouds"]
    by_namespace = {}
    for deployment in of_kind(template, "Deployment"):
        pod = deployment["spec"]["template"]
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env
        by_namespace[deployment["metadata"]["namespace"]] = (pod, env)
    accounts = {(a["metadata"]["namespace"], a["metadata"]["name"]):
                a["metadata"].get("annotations", {}) for a in of_kind(template, "ServiceAccount")}

    pod, env = by_namespace["users-gke"]
    assert env["SYNTH_STORAGE_URL"].startswith("gs://")
    assert accounts[("users-gke", pod["spec"]["serviceAccountName"])][
        "iam.gke.io/gcp-service-account"] == "synth-app@users-project.iam.gserviceaccount.com"
    pod, env = by_namespace["users-eks"]
    assert env["SYNTH_STORAGE_URL"].startswith("s3://") and env["AWS_REGION"] == "eu-west-1"
    assert accounts[("users-eks", pod["spec"]["serviceAccountName"])] == {}  # the agent's
    pod, env = by_namespace["users-aks"]
    assert env["SYNTH_STORAGE_URL"].startswith("az://synthusers/")
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert accounts[("users-aks", pod["spec"]["serviceAccountName"])][
        "azure.workload.identity/client-id"] == "00000000-1111-2222-3333-444444444444"
    egress = [rule for policy in of_kind(template, "NetworkPolicy")
              if policy["metadata"]["namespace"] in ("users-gke", "users-eks")
              for rule in policy["spec"].get("egress", [])]
    blocks = {peer["ipBlock"]["cidr"] for rule in egress for peer in rule["to"]
              if "ipBlock" in peer}
    assert {"169.254.169.254/32", "169.254.170.23/32"} <= blocks  # the token endpoints


def test_grants_are_made_in_the_consumers_stack_with_no_dependency_on_the_platforms(users):
    consumer = users.templates["consumer"]
    kinds = Counter(m["kind"] for m in manifests(consumer))
    assert kinds == {"NetworkPolicy": 3, "RoleBinding": 1}
    for resource in consumer["resource"]["kubernetes_manifest"].values():
        assert resource["//"]["metadata"]["path"].startswith("consumer/")
        assert "depends_on" not in resource
    [binding] = of_kind(consumer, "RoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "analyst",
                                    "namespace": "notebooks"}]
    assert not users.templates["platform"].get("data", {}).get("terraform_remote_state")


def test_replacing_a_secure_default_is_said_out_loud(users):
    said = [w for w in users.warnings if "overrides the secure default" in w]
    assert any("block_public_access" in w and "public access blocked" in w for w in said)
    assert any("deployment_props spec.template.spec.hostNetwork" in w for w in said)
    [setup] = [j for j in of_kind(users.templates["overrides"], "Job")
               if j["metadata"]["labels"]["app.kubernetes.io/component"] == "bucket-setup"]
    assert "--allow-public-access" in setup["spec"]["template"]["spec"]["containers"][0]["args"]


def test_nothing_is_written_that_was_not_asked_for(users):
    assert "output" not in users.templates["standalone"]
    assert "output" not in users.templates["byo"]


def test_a_cloud_setting_the_cluster_cannot_apply_is_refused_by_name(k8s_tmp):
    from cdktn import App, TerraformStack

    from constructs_lib.kubernetes import SyntheticDataPlatform

    stack = TerraformStack(App(outdir=str(k8s_tmp / "refused.out")), "refused")
    aks = PlatformSpec.from_dict({"name": "users", "kubernetes": {
        "workload_identity": {"provider": "aks",
                              "azure_client_id": "00000000-1111-2222-3333-444444444444"},
        "storage": {"azure_account": "acct"}}})
    with pytest.raises(UnsupportedOnCloud, match="kubernetes.storage.configure"):
        SyntheticDataPlatform(stack, "Aks", spec=aks)
    with pytest.raises(UnsupportedOnCloud, match="vpc"):
        SyntheticDataPlatform(stack, "Vpc", spec=SPEC, vpc="vpc-123")
    minio = PlatformSpec.from_dict({"name": "users", "kubernetes": {
        "on_prem": {"minio": True}, "storage": {"endpoint": "https://s3.example.com"}}})
    with pytest.raises(ValueError, match="on_prem.minio"):
        SyntheticDataPlatform(stack, "Minio", spec=minio)


def test_from_spec_names_are_the_specs(k8s_tmp):
    from cdktn import App, TerraformStack

    from constructs_lib.kubernetes import SyntheticDataPlatform
    from constructs_lib.naming import kubernetes_names

    stack = TerraformStack(App(outdir=str(k8s_tmp / "named.out")), "named")
    platform = SyntheticDataPlatform(stack, "Synth", spec=SPEC,
                                     physical_names=PhysicalNames.FROM_SPEC)
    names = kubernetes_names(SPEC)
    assert platform.namespace.name == names.namespace
    assert platform.bucket.bucket_name == names.bucket
    assert platform.api_keys_secret.secret_name == names.secret


def test_turning_off_versioning_warns(k8s_tmp):
    from cdktn import App, TerraformStack

    from constructs_lib.kubernetes import SecureBucket

    stack = TerraformStack(App(outdir=str(k8s_tmp / "warned.out")), "warned")
    with pytest.warns(SecureDefaultOverridden, match="versioned=False"):
        SecureBucket(stack, "Bucket", spec=SPEC, versioned=False)
