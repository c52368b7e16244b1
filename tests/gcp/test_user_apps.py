"""The GCP constructs inside users' own CDK Terrain apps: every test reads one user app
(all of them synthesized once, as one App with a stack per app)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from constructs_lib import PhysicalNames
from constructs_lib.naming import gcp_labels, gcp_names

from .conftest import PROJECT, path_of, resources
from .user_apps import IMAGE, SPEC

#: Attributes that hold a physical name, per resource type.
NAME_ATTRIBUTES = ("name", "bucket_id", "account_id", "repository_id", "secret_id")


def physical_names(template: dict[str, Any]) -> Counter:
    names: Counter = Counter()
    for kind, items in template.get("resource", {}).items():
        if kind.endswith(("_iam_member", "_project_service", "_service_identity")):
            continue
        for body in items.values():
            for attribute in NAME_ATTRIBUTES:
                if isinstance(body.get(attribute), str) and "${" not in body[attribute]:
                    names[(kind, body[attribute])] += 1
    return names


# -- two platforms in one stack ------------------------------------------------------------


def test_two_platforms_from_one_spec_share_no_physical_name(users):
    names = physical_names(users.templates["two-platforms"])
    assert [n for n, count in names.items() if count > 1] == []
    assert sum(1 for kind, _ in names if kind == "google_storage_bucket") == 4


def test_two_platforms_share_no_output_and_no_iam_binding(users):
    template = users.templates["two-platforms"]
    outputs = set(template["output"])
    assert {"alpha_endpoint_url", "beta_endpoint_url", "alpha_jobs_url"} <= outputs
    assert len(outputs) == 14
    bindings = Counter(json.dumps({k: v for k, v in body.items() if k != "//"}, sort_keys=True)
                       for kind, items in template["resource"].items()
                       if kind.endswith("_iam_member") for body in items.values())
    assert [b for b, count in bindings.items() if count > 1] == []


def test_two_platforms_enable_each_api_and_create_each_agent_once(users):
    template = users.templates["two-platforms"]
    services = [a["service"] for a in resources(template, "google_project_service").values()]
    assert len(services) == len(set(services))
    agents = [a["service"] for a in resources(template,
                                              "google_project_service_identity").values()]
    assert len(agents) == len(set(agents))


# -- standalone constructs -----------------------------------------------------------------


def test_a_standalone_bucket_and_store_from_one_spec_get_their_own_keys(users):
    template = users.templates["standalone"]
    rings = [r["name"] for r in resources(template, "google_kms_key_ring").values()]
    keys = [k["name"] for k in resources(template, "google_kms_crypto_key").values()]
    assert len(rings) == 2 and len(set(rings)) == 2 and len(set(keys)) == 2
    assert [n for n, count in physical_names(template).items() if count > 1] == []


def test_standalone_constructs_label_what_they_create_and_write_no_outputs(users):
    template = users.templates["standalone"]
    labels = gcp_labels(SPEC)
    for kind in ("google_storage_bucket", "google_kms_crypto_key"):
        for body in resources(template, kind).values():
            assert body["labels"] == labels, kind
    assert "output" not in template


# -- bring your own --------------------------------------------------------------------------


def test_brought_resources_are_used_and_nothing_they_replace_is_created(users):
    template = users.templates["byo"]
    for kind in ("google_storage_bucket", "google_firestore_database",
                 "google_artifact_registry_repository", "docker_image", "google_compute_network"):
        assert not [r for r in resources(template, kind).values()
                    if path_of(r).startswith("byo/Synth/")], kind
    assert len(resources(template, "google_kms_key_ring")) == 1  # the user's own


def test_the_brought_key_encrypts_and_every_agent_may_use_it(users):
    template = users.templates["byo"]
    key = next(f"${{google_kms_crypto_key.{logical}.id}}"
               for logical in resources(template, "google_kms_crypto_key"))
    secret = next(iter(resources(template, "google_secret_manager_secret").values()))
    assert secret["replication"]["user_managed"]["replicas"][0][
        "customer_managed_encryption"] == {"kms_key_name": key}
    service = next(iter(resources(template, "google_cloud_run_v2_service").values()))
    assert service["template"]["encryption_key"] == key
    granted = {g["member"].split("${")[1].split(".")[1]: g["crypto_key_id"]
               for g in resources(template, "google_kms_crypto_key_iam_member").values()}
    assert set(granted.values()) == {key}
    # the bucket, database and image were brought: only Cloud Run and Secret Manager encrypt
    assert sorted(granted) == [f"Agent-{PROJECT}-run", f"Agent-{PROJECT}-secretmanager"]


def test_the_brought_network_carries_all_egress_of_service_and_jobs(users):
    template = users.templates["byo"]
    network = next(f"${{google_compute_network.{logical}.id}}"
                   for logical in resources(template, "google_compute_network"))
    subnet = next(f"${{google_compute_subnetwork.{logical}.id}}"
                  for logical in resources(template, "google_compute_subnetwork"))
    expected = {"egress": "ALL_TRAFFIC",
                "network_interfaces": [{"network": network, "subnetwork": subnet}]}
    service = next(iter(resources(template, "google_cloud_run_v2_service").values()))
    assert service["template"]["vpc_access"] == expected
    for job in resources(template, "google_cloud_run_v2_job").values():
        assert job["template"]["template"]["vpc_access"] == expected


def test_the_brought_bucket_database_and_image_reach_the_service(users):
    template = users.templates["byo"]
    service = next(iter(resources(template, "google_cloud_run_v2_service").values()))
    container = service["template"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SYNTH_STORAGE_URL"] == "gs://team-datasets/data"
    assert env["SYNTH_METADATA_URL"] == "firestore://team-records"
    assert container["image"] == IMAGE
    grants = [g for g in resources(template, "google_storage_bucket_iam_member").values()]
    assert {g["bucket"] for g in grants} == {"team-datasets"}
    assert all("buckets/team-datasets/objects/data/" in g["condition"]["expression"]
               for g in grants)


# -- across stacks ---------------------------------------------------------------------------


def test_a_consumer_stack_grants_itself_access_without_a_cycle(users):
    producer, consumer = users.templates["producer"], users.templates["consumer"]
    manifest = json.loads((users.outdir / "manifest.json").read_text())["stacks"]
    assert manifest["consumer"]["dependencies"] == ["producer"]
    assert manifest["producer"]["dependencies"] == []
    assert "terraform_remote_state" not in producer.get("data", {})
    analyst = "serviceAccount:${google_service_account.Analyst.email}"
    granted = sorted((kind, body["role"]) for kind, items in consumer["resource"].items()
                     for body in items.values() if body.get("member") == analyst)
    assert granted == [
        ("google_cloud_run_v2_job_iam_member", "roles/run.jobsExecutorWithOverrides"),
        ("google_cloud_run_v2_job_iam_member", "roles/run.jobsExecutorWithOverrides"),
        ("google_cloud_run_v2_job_iam_member", "roles/run.viewer"),
        ("google_cloud_run_v2_service_iam_member", "roles/run.invoker"),
        ("google_project_iam_member", "roles/datastore.user"),
        ("google_storage_bucket_iam_member", "roles/storage.objectViewer"),
    ]
    assert analyst not in json.dumps(producer)


# -- placement -------------------------------------------------------------------------------


def test_the_same_spec_in_two_projects_asks_for_different_global_names(users):
    a, b = users.templates["team-a-prod"], users.templates["team-b-prod"]

    def buckets(template):
        return {r["name"] for r in resources(template, "google_storage_bucket").values()}

    assert buckets(a) and not buckets(a) & buckets(b)
    assert buckets(a) == {gcp_names(SPEC, project="team-a-prod", region="europe-west1")
                          .data_bucket, gcp_names(SPEC, project="team-a-prod",
                                                  region="europe-west1").access_log_bucket}


def test_every_resource_goes_to_the_providers_project_when_the_spec_names_none(users):
    for project in ("team-a-prod", "team-b-prod"):
        template = users.templates[project]
        projects = {body["project"] for items in template["resource"].values()
                    for body in items.values() if "project" in body}
        assert projects == {project}
        text = json.dumps(template)
        assert "synthdata-dev" not in text and "synthdemo" not in text


def test_generated_names_are_the_default_and_from_spec_names_are_readable(users):
    generated = users.templates["producer"]
    from_spec = users.templates["team-a-prod"]
    names = gcp_names(SPEC, project="team-a-prod", region="europe-west1")
    assert only_name(from_spec, "google_firestore_database") == names.firestore_database
    assert only_name(from_spec, "google_cloud_run_v2_service") == names.service
    assert only_name(generated, "google_firestore_database").startswith("synth-metadata-store-")
    assert PhysicalNames.resolve(None) is PhysicalNames.GENERATED
    assert PROJECT  # the default user stack's project (conftest)


def only_name(template: dict[str, Any], kind: str) -> str:
    (body,) = resources(template, kind).values()
    return body["name"]
