"""`ServiceImage`: the service image, built and pushed by the deploy, referenced by digest.

Terraform builds the image itself: the staged build context
(`constructs_lib.build_context.stage_image_context`: the Dockerfile, `synthdata_service/`
and the runtime contract) is copied into the synthesized output as a `TerraformAsset`; a
`docker_image` (kreuzwerker/docker provider) builds it for `linux/amd64` with the deploying
machine's Docker engine, a `docker_registry_image` pushes it to an Artifact Registry
repository this construct creates (CMEK-encrypted when a key is given), authenticated with
the deploying identity's access token, and `image_uri` is the pushed image's digest
reference (`...@sha256:...`). So a first `terraform apply` builds, pushes and runs the
exact image, a changed service is rebuilt under a new tag (the asset hash) and rolls out,
and no step precedes the apply. Needs a Docker engine where Terraform runs; without one,
pass a prebuilt image (`image=`) instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdktn import AssetType, TerraformAsset
from cdktn_provider_google.artifact_registry_repository import ArtifactRegistryRepository
from constructs import Construct

from ..build_context import stage_image_context
from ..naming import gcp_labels, gcp_names
from ..spec import PlatformSpec
from ..types import PhysicalNames
from .apis import agent_key_grant, enable_apis, key_id
from .defaults import required_apis
from .stack import docker_provider, physical_name, placement

__all__ = ["IMAGE_NAME", "ServiceImage", "image_uri"]

IMAGE_NAME = "synth-service"
PLATFORM = "linux/amd64"  # Cloud Run runs x86-64 images, whatever machine builds them


class ServiceImage(Construct):
    """The service image in an Artifact Registry repository, built and pushed on apply.

    Public attributes: `image_uri` (`<region>-docker.pkg.dev/<project>/<repo>/synth-service
    @sha256:...`), `repository` (`ArtifactRegistryRepository`), `context` (the
    `TerraformAsset` holding the build context), `build` (`docker_image`), `push`
    (`docker_registry_image`), `key_grant` (the registry agent's key grant or None).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        encryption_key: Any = None,
        physical_names: PhysicalNames | str | None = None,
        context_dir: str | Path | None = None,
    ) -> None:
        """spec: project, region, labels. encryption_key: encrypt the repository (the
        Artifact Registry agent is granted the key first). physical_names: GENERATED or
        FROM_SPEC repository name. context_dir: the build context (default:
        `stage_image_context()`, the service's Dockerfile and package)."""
        super().__init__(scope, id)
        from cdktn_provider_docker.image import Image, ImageBuild
        from cdktn_provider_docker.registry_image import RegistryImage

        where = placement(self, spec)
        names = gcp_names(spec, project=where.project, region=where.region)
        depends: list[Any] = list(enable_apis(self, where, required_apis("image")))
        self.key_grant = None
        if encryption_key is not None:
            self.key_grant = agent_key_grant(self, where, encryption_key,
                                             "artifactregistry.googleapis.com")
            depends.append(self.key_grant)
        repository_id = physical_name(self, "artifact_repository", where, part="Repository",
                                      from_spec=names.artifact_repository,
                                      names=PhysicalNames.resolve(physical_names))
        self.repository = ArtifactRegistryRepository(
            self, "Repository",
            project=where.project,
            location=where.region,
            repository_id=repository_id,
            format="DOCKER",
            description="Images of the synthetic data service",
            kms_key_name=key_id(encryption_key) if encryption_key is not None else None,
            labels=gcp_labels(spec),
            depends_on=depends,
        )
        registry = f"{where.region}-docker.pkg.dev"
        context = Path(context_dir) if context_dir is not None else stage_image_context()
        if not (context / "Dockerfile").is_file():
            raise ValueError(f"context_dir: {context} holds no Dockerfile at its root")
        self.context = TerraformAsset(self, "Context", path=str(context),
                                      type=AssetType.DIRECTORY)
        tag = self.context.asset_hash.lower()
        name = f"{registry}/{where.project}/{repository_id}/{IMAGE_NAME}"
        provider = docker_provider(self, registry)
        self.build = Image(
            self, "Build",
            name=f"{name}:{tag}",
            build_attribute=ImageBuild(context=self.context.path, platform=PLATFORM),
            triggers={"context": tag},
            provider=provider,
            depends_on=[self.repository],
        )
        self.push = RegistryImage(
            self, "Push",
            name=self.build.name,
            keep_remotely=True,  # earlier revisions keep running on their own digests
            triggers={"context": tag},
            provider=provider,
        )
        self.image_uri: str = f"{name}@{self.push.sha256_digest}"


def image_uri(image: Any) -> str:
    """The image reference of `image=`: a `ServiceImage` or an image URI string (ideally by
    digest: `...@sha256:...`; a tag such as `:latest` never rolls out a later push)."""
    if isinstance(image, ServiceImage):
        return image.image_uri
    if isinstance(image, str) and image.strip():
        return image
    raise TypeError(f"image: {image!r} is not an image; give an image URI string "
                    "('<region>-docker.pkg.dev/<project>/<repo>/<name>@sha256:...') or a "
                    "ServiceImage")
