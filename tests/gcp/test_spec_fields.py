"""Every spec field is honoured on GCP or refused by name: for each cloud-neutral leaf
field, a non-default value changes the synthesized platform, or raises an error naming the
field and the cloud. One stack holds a platform per field (`conftest.field_variants`)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import BaseModel

from constructs_lib import PlatformSpec, UnsupportedOnCloud

from .conftest import FIELD_STACK, FIELD_VALUES, OTHER_CLOUDS, path_of

#: Fields GCP refuses with these values, and why (each a real limit, named in the error).
REFUSED = {"network.cidr": "no network is created while network.vpc is off"}


def leaf_fields(model: type[BaseModel] = PlatformSpec, prefix: str = "") -> list[str]:
    fields = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields += leaf_fields(annotation, f"{prefix}{name}.")
        else:
            fields.append(f"{prefix}{name}")
    return fields


def platform_json(template: dict[str, Any], construct_id: str) -> str:
    """The platform's resources as JSON, with everything that only names the construct
    (its id, the path hashes in generated names and logical ids) written the same way."""
    prefix = f"{FIELD_STACK}/{construct_id}/"
    mine = {kind: sorted((json.dumps({k: v for k, v in body.items() if k != "//"},
                                     sort_keys=True))
                         for body in items.values() if path_of(body).startswith(prefix))
            for kind, items in template["resource"].items()}
    text = json.dumps({kind: bodies for kind, bodies in mine.items() if bodies},
                      sort_keys=True)
    text = re.sub(r"[0-9a-fA-F]{32}|[0-9a-f]{8}|[0-9A-F]{8}", "H", text)
    return re.sub(construct_id, "ID", re.sub(construct_id.lower(), "id", text))


def test_the_table_names_every_cloud_neutral_field_of_the_spec():
    fields = [f for f in leaf_fields() if not f.startswith(OTHER_CLOUDS)]
    assert sorted(FIELD_VALUES) == sorted(fields)


@pytest.mark.parametrize("field", sorted(FIELD_VALUES))
def test_a_non_default_value_changes_the_platform_or_is_refused_by_name(field_variants,
                                                                        field):
    if field in REFUSED:
        error = field_variants.refused[field]
        assert isinstance(error, UnsupportedOnCloud)
        assert (error.field, error.cloud) == (field, "gcp")
        assert REFUSED[field] in str(error)
        return
    assert field not in field_variants.refused, field_variants.refused.get(field)
    template = field_variants.template
    base = platform_json(template, field_variants.ids[""])
    assert platform_json(template, field_variants.ids[field]) != base


@pytest.mark.parametrize("field,value,fix", [
    ("jobs.cpu", {"cpu": 16384, "memory_mb": 32768}, "jobs.cpu 8192 or less"),
    ("jobs.memory_mb", {"cpu": 2048, "memory_mb": 16384}, "jobs.cpu 4096 for 16384 MiB"),
])
def test_job_sizes_cloud_run_cannot_run_are_refused_naming_the_field(field, value, fix):
    from constructs_lib.gcp.defaults import job_size

    spec = PlatformSpec(name="demo", jobs=value)
    with pytest.raises(UnsupportedOnCloud, match=re.escape(fix)) as raised:
        job_size(spec)
    assert (raised.value.field, raised.value.cloud) == (field, "gcp")
