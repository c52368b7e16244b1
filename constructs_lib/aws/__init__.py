"""The platform on AWS, with aws-cdk-lib. Importing this module loads the CDK; nothing
else in `constructs_lib` does.

    from aws_cdk import App, Stack
    from constructs_lib import PlatformSpec
    from constructs_lib.aws import SyntheticDataPlatform

    app = App()
    stack = Stack(app, "Synth")
    SyntheticDataPlatform(stack, "Synth", spec=PlatformSpec(name="demo"))
"""

from ..types import PhysicalNames, RemovalPolicy, SecureDefaultOverridden, UnsupportedOnCloud
from .bucket import SecureBucket, SecureBucketBase
from .defaults import FEATURE_FLAGS
from .generator import ServerlessGenerator
from .image import ServiceImage
from .jobs import JobRunner
from .metadata_store import MetadataStore, MetadataStoreBase
from .platform import SyntheticDataPlatform
from .stack import PlatformStack

__all__ = [
    "FEATURE_FLAGS",
    "JobRunner",
    "MetadataStore",
    "MetadataStoreBase",
    "PhysicalNames",
    "PlatformStack",
    "RemovalPolicy",
    "SecureBucket",
    "SecureBucketBase",
    "SecureDefaultOverridden",
    "ServerlessGenerator",
    "ServiceImage",
    "SyntheticDataPlatform",
    "UnsupportedOnCloud",
]
