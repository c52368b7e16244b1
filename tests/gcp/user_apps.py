"""The user apps `test_user_apps.py` reads (and checkov checks): each stack is an app a user
would write, all in one App synthesized once per session (`conftest.users`)."""

from __future__ import annotations

from typing import Any

from constructs_lib import PlatformSpec

from .conftest import user_stack

SPEC = PlatformSpec(name="acme", environment="dev", removal_policy="destroy")
IMAGE = "europe-west1-docker.pkg.dev/shared-images/synth/synth-service@sha256:" + "ab" * 32


def build_user_apps(app) -> dict[str, Any]:
    from cdktn_provider_google.compute_firewall import ComputeFirewall, ComputeFirewallDeny
    from cdktn_provider_google.compute_network import ComputeNetwork
    from cdktn_provider_google.compute_subnetwork import (
        ComputeSubnetwork,
        ComputeSubnetworkLogConfig,
    )
    from cdktn_provider_google.kms_crypto_key import KmsCryptoKey
    from cdktn_provider_google.kms_key_ring import KmsKeyRing
    from cdktn_provider_google.service_account import ServiceAccount

    from constructs_lib import gcp

    stacks = {}

    # Two platforms from one spec in one stack.
    stack = stacks["two-platforms"] = user_stack(app, "two-platforms")
    gcp.SyntheticDataPlatform(stack, "Alpha", spec=SPEC, outputs=True)
    gcp.SyntheticDataPlatform(stack, "Beta", spec=SPEC, outputs=True)

    # A standalone bucket and store from one spec.
    stack = stacks["standalone"] = user_stack(app, "standalone")
    gcp.SecureBucket(stack, "Data", spec=SPEC)
    gcp.MetadataStore(stack, "Records", spec=SPEC)

    # Bring your own key, network, bucket, database and image (the team's own, kept to the
    # same standard: rotation, flow logs, no inbound traffic).
    stack = stacks["byo"] = user_stack(app, "byo")
    ring = KmsKeyRing(stack, "Ring", name="team-ring", location="europe-west1")
    key = KmsCryptoKey(stack, "TeamKey", name="team-key", key_ring=ring.id,
                       rotation_period="7776000s")
    network = ComputeNetwork(stack, "Vpc", name="team-vpc", auto_create_subnetworks=False)
    subnet = ComputeSubnetwork(stack, "PrivateWithEgress", name="team-private",
                               network=network.id, region="europe-west1",
                               ip_cidr_range="10.8.0.0/20", private_ip_google_access=True,
                               log_config=ComputeSubnetworkLogConfig(
                                   aggregation_interval="INTERVAL_5_SEC"))
    ComputeFirewall(stack, "NoIngress", name="team-no-ingress", network=network.id,
                    direction="INGRESS", source_ranges=["0.0.0.0/0"],
                    deny=[ComputeFirewallDeny(protocol="all")])
    private = SPEC.model_copy(update={"network": SPEC.network.model_copy(update={"vpc": True})})
    gcp.SyntheticDataPlatform(
        stack, "Synth", spec=private, encryption_key=key, vpc=network, vpc_subnets=[subnet],
        bucket=gcp.SecureBucket.from_bucket_name(stack, "Existing", "team-datasets",
                                                 spec=private),
        metadata_store=gcp.MetadataStore.from_store_name(stack, "ExistingDb", "team-records",
                                                         spec=private),
        image=IMAGE)

    # A consumer stack granting itself access to a platform in another stack.
    producer = stacks["producer"] = user_stack(app, "producer")
    platform = gcp.SyntheticDataPlatform(producer, "Synth", spec=SPEC)
    consumer = stacks["consumer"] = user_stack(app, "consumer")
    analyst = ServiceAccount(consumer, "Analyst", account_id="analyst-jobs")
    platform.bucket.grant_read(analyst)
    platform.metadata_store.grant_read_write(analyst)
    platform.job_runner.grant_submit(analyst)
    platform.generator.grant_invoke(analyst)

    # The same spec in two projects (the spec names none: each stack's provider does).
    for project in ("team-a-prod", "team-b-prod"):
        stack = stacks[project] = user_stack(app, project, project=project)
        gcp.SyntheticDataPlatform(stack, "Synth", spec=SPEC, physical_names="from_spec")
    return stacks
