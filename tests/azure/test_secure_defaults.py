"""The secure defaults of the Azure platform, asserted on the ready-made app's dev and prod
stacks (the snapshots beside these record everything else)."""

from __future__ import annotations

import json

from .conftest import only, resources


def _rendered(template) -> str:
    return json.dumps(template)


def test_the_data_account_is_https_tls12_private_keyless_and_double_encrypted(dev):
    account = only(dev, "azurerm_storage_account", "/Bucket/")
    assert account["https_traffic_only_enabled"] is True
    assert account["min_tls_version"] == "TLS1_2"
    assert account["allow_nested_items_to_be_public"] is False
    assert account["shared_access_key_enabled"] is False
    assert account["default_to_oauth_authentication"] is True
    assert account["infrastructure_encryption_enabled"] is True
    assert account["cross_tenant_replication_enabled"] is False
    assert account["local_user_enabled"] is False and account["sftp_enabled"] is False
    assert account["account_replication_type"] == "GZRS"


def test_blobs_are_versioned_and_soft_deleted(dev):
    blob = only(dev, "azurerm_storage_account", "/Bucket/")["blob_properties"]
    assert blob["versioning_enabled"] is True
    assert blob["delete_retention_policy"]["days"] == 7
    assert blob["container_delete_retention_policy"]["days"] == 7


def test_the_container_is_private(dev):
    assert only(dev, "azurerm_storage_container", "/Bucket/")["container_access_type"] == \
        "private"


def test_lifecycle_follows_the_spec(dev, prod):
    for template, samples, versions in ((dev, 7, 7), (prod, 90, 30)):
        rules = {r["name"]: r for r in only(template, "azurerm_storage_management_policy")["rule"]}
        expire = rules["expire-samples"]
        assert expire["filters"]["prefix_match"][0].endswith("/data/samples/")
        assert expire["actions"]["base_blob"][
            "delete_after_days_since_modification_greater_than"] == samples
        assert rules["expire-old-versions"]["actions"]["version"][
            "delete_after_days_since_creation"] == versions


def test_blob_and_queue_access_is_logged(dev):
    settings = {s["name"]: s for s in resources(dev, "azurerm_monitor_diagnostic_setting").values()}
    for name, service in (("synth-blob-access", "blobServices"),
                          ("synth-queue-access", "queueServices")):
        assert settings[name]["target_resource_id"].endswith(f"/{service}/default")
        assert {log["category"] for log in settings[name]["enabled_log"]} == \
            {"StorageRead", "StorageWrite", "StorageDelete"}


def test_the_customer_managed_key_encrypts_storage_and_cosmos(dev):
    key = only(dev, "azurerm_key_vault_key")
    account = only(dev, "azurerm_storage_account", "/Bucket/")
    cosmos = only(dev, "azurerm_cosmosdb_account")
    assert "versionless_id" in account["customer_managed_key"]["key_vault_key_id"]
    assert "versionless_id" in cosmos["key_vault_key_id"]
    assert cosmos["default_identity_type"].startswith("UserAssignedIdentity=")
    assert key["key_opts"] == ["wrapKey", "unwrapKey"]


def test_the_data_key_is_hsm_backed_and_rotates(dev):
    key = only(dev, "azurerm_key_vault_key")
    assert key["key_type"] == "RSA-HSM" and key["key_size"] == 3072
    assert key["rotation_policy"]["expire_after"] == "P2Y"
    assert key["rotation_policy"]["automatic"]["time_before_expiry"] == "P30D"


def test_the_vault_is_rbac_with_purge_protection(dev, prod):
    for template, days in ((dev, 7), (prod, 90)):
        vault = only(template, "azurerm_key_vault")
        assert vault["rbac_authorization_enabled"] is True
        assert vault["purge_protection_enabled"] is True
        assert vault["soft_delete_retention_days"] == days
        assert "access_policy" not in vault


def test_the_pepper_never_enters_the_template_or_state(dev):
    assert "azurerm_key_vault_secret" not in dev.get("resource", {})
    assert dev["output"]["synth_api_keys_secret"]["value"].endswith("secrets/synth-api-pepper")


def test_cosmos_accepts_only_entra_id_identities(dev):
    cosmos = only(dev, "azurerm_cosmosdb_account")
    assert cosmos["local_authentication_enabled"] is False
    assert cosmos["access_key_metadata_writes_enabled"] is False
    assert cosmos["minimal_tls_version"] == "Tls12"
    assert cosmos["capabilities"] == [{"name": "EnableServerless"}]
    assert cosmos["backup"] == {"tier": "Continuous7Days", "type": "Continuous"}


def test_the_service_container_is_what_the_cosmos_store_expects(dev):
    container = only(dev, "azurerm_cosmosdb_sql_container")
    assert container["name"] == "records" and container["partition_key_paths"] == ["/pk"]


