"""Names derived from any valid spec satisfy every cloud's rules (property-based)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from constructs_lib import PlatformSpec
from constructs_lib.naming import (
    RULES,
    aws_names,
    aws_tags,
    azure_names,
    azure_tags,
    gcp_labels,
    gcp_names,
    kubernetes_labels,
    kubernetes_names,
)

names = st.from_regex(r"[a-z][a-z0-9-]{1,22}[a-z0-9]", fullmatch=True).filter(
    lambda n: "--" not in n)
specs = st.builds(
    lambda name, env, region, owner, project: PlatformSpec(
        name=name, environment=env, region=region,
        tags={"owner": owner}, gcp={"project": project}),
    names,
    st.sampled_from(["dev", "staging", "prod"]),
    st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2", "europe-west1", "westeurope"]),
    st.from_regex(r"[A-Za-z0-9 _.:/=+@-]{1,128}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", fullmatch=True),
)

KINDS = {
    "aws": (aws_names, {"stack": "aws.stack", "data_bucket": "aws.s3_bucket",
                        "access_log_bucket": "aws.s3_bucket",
                        "metadata_table": "aws.dynamodb_table",
                        "function": "aws.lambda_function", "secret": "aws.secret",
                        "log_group": "aws.log_group", "dead_letter_queue": "aws.sqs_queue",
                        "job_queue": "aws.sqs_queue", "job_dead_letter_queue": "aws.sqs_queue",
                        "kms_alias": "aws.kms_alias"}),
    "gcp": (gcp_names, {"data_bucket": "gcp.bucket", "access_log_bucket": "gcp.bucket",
                        "firestore_database": "gcp.firestore_database",
                        "service": "gcp.cloud_run_service",
                        "service_account": "gcp.service_account_id", "secret": "gcp.secret_id"}),
    "azure": (azure_names, {"storage_account": "azure.storage_account",
                            "key_vault": "azure.key_vault", "function_app": "azure.function_app",
                            "cosmos_account": "azure.cosmos_account",
                            "data_container": "azure.storage_container",
                            "resource_group": "azure.resource_group"}),
    "kubernetes": (kubernetes_names, {"namespace": "kubernetes.dns_label",
                                      "deployment": "kubernetes.dns_label",
                                      "service": "kubernetes.dns_label",
                                      "secret": "kubernetes.dns_label"}),
}


@pytest.mark.parametrize("cloud", sorted(KINDS))
@settings(max_examples=150, deadline=None)
@given(spec=specs)
def test_no_valid_spec_produces_an_invalid_name(cloud, spec):
    derive, kinds = KINDS[cloud]
    derived = derive(spec)
    for field, rule in kinds.items():
        value = getattr(derived, field)
        assert RULES[rule](value), f"{cloud} {field} {value!r} breaks {rule}"


@settings(max_examples=100, deadline=None)
@given(spec=specs)
def test_tags_and_labels_fit_each_cloud(spec):
    for key, value in aws_tags(spec).items():
        assert len(key) <= 128 and 1 <= len(value) <= 256
    for key, value in gcp_labels(spec).items():
        assert re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", key), key
        assert re.fullmatch(r"[a-z0-9_-]{0,63}", value), value
    for key in azure_tags(spec):
        assert not set(key) & set("<>%&\\?/")
    for key, value in kubernetes_labels(spec).items():
        assert RULES["kubernetes.label_value"](value), (key, value)


def test_same_spec_gives_the_same_names():
    a, b = PlatformSpec(name="acme"), PlatformSpec(name="acme")
    assert aws_names(a) == aws_names(b) and gcp_names(a) == gcp_names(b)


def test_globally_unique_names_differ_by_placement():
    here = PlatformSpec(name="acme", account="111111111111")
    there = PlatformSpec(name="acme", account="222222222222")
    assert aws_names(here).data_bucket != aws_names(there).data_bucket
    assert aws_names(here).metadata_table == aws_names(there).metadata_table


def test_long_names_are_shortened_with_a_stable_hash():
    spec = PlatformSpec(name="a" * 24, environment="staging")
    assert len(azure_names(spec).storage_account) <= 24
    assert len(gcp_names(spec).service_account) <= 30
    assert gcp_names(spec).service_account == gcp_names(spec).service_account


@pytest.mark.parametrize("rule,bad", [
    ("aws.s3_bucket", "Upper-Case"), ("aws.s3_bucket", "xn--punycode"),
    ("aws.s3_bucket", "192.168.1.1"), ("aws.s3_bucket", "ab"),
    ("azure.storage_account", "has-hyphen"), ("kubernetes.dns_label", "x" * 64),
    ("gcp.bucket", "goog-bucket"), ("gcp.service_account_id", "ab"),
])
def test_rules_reject_known_bad_names(rule, bad):
    assert not RULES[rule](bad)
