"""The private network of `network.vpc`: a virtual network with a subnet delegated to
Container Apps / Flex Consumption (the apps and the job executions egress through it) and
a subnet for private endpoints (each with a network security group), through which
storage, Cosmos DB, Key Vault and the registry are reached with their public network
access turned off. Each private endpoint gets the
private DNS zone Azure documents for its service, linked to the network.

Bring your own with `vpc=` (a `VirtualNetwork` or its id) and `vpc_subnets=` ((apps subnet
id, private-endpoint subnet id); the apps subnet delegated to `Microsoft.App/environments`,
at least /27).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from cdktn_provider_azurerm.network_security_group import NetworkSecurityGroup
from cdktn_provider_azurerm.private_dns_zone import PrivateDnsZone
from cdktn_provider_azurerm.private_dns_zone_virtual_network_link import (
    PrivateDnsZoneVirtualNetworkLink,
)
from cdktn_provider_azurerm.private_endpoint import (
    PrivateEndpoint,
    PrivateEndpointPrivateDnsZoneGroup,
    PrivateEndpointPrivateServiceConnection,
)
from cdktn_provider_azurerm.subnet import (
    Subnet,
    SubnetDelegation,
    SubnetDelegationServiceDelegation,
)
from cdktn_provider_azurerm.subnet_network_security_group_association import (
    SubnetNetworkSecurityGroupAssociation,
)
from cdktn_provider_azurerm.virtual_network import VirtualNetwork
from constructs import Construct

from ..naming import azure_tags
from ..spec import PlatformSpec
from .base import Group, physical_name

__all__ = ["PRIVATE_DNS_ZONES", "PrivateNetwork"]

#: Private endpoint sub-resource -> its private DNS zone (Azure public cloud).
PRIVATE_DNS_ZONES = {
    "blob": "privatelink.blob.core.windows.net",
    "queue": "privatelink.queue.core.windows.net",
    "Sql": "privatelink.documents.azure.com",
    "vault": "privatelink.vaultcore.azure.net",
    "registry": "privatelink.azurecr.io",
}


class PrivateNetwork(Construct):
    """The platform's virtual network, or the one given. Attributes: `network` (the
    `VirtualNetwork` made here, or None), `network_id`, `apps_subnet_id`,
    `endpoints_subnet_id`, `zones` (sub-resource -> `PrivateDnsZone`, made on first use)."""

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, group: Group,
                 vpc: Any = None, vpc_subnets: Sequence[str] | None = None) -> None:
        super().__init__(scope, id)
        self.spec = spec
        self.group = group
        self.zones: dict[str, PrivateDnsZone] = {}
        self.network: VirtualNetwork | None = None
        if vpc is not None or vpc_subnets is not None:
            subnets = list(vpc_subnets or ())
            if vpc is None or len(subnets) != 2:
                raise ValueError(
                    "vpc / vpc_subnets: give the virtual network and two subnet ids, (apps "
                    "subnet delegated to Microsoft.App/environments, private-endpoint subnet)")
            self.network_id: str = vpc if isinstance(vpc, str) else vpc.id
            self.apps_subnet_id, self.endpoints_subnet_id = subnets
            return
        cidr = ipaddress.ip_network(spec.network.cidr)
        apps, endpoints = _subnets(cidr)
        self.network = VirtualNetwork(
            self, "Network",
            name=physical_name(self, "Network", max_len=64, prefix="vnet-"),
            location=group.location, resource_group_name=group.name,
            address_space=[str(cidr)], tags=azure_tags(spec),
        )
        self.network_id = self.network.id
        apps_subnet = Subnet(
            self, "AppsSubnet",
            name="apps", resource_group_name=group.name,
            virtual_network_name=self.network.name, address_prefixes=[str(apps)],
            default_outbound_access_enabled=False,
            delegation=[SubnetDelegation(
                name="container-apps",
                service_delegation=SubnetDelegationServiceDelegation(
                    name="Microsoft.App/environments",
                    actions=["Microsoft.Network/virtualNetworks/subnets/join/action"]))],
        )
        endpoints_subnet = Subnet(
            self, "EndpointsSubnet",
            name="private-endpoints", resource_group_name=group.name,
            virtual_network_name=self.network.name, address_prefixes=[str(endpoints)],
            default_outbound_access_enabled=False,
            private_endpoint_network_policies="Enabled",
        )
        # Azure's default rules: no inbound from the internet, the network's own traffic
        # and the load balancer's probes allowed.
        for label, subnet in (("Apps", apps_subnet), ("Endpoints", endpoints_subnet)):
            group_ = NetworkSecurityGroup(
                self, f"{label}Nsg", name=physical_name(self, f"{label}Nsg", max_len=80,
                                                        prefix="nsg-"),
                location=group.location, resource_group_name=group.name,
                tags=azure_tags(spec))
            SubnetNetworkSecurityGroupAssociation(self, f"{label}NsgAssociation",
                                                  subnet_id=subnet.id,
                                                  network_security_group_id=group_.id)
        self.apps_subnet_id = apps_subnet.id
        self.endpoints_subnet_id = endpoints_subnet.id

    def zone(self, subresource: str) -> PrivateDnsZone:
        if subresource not in self.zones:
            zone = PrivateDnsZone(self, f"Zone-{subresource}", name=PRIVATE_DNS_ZONES[subresource],
                                  resource_group_name=self.group.name,
                                  tags=azure_tags(self.spec))
            PrivateDnsZoneVirtualNetworkLink(
                self, f"ZoneLink-{subresource}",
                name=physical_name(self, f"ZoneLink-{subresource}", max_len=80),
                private_dns_zone_id=zone.id, virtual_network_id=self.network_id,
                registration_enabled=False, tags=azure_tags(self.spec),
            )
            self.zones[subresource] = zone
        return self.zones[subresource]

    def private_endpoint(self, owner: Construct, id: str, resource_id: str, subresource: str,
                         group: Group) -> PrivateEndpoint:
        """A private endpoint for `subresource` of `resource_id`, in `owner`'s scope."""
        return PrivateEndpoint(
            owner, id,
            name=physical_name(owner, id, max_len=80, prefix="pe-"),
            location=group.location, resource_group_name=group.name,
            subnet_id=self.endpoints_subnet_id,
            private_service_connection=PrivateEndpointPrivateServiceConnection(
                name=subresource, is_manual_connection=False,
                private_connection_resource_id=resource_id, subresource_names=[subresource]),
            private_dns_zone_group=PrivateEndpointPrivateDnsZoneGroup(
                name="default", private_dns_zone_ids=[self.zone(subresource).id]),
            tags=azure_tags(self.spec),
        )


def _subnets(cidr: ipaddress.IPv4Network | ipaddress.IPv6Network):
    """The apps subnet (half the range, at most /21: Container Apps wants /27 or more) and
    the private-endpoint subnet (a /27 after it)."""
    apps_prefix = max(cidr.prefixlen + 1, 21)
    apps = next(cidr.subnets(new_prefix=apps_prefix))
    rest = cidr.address_exclude(apps)
    endpoints = next(next(rest).subnets(new_prefix=max(27, cidr.prefixlen + 2)))
    return apps, endpoints
