"""The behaviour facts read from synthesized GCP templates are what each spec asks for:
`facts.gcp.facts(template, path) == facts.expected_facts(spec)` for the example apps, the
Cloud Functions variant and a platform per non-default spec field."""

from __future__ import annotations

import pytest

from constructs_lib import PlatformSpec
from constructs_lib.facts import FACT_KEYS, expected_facts
from constructs_lib.facts.gcp import facts

from .conftest import FIELD_STACK, FIELD_VALUES, ROOT


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_example_apps_show_their_specs_facts(app_templates, env):
    spec = PlatformSpec.from_file(ROOT / "examples" / f"{env}.yaml")
    stack = f"synth-{spec.name}-{spec.environment}-gcp"
    assert facts(app_templates[stack], f"{stack}/Synth") == expected_facts(spec)


def test_the_cloud_functions_variant_shows_its_specs_facts(source_template, source_spec):
    from apps.terraform import gcp_stack_name

    found = facts(source_template, f"{gcp_stack_name(source_spec)}/Synth")
    assert found == expected_facts(source_spec)
    assert (found["auth"], found["private_network"], found["long_running_jobs"]) == \
        ("iam", True, False)


@pytest.mark.parametrize("field", sorted(FIELD_VALUES))
def test_a_platform_with_one_non_default_field_shows_its_specs_facts(field_variants, field):
    construct_id = field_variants.ids[field]
    if field in field_variants.refused:
        pytest.skip(f"GCP refuses {field} with this value (test_spec_fields)")
    spec = field_variants.specs[construct_id]
    assert facts(field_variants.template, f"{FIELD_STACK}/{construct_id}") == \
        expected_facts(spec)


def test_the_reader_returns_every_fact_key(app_templates):
    found = facts(app_templates["synth-synthdemo-dev-gcp"], "synth-synthdemo-dev-gcp/Synth")
    assert sorted(found) == sorted(FACT_KEYS)


def test_the_rate_limit_is_read_where_the_service_enforces_it(app_templates):
    from .conftest import env_of

    template = app_templates["synth-synthdemo-prod-gcp"]
    env = env_of(template)
    found = facts(template, "synth-synthdemo-prod-gcp/Synth")
    assert found["rate_limit_per_second"] == float(env["SYNTH_RATE_LIMIT_PER_SECOND"]) == 50.0
    assert found["rate_limit_burst"] == int(env["SYNTH_RATE_LIMIT_BURST"]) == 100


def test_a_path_outside_any_platform_is_refused_by_name(app_templates):
    with pytest.raises(ValueError, match="no resource of the template has a construct path"):
        facts(app_templates["synth-synthdemo-dev-gcp"], "synth-synthdemo-dev-gcp/Nothing")
