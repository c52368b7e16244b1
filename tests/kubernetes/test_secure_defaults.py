"""Every secure default, asserted on what the stacks synthesize (both app stacks, and the
default platform of a bare spec in the leaf stack)."""

from __future__ import annotations

import json

import pytest

from .conftest import manifests, of_kind, pod_specs

STACKS = ("eks", "onprem")


@pytest.fixture(scope="session")
def bare(leaf_synth) -> dict:
    """The platform of `PlatformSpec(name="leaf")`: nothing but defaults."""
    template = leaf_synth.templates["leaves"]
    keep = {"resource": {kind: {k: r for k, r in items.items()
                                if r["//"]["metadata"]["path"].startswith("leaves/P-base/")}
                         for kind, items in template["resource"].items()}}
    return keep


@pytest.fixture(params=STACKS + ("bare",))
def template(request):
    return request.getfixturevalue(request.param)


def test_every_pod_runs_restricted_non_root_read_only_with_nothing_to_escalate(template):
    specs = pod_specs(template)
    assert len(specs) >= 4
    for where, pod in specs:
        assert pod["securityContext"] == {"runAsNonRoot": True,
                                          "seccompProfile": {"type": "RuntimeDefault"}}, where
        assert "runAsUser" not in json.dumps(pod), f"{where}: a fixed UID breaks restricted-v2"
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(key), where
        assert all("hostPath" not in v for v in pod["volumes"]), where
        for container in pod["containers"]:
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                "privileged": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"}}, where
            resources = container["resources"]
            for kind in ("cpu", "memory", "ephemeral-storage"):
                assert kind in resources["requests"] and kind in resources["limits"], where
            assert resources["requests"]["memory"] == resources["limits"]["memory"], where
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], where


def test_only_pods_that_call_the_kubernetes_api_get_a_token(template):
    for where, pod in pod_specs(template):
        env = {e.get("value", "") for e in pod["containers"][0].get("env", [])}
        starts_jobs = "(api)" in where and any(v.startswith("k8s://") for v in env)
        calls_api = "(bootstrap)" in where or starts_jobs
        assert pod["automountServiceAccountToken"] is calls_api, where


def test_the_api_has_startup_liveness_and_readiness_probes(template):
    [deployment] = of_kind(template, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["env"][0]["name"] < container["env"][1]["name"]  # literals first


def test_no_secret_value_is_ever_synthesized(template):
    assert not of_kind(template, "Secret")
    for where, pod in pod_specs(template):
        for entry in pod["containers"][0].get("env", []):
            if any(word in entry["name"] for word in ("PASSWORD", "SECRET", "PEPPER", "KEY")):
                assert "valueFrom" in entry or entry["name"] in (
                    "SYNTH_API_KEYS_SECRET",), f"{where}: {entry['name']} is a literal"


def test_every_platform_pod_is_denied_everything_but_dns_unless_allowed(template):
    [deny] = [p for p in of_kind(template, "NetworkPolicy")
              if p["metadata"]["name"].endswith("-default-deny")]
    assert deny["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/part-of"] == \
        "synthdata"
    assert deny["spec"]["ingress"] == [] and deny["spec"]["policyTypes"] == ["Ingress",
                                                                             "Egress"]
    assert [p["port"] for p in deny["spec"]["egress"][0]["ports"]] == [53, 5353, 53, 5353]


def test_the_api_autoscales_and_keeps_one_pod_through_a_drain(template):
    [hpa] = of_kind(template, "HorizontalPodAutoscaler")
    [pdb] = of_kind(template, "PodDisruptionBudget")
    [deployment] = of_kind(template, "Deployment")
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] >= \
        hpa["spec"]["minReplicas"]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_the_namespace_enforces_the_restricted_pod_security_standard(template):
    for namespace in of_kind(template, "Namespace"):
        labels = namespace["metadata"]["labels"]
        if namespace["metadata"]["name"].endswith("-minio"):
            assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
            continue
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_jobs_have_their_own_identity_limits_retries_and_time_to_live(template):
    [config] = [m for m in of_kind(template, "ConfigMap") if "template.json" in m["data"]]
    job = json.loads(config["data"]["template.json"])
    [deployment] = of_kind(template, "Deployment")
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] != \
        deployment["spec"]["template"]["spec"]["serviceAccountName"]
    assert job["spec"]["backoffLimit"] >= 0 and job["spec"]["ttlSecondsAfterFinished"] > 0
    assert pod["restartPolicy"] == "Never"
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {"action": "Ignore",
                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    [role] = [r for r in of_kind(template, "Role") if r["metadata"]["name"].endswith("-submit")]
    assert {v for rule in role["rules"] for v in rule["verbs"]} <= {
        "create", "get", "list", "watch", "delete"}
    assert all("secrets" not in rule["resources"] for rule in role["rules"])


def test_ingress_is_tls_only_with_the_spec_limits(eks):
    [ingress] = of_kind(eks, "Ingress")
    assert ingress["spec"]["tls"] == [{"hosts": ["synth.example.com"],
                                       "secretName": ingress["spec"]["tls"][0]["secretName"]}]
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    assert notes["nginx.ingress.kubernetes.io/proxy-body-size"] == "500m"
    assert notes["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "900"
    assert notes["cert-manager.io/cluster-issuer"] == "letsencrypt"


def test_the_bucket_setup_job_applies_the_spec_settings(eks):
    [setup] = [j for j in of_kind(eks, "Job")
               if j["metadata"]["labels"]["app.kubernetes.io/component"] == "bucket-setup"]
    args = setup["spec"]["template"]["spec"]["containers"][0]["args"]
    for flag in ("--versioning", "--access-logs", "--block-public-access"):
        assert flag in args
    assert args[args.index("--retention-days") + 1] == "90"
    assert args[args.index("--encryption") + 1] == "customer_managed"


def test_the_in_cluster_database_archives_to_the_bucket_and_is_reached_over_verified_tls(
        onprem):
    import yaml

    [release] = [r for r in onprem["resource"]["helm_release"].values()
                 if r["chart"] == "cluster"]
    values = yaml.safe_load(release["values"][0])
    assert values["backups"]["enabled"] is True
    assert values["backups"]["s3"]["path"] == "/data/postgres/"
    assert values["cluster"]["enableSuperuserAccess"] is False
    [deployment] = of_kind(onprem, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "sslmode=verify-full" in env["SYNTH_METADATA_URL"]["value"]
    secret = env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
    assert secret == f"{release['name']}-app"  # made by the operator, never by Terraform


def test_every_object_carries_the_spec_labels(template):
    for manifest in manifests(template):
        labels = manifest["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/managed-by") == "synthdata-constructs", \
            manifest["metadata"]["name"]
        assert "synthdata.io/owner" in labels
