"""Private networking: Direct VPC egress for the service and its jobs.

With `network.vpc: true` and no `vpc=`, `PrivateNetwork` creates a custom-mode VPC, one
regional subnet (`network.cidr`) with Private Google Access and flow logs, and an explicit
logged deny-all-ingress firewall rule (nothing ever connects in), and the Cloud
Run service, its jobs (and a gen2 function) send ALL their egress into it: no NAT and no
external address exist, so nothing reaches the internet, while Cloud Storage, Firestore,
Secret Manager, IAM and the Cloud Run Admin API are reached through Private Google Access.
A given network (`vpc=`, `vpc_subnets=`: ids or the provider's objects) is used as it is;
with `network.vpc: false` it carries only private ranges (`PRIVATE_RANGES_ONLY`), with
`network.vpc: true` all traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdktn_provider_google.compute_firewall import (
    ComputeFirewall,
    ComputeFirewallDeny,
    ComputeFirewallLogConfig,
)
from cdktn_provider_google.compute_network import ComputeNetwork
from cdktn_provider_google.compute_subnetwork import (
    ComputeSubnetwork,
    ComputeSubnetworkLogConfig,
)
from constructs import Construct

from ..naming import gcp_names
from ..spec import PlatformSpec
from ..types import PhysicalNames, UnsupportedOnCloud
from .apis import enable_apis
from .defaults import required_apis
from .stack import physical_name, placement

__all__ = ["DEFAULT_CIDR", "Egress", "PrivateNetwork", "egress"]

DEFAULT_CIDR = "10.42.0.0/16"


@dataclass(frozen=True)
class Egress:
    """Direct VPC egress settings of one Cloud Run service, job or gen2 function."""

    network: str
    subnetwork: str | None
    egress: str
    """'ALL_TRAFFIC' (private: everything goes through the VPC) or 'PRIVATE_RANGES_ONLY'."""


class PrivateNetwork(Construct):
    """A custom-mode VPC with one subnet for Direct VPC egress.

    Public attributes: `network` (`ComputeNetwork`), `subnetwork` (`ComputeSubnetwork`),
    `deny_ingress` (`ComputeFirewall`), `network_id`, `subnetwork_id`.
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec,
                 physical_names: PhysicalNames | str | None = None) -> None:
        super().__init__(scope, id)
        where = placement(self, spec)
        naming = PhysicalNames.resolve(physical_names)
        names = gcp_names(spec, project=where.project, region=where.region)
        apis = enable_apis(self, where, required_apis("network"))
        self.network = ComputeNetwork(
            self, "Network",
            project=where.project,
            name=physical_name(self, "network", where, part="Network",
                               from_spec=names.network, names=naming),
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description=f"Private network of the synthetic data platform {spec.name} "
            f"({spec.environment})",
            depends_on=apis,
        )
        self.subnetwork = ComputeSubnetwork(
            self, "Subnetwork",
            project=where.project,
            name=physical_name(self, "network", where, part="Subnetwork",
                               from_spec=names.subnetwork, names=naming),
            network=self.network.id,
            region=where.region,
            ip_cidr_range=spec.network.cidr,
            private_ip_google_access=True,
            log_config=ComputeSubnetworkLogConfig(
                aggregation_interval="INTERVAL_5_SEC", flow_sampling=0.5,
                metadata="INCLUDE_ALL_METADATA"),
        )
        self.deny_ingress = ComputeFirewall(
            self, "DenyIngress",
            project=where.project,
            name=physical_name(self, "network", where, part="DenyIngress",
                               from_spec=f"{names.network[:50]}-deny-ingress", names=naming),
            network=self.network.id,
            description="Nothing connects into the platform's network; its services reach "
            "Google APIs outward only",
            direction="INGRESS",
            priority=65534,
            source_ranges=["0.0.0.0/0"],
            deny=[ComputeFirewallDeny(protocol="all")],
            log_config=ComputeFirewallLogConfig(metadata="INCLUDE_ALL_METADATA"),
        )
        self.network_id: str = self.network.id
        self.subnetwork_id: str = self.subnetwork.id


def _id(value: Any) -> str:
    return value if isinstance(value, str) else value.id


def egress(scope: Construct, spec: PlatformSpec, vpc: Any, vpc_subnets: Any,
           *, physical_names: PhysicalNames | str | None = None) -> Egress | None:
    """The Direct VPC egress of a construct: from `vpc=` / `vpc_subnets=`, else a new
    `PrivateNetwork` when `network.vpc` is on, else None (the managed runtime's network).

    `vpc` is a network id / self link, a `ComputeNetwork` or a `PrivateNetwork`;
    `vpc_subnets` one subnetwork (id, `ComputeSubnetwork`, or a list of one): Cloud Run
    takes one network interface. `network.cidr` only sizes a network the platform creates;
    a different value with no network to create is refused, not ignored.
    """
    if isinstance(vpc, PrivateNetwork):  # made from this spec (by the platform): cidr honoured
        return Egress(vpc.network_id, _id(vpc_subnets or vpc.subnetwork),
                      "ALL_TRAFFIC" if spec.network.vpc else "PRIVATE_RANGES_ONLY")
    if vpc is None and vpc_subnets is not None:
        raise ValueError("vpc_subnets: given without vpc=; pass the network too")
    cidr_set = spec.network.cidr != DEFAULT_CIDR
    if vpc is None:
        if not spec.network.vpc:
            if cidr_set:
                raise UnsupportedOnCloud(
                    "network.cidr", "gcp", "no network is created while network.vpc is off",
                    "turn network.vpc on, or leave network.cidr at its default")
            return None
        network = PrivateNetwork(scope, "Network", spec=spec, physical_names=physical_names)
        return Egress(network.network_id, network.subnetwork_id, "ALL_TRAFFIC")
    if cidr_set:
        raise UnsupportedOnCloud(
            "network.cidr", "gcp", "the given vpc= network is used as it is",
            "leave network.cidr at its default when you pass vpc=")
    if isinstance(vpc_subnets, Sequence) and not isinstance(vpc_subnets, str):
        if len(vpc_subnets) != 1:
            raise ValueError(f"vpc_subnets: Cloud Run Direct VPC egress takes one subnetwork, "
                             f"not {len(vpc_subnets)}; pass the one in the platform's region")
        vpc_subnets = vpc_subnets[0]
    return Egress(_id(vpc), _id(vpc_subnets) if vpc_subnets is not None else None,
                  "ALL_TRAFFIC" if spec.network.vpc else "PRIVATE_RANGES_ONLY")
