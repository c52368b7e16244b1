"""Every Kubernetes object the stacks synthesize is valid, in strict mode (no unknown
field anywhere), against the OpenAPI schema of the oldest and the newest Kubernetes
version the constructs support (`defaults.SUPPORTED_VERSIONS`)."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from constructs_lib.kubernetes.defaults import SUPPORTED_VERSIONS

from .conftest import manifests, pod_specs

#: Custom resources kubernetes-validate has no schema for (it knows only the core API):
#: OpenShift's Route and the Prometheus Operator's kinds.
CUSTOM_KINDS = {"Route", "ServiceMonitor", "PrometheusRule", "AlertmanagerConfig"}


def _objects(app_synth, leaf_synth) -> list[dict]:
    found = []
    for template in [*app_synth.templates.values(), *leaf_synth.templates.values()]:
        found += manifests(template)
        # The Job the runner starts is the template plus a name and arguments.
        for where, _pod in pod_specs(template):
            if where.startswith("Job template"):
                config = next(m for m in manifests(template) if m["kind"] == "ConfigMap"
                              and m["metadata"]["name"] == where.split()[-1])
                job = json.loads(config["data"]["template.json"])
                job["metadata"]["name"] = job["metadata"].pop("generateName") + "x"
                job["spec"]["template"]["spec"]["containers"][0]["args"] = ["run-job", "job_1"]
                found.append(job)
    # One object per shape (the same fields, whatever their values): the leaf stack's
    # platforms differ in values the schema does not constrain beyond their type.
    unique = {json.dumps(_shape(o), sort_keys=True): o for o in found}
    return list(unique.values())


def _shape(value):
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_every_object_is_valid_for_the_supported_kubernetes_versions(app_synth, leaf_synth,
                                                                     version):
    objects = _objects(app_synth, leaf_synth)
    assert len(objects) > 40
    problems, custom = [], set()
    for manifest in objects:
        if manifest["kind"] in CUSTOM_KINDS:
            custom.add(manifest["kind"])
            continue
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{manifest['kind']} {manifest['metadata']['name']}: {exc}")
    assert problems == []
    assert custom == CUSTOM_KINDS  # every custom kind appears somewhere (and is known here)
