"""The Kubernetes constructs implement the one interface, honour every spec field (or
refuse it by name), and show the behaviour the spec asks for in what they synthesize."""

from __future__ import annotations

import json
import re

import pytest

from constructs_lib import PlatformSpec
from constructs_lib.facts.kubernetes import DIFFERENCES, expected, facts
from constructs_lib.facts.kubernetes import objects as platform_objects
from constructs_lib.parity import check_module, check_platform

from .conftest import LEAF_CONTEXT, LEAF_VALUES


def test_module_exports_the_interface():
    import constructs_lib.kubernetes

    assert check_module(constructs_lib.kubernetes) == []


@pytest.mark.parametrize("stack", ["synth-synthdemo-prod-k8s", "synth-synthlab-dev-k8s"])
def test_app_platforms_pass_the_parity_checks(app_synth, example_specs, stack):
    spec = next(s for s in example_specs
                if f"synth-{s.name}-{s.environment}-k8s" == stack)
    platform = app_synth.construct(stack, "Synth")
    assert check_platform(platform, spec, storage_scheme="s3",
                          metadata_scheme="postgresql") == []


@pytest.mark.parametrize("stack", ["synth-synthdemo-prod-k8s", "synth-synthlab-dev-k8s"])
def test_app_platforms_show_the_facts_their_spec_asks_for(app_synth, example_specs, stack):
    spec = next(s for s in example_specs
                if f"synth-{s.name}-{s.environment}-k8s" == stack)
    assert facts(app_synth.templates[stack], f"{stack}/Synth") == expected(spec)


def test_every_built_variant_shows_the_facts_its_spec_asks_for(leaf_synth):
    template = leaf_synth.templates["leaves"]
    mismatches = {}
    for key, spec in leaf_synth.built.items():
        found = facts(template, f"leaves/P-{key.replace('.', '-')}")
        want = expected(spec)
        wrong = {k: (found[k], want[k]) for k in want if found[k] != want[k]}
        if wrong:
            mismatches[key] = wrong
    assert mismatches == {}


def test_the_facts_that_differ_from_the_other_clouds_say_why():
    from constructs_lib.facts import expected_facts

    spec = PlatformSpec(name="demo")
    differing = {k for k, v in expected(spec).items() if v != expected_facts(spec)[k]}
    assert differing <= set(DIFFERENCES)
    assert all(len(reason) > 40 for reason in DIFFERENCES.values())


_NAMESPACE = re.compile(r"leafns-[a-z]{2}")


def _canonical(template: dict, key: str) -> list[str]:
    """A variant's objects and releases, without what only its place in the stack sets."""
    path = f"leaves/P-{key.replace('.', '-')}/"
    items = []
    for resource in platform_objects(template, path):
        items.append(json.dumps({k: v for k, v in resource.items()
                                 if k not in ("//", "depends_on")}, sort_keys=True))
    for resource in template["resource"].get("helm_release", {}).values():
        if resource["//"]["metadata"]["path"].startswith(path):
            items.append(json.dumps({k: v for k, v in resource.items()
                                     if k not in ("//", "depends_on")}, sort_keys=True))
    return sorted(_NAMESPACE.sub("NS", item) for item in items)


def test_every_cloud_neutral_field_changes_the_output_or_is_refused_by_name(leaf_synth):
    template = leaf_synth.templates["leaves"]
    base = _canonical(template, "base")
    assert base, "the base platform synthesized nothing"
    unchanged = []
    for field in LEAF_VALUES:
        if field in leaf_synth.refused:
            assert leaf_synth.refused[field] == field, (
                f"{field} was refused in the name of {leaf_synth.refused[field]}")
            continue
        reference = _canonical(template, "base-vpc") if field in LEAF_CONTEXT else base
        if _canonical(template, field) == reference:
            unchanged.append(field)
    assert unchanged == []
    assert set(leaf_synth.refused) == {"generator.packaging", "api.auth",
                                       "monitoring.log_retention_days",
                                       "jobs.worker_timeout_seconds"}
