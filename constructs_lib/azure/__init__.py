"""The synthetic data platform on Azure, with CDK Terrain (cdktn) and the azurerm provider.

Same class names, constructor arguments and public attributes as `constructs_lib.aws` and
`constructs_lib.gcp` (see `constructs_lib.interface`). Importing this package imports the
prebuilt azurerm provider, so only code that builds an Azure stack should import it:

    from cdktn import App, TerraformStack
    from cdktn_provider_azurerm.provider import AzurermProvider
    from constructs_lib import PlatformSpec
    from constructs_lib.azure import SyntheticDataPlatform, azurerm_backend

    spec = PlatformSpec.from_file("examples/dev.yaml")
    app = App()
    stack = TerraformStack(app, "synth-demo-dev-azure")
    AzurermProvider(stack, "azurerm", features=[{}])
    azurerm_backend(stack, spec)
    SyntheticDataPlatform(stack, "Synth", spec=spec)
    app.synth()
"""

from .apps import AppsEnvironment, ServiceImage
from .base import Group
from .bucket import SecureBucket
from .generator import GeneratorAlerts, ServerlessGenerator
from .jobs import JobRunner
from .key import PlatformVault
from .metadata_store import MetadataStore
from .network import PrivateNetwork
from .platform import SyntheticDataPlatform, azurerm_backend

__all__ = [
    "AppsEnvironment",
    "GeneratorAlerts",
    "Group",
    "JobRunner",
    "MetadataStore",
    "PlatformVault",
    "PrivateNetwork",
    "SecureBucket",
    "ServerlessGenerator",
    "ServiceImage",
    "SyntheticDataPlatform",
    "azurerm_backend",
]
