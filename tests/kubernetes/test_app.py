"""The Kubernetes stacks `apps/terraform.py` defines, as snapshots (review a diff like code),
beside what they must hold."""

from __future__ import annotations

import json

from constructs_lib.testing import normalise

from .conftest import of_kind

STACKS = ("synth-synthdemo-prod-k8s", "synth-synthlab-dev-k8s")


def test_app_defines_one_kubernetes_stack_per_kubernetes_example(app_synth):
    assert sorted(app_synth.templates) == sorted(STACKS)


def test_eks_stack_matches_snapshot(eks, template_snapshot):
    assert normalise(eks) == template_snapshot


def test_onprem_stack_matches_snapshot(onprem, template_snapshot):
    assert normalise(onprem) == template_snapshot


def test_stacks_keep_their_state_in_the_cluster_and_configure_both_providers(eks, onprem):
    for template in (eks, onprem):
        assert set(template["terraform"]["backend"]) == {"kubernetes"}
        assert {"kubernetes", "helm"} <= set(template["provider"])
        assert set(template["terraform"]["required_providers"]) == {"kubernetes", "helm"}


def test_eks_stack_reaches_s3_through_irsa_with_no_static_keys(eks):
    [deployment] = of_kind(eks, "Deployment")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    names = {e["name"] for e in env}
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & names
    accounts = {a["metadata"]["name"]: a["metadata"].get("annotations", {})
                for a in of_kind(eks, "ServiceAccount")}
    annotated = [n for n, a in accounts.items() if a.get("eks.amazonaws.com/role-arn") ==
                 "arn:aws:iam::111122223333:role/synthdemo-prod-service"]
    assert len(annotated) == 3  # the API, the Jobs and the bucket setup Job
    storage = next(e["value"] for e in env if e["name"] == "SYNTH_STORAGE_URL")
    assert storage == ("s3://synthdemo-prod-data-111122223333/data?region=eu-west-1&kms_key="
                       "arn:aws:kms:eu-west-1:111122223333:key/"
                       "1234abcd-12ab-34cd-56ef-1234567890ab")


def test_onprem_stack_installs_pinned_charts_and_generates_their_credentials(onprem):
    from constructs_lib.kubernetes.dependencies import CHARTS

    releases = onprem["resource"]["helm_release"].values()
    pinned = {(c.chart, c.version) for c in CHARTS.values()}
    assert {(r["chart"], r["version"]) for r in releases} == pinned
    text = json.dumps(onprem)
    assert "rootPassword\": \"" not in text and "password:" not in text.lower()
    [bootstrap] = [j for j in of_kind(onprem, "Job")
                   if j["metadata"]["labels"]["app.kubernetes.io/component"] == "bootstrap"]
    args = bootstrap["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "rootPassword=alnum:40" in args and "pepper=hex:32" in args
    assert args.count("--namespace") == 2  # the platform's and MinIO's


def test_onprem_stack_is_exposed_through_an_openshift_route(onprem):
    [route] = of_kind(onprem, "Route")
    assert route["spec"]["host"] == "synthlab.apps.ocp.example.com"
    assert route["spec"]["tls"] == {"termination": "edge",
                                    "insecureEdgeTerminationPolicy": "Redirect"}
    assert not of_kind(onprem, "Ingress")
