"""The networks the platform creates when it is given none, and how it places things in a
given one.

* `private_network` (`network.vpc: true`): isolated subnets only, no NAT or internet
  gateway; S3 and DynamoDB gateway endpoints and eight interface endpoints. The API
  function, the queue workers and the job tasks all run inside it.
* `public_job_network` (the default, for the long-running job tasks only): public
  subnets with an internet gateway and no NAT; tasks get a public IP, a security group
  with no inbound rule and HTTPS-only egress, and reach S3 / DynamoDB through gateway
  endpoints. It costs nothing while no task runs, where eight interface endpoints in two
  zones cost about $115-130 a month idle.

A VPC the user gives (`vpc=`, `vpc_subnets=`) is used as it is: nothing is added to it.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..spec import PlatformSpec
from .defaults import (
    acknowledge,
    cdk_removal_policy,
    log_retention,
    skip_unless_customer_managed,
)

__all__ = ["INTERFACE_ENDPOINTS", "Placement", "check_subnets", "https_only_group",
           "private_network", "public_job_network"]

#: The interface endpoints of the private network: what the functions and the Fargate
#: tasks call with no route to the internet.
INTERFACE_ENDPOINTS = {
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "XRay": ec2.InterfaceVpcEndpointAwsService.XRAY,
    # Fargate pulls the image and ships logs through these.
    "Ecr": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    # Functions in the network start job tasks through this.
    "Ecs": ec2.InterfaceVpcEndpointAwsService.ECS,
}


def check_subnets(vpc: ec2.IVpc | None, subnets: ec2.SubnetSelection | None) -> None:
    """`vpc_subnets=` selects subnets of `vpc=`: alone it would be silently ignored."""
    if subnets is not None and vpc is None:
        raise ValueError("vpc_subnets: selects subnets of a VPC, but no vpc= is given; pass "
                         "the VPC too, or leave vpc_subnets unset")


class Placement:
    """Where a set of functions or tasks runs: a VPC and its selected subnets."""

    def __init__(self, vpc: ec2.IVpc, subnets: ec2.SubnetSelection | None = None) -> None:
        self.vpc = vpc
        self.subnets = subnets
        fields = ("availability_zones", "one_per_az", "subnet_filters", "subnet_group_name",
                  "subnet_type", "subnets")
        selection = {f: getattr(subnets, f) for f in fields
                     if subnets is not None and getattr(subnets, f) is not None}
        self.selected = vpc.select_subnets(**selection)

    @property
    def public(self) -> bool:
        """The selected subnets route to an internet gateway: tasks need a public IP."""
        return bool(self.selected.has_public)


def _flow_logs(scope: Construct, vpc: ec2.Vpc, spec: PlatformSpec,
               key: kms.IKey | None) -> None:
    flow_logs = logs.LogGroup(scope, "FlowLogs", retention=log_retention(spec),
                              encryption_key=key,
                              removal_policy=cdk_removal_policy(None, spec))
    skip_unless_customer_managed(key, {"CKV_AWS_158": flow_logs})
    vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(
        flow_logs))


def private_network(scope: Construct, id: str, spec: PlatformSpec,
                    key: kms.IKey | None) -> ec2.Vpc:
    """Isolated subnets only: everything reaches AWS services through endpoints."""
    vpc = ec2.Vpc(
        scope, id,
        ip_addresses=ec2.IpAddresses.cidr(spec.network.cidr),
        max_azs=2, nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(
            name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)],
    )
    _flow_logs(scope, vpc, spec, key)
    vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
    vpc.add_gateway_endpoint("DynamoDB", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
    for name, service in INTERFACE_ENDPOINTS.items():
        endpoint = vpc.add_interface_endpoint(
            name, service=service, private_dns_enabled=True, open=False)
        # HTTPS from inside the platform's own address range only.
        endpoint.connections.allow_default_port_from(
            ec2.Peer.ipv4(spec.network.cidr), "HTTPS from the platform's private subnets")
    return vpc


def public_job_network(scope: Construct, id: str, spec: PlatformSpec,
                       key: kms.IKey | None) -> ec2.Vpc:
    """Public subnets and no NAT, for job tasks that run with a public IP behind a
    security group that admits nothing; S3 and DynamoDB through gateway endpoints."""
    vpc = ec2.Vpc(
        scope, id,
        ip_addresses=ec2.IpAddresses.cidr(spec.network.cidr),
        max_azs=2, nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(
            name="jobs", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24,
            map_public_ip_on_launch=False)],
    )
    _flow_logs(scope, vpc, spec, key)
    vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
    vpc.add_gateway_endpoint("DynamoDB", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
    return vpc


def https_only_group(scope: Construct, id: str, vpc: ec2.IVpc,
                     what: str) -> ec2.SecurityGroup:
    """No inbound rules; HTTPS out only (to endpoints, or to AWS APIs through the subnets'
    own route: a NAT or internet gateway)."""
    group = ec2.SecurityGroup(scope, id, vpc=vpc, allow_all_outbound=False,
                              description=f"{what}: HTTPS to AWS APIs only, no inbound")
    group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
                          "HTTPS to AWS APIs and endpoints")
    acknowledge(group, "AwsSolutions-EC23", "No inbound rules at all; egress is HTTPS only.")
    return group
