"""Synthdata construct library: one provider-agnostic platform description, four clouds.

This top-level package is cloud-free: it holds the spec, naming and tagging rules and the
runtime contract. Each cloud's constructs live in their own subpackage and import their
provider only there:

    from constructs_lib import PlatformSpec
    from constructs_lib.aws import SyntheticDataPlatform   # aws-cdk-lib
    from constructs_lib.gcp import SyntheticDataPlatform   # CDK Terrain (cdktn) + google provider
    from constructs_lib.azure import SyntheticDataPlatform  # CDK Terrain + azurerm provider
    from constructs_lib.kubernetes import SyntheticDataPlatform  # CDK Terrain + kubernetes, helm

Every cloud's classes take the same arguments (`constructs_lib.interface`); what each
platform does is read back from its template by `constructs_lib.facts` and compared across
clouds by the tests. `constructs_lib.testing` helps users snapshot their own stacks.
"""

from .contract import RuntimeContract
from .spec import PlatformSpec, SpecError
from .types import PhysicalNames, RemovalPolicy, SecureDefaultOverridden, UnsupportedOnCloud

__all__ = [
    "PhysicalNames",
    "PlatformSpec",
    "RemovalPolicy",
    "RuntimeContract",
    "SecureDefaultOverridden",
    "SpecError",
    "UnsupportedOnCloud",
]
__version__ = "0.1.0"
