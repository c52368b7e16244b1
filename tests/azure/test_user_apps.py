"""The Azure constructs inside users' own apps (conftest `user_apps`): the shared interface,
composition without collisions, bring-your-own resources, grants in the grantee's stack,
overridden secure defaults said out loud, outputs only when asked."""

from __future__ import annotations

from collections import Counter

import pytest

import constructs_lib.azure
from constructs_lib.parity import check_module, check_platform

from .conftest import resources

NAMED = ("azurerm_storage_account", "azurerm_cosmosdb_account", "azurerm_key_vault",
         "azurerm_container_app", "azurerm_container_app_job", "azurerm_container_registry",
         "azurerm_user_assigned_identity", "azurerm_resource_group",
         "azurerm_log_analytics_workspace", "azurerm_storage_queue")


def _names(template: dict) -> Counter:
    return Counter((kind, r["name"]) for kind in NAMED
                   for r in resources(template, kind).values())


def test_the_module_implements_the_shared_interface():
    assert check_module(constructs_lib.azure) == []


def test_a_platform_has_the_shared_attributes_and_runtime_contract(user_apps):
    assert check_platform(user_apps.platform, user_apps.spec, storage_scheme="az",
                          metadata_scheme="cosmos") == []


def test_two_platforms_from_one_spec_share_no_name_or_output(user_apps):
    template = user_apps.templates["two-platforms"]
    duplicated = [name for name, count in _names(template).items() if count > 1]
    assert duplicated == []
    outputs = template["output"]
    assert {"first_endpoint_url", "second_endpoint_url"} <= set(outputs)


def test_a_standalone_bucket_and_store_from_one_spec_do_not_collide(user_apps):
    template = user_apps.templates["standalone"]
    assert [n for n, c in _names(template).items() if c > 1] == []
    assert len(resources(template, "azurerm_storage_account")) == 1
    assert len(resources(template, "azurerm_cosmosdb_account")) == 1
    # each made its own group and tagged everything from the spec
    for kind, items in template["resource"].items():
        for resource in items.values():
            if "tags" in resource:
                assert resource["tags"]["synthdata:platform"] == "azsynth", kind


def test_nothing_is_written_that_was_not_asked_for(user_apps):
    assert "output" not in user_apps.templates["standalone"]
    # the platform stack publishes only what the consumer stack references (cdktn's own
    # cross-stack outputs), no platform outputs
    outputs = user_apps.templates["platform"].get("output", {})
    assert outputs and all(name.startswith("cross-stack-output-") for name in outputs)


def test_what_is_brought_is_not_made(user_apps):
    template = user_apps.templates["bring-your-own"]
    platform = [r for kind in template["resource"].values() for r in kind.values()
                if r["//"]["metadata"]["path"].startswith("bring-your-own/Synth/")]
    parts = Counter(r["//"]["metadata"]["path"].split("/")[2] for r in platform)
    assert "Bucket" not in parts and "MetadataStore" not in parts
    made = {kind for kind, items in template["resource"].items() for r in items.values()
            if r["//"]["metadata"]["path"].startswith("bring-your-own/Synth/")}
    assert not made & {"azurerm_virtual_network", "azurerm_subnet", "azurerm_key_vault_key",
                       "azurerm_resource_group", "azurerm_storage_account",
                       "azurerm_cosmosdb_account"}
    assert "azurerm_private_endpoint" in made  # the given network still reaches the vault
    assert "azurerm_container_registry" not in {
        k for k, items in template["resource"].items()
        for r in items.values() if r["//"]["metadata"]["path"].startswith("bring-your-own/Synth")}
    app = next(r for r in resources(template, "azurerm_container_app").values())
    assert app["template"]["container"][0]["image"] == "mine.azurecr.io/synth@sha256:" + "c" * 64
    assert app["resource_group_name"] == "${azurerm_resource_group.Group.name}"
    environment = next(iter(resources(template, "azurerm_container_app_environment").values()))
    assert environment["infrastructure_subnet_id"] == "/subnets/apps"
    env = {e["name"]: e["value"] for e in app["template"]["container"][0]["env"]}
    assert env["SYNTH_STORAGE_URL"] == "az://theirdata/synth-data/data"
    assert env["SYNTH_METADATA_URL"] == "cosmos://their-cosmos/synth"


def test_a_given_key_encrypts_through_an_identity_made_for_it(user_apps):
    template = user_apps.templates["bring-your-own"]
    weakened = next(r for r in resources(template, "azurerm_storage_account").values()
                    if "/Weakened/" in r["//"]["metadata"]["path"])
    assert weakened["customer_managed_key"]["key_vault_key_id"] == \
        "${azurerm_key_vault_key.Key.versionless_id}"
    assert "azurerm_key_vault" not in template["resource"] or all(
        "/Weakened/" not in r["//"]["metadata"]["path"]
        for r in resources(template, "azurerm_key_vault").values())


def test_overriding_a_secure_default_is_said_out_loud(user_apps):
    assert any("bucket_props" in w and "min_tls_version" in w and "TLS 1.2" in w
               for w in user_apps.warnings), user_apps.warnings
    template = user_apps.templates["bring-your-own"]
    weakened = next(r for r in resources(template, "azurerm_storage_account").values()
                    if "/Weakened/" in r["//"]["metadata"]["path"])
    assert weakened["min_tls_version"] == "TLS1_0"


def test_grants_live_in_the_grantee_stack(user_apps):
    consumer = user_apps.templates["consumer"]
    roles = {r["role_definition_name"] for r in resources(consumer, "azurerm_role_assignment")
             .values()}
    assert roles == {"Storage Blob Data Reader", "Storage Queue Data Message Sender"}
    assert len(resources(consumer, "azurerm_cosmosdb_sql_role_assignment")) == 1
    platform = user_apps.templates["platform"]
    for assignment in resources(platform, "azurerm_role_assignment").values():
        assert "Reader" not in assignment["//"]["metadata"]["path"]


def test_the_platform_stack_does_not_depend_on_the_consumer(user_apps):
    platform = user_apps.stacks["platform"]
    consumer = user_apps.stacks["consumer"]
    assert consumer.dependencies and platform in consumer.dependencies
    assert consumer not in platform.dependencies


@pytest.mark.parametrize("kwargs, message", [
    ({"bucket_name": "Not_Valid"}, "bucket_name"),
    ({"removal_policy": "keep"}, "removal_policy"),
    ({"purpose": "Bad Purpose"}, "purpose"),
])
def test_bad_arguments_name_the_argument(azure_tmp, kwargs, message):
    from cdktn import App, TerraformStack

    from constructs_lib.azure import SecureBucket

    from .conftest import spec_of

    stack = TerraformStack(App(outdir=str(azure_tmp / "bad")), "bad")
    with pytest.raises(ValueError, match=message):
        SecureBucket(stack, "Data", spec=spec_of(), **kwargs)
