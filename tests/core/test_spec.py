"""PlatformSpec: complete defaults, YAML/JSON loading, and errors that name field and fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from constructs_lib import PlatformSpec, SpecError
from constructs_lib.spec import main as spec_cli

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, suffix: str = ".yaml") -> Path:
    path = tmp_path / f"spec{suffix}"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(data) -> list[str]:
    with pytest.raises(SpecError) as info:
        PlatformSpec.from_dict(data)
    return info.value.problems


def test_name_alone_is_a_complete_spec_with_secure_defaults():
    spec = PlatformSpec(name="demo")
    assert spec.environment == "dev"
    assert spec.storage.encryption == "customer_managed"
    assert spec.storage.access_logs is True
    assert spec.removal_policy == "retain"
    assert spec.api.auth == "api_key"
    assert spec.api.cors_origins == ()


@pytest.mark.parametrize("path", ["examples/dev.yaml", "examples/prod.yaml"])
def test_example_specs_load(path):
    spec = PlatformSpec.from_file(ROOT / path)
    assert spec.name == "synthdemo"


def test_yaml_and_json_give_the_same_spec(tmp_path):
    data = {"name": "acme-synth", "environment": "prod", "generator": {"max_rows": 5000}}
    from_json = PlatformSpec.from_file(write(tmp_path, json.dumps(data), ".json"))
    from_yaml = PlatformSpec.from_file(write(tmp_path, "name: acme-synth\nenvironment: prod\n"
                                                       "generator: {max_rows: 5000}\n"))
    assert from_json == from_yaml


def test_unknown_field_is_named_with_the_allowed_ones():
    [problem] = problems_of({"name": "demo", "generator": {"memroy_mb": 1024}})
    assert problem.startswith("generator.memroy_mb: unknown field")
    assert "memory_mb" in problem


def test_unknown_top_level_field_lists_the_allowed_fields():
    [problem] = problems_of({"name": "demo", "regoin": "eu-west-1"})
    assert "regoin: unknown field" in problem and "region" in problem


def test_wrong_type_names_the_field():
    [problem] = problems_of({"name": "demo", "generator": {"max_rows": "lots"}})
    assert problem.startswith("generator.max_rows:") and "'lots'" in problem


@pytest.mark.parametrize("name", ["Demo", "my_platform", "-demo", "demo-", "a", "x" * 25,
                                  "de--mo", "9lives", "demo!", ""])
def test_illegal_names_are_refused_with_the_rule(name):
    [problem] = problems_of({"name": name})
    assert problem.startswith("name:")
    assert "lowercase letters, digits and single '-'" in problem


@pytest.mark.parametrize("field,value", [
    (("generator", "memory_mb"), -1),
    (("generator", "timeout_seconds"), 0),
    (("generator", "concurrency"), -5),
    (("generator", "max_rows"), -1),
    (("generator", "max_upload_mb"), 0),
    (("api", "rate_limit_per_second"), -1),
])
def test_negative_limits_are_refused(field, value):
    section, key = field
    [problem] = problems_of({"name": "demo", section: {key: value}})
    assert problem.startswith(f"{section}.{key}:") and "greater than" in problem


def test_retention_below_the_minimum_is_refused():
    [problem] = problems_of({"name": "demo", "storage": {"retention_days": 0}})
    assert problem.startswith("storage.retention_days:")
    assert "greater than or equal to 1" in problem


def test_timeout_beyond_lambda_limit_is_refused():
    [problem] = problems_of({"name": "demo", "generator": {"timeout_seconds": 901}})
    assert "less than or equal to 900" in problem


def test_every_problem_is_reported_at_once():
    problems = problems_of({"name": "BAD", "environment": "qa", "storage": {"retention_days": -1}})
    assert [p.split(":")[0] for p in problems] == ["name", "environment", "storage.retention_days"]


def test_more_warm_instances_than_the_cap_are_refused_on_every_cloud():
    [problem] = problems_of({"name": "demo", "generator": {"concurrency": 2, "min_instances": 3}})
    assert problem.startswith("generator:") and "lower min_instances" in problem


def test_duplicate_synthesizers_are_refused():
    [problem] = problems_of({"name": "demo", "generator": {"synthesizers": ["ctgan", "ctgan"]}})
    assert "twice" in problem


def test_wildcard_cors_origin_is_refused():
    [problem] = problems_of({"name": "demo", "api": {"cors_origins": ["*"]}})
    assert "no wildcards" in problem


def test_public_cidr_is_refused():
    [problem] = problems_of({"name": "demo", "network": {"vpc": True, "cidr": "8.8.0.0/16"}})
    assert problem.startswith("network.cidr:") and "private" in problem


def test_missing_name_is_named():
    [problem] = problems_of({"environment": "dev"})
    assert problem == "name: required field is missing; add it"


def test_a_top_level_list_is_refused(tmp_path):
    with pytest.raises(SpecError, match="top level must be a mapping"):
        PlatformSpec.from_file(write(tmp_path, "- name: demo\n"))


def test_invalid_yaml_is_refused(tmp_path):
    with pytest.raises(SpecError, match="not valid YAML"):
        PlatformSpec.from_file(write(tmp_path, "name: [unclosed\n"))


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(SpecError, match="use a .yaml, .yml or .json file"):
        PlatformSpec.from_file(write(tmp_path, "name = 'demo'", ".toml"))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SpecError, match="no such spec file"):
        PlatformSpec.from_file(tmp_path / "absent.yaml")


def test_spec_is_immutable():
    spec = PlatformSpec(name="demo")
    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]


def test_exported_json_schema_is_current():
    committed = json.loads((ROOT / "docs" / "platform-spec.schema.json").read_text())
    assert committed == PlatformSpec.json_schema(), "run `make schema` and commit the result"


def test_cli_validates_a_file(tmp_path, capsys):
    assert spec_cli([str(write(tmp_path, "name: BAD\n"))]) == 1
    assert "name:" in capsys.readouterr().err
    assert spec_cli([str(ROOT / "examples" / "dev.yaml")]) == 0
