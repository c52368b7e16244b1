"""The service image, run by the API function, the queue workers and the long-running job
task (each with its own command): built from the staged build context, or brought in."""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ..build_context import stage_image_context
from ..spec import PlatformSpec

__all__ = ["ServiceImage", "service_image"]

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9._/-]+)(?::(?P<tag>[A-Za-z0-9._-]+)|@(?P<digest>sha256:[0-9a-f]{64}))$"
)


class ServiceImage(Construct):
    """The service image: built from the staged build context, or a prebuilt ECR image.

        image = ServiceImage(stack, "Image", spec=spec)                   # built at deploy
        image = ServiceImage.from_image_uri(stack, "Image", uri)    # ECR, by digest
        image = ServiceImage.from_ecr_repository(stack, "Image", repository, "1.2.3")

    Pass one to `SyntheticDataPlatform(image=...)` (or the generator and job runner) to
    share it. Attributes: `repository` (the ECR repository), `tag_or_digest`, and `asset`
    (the `DockerImageAsset` when built here, else None).
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec,
                 image_directory: str | Path | None = None) -> None:
        """
        :param spec: the platform spec; its `generator.image`, when set, names a prebuilt
            ECR image to use instead of building one.
        :param image_directory: build context holding the `Dockerfile`. Default: the
            directory `build_context.stage_image_context()` stages from the installed
            service (the same on every machine and from the wheel).
        """
        super().__init__(scope, id)
        self.asset: ecr_assets.DockerImageAsset | None = None
        self._spec_image: str | None = spec.generator.image
        if spec.generator.image:
            self._use(*_parse_uri(self, spec.generator.image, "generator.image"))
            return
        directory = Path(image_directory) if image_directory else stage_image_context()
        if not (directory / "Dockerfile").is_file():
            raise ValueError(
                f"image_directory: {directory}/Dockerfile does not exist; pass a directory "
                "staged by constructs_lib.build_context.stage_image_context(), leave it unset, "
                "or set the spec's generator.image to a prebuilt ECR image"
            )
        self.asset = ecr_assets.DockerImageAsset(
            self, "Asset", directory=str(directory), platform=ecr_assets.Platform.LINUX_AMD64)
        self._use(self.asset.repository, self.asset.image_tag)

    @classmethod
    def from_image_uri(cls, scope: Construct, id: str, image_uri: str) -> ServiceImage:
        """A prebuilt image in ECR, `<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`
        or (better: a tag can move) `...@sha256:<digest>`. Lambda runs only ECR images."""
        image = cls.__new__(cls)
        Construct.__init__(image, scope, id)
        image.asset, image._spec_image = None, None
        image._use(*_parse_uri(image, image_uri, "image_uri"))
        return image

    @classmethod
    def from_ecr_repository(cls, scope: Construct, id: str, repository: ecr.IRepository,
                            tag_or_digest: str = "latest") -> ServiceImage:
        """An image in an ECR repository you hold (`ecr.Repository` or its `from_*`)."""
        image = cls.__new__(cls)
        Construct.__init__(image, scope, id)
        image.asset, image._spec_image = None, None
        image._use(repository, tag_or_digest)
        return image

    def _use(self, repository: ecr.IRepository, tag_or_digest: str) -> None:
        self.repository: ecr.IRepository = repository
        self.tag_or_digest: str = tag_or_digest

    def lambda_code(self, command: str) -> lambda_.DockerImageCode:
        """Lambda code running `command` (a handler path) in this image."""
        return lambda_.DockerImageCode.from_ecr(
            self.repository, tag_or_digest=self.tag_or_digest, cmd=[command])

    def container_image(self) -> ecs.ContainerImage:
        if self.asset is not None:
            return ecs.ContainerImage.from_docker_image_asset(self.asset)
        return ecs.ContainerImage.from_ecr_repository(self.repository, self.tag_or_digest)


def service_image(scope: Construct, spec: PlatformSpec,
                  image: ServiceImage | None) -> ServiceImage:
    """`image` when given, else one built (or named by the spec's `generator.image`) under
    `scope`. Both at once is refused: the spec and the argument would disagree."""
    if image is None:
        return ServiceImage(scope, "Image", spec=spec)
    if spec.generator.image and image._spec_image != spec.generator.image:
        raise ValueError(
            f"generator.image: the spec names the prebuilt image {spec.generator.image!r} "
            "and image= gives another; pass one (ServiceImage.from_image_uri(...) or the "
            "spec's generator.image)")
    return image


def _parse_uri(scope: Construct, uri: str, field: str) -> tuple[ecr.IRepository, str]:
    match = _ECR_IMAGE.match(uri)
    if not match:
        raise ValueError(
            f"{field}: {uri!r} is not an ECR image; Lambda runs only images in ECR: give "
            "'<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>' (or "
            ":<tag>), or build from the service's Dockerfile (leave it unset)"
        )
    repository = ecr.Repository.from_repository_attributes(
        scope, "Repository",
        repository_name=match["repo"],
        repository_arn=Stack.of(scope).format_arn(
            service="ecr", resource="repository", resource_name=match["repo"],
            account=match["account"], region=match["region"]),
    )
    return repository, match["digest"] or match["tag"]
