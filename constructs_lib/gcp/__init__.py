"""The synthetic data platform on Google Cloud, with CDK Terrain (cdktn).

Same class names, constructor arguments and public attributes as `constructs_lib.aws`
(see `constructs_lib.interface`). Importing this package imports the prebuilt google
provider (about 14 s), so only code that builds a GCP stack should import it:

    from cdktn import App, TerraformStack
    from cdktn_provider_google.provider import GoogleProvider
    from constructs_lib import PlatformSpec
    from constructs_lib.gcp import SyntheticDataPlatform, gcs_backend

    spec = PlatformSpec.from_file("examples/dev.yaml")
    app = App()
    stack = TerraformStack(app, "synth-demo-dev-gcp")
    GoogleProvider(stack, "google", project=spec.gcp.project)
    gcs_backend(stack, spec)
    platform = SyntheticDataPlatform(stack, "Synth", spec=spec)
    app.synth()
"""

from .bucket import SecureBucket
from .generator import GeneratorAlerts, ServerlessGenerator
from .key import CustomerManagedKey
from .metadata_store import MetadataStore
from .platform import SyntheticDataPlatform, gcs_backend, pepper_secret

__all__ = [
    "CustomerManagedKey",
    "GeneratorAlerts",
    "MetadataStore",
    "SecureBucket",
    "ServerlessGenerator",
    "SyntheticDataPlatform",
    "gcs_backend",
    "pepper_secret",
]
