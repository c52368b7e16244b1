"""`PlatformStack`: a ready-made stack holding one `SyntheticDataPlatform`."""

from __future__ import annotations

from aws_cdk import Environment, Stack
from constructs import Construct

from ..naming import aws_names
from ..spec import PlatformSpec
from .platform import SyntheticDataPlatform

__all__ = ["PlatformStack"]


class PlatformStack(Stack):
    """One platform per stack, named `synth-<name>-<environment>` by default, with the
    platform's outputs (`SynthEndpointUrl`, `SynthBucketName`, ...). The ready-made app
    (`apps/aws.py`) is one of these per spec; in your own app, use `SyntheticDataPlatform`
    in a stack of yours instead."""

    def __init__(self, scope: Construct, id: str | None = None, *, spec: PlatformSpec,
                 **stack_props) -> None:
        """
        :param id: construct id and stack name. Default: `naming.aws_names(spec).stack`.
        :param spec: the platform spec; its `account` and `region` pin the environment.
        """
        name = id or aws_names(spec).stack
        stack_props.setdefault("env", Environment(account=spec.account, region=spec.region))
        stack_props.setdefault(
            "description", f"Synthdata platform {spec.name} ({spec.environment})")
        stack_props.setdefault("termination_protection", spec.is_production)
        super().__init__(scope, name, **stack_props)
        self.spec = spec
        self.platform = SyntheticDataPlatform(self, "Synth", spec=spec, outputs=True)
