"""`SyntheticDataPlatform` on Azure: the whole platform from one `PlatformSpec`.

Composes a resource group, Log Analytics + Application Insights, the platform's Key Vault
(the pepper, and the customer-managed key), the private network (`network.vpc`),
`SecureBucket`, `MetadataStore`, the Container Apps environment and service image,
`JobRunner` and `ServerlessGenerator`. `azurerm_backend` gives a stack the explicit
state backend docs/azure.md describes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cdktn import AzurermBackend, TerraformOutput, TerraformStack
from constructs import Construct

from ..naming import azure_names
from ..spec import PlatformSpec
from ..types import OUTPUTS, PhysicalNames, RemovalPolicy, output_id
from .apps import AppsEnvironment, ServiceImage
from .base import resolve_group
from .bucket import SecureBucket, log_workspace
from .defaults import check_spec, container_size, job_size
from .generator import ServerlessGenerator
from .jobs import JobRunner
from .key import PEPPER_SECRET, PlatformVault
from .metadata_store import MetadataStore
from .monitoring import action_group, application_insights

__all__ = ["SyntheticDataPlatform", "azurerm_backend"]


def azurerm_backend(stack: TerraformStack, spec: PlatformSpec, *,
                    resource_group: str | None = None) -> AzurermBackend:
    """Keep the stack's state in the storage account named for the spec
    (`azure_names(spec).state_storage_account`, container `tfstate`), one blob per
    platform and environment, with Entra ID auth. The account must exist before
    `terraform init` (docs/azure.md shows the one-time commands)."""
    names = azure_names(spec)
    return AzurermBackend(
        stack,
        resource_group_name=resource_group or f"{names.resource_group}-tfstate",
        storage_account_name=names.state_storage_account,
        container_name="tfstate",
        key=f"synthdata/{spec.name}/{spec.environment}.tfstate",
        use_azuread_auth=True,
    )


class SyntheticDataPlatform(Construct):
    """The synthetic data platform on Azure.

    Public attributes: `spec`, `resource_group` (`Group`), `log_workspace`, `insights`,
    `network` (`PrivateNetwork` or None), `vault` (`PlatformVault`, also
    `api_keys_secret`), `encryption_key`, `bucket`, `metadata_store`, `apps_environment`,
    `image` (`ServiceImage`), `job_runner`, `generator`, `endpoint_url`, `outputs`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        encryption_key: Any = None,
        vpc: Any = None,
        vpc_subnets: Sequence[str] | None = None,
        bucket: Any = None,
        metadata_store: Any = None,
        image: str | None = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
        outputs: bool = False,
        resource_group: Any = None,
        entra_client_id: str | None = None,
    ) -> None:
        """Arguments (keyword-only):

        spec: every resource, name, tag and limit derives from it.
        encryption_key: a Key Vault key (`KeyVaultKey`) for the bucket and the store.
            Default: a key in the platform's vault when `storage.encryption` is
            'customer_managed'.
        vpc / vpc_subnets: a virtual network and (apps subnet, private-endpoint subnet)
            ids. Default: a new network with `network.vpc`, none without.
        bucket / metadata_store: bring your own (the library's constructs or their
            `from_bucket_name` / `from_store_name` imports); nothing is made for them.
        image: a prebuilt service image reference. Default: `generator.image`, else built
            by the deploy into the platform's registry.
        environment: variables added to the service's (never replacing the contract's).
        physical_names: GENERATED (default) or FROM_SPEC names.
        outputs: publish the `constructs_lib.types.OUTPUTS` (plus the pepper bootstrap
            command) as Terraform outputs. Default: off.
        resource_group: Azure only: deploy into this group (`ResourceGroup` or name).
        entra_client_id: Azure only: the app registration for `api.auth: iam` ('source').
        """
        super().__init__(scope, id)
        check_spec(spec)
        self.spec = spec
        names = PhysicalNames.resolve(physical_names)
        removal = RemovalPolicy.resolve(None, spec)
        self.resource_group = group = resolve_group(self, spec, resource_group, names)
        self.log_workspace = log_workspace(self, spec, group)
        self.insights = application_insights(self, spec, group, self.log_workspace.id)
        self.network = None
        if spec.network.vpc or vpc is not None:
            from .network import PrivateNetwork

            self.network = PrivateNetwork(self, "Network", spec=spec, group=group, vpc=vpc,
                                          vpc_subnets=vpc_subnets)
        wants_key = encryption_key is None and spec.storage.encryption == "customer_managed" \
            and (bucket is None or metadata_store is None)
        self.vault = PlatformVault(self, "Vault", spec=spec, group=group,
                                   removal_policy=removal, physical_names=names,
                                   with_key=wants_key, network=self.network)
        self.api_keys_secret = self.vault
        self.encryption_key = encryption_key or self.vault.key
        self.bucket = bucket or SecureBucket(
            self, "Bucket", spec=spec, encryption_key=self.encryption_key,
            physical_names=names, resource_group=group,
            log_workspace_id=self.log_workspace.id, network=self.network)
        self.metadata_store = metadata_store or MetadataStore(
            self, "MetadataStore", spec=spec, encryption_key=self.encryption_key,
            physical_names=names, resource_group=group, network=self.network)
        profiles = {job_size(spec)[2].name: job_size(spec)[2]}
        if spec.generator.packaging == "container":
            api_profile = container_size(spec)[2]
            profiles[api_profile.name] = api_profile
        self.apps_environment = AppsEnvironment(
            self, "Apps", spec=spec, group=group, log_workspace_id=self.log_workspace.id,
            profiles=list(profiles.values()), network=self.network)
        self.image = ServiceImage(self, "Image", spec=spec, group=group,
                                  physical_names=names, image=image, network=self.network)
        self.job_runner = JobRunner(
            self, "JobRunner", spec=spec, bucket=self.bucket,
            metadata_store=self.metadata_store, api_keys_secret=self.vault,
            image=self.image, environment=environment, physical_names=names,
            apps_environment=self.apps_environment, resource_group=group)
        self.alerts_group = action_group(self, spec, group)
        self.generator = ServerlessGenerator(
            self, "Generator", spec=spec, bucket=self.bucket,
            metadata_store=self.metadata_store, api_keys_secret=self.vault,
            image=self.image, job_runner=self.job_runner, environment=environment,
            physical_names=names, apps_environment=self.apps_environment,
            resource_group=group, network=self.network,
            log_workspace_id=self.log_workspace.id, application_insights=self.insights,
            action_group=self.alerts_group, entra_client_id=entra_client_id)
        self.endpoint_url: str = self.generator.endpoint_url
        self.outputs: dict[str, TerraformOutput] = {}
        if outputs:
            self._outputs()

    def _outputs(self) -> None:
        env = self.generator.runtime_environment
        values = {
            "endpoint_url": self.endpoint_url,
            "bucket_name": self.bucket.bucket_name,
            "storage_url": self.bucket.storage_url,
            "metadata_url": self.metadata_store.metadata_url,
            "api_keys_secret": self.vault.pepper_url,
            "jobs_url": env["SYNTH_JOBS_URL"],
            "identity": self.generator.identity.client_id,
        }
        for name, value in values.items():
            output = TerraformOutput(self, f"Output-{name}", value=value,
                                     description=OUTPUTS[name])
            output.override_logical_id(output_id(self.node.id, name, style="snake"))
            self.outputs[name] = output
        command = (f"az keyvault secret set --vault-name {self.vault.vault.name} --name "
                   f"{PEPPER_SECRET} --value \"$(openssl rand -base64 48)\" --output none")
        bootstrap = TerraformOutput(
            self, "Output-pepper-bootstrap", value=command,
            description="Run once after the first apply: stores a random pepper in Key Vault")
        bootstrap.override_logical_id(f"{output_id(self.node.id, 'api_keys_secret', style='snake')}"
                                      "_bootstrap_command")
        self.outputs["pepper_bootstrap_command"] = bootstrap
