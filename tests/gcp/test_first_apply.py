"""One `terraform apply` on a fresh project needs nothing but credentials and the state
bucket: every API is enabled by the stack, every service agent is created before its key
grant, every encrypted resource waits for its agent's grant, the pepper is generated, and
the image is built, pushed and run by digest. Terraform itself cannot run here (no
provider plugins can be downloaded), so these read the dependency graph it would follow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT, only, ref, resources

KEY_USERS = {
    # resource type -> (how it names its key, the agent that must hold the key first)
    "google_storage_bucket": (lambda r: r.get("encryption", {}).get("default_kms_key_name"),
                              "storage"),
    "google_firestore_database": (lambda r: r.get("cmek_config", {}).get("kms_key_name"),
                                  "firestore"),
    "google_artifact_registry_repository": (lambda r: r.get("kms_key_name"), "artifactregistry"),
    "google_secret_manager_secret": (
        lambda r: r["replication"]["user_managed"]["replicas"][0]
        .get("customer_managed_encryption", {}).get("kms_key_name"), "secretmanager"),
    "google_cloud_run_v2_service": (lambda r: r["template"].get("encryption_key"), "run"),
    "google_cloud_run_v2_job": (lambda r: r["template"]["template"].get("encryption_key"), "run"),
}


@pytest.fixture(params=["dev", "prod"])
def template(request, app_templates):
    return app_templates[f"synth-synthdemo-{request.param}-gcp"]


def test_the_apis_a_fresh_project_lacks_are_enabled_by_the_stack(template):
    services = {a["service"] for a in resources(template, "google_project_service").values()}
    assert {"iamcredentials.googleapis.com", "cloudresourcemanager.googleapis.com",
            "serviceusage.googleapis.com", "iam.googleapis.com"} <= services


def test_every_agent_key_grant_waits_for_the_api_and_the_agent(template):
    grants = resources(template, "google_kms_crypto_key_iam_member")
    assert len(grants) == 5  # storage, firestore, artifact registry, secret manager, run
    for grant in grants.values():
        agent = re.search(r"\$\{((?:data\.)?[a-z_]+\.[A-Za-z0-9_-]+)\.", grant["member"]).group(1)
        api = next(d for d in grant["depends_on"] if d.startswith("google_project_service."))
        assert agent in grant["depends_on"]
        service = resources(template, "google_project_service")[api.split(".")[1]]["service"]
        if agent.startswith("data."):
            assert service == "storage.googleapis.com"
        else:
            identity = resources(template, "google_project_service_identity")[
                agent.split(".")[1]]
            assert identity["service"] == service
            assert identity["provider"] == "google-beta.synth"


def test_every_encrypted_resource_waits_for_its_agents_key_grant(template):
    grant_of = {}
    for logical in resources(template, "google_kms_crypto_key_iam_member"):
        grant_of[logical.split("-")[1]] = f"google_kms_crypto_key_iam_member.{logical}"
    checked = 0
    for kind, (key_of, agent) in KEY_USERS.items():
        for body in resources(template, kind).values():
            if key_of(body):
                assert grant_of[agent] in body["depends_on"], (kind, agent)
                checked += 1
    assert checked >= 8


def test_the_google_beta_provider_acts_on_the_same_project_and_region(template):
    google = template["provider"]["google"][0]
    (beta,) = template["provider"]["google-beta"]
    assert beta["alias"] == "synth"
    assert (beta["project"], beta["region"]) == (google["project"], google["region"])


def test_cloud_run_runs_the_image_the_apply_built_and_pushed_by_digest(template):
    push = ref(template, "docker_registry_image", "Image/Push", "sha256_digest")
    build = only(template, "docker_image", "Image/Build")
    repository = only(template, "google_artifact_registry_repository")
    repository_path = (f"europe-west1-docker.pkg.dev/{repository['project']}/"
                       f"{repository['repository_id']}/synth-service")
    service = only(template, "google_cloud_run_v2_service")
    assert service["template"]["containers"][0]["image"] == f"{repository_path}@{push}"
    for job in resources(template, "google_cloud_run_v2_job").values():
        assert job["template"]["template"]["containers"][0]["image"] == \
            f"{repository_path}@{push}"
    assert build["name"].startswith(f"{repository_path}:")
    assert ":latest" not in str(template)
    assert only(template, "docker_registry_image")["name"] == ref(
        template, "docker_image", "Image/Build", "name")
    assert ref(template, "google_artifact_registry_repository", "Image/Repository",
               "id").removeprefix("${").removesuffix(".id}") in build["depends_on"]


def test_the_image_is_built_for_cloud_run_from_the_staged_context(app_synth, template):
    build = only(template, "docker_image", "Image/Build")["build"]
    assert build["platform"] == "linux/amd64"
    stack = next(n for n, t in app_synth.templates.items() if t is template)
    context = app_synth.outdir / "stacks" / stack / build["context"]
    assert (context / "Dockerfile").is_file()
    assert (context / "constructs_lib" / "contract.py").is_file()
    assert (context / "synthdata_service" / "handlers" / "gcp_jobs.py").is_file()
    assert (context / "Dockerfile").read_bytes() == (ROOT / "service" / "Dockerfile").read_bytes()
    tag = only(template, "docker_image", "Image/Build")["name"].rsplit(":", 1)[1]
    assert tag == Path(build["context"]).name.lower()  # the context's hash: new content, new tag


def test_the_deploying_identity_pushes_with_its_own_access_token(template):
    (docker,) = template["provider"]["docker"]
    (auth,) = docker["registry_auth"]
    assert auth["address"] == "europe-west1-docker.pkg.dev"
    assert auth["username"] == "oauth2accesstoken"
    assert auth["password"] == "${data.google_client_config.SynthClientConfig.access_token}"
    for kind in ("docker_image", "docker_registry_image"):
        assert only(template, kind)["provider"] == f"docker.{docker['alias']}"


def test_the_only_thing_made_by_hand_is_the_state_bucket(template):
    assert list(template["terraform"]["backend"]) == ["gcs"]
    assert "variable" not in template  # nothing to type in at apply
    assert not resources(template, "terraform_data") and "null_resource" not in str(template)


@pytest.mark.parametrize("alias", ["eu", None])
def test_a_users_own_google_beta_provider_is_kept_or_used(tmp_path, alias):
    # The library writes its aliased google-beta provider without the package's bindings;
    # a stack that declares its own keeps it (aliased) or has the agents use it (unaliased).
    import json

    from cdktn import App, Testing
    from cdktn_provider_google_beta.provider import GoogleBetaProvider

    from constructs_lib import PlatformSpec
    from constructs_lib.gcp import SyntheticDataPlatform

    from .conftest import user_stack

    stack = user_stack(App(outdir=str(tmp_path)), "own-beta")
    GoogleBetaProvider(stack, "Beta", alias=alias, project="p", region="europe-west1")
    SyntheticDataPlatform(stack, "Synth", spec=PlatformSpec(name="ownbeta"))
    template = json.loads(Testing.synth(stack))
    aliases = sorted(str(p.get("alias")) for p in template["provider"]["google-beta"])
    agents = {r["provider"] for r in
              template["resource"]["google_project_service_identity"].values()}
    if alias:
        assert aliases == ["eu", "synth"] and agents == {"google-beta.synth"}
    else:
        assert aliases == ["None"] and agents == {"google-beta"}
