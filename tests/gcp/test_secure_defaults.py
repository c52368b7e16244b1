"""One test per secure default of the GCP platform, on the synthesized Terraform JSON.

Each test fails if its default is lost, whatever else changes in the snapshot.
"""

from __future__ import annotations

import json

import pytest

from constructs_lib import PlatformSpec, contract

from .conftest import ROOT, env_of, only, ref, resources

EXAMPLES = {"dev": ROOT / "examples" / "dev.yaml", "prod": ROOT / "examples" / "prod.yaml"}
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request, app_templates):
    """(spec, template) of each example stack."""
    spec = PlatformSpec.from_file(EXAMPLES[request.param])
    return spec, app_templates[f"synth-{spec.name}-{spec.environment}-gcp"]


def all_stacks(app_templates, source_template):
    return [*app_templates.values(), source_template]


# -- storage --------------------------------------------------------------------------------


def test_every_bucket_has_uniform_access_and_enforced_public_access_prevention(
        app_templates, source_template):
    for template in all_stacks(app_templates, source_template):
        buckets = resources(template, "google_storage_bucket")
        assert buckets
        for bucket in buckets.values():
            assert bucket["uniform_bucket_level_access"] is True
            assert bucket["public_access_prevention"] == "enforced"


def test_every_bucket_is_versioned(app_templates, source_template):
    for template in all_stacks(app_templates, source_template):
        for bucket in resources(template, "google_storage_bucket").values():
            assert bucket["versioning"] == {"enabled": True}


def test_samples_expire_after_the_spec_retention_and_old_versions_after_theirs(stack):
    spec, template = stack
    rules = only(template, "google_storage_bucket", "/Bucket/Bucket")["lifecycle_rule"]
    assert {"action": {"type": "Delete"},
            "condition": {"age": spec.storage.retention_days, "matches_prefix": ["data/samples/"],
                          "with_state": "LIVE"}} in rules
    assert {"action": {"type": "Delete"},
            "condition": {"days_since_noncurrent_time": spec.storage.noncurrent_version_days,
                          "with_state": "ARCHIVED"}} in rules


def test_data_bucket_logs_to_the_separate_log_bucket(stack):
    _, template = stack
    data = only(template, "google_storage_bucket", "/Bucket/Bucket")
    log_ref = ref(template, "google_storage_bucket", "/Bucket/AccessLogBucket", "name")
    assert data["logging"]["log_bucket"] == log_ref
    writer = only(template, "google_storage_bucket_iam_member", "LogWriterGrant")
    assert writer["member"] == "group:cloud-storage-analytics@google.com"
    assert writer["role"] == "roles/storage.objectCreator"
    assert writer["bucket"] == log_ref


def test_source_bucket_logs_to_the_log_bucket(source_template):
    source = only(source_template, "google_storage_bucket", "SourceBucket")
    assert source["logging"]["log_bucket"] == ref(
        source_template, "google_storage_bucket", "AccessLogBucket", "name")


def test_buckets_are_force_destroyed_only_with_the_destroy_policy(dev, prod):
    assert all(b["force_destroy"] is True
               for b in resources(dev, "google_storage_bucket").values())
    assert all(b["force_destroy"] is False
               for b in resources(prod, "google_storage_bucket").values())


def test_a_destroy_stack_leaves_nothing_that_blocks_terraform_destroy(dev):
    for kind in ("google_cloud_run_v2_service", "google_cloud_run_v2_job",
                 "google_secret_manager_secret"):
        for body in resources(dev, kind).values():
            assert body.get("deletion_protection") is False, kind
    assert only(dev, "google_firestore_database")["deletion_policy"] == "DELETE"
    assert only(dev, "google_secret_manager_secret_version")["deletion_policy"] == "DELETE"


def test_buckets_use_the_customer_managed_key_and_the_storage_agent_may_use_it(stack):
    _, template = stack
    key = ref(template, "google_kms_crypto_key", "/Key/CryptoKey", "id")
    for bucket in resources(template, "google_storage_bucket").values():
        assert bucket["encryption"] == {"default_kms_key_name": key}
    agent = list(template["data"]["google_storage_project_service_account"])[0]
    grant = only(template, "google_kms_crypto_key_iam_member", "KeyGrant-storage")
    assert grant == {**grant, "crypto_key_id": key,
                     "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
                     "member": f"serviceAccount:${{data.google_storage_project_service_account"
                               f".{agent}.email_address}}"}
    grant_id = [i for i, r in resources(template, "google_kms_crypto_key_iam_member").items()
                if "KeyGrant-storage" in r["//"]["metadata"]["path"]][0]
    data_bucket = only(template, "google_storage_bucket", "/Bucket/Bucket")
    assert f"google_kms_crypto_key_iam_member.{grant_id}" in data_bucket["depends_on"]


