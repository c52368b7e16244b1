"""A Kubernetes stack loads only the kubernetes and helm providers; the pure parts (the
manifest builders, the Job template, the facts reader) and the service's `k8s://` runner
load no engine at all."""

from __future__ import annotations

import pytest

from tests.core.test_provider_isolation import PROVIDERS, _loaded_after, _others

pytestmark = pytest.mark.slow


def test_building_a_kubernetes_stack_loads_only_the_kubernetes_providers(tmp_path):
    loaded = _loaded_after(
        "from cdktn import App\n"
        "from apps.terraform import kubernetes_stack\n"
        "from constructs_lib import PlatformSpec\n"
        f"app = App(outdir={str(tmp_path)!r})\n"
        "kubernetes_stack(app, PlatformSpec.from_file('examples/onprem.yaml'))\n")
    assert {"cdktn_provider_kubernetes", "cdktn_provider_helm"} <= loaded
    assert not loaded & _others("kubernetes")


def test_the_pure_kubernetes_parts_and_the_runner_load_no_engine():
    loaded = _loaded_after(
        "import constructs_lib.kubernetes.defaults, constructs_lib.kubernetes.templates\n"
        "import constructs_lib.facts.kubernetes, synthdata_service.jobs.kubernetes\n")
    engines = {m for mods in PROVIDERS.values() for m in mods} | {"cdktn", "constructs", "jsii"}
    assert not loaded & engines