def test_production_metadata_is_locked_and_everything_stored_is_retained(dev, prod):
    assert "azurerm_management_lock" not in dev["resource"]
    lock = only(prod, "azurerm_management_lock")
    assert lock["lock_level"] == "CanNotDelete"
    for kind in ("azurerm_storage_account", "azurerm_cosmosdb_account", "azurerm_key_vault"):
        for resource in resources(prod, kind).values():
            if "HostStorage" not in resource["//"]["metadata"]["path"]:
                assert resource["lifecycle"] == {"prevent_destroy": True}, kind
        for resource in resources(dev, kind).values():
            assert "lifecycle" not in resource, kind


def test_identities_hold_only_data_plane_roles_on_exact_resources(dev):
    roles = {r["role_definition_name"] for r in resources(dev, "azurerm_role_assignment").values()}
    assert not roles & {"Owner", "Contributor", "User Access Administrator"}
    for assignment in resources(dev, "azurerm_role_assignment").values():
        role, scope = assignment["role_definition_name"], assignment["scope"]
        if role.startswith("Storage Blob"):
            assert "/blobServices/default/containers/" in scope
        if role.startswith("Storage Queue"):
            assert "/queueServices/default/queues/" in scope
    for assignment in resources(dev, "azurerm_cosmosdb_sql_role_assignment").values():
        assert assignment["scope"].endswith("}") and "/dbs/" in assignment["scope"]


def test_the_generator_is_https_only_with_its_own_identity_and_uvicorn(dev):
    app = only(dev, "azurerm_container_app")
    assert app["ingress"]["allow_insecure_connections"] is False
    assert app["identity"]["type"] == "UserAssigned"
    env = {e["name"]: e["value"] for e in app["template"]["container"][0]["env"]}
    assert env["SYNTH_SERVER"] == "uvicorn" and env["PORT"] == "8080"
    assert "user_assigned_identity" in env["AZURE_CLIENT_ID"]
    assert env["SYNTH_STORAGE_URL"].startswith("az://")
    assert env["SYNTH_METADATA_URL"].startswith("cosmos://")
    assert env["SYNTH_JOBS_URL"].startswith("azqueue://")
    assert env["SYNTH_API_KEYS_SECRET"].endswith("secrets/synth-api-pepper")


def test_jobs_run_as_container_apps_jobs_fed_by_the_queue(dev):
    job = only(dev, "azurerm_container_app_job")
    container = job["template"]["container"][0]
    assert container["command"] == ["python", "-m", "synthdata_service.handlers.azure_worker"]
    assert container["image"] == only(dev, "azurerm_container_app")["template"][
        "container"][0]["image"]  # the same image as the API
    rule = job["event_trigger_config"]["scale"][0]["rules"][0]
    assert rule["custom_rule_type"] == "azure-queue" and "identity_id" in rule
    assert job["replica_retry_limit"] == 0


def test_the_registry_allows_only_entra_id_pulls_and_the_image_is_built_by_the_deploy(dev):
    registry = only(dev, "azurerm_container_registry")
    assert registry["admin_enabled"] is False and registry["anonymous_pull_enabled"] is False
    build = only(dev, "terraform_data")
    command = build["provisioner"][0]["local-exec"]["command"]
    tag = build["triggers_replace"]["context"]
    assert command.startswith("az acr build") and f"synth-service:{tag}" in command
    assert only(dev, "azurerm_container_app")["template"]["container"][0]["image"].endswith(
        f"/synth-service:{tag}")


def test_alerts_watch_errors_and_latency_and_mail_the_on_call(prod):
    alerts = {a["criteria"][0]["metric_name"]: a
              for a in resources(prod, "azurerm_monitor_metric_alert").values()}
    assert alerts["Requests"]["criteria"][0]["threshold"] == 5
    assert alerts["ResponseTime"]["criteria"][0]["threshold"] == round(240 * 1000 * 0.8)
    group = only(prod, "azurerm_monitor_action_group")
    assert [r["email_address"] for r in group["email_receiver"]] == ["synth-oncall@example.com"]


def test_logs_go_to_log_analytics_and_workspace_based_application_insights(prod):
    workspace = only(prod, "azurerm_log_analytics_workspace")
    assert workspace["retention_in_days"] == 365
    insights = only(prod, "azurerm_application_insights")
    assert insights["local_authentication_enabled"] is False
    assert insights["workspace_id"].startswith("${azurerm_log_analytics_workspace.")


def test_every_resource_carries_the_spec_tags(prod):
    for kind, items in prod["resource"].items():
        for resource in items.values():
            if "tags" in resource:
                assert resource["tags"]["owner"] == "data-platform", kind
                assert resource["tags"]["data-classification"] == "confidential", kind


def test_the_backend_is_explicit(dev):
    backend = dev["terraform"]["backend"]["azurerm"]
    assert backend["use_azuread_auth"] is True
    assert backend["key"] == "synthdata/synthdemo/dev.tfstate"
