"""What the Container Apps the platform runs share: their environment (with the workload
profiles the spec's sizes need) and the service image.

The image is built by the deploy itself: the service's build context (staged by
`constructs_lib.build_context.stage_image_context`) is a Terraform asset, and a
`terraform_data` resource runs `az acr build` on it in the platform's registry, tagged with
the context's content hash - so the image the apps run is exactly the source that was
synthesized, and a changed source is a new tag. `terraform apply` needs the Azure CLI
logged in as the deployer (who gets `AcrPush` on exactly this registry). Give `image=` (a
reference, ideally by digest) to run a prebuilt image instead.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from cdktn import AssetType, DataResource, LocalExecProvisioner, TerraformAsset
from cdktn_provider_azurerm.container_app_environment import (
    ContainerAppEnvironment,
    ContainerAppEnvironmentWorkloadProfile,
)
from cdktn_provider_azurerm.container_registry import ContainerRegistry
from constructs import Construct

from ..naming import azure_names, azure_tags
from ..spec import PlatformSpec
from ..types import PhysicalNames
from .base import Group, client_config, grant_role, physical_name
from .defaults import ROLES, WorkloadProfile

__all__ = ["AppsEnvironment", "ServiceImage"]

IMAGE_REPOSITORY = "synth-service"


class AppsEnvironment(Construct):
    """A Container Apps environment (workload profiles) logging to Log Analytics, in the
    private network's apps subnet with `network.vpc`.

    Attributes: `environment` (`ContainerAppEnvironment`), `id`, `profiles` (name ->
    `WorkloadProfile`: always Consumption, plus the Dedicated ones the sizes need).
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, group: Group,
                 log_workspace_id: str, profiles: list[WorkloadProfile],
                 network: Any = None) -> None:
        super().__init__(scope, id)
        self.profiles = {p.name: p for p in profiles}
        maximum = max(2, spec.jobs.worker_concurrency, spec.generator.concurrency or 10)
        self.environment = ContainerAppEnvironment(
            self, "Environment",
            name=physical_name(self, "Environment", max_len=32, prefix="cae-"),
            location=group.location, resource_group_name=group.name,
            log_analytics_workspace_id=log_workspace_id,
            logs_destination="log-analytics",
            infrastructure_subnet_id=network.apps_subnet_id if network is not None else None,
            mutual_tls_enabled=True,
            workload_profile=[
                ContainerAppEnvironmentWorkloadProfile(
                    name=p.name, workload_profile_type=p.kind,
                    **({"minimum_count": 0, "maximum_count": maximum} if p.dedicated else {}))
                for p in sorted(self.profiles.values(), key=lambda p: p.name)],
            tags=azure_tags(spec),
        )
        self.id: str = self.environment.id


class ServiceImage(Construct):
    """The service image: `reference` is what the apps run.

    With `image` given (a reference such as `myacr.azurecr.io/synth@sha256:...`), that is
    run as is and nothing is built (`registry` None: grant pulls yourself). Otherwise a
    Premium Container Registry (admin user off, anonymous pull off, zone-redundant,
    dedicated data endpoints, untagged manifests kept 7 days; with `network.vpc` public
    access off and a private endpoint) and the build described above;
    `grant_pull(identity)` lets an app's identity pull from it.
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, group: Group,
                 physical_names: PhysicalNames, image: str | None = None,
                 context: str | Path | None = None, network: Any = None) -> None:
        super().__init__(scope, id)
        self.registry: ContainerRegistry | None = None
        self.build: DataResource | None = None
        self.server: str | None = None
        image = image or spec.generator.image
        if image:
            self.reference: str = image
            return
        from ..build_context import stage_image_context

        context = Path(context) if context is not None else stage_image_context()
        tag = _content_hash(context)
        name = azure_names(spec).container_registry \
            if physical_names == PhysicalNames.FROM_SPEC else \
            physical_name(self, "Registry", max_len=50, separator="", unique=True, spec=spec)
        private = network is not None
        self.registry = ContainerRegistry(
            self, "Registry",
            name=name, location=group.location, resource_group_name=group.name,
            sku="Premium", admin_enabled=False, anonymous_pull_enabled=False,
            zone_redundancy_enabled=True, data_endpoint_enabled=True,
            retention_policy_in_days=7,  # untagged manifests
            export_policy_enabled=not private,
            public_network_access_enabled=not private,
            network_rule_bypass_option="AzureServices",
            network_rule_bypass_for_tasks_enabled=True,  # `az acr build` with access off
            tags=azure_tags(spec),
        )
        if private:
            network.private_endpoint(self, "Endpoint", self.registry.id, "registry", group)
        self.server = self.registry.login_server
        deployer = grant_role(self, client_config(self).object_id, ROLES["image_push"],
                              self.registry.id)
        asset = TerraformAsset(self, "Context", path=str(context), type=AssetType.DIRECTORY,
                               asset_hash=tag)
        self.build = DataResource(
            self, "Build",
            triggers_replace={"context": tag, "registry": self.registry.id},
            provisioners=[LocalExecProvisioner(
                type="local-exec",
                command=(f"az acr build --registry {self.registry.name} "
                         f"--image {IMAGE_REPOSITORY}:{tag} --platform linux/amd64 "
                         f"--file {asset.path}/Dockerfile {asset.path}"),
            )],
            depends_on=[deployer],
        )
        self.reference = f"{self.registry.login_server}/{IMAGE_REPOSITORY}:{tag}"

    def grant_pull(self, identity: Any) -> Any:
        if self.registry is None:
            return None
        return grant_role(self, identity, ROLES["image_pull"], self.registry.id)

    @property
    def dependables(self) -> list[Any]:
        """What an app must wait for before it starts (the build)."""
        return [self.build] if self.build is not None else []


def _content_hash(context: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(path.relative_to(context).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
