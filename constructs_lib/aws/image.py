"""The service image, built once and run by the API function, the queue worker and the
long-running job task (each with its own command)."""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import IgnoreMode, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ..spec import PlatformSpec

__all__ = ["SERVICE_IMAGE_FILES", "ServiceImage"]

_REPO_ROOT = Path(__file__).resolve().parents[2]

#: What the service image is built from, relative to the build context (the repository
#: root). Everything else is excluded, so unrelated files never change the image hash.
SERVICE_IMAGE_FILES = (
    "service",
    "constructs_lib/__init__.py",
    "constructs_lib/spec.py",
    "constructs_lib/contract.py",
)
_IMAGE_EXCLUDES = ["*", *[f"!{path}" for path in SERVICE_IMAGE_FILES], "**/__pycache__",
                   "**/*.pyc"]
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repo>[a-z0-9._/-]+)(?::(?P<tag>[A-Za-z0-9._-]+)|@(?P<digest>sha256:[0-9a-f]{64}))$"
)


class ServiceImage(Construct):
    """The image: a prebuilt ECR image named by the spec, or built from service/Dockerfile.

    Attributes: `repository` (the ECR repository), `tag_or_digest`, and `asset` (the
    `DockerImageAsset` when built here, else None).
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec,
                 image_directory: str | Path | None = None) -> None:
        """
        :param image_directory: build context holding `service/Dockerfile`. Default: this
            repository's root. Ignored when the spec names a prebuilt `generator.image`.
        """
        super().__init__(scope, id)
        self.asset: ecr_assets.DockerImageAsset | None = None
        if spec.generator.image:
            match = _ECR_IMAGE.match(spec.generator.image)
            if not match:
                raise ValueError(
                    f"generator.image {spec.generator.image!r}: Lambda runs only images in "
                    "ECR; give '<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>' "
                    "(or @sha256:<digest>), or leave it unset to build from service/Dockerfile"
                )
            self.repository: ecr.IRepository = ecr.Repository.from_repository_attributes(
                self, "Repository",
                repository_name=match["repo"],
                repository_arn=Stack.of(self).format_arn(
                    service="ecr", resource="repository", resource_name=match["repo"],
                    account=match["account"], region=match["region"]),
            )
            self.tag_or_digest: str = match["digest"] or match["tag"]
            return
        directory = Path(image_directory) if image_directory else _REPO_ROOT
        dockerfile = directory / "service" / "Dockerfile"
        if not dockerfile.is_file():
            raise ValueError(
                f"no service image to build: {dockerfile} does not exist; pass "
                "image_directory= pointing at a checkout of the platform, or set the spec's "
                "generator.image"
            )
        self.asset = ecr_assets.DockerImageAsset(
            self, "Asset",
            directory=str(directory),
            file="service/Dockerfile",
            exclude=_IMAGE_EXCLUDES,
            ignore_mode=IgnoreMode.DOCKER,
            platform=ecr_assets.Platform.LINUX_AMD64,
        )
        self.repository = self.asset.repository
        self.tag_or_digest = self.asset.image_tag

    def lambda_code(self, command: str) -> lambda_.DockerImageCode:
        """Lambda code running `command` (a handler path) in this image."""
        return lambda_.DockerImageCode.from_ecr(
            self.repository, tag_or_digest=self.tag_or_digest, cmd=[command])

    def container_image(self) -> ecs.ContainerImage:
        if self.asset is not None:
            return ecs.ContainerImage.from_docker_image_asset(self.asset)
        return ecs.ContainerImage.from_ecr_repository(self.repository, self.tag_or_digest)
