"""Every cloud-neutral spec field changes the Azure platform's synthesized output, or is
refused with `UnsupportedOnCloud` naming the field - never silently ignored.

Fields that are behaviour facts are proven by the facts tests' specs (test_facts.py: the
fact read from the template has the spec's non-default value). The rest get a stack of
their own in the same app (conftest `variants`, synthesized once) and must differ from
their base once construct paths and the names derived from them are masked."""

from __future__ import annotations

import json
import re

import pytest

from constructs_lib import PlatformSpec, UnsupportedOnCloud
from constructs_lib.azure.defaults import check_spec
from constructs_lib.facts import expected_facts

from .conftest import spec_of
from .test_facts import FACT_SPECS

#: Fields shown by a behaviour fact: field -> fact key.
FACT_FIELDS = {
    "environment": "deletion_protection",
    "generator.memory_mb": "memory_mb", "generator.timeout_seconds": "timeout_seconds",
    "generator.concurrency": "max_instances", "generator.min_instances": "min_instances",
    "generator.max_rows": "max_rows", "generator.max_upload_mb": "max_upload_mb",
    "generator.synthesizers": "synthesizers",
    "storage.retention_days": "sample_retention_days",
    "storage.noncurrent_version_days": "noncurrent_version_days",
    "storage.encryption": "encryption", "storage.access_logs": "access_logs",
    "api.auth": "auth", "api.rate_limit_per_second": "rate_limit_per_second",
    "api.burst": "rate_limit_burst", "api.cors_origins": "cors_origins",
    "network.vpc": "private_network", "monitoring.alarm_emails": "alarm_emails",
    "monitoring.error_threshold": "error_threshold",
    "monitoring.latency_threshold_ratio": "latency_threshold_ms",
    "monitoring.log_retention_days": "log_retention_days",
    "jobs.max_attempts": "job_max_attempts", "jobs.long_running": "long_running_jobs",
    "jobs.cpu": "job_vcpu", "jobs.memory_mb": "job_memory_mb",
    "removal_policy": "removal_policy",
}
#: The other fields: label -> (base label, changes). The base makes the field matter.
PRIVATE = FACT_SPECS["facts-private-provider-keys"]
FIELD_VARIANTS: dict[str, dict] = {
    "base": {},
    "name": {"name": "othersynth"},
    "region": {"region": "northeurope"},
    "tags.owner": {"tags": {"owner": "someone-else"}},
    "tags.cost_centre": {"tags": {"cost_centre": "cc-42"}},
    "tags.extra": {"tags": {"extra": {"team": "ml"}}},
    "generator.packaging": {"generator": {"packaging": "source", "memory_mb": 2048}},
    "generator.image": {"generator": {"image": "example.azurecr.io/synth@sha256:" + "b" * 64}},
    "jobs.worker_concurrency": {"jobs": {"worker_concurrency": 5}},
    "network.cidr": {**PRIVATE, "network": {"vpc": True, "cidr": "10.70.0.0/16"}},
    "jobs.worker_timeout_seconds": {**PRIVATE, "jobs": {"long_running": False,
                                                        "worker_timeout_seconds": 700}},
}
BASES = {"network.cidr": "facts-private-provider-keys",
         "jobs.worker_timeout_seconds": "facts-private-provider-keys"}
#: Placement sections of other clouds (and Azure's own): they apply only to their cloud.
OTHER_CLOUDS = ("account", "gcp.", "kubernetes.", "azure.")


def _leaf_fields(model=PlatformSpec, prefix="") -> list[str]:
    from pydantic import BaseModel

    fields = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields += _leaf_fields(annotation, f"{prefix}{name}.")
        else:
            fields.append(f"{prefix}{name}")
    return fields


def _normalised(template: dict, label: str) -> str:
    """The template without what differs between stacks for reasons other than the spec:
    construct paths (they hold the stack name) and names generated from them."""
    text = json.dumps({k: v for k, v in template.items() if k != "//"}, sort_keys=True)
    text = re.sub(r'"//": \{"metadata": \{[^{}]*\}[^{}]*\}, ?', "", text)
    text = re.sub(r"[0-9a-f]{8}(?=[\"/])", "<h>", text)
    return text.replace(label, "<stack>")


def test_every_cloud_neutral_field_is_checked():
    fields = {f for f in _leaf_fields() if not f.startswith(OTHER_CLOUDS)}
    assert sorted(fields - set(FACT_FIELDS) - set(FIELD_VARIANTS)) == []


@pytest.mark.parametrize("field", sorted(FACT_FIELDS))
def test_a_fact_field_shows_its_non_default_value_in_the_template(variants, field):
    from constructs_lib.facts.azure import facts

    synthesized, built = variants
    default = expected_facts(spec_of())[FACT_FIELDS[field]]
    shown = [label for label in FACT_SPECS
             if built[label].error is None
             and facts(synthesized.templates[label], f"{label}/Synth")[FACT_FIELDS[field]]
             != default]
    assert shown, f"no facts spec shows a non-default {field}"


@pytest.mark.parametrize("field", sorted(set(FIELD_VARIANTS) - {"base"}))
def test_a_non_default_value_changes_the_output(variants, field):
    synthesized, built = variants
    assert built[f"field-{field}"].error is None, built[f"field-{field}"].error
    base = BASES.get(field, "field-base")
    assert _normalised(synthesized.templates[f"field-{field}"], f"field-{field}") != \
        _normalised(synthesized.templates[base], base)


@pytest.mark.parametrize(("field", "changes"), [
    ("generator.timeout_seconds", {"generator": {"timeout_seconds": 300}}),
    ("generator.memory_mb", {"generator": {"packaging": "source", "memory_mb": 3008}}),
    ("generator.image", {"generator": {"packaging": "source", "memory_mb": 2048,
                                       "image": "example.azurecr.io/s:1"}}),
    ("api.auth", {"api": {"auth": "iam"}}),
    ("monitoring.log_retention_days", {"monitoring": {"log_retention_days": 14}}),
])
def test_what_azure_cannot_honour_is_refused_by_field_name(field, changes):
    with pytest.raises(UnsupportedOnCloud, match=re.escape(field)) as raised:
        check_spec(spec_of(**changes))
    assert raised.value.cloud == "azure" and raised.value.field == field