def test_provider_managed_encryption_creates_no_key(source_template):
    assert not resources(source_template, "google_kms_crypto_key")
    assert all("encryption" not in b
               for b in resources(source_template, "google_storage_bucket").values())


def test_kms_key_rotates_at_least_every_90_days(stack):
    _, template = stack
    key = only(template, "google_kms_crypto_key", "/Key/CryptoKey")
    assert int(key["rotation_period"].rstrip("s")) <= 90 * 24 * 3600
    assert key["purpose"] == "ENCRYPT_DECRYPT"


def test_kms_key_is_protected_when_retained(dev, prod):
    for kind in ("google_kms_crypto_key", "google_kms_key_ring"):
        assert only(prod, kind)["lifecycle"] == {"prevent_destroy": True}
        assert only(dev, kind)["lifecycle"] == {"prevent_destroy": False}


def test_resources_carry_the_spec_labels(stack):
    from constructs_lib.naming import gcp_labels

    spec, template = stack
    labels = gcp_labels(spec)
    for kind in ("google_storage_bucket", "google_kms_crypto_key", "google_cloud_run_v2_service",
                 "google_secret_manager_secret", "google_artifact_registry_repository"):
        for resource in resources(template, kind).values():
            assert resource["labels"] == labels, kind


# -- metadata store -------------------------------------------------------------------------


