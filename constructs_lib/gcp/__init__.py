"""The synthetic data platform on Google Cloud, with CDK Terrain (cdktn).

Same class names, constructor arguments and public attributes as `constructs_lib.aws`
(see `constructs_lib.interface`). Importing this package imports the prebuilt google,
google-beta and docker providers, so only code that builds a GCP stack should import it:

    from cdktn import App, TerraformStack
    from cdktn_provider_google.provider import GoogleProvider
    from constructs_lib import PlatformSpec
    from constructs_lib.gcp import SyntheticDataPlatform, gcs_backend

    spec = PlatformSpec.from_file("examples/dev.yaml")
    app = App()
    stack = TerraformStack(app, "synth-demo-dev-gcp")
    GoogleProvider(stack, "google", project="my-project", region="europe-west1")
    gcs_backend(stack, spec, project="my-project")
    platform = SyntheticDataPlatform(stack, "Synth", spec=spec, outputs=True)
    app.synth()
"""

from .bucket import ImportedBucket, SecureBucket
from .generator import GeneratorAlerts, ServerlessGenerator, ServiceLogs
from .image import ServiceImage
from .jobs import JobRunner
from .key import CustomerManagedKey
from .metadata_store import ImportedStore, MetadataStore
from .network import PrivateNetwork
from .platform import ApiKeysSecret, SyntheticDataPlatform, gcs_backend

__all__ = [
    "ApiKeysSecret",
    "CustomerManagedKey",
    "GeneratorAlerts",
    "ImportedBucket",
    "ImportedStore",
    "JobRunner",
    "MetadataStore",
    "PrivateNetwork",
    "SecureBucket",
    "ServerlessGenerator",
    "ServiceImage",
    "ServiceLogs",
    "SyntheticDataPlatform",
    "gcs_backend",
]
