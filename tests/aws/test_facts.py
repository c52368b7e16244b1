"""`constructs_lib.facts.aws`: the behaviour facts read from synthesized templates equal
what each spec asks for - for the example stacks, a variant, and a platform per non-default
value of every spec field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from constructs_lib import PlatformSpec
from constructs_lib.facts import FACT_KEYS, expected_facts
from constructs_lib.facts.aws import facts
from tests.aws.conftest import VARIANTS
from tests.aws.user_apps import FIELD_VALUES, REFUSED, field_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {"synth-synthdemo-dev": ROOT / "examples/dev.yaml",
            "synth-synthdemo-prod": ROOT / "examples/prod.yaml"}


@pytest.mark.parametrize("stack", sorted(EXAMPLES))
def test_the_example_stacks_show_what_their_specs_ask(aws_app, stack):
    spec = PlatformSpec.from_file(EXAMPLES[stack])
    assert facts(aws_app.templates[stack], f"{stack}/Synth") == expected_facts(spec)


def test_the_variant_shows_what_its_spec_asks(aws_variants):
    [(stack, data)] = VARIANTS.items()
    found = facts(aws_variants.templates[stack], f"{stack}/Synth")
    assert found == expected_facts(PlatformSpec.model_validate(data))
    assert (found["auth"], found["private_network"], found["encryption"]) == (
        "iam", True, "provider_managed")
    assert (found["min_instances"], found["max_instances"]) == (2, 4)


@pytest.mark.parametrize("field", [None, *(f for f in FIELD_VALUES if f not in REFUSED)])
def test_every_field_value_shows_in_the_facts(user_apps, field):
    platform = user_apps.handles["fields"]["platforms"][field]
    found = facts(user_apps.templates["Fields"], platform.node.path)
    assert found == expected_facts(field_spec(field))


def test_the_reader_returns_every_fact_key(aws_app):
    found = facts(aws_app.templates["synth-synthdemo-dev"], "synth-synthdemo-dev/Synth")
    assert set(found) == set(FACT_KEYS)


def test_the_reader_reads_the_template_not_the_spec(aws_app):
    template = copy.deepcopy(aws_app.templates["synth-synthdemo-dev"])
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApiGatewayV2::Stage":
            resource["Properties"]["DefaultRouteSettings"]["ThrottlingBurstLimit"] = 999
        if resource["Type"] == "AWS::DynamoDB::Table":
            resource["Properties"]["PointInTimeRecoverySpecification"] = {
                "PointInTimeRecoveryEnabled": False}
    found = facts(template, "synth-synthdemo-dev/Synth")
    assert (found["rate_limit_burst"], found["point_in_time_recovery"]) == (999, False)


def test_two_platforms_in_one_stack_are_told_apart_by_path(user_apps):
    analytics = facts(user_apps.templates["TwoPlatforms"], "TwoPlatforms/Analytics")
    research = facts(user_apps.templates["TwoPlatforms"], "TwoPlatforms/Research")
    assert analytics == research == expected_facts(
        PlatformSpec(name="shared", removal_policy="destroy"))


def test_a_path_that_holds_no_platform_is_refused_by_name(aws_app):
    with pytest.raises(ValueError, match="no resource of the template .* 'nowhere/Synth'"):
        facts(aws_app.templates["synth-synthdemo-dev"], "nowhere/Synth")