def test_firestore_is_native_with_point_in_time_recovery(stack):
    _, template = stack
    db = only(template, "google_firestore_database")
    assert db["type"] == "FIRESTORE_NATIVE"
    assert db["point_in_time_recovery_enablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    assert db["app_engine_integration_mode"] == "DISABLED"
    assert db["location_id"] == "europe-west1"


def test_firestore_delete_protection_in_prod_only(dev, prod):
    assert only(prod, "google_firestore_database")["delete_protection_state"] == \
        "DELETE_PROTECTION_ENABLED"
    assert only(dev, "google_firestore_database")["delete_protection_state"] == \
        "DELETE_PROTECTION_DISABLED"


def test_firestore_deletion_policy_follows_the_removal_policy(dev, prod):
    assert only(prod, "google_firestore_database")["deletion_policy"] == "ABANDON"
    assert only(dev, "google_firestore_database")["deletion_policy"] == "DELETE"


def test_firestore_uses_the_key_and_its_agent_may_use_it(stack):
    _, template = stack
    key = ref(template, "google_kms_crypto_key", "/Key/CryptoKey", "id")
    assert only(template, "google_firestore_database")["cmek_config"] == {"kms_key_name": key}
    grant = only(template, "google_kms_crypto_key_iam_member", "KeyGrant-firestore")
    assert grant["crypto_key_id"] == key
    identity = only(template, "google_project_service_identity", "firestore")
    assert identity["service"] == "firestore.googleapis.com"
    assert grant["member"] == "serviceAccount:" + ref(
        template, "google_project_service_identity", "firestore", "email")


# -- identity and access --------------------------------------------------------------------


def test_nothing_is_granted_to_the_public(app_templates, source_template):
    for template in all_stacks(app_templates, source_template):
        text = json.dumps(template)
        assert "allUsers" not in text and "allAuthenticatedUsers" not in text


def test_api_key_auth_opens_the_endpoint_and_leaves_the_keys_to_the_service(stack):
    _, template = stack
    service = only(template, "google_cloud_run_v2_service")
    assert service["invoker_iam_disabled"] is True  # the service checks bearer keys
    assert not resources(template, "google_cloud_run_v2_service_iam_member")


def test_no_primitive_roles_and_no_unconditioned_project_grants(app_templates, source_template):
    for template in all_stacks(app_templates, source_template):
        for kind, items in template.get("resource", {}).items():
            for resource in items.values():
                assert resource.get("role") not in PRIMITIVE_ROLES, kind
        assert not resources(template, "google_project_iam_binding")
        assert not resources(template, "google_project_iam_policy")
        for grant in resources(template, "google_project_iam_member").values():
            assert grant["condition"]["expression"], "project-wide grant without a condition"


def test_runtime_identity_holds_only_grants_on_exact_resources(stack):
    spec, template = stack
    sa = f"serviceAccount:{ref(template, 'google_service_account', 'Generator/Identity', 'email')}"
    held = [(kind, r) for kind, items in template["resource"].items()
            for r in items.values() if r.get("member") == sa]
    assert sorted((kind, r["role"]) for kind, r in held) == [
        ("google_cloud_run_v2_job_iam_member", "roles/run.jobsExecutorWithOverrides"),
        ("google_cloud_run_v2_job_iam_member", "roles/run.jobsExecutorWithOverrides"),
        ("google_cloud_run_v2_job_iam_member", "roles/run.viewer"),
        ("google_project_iam_member", "roles/datastore.user"),
        ("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor"),
        ("google_service_account_iam_member", "roles/iam.serviceAccountTokenCreator"),
        ("google_storage_bucket_iam_member", "roles/storage.objectUser"),
    ]
    grants = {kind: r for kind, r in held}
    bucket_name = ref(template, "google_storage_bucket", "/Bucket/Bucket", "name")
    bucket = grants["google_storage_bucket_iam_member"]
    assert bucket["bucket"] == bucket_name
    assert f"buckets/{bucket_name}/objects/data/" in bucket["condition"]["expression"]
    db_name = ref(template, "google_firestore_database", "Database", "name")
    assert grants["google_project_iam_member"]["condition"]["expression"] == \
        f'resource.name == "projects/{spec.gcp.project}/databases/{db_name}"'
    assert grants["google_secret_manager_secret_iam_member"]["secret_id"] == ref(
        template, "google_secret_manager_secret", "ApiKeysSecret", "id")
    signing = grants["google_service_account_iam_member"]  # sign its own download links
    assert signing["service_account_id"] == ref(template, "google_service_account",
                                                "Generator/Identity", "name")
    jobs = {r["name"] for kind, r in held if kind == "google_cloud_run_v2_job_iam_member"}
    assert jobs == {ref(template, "google_cloud_run_v2_job", name, "name")
                    for name in ("WorkerJob", "LongJob")}


def test_the_jobs_identity_holds_only_data_grants_and_its_own_jobs(stack):
    _, template = stack
    sa = f"serviceAccount:{ref(template, 'google_service_account', 'Jobs/Identity', 'email')}"
    roles = sorted((kind, r["role"]) for kind, items in template["resource"].items()
                   for r in items.values() if r.get("member") == sa)
    assert roles == [
        ("google_cloud_run_v2_job_iam_member", "roles/run.jobsExecutorWithOverrides"),
        ("google_cloud_run_v2_job_iam_member", "roles/run.jobsExecutorWithOverrides"),
        ("google_cloud_run_v2_job_iam_member", "roles/run.viewer"),
        ("google_project_iam_member", "roles/datastore.user"),
        ("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor"),
        ("google_storage_bucket_iam_member", "roles/storage.objectUser"),
    ]


def test_the_pepper_is_generated_at_apply_and_never_written_anywhere(app_templates,
                                                                    source_template):
    for template in all_stacks(app_templates, source_template):
        version = only(template, "google_secret_manager_secret_version")
        assert version["secret_data_wo"] == '${join("", [uuid(), uuid()])}'  # write-only
        assert "secret_data" not in version and "variable" not in template
        secret = only(template, "google_secret_manager_secret")
        assert secret["replication"]["user_managed"]["replicas"][0]["location"]


def test_the_secret_is_encrypted_with_the_key_once_its_agent_may_use_it(stack):
    _, template = stack
    key = ref(template, "google_kms_crypto_key", "/Key/CryptoKey", "id")
    secret = only(template, "google_secret_manager_secret")
    assert secret["replication"]["user_managed"]["replicas"][0][
        "customer_managed_encryption"] == {"kms_key_name": key}
    grant = ref(template, "google_kms_crypto_key_iam_member", "KeyGrant-secretmanager", "id")
    assert grant.removeprefix("${").removesuffix(".id}") in secret["depends_on"]


# -- the generator --------------------------------------------------------------------------


def test_iam_auth_requires_the_invoker_role_and_grants_it_only_to_members(source_template):
    from .conftest import INVOKER

    grants = resources(source_template, "google_cloud_run_v2_service_iam_member")
    assert [(g["role"], g["member"]) for g in grants.values()] == [("roles/run.invoker", INVOKER)]
    assert list(grants.values())[0]["name"] == ref(
        source_template, "google_cloudfunctions2_function", "Function", "name")


def test_cloud_run_limits_come_from_the_spec(stack):
    spec, template = stack
    t = only(template, "google_cloud_run_v2_service")["template"]
    assert t["scaling"]["min_instance_count"] == spec.generator.min_instances
    # no concurrency in the spec: Cloud Run's own limit (100), no reservation needed
    assert t["scaling"].get("max_instance_count") == spec.generator.concurrency
    assert t["timeout"] == f"{spec.generator.timeout_seconds}s"
    assert t["max_instance_request_concurrency"] == 1
    assert t["containers"][0]["resources"]["cpu_idle"] is True  # jobs run elsewhere
    container = t["containers"][0]
    assert container["resources"]["limits"]["memory"] == f"{spec.generator.memory_mb}Mi"
    assert container["ports"] == {"container_port": 8080}
    assert t["service_account"] == ref(template, "google_service_account", "Generator/Identity",
                                       "email")


def test_cloud_run_gets_the_runtime_contract_and_runs_uvicorn(stack):
    spec, template = stack
    env = env_of(template)
    bucket = ref(template, "google_storage_bucket", "/Bucket/Bucket", "name")
    database = ref(template, "google_firestore_database", "Database", "name")
    assert env["SYNTH_SERVER"] == "uvicorn"  # not the Lambda entry point
    assert env["FORWARDED_ALLOW_IPS"] == "*"  # only Google's front end reaches it
    assert env[contract.STORAGE_URL] == f"gs://{bucket}/data"
    assert env[contract.METADATA_URL] == f"firestore://{database}"
    worker = only(template, "google_cloud_run_v2_job", "WorkerJob")["name"]
    assert env[contract.JOBS_URL].startswith(
        f"cloudrun://projects/{spec.gcp.project}/locations/europe-west1/jobs/{worker}?")
    assert env[contract.API_KEYS_SECRET] == ref(
        template, "google_secret_manager_secret", "ApiKeysSecret", "id")
    assert env[contract.MAX_ROWS] == str(spec.generator.max_rows)
    assert env[contract.MAX_UPLOAD_MB] == str(spec.generator.max_upload_mb)
    assert env[contract.SYNTHESIZERS] == ",".join(spec.generator.synthesizers)


def test_the_registry_is_encrypted_with_the_key_once_its_agent_may_use_it(stack):
    _, template = stack
    repository = only(template, "google_artifact_registry_repository")
    assert repository["kms_key_name"] == ref(template, "google_kms_crypto_key", "/Key/CryptoKey",
                                             "id")
    grant = ref(template, "google_kms_crypto_key_iam_member", "KeyGrant-artifactregistry", "id")
    assert grant.removeprefix("${").removesuffix(".id}") in repository["depends_on"]


def test_job_tasks_get_the_same_contract_but_not_the_server(stack):
    _, template = stack
    service_env = env_of(template)
    for job in resources(template, "google_cloud_run_v2_job").values():
        container = job["template"]["template"]["containers"][0]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert "SYNTH_SERVER" not in env
        assert env == {k: v for k, v in service_env.items()
                       if k not in ("SYNTH_SERVER", "FORWARDED_ALLOW_IPS")}
        assert container["command"] == ["python", "-m", "synthdata_service.handlers.gcp_jobs"]


def test_alert_policies_watch_5xx_and_p99_latency(stack):
    spec, template = stack
    policies = {p["display_name"]: p for p in resources(template, "google_monitoring_alert_policy")
                .values()}
    errors = next(p for n, p in policies.items() if n.endswith("5xx responses"))
    latency = next(p for n, p in policies.items() if n.endswith("p99 latency"))
    error_condition = errors["conditions"][0]["condition_threshold"]
    assert 'response_code_class = "5xx"' in error_condition["filter"]
    assert error_condition["threshold_value"] == spec.monitoring.error_threshold
    latency_condition = latency["conditions"][0]["condition_threshold"]
    assert latency_condition["aggregations"][0]["per_series_aligner"] == "ALIGN_PERCENTILE_99"
    assert latency_condition["threshold_value"] == pytest.approx(
        spec.monitoring.latency_threshold_ratio * spec.generator.timeout_seconds * 1000)
    service = only(template, "google_cloud_run_v2_service")["name"]
    assert f'service_name = "{service}"' in error_condition["filter"]
    channels = resources(template, "google_monitoring_notification_channel")
    assert sorted(c["labels"]["email_address"] for c in channels.values()) == \
        sorted(spec.monitoring.alarm_emails)
    assert len(errors.get("notification_channels", [])) == len(spec.monitoring.alarm_emails)


def test_required_apis_are_enabled_and_stay_enabled_on_destroy(stack):
    _, template = stack
    apis = resources(template, "google_project_service")
    assert {a["service"] for a in apis.values()} == {
        "run.googleapis.com", "artifactregistry.googleapis.com", "firestore.googleapis.com",
        "secretmanager.googleapis.com", "cloudkms.googleapis.com", "monitoring.googleapis.com",
        "storage.googleapis.com", "iam.googleapis.com", "iamcredentials.googleapis.com",
        "cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com",
        "logging.googleapis.com"}
    assert all(a["disable_on_destroy"] is False for a in apis.values())
    run_api = next(i for i, a in apis.items() if a["service"] == "run.googleapis.com")
    assert f"google_project_service.{run_api}" in \
        only(template, "google_cloud_run_v2_service")["depends_on"]


def test_backend_is_gcs_and_no_absolute_path_is_written(app_templates, source_template):
    for template in all_stacks(app_templates, source_template):
        backend = template["terraform"]["backend"]
        assert list(backend) == ["gcs"]
        assert "-tfstate-" in backend["gcs"]["bucket"]
        text = json.dumps(template)
        assert str(ROOT) not in text and '"/tmp' not in text and '"/home' not in text


# -- the Cloud Functions variant ------------------------------------------------------------


def test_source_packaging_deploys_a_gen2_function_from_the_uploaded_zip(source_template,
                                                                       source_spec):
    function = only(source_template, "google_cloudfunctions2_function")
    assert not resources(source_template, "google_cloud_run_v2_service")
    build = function["build_config"]
    assert build["runtime"] == "python311"
    assert build["entry_point"] == "synth_http"
    storage = build["source"]["storage_source"]
    assert storage["bucket"] == ref(source_template, "google_storage_bucket", "SourceBucket",
                                    "name")
    assert storage["object"] == ref(source_template, "google_storage_bucket_object",
                                    "SourceObject", "name")
    obj = only(source_template, "google_storage_bucket_object")
    assert obj["source"].startswith("assets/") and obj["source"].endswith(".zip")
    service = function["service_config"]
    assert service["ingress_settings"] == "ALLOW_ALL"
    assert service["min_instance_count"] == source_spec.generator.min_instances
    assert service["max_instance_count"] == source_spec.generator.concurrency
    assert service["available_memory"] == "2048Mi"
    assert service["timeout_seconds"] == 120
    assert service["service_account_email"] == ref(
        source_template, "google_service_account", "Generator/Identity", "email")
    assert service["environment_variables"][contract.JOBS_URL].startswith("cloudrun://")


def test_source_packaging_enables_the_build_apis(source_template):
    services = {a["service"] for a in resources(source_template, "google_project_service")
                .values()}
    assert {"cloudfunctions.googleapis.com", "cloudbuild.googleapis.com",
            "run.googleapis.com"} <= services


def test_a_private_network_carries_all_egress_of_the_function_and_its_jobs(source_template,
                                                                         source_spec):
    subnet = only(source_template, "google_compute_subnetwork")
    assert subnet["ip_cidr_range"] == source_spec.network.cidr
    assert subnet["private_ip_google_access"] is True
    assert subnet["log_config"]["metadata"] == "INCLUDE_ALL_METADATA"
    network = ref(source_template, "google_compute_network", "Network", "id")
    assert only(source_template, "google_compute_network")["auto_create_subnetworks"] is False
    service = only(source_template, "google_cloudfunctions2_function")["service_config"]
    assert service["direct_vpc_egress"] == "VPC_EGRESS_ALL_TRAFFIC"
    assert service["direct_vpc_network_interface"][0]["network"] == network
    (job,) = resources(source_template, "google_cloud_run_v2_job").values()  # no long job
    assert job["template"]["template"]["vpc_access"]["egress"] == "ALL_TRAFFIC"
    assert not resources(source_template, "google_compute_router_nat")
