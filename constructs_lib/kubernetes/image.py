"""The service image the pods run.

A cluster has no registry the platform could push to by itself, so the image is named:
`image=` on a construct, else `generator.image` in the spec, else
`synthdata-service:<version>` - the tag `docs/kubernetes.md` builds from the staged
context (`constructs_lib.build_context.stage_image_context()`) and loads into the cluster
or pushes to its registry. Pin a digest (`registry/synthdata-service@sha256:...`) in
production: a tag can move under running pods.
"""

from __future__ import annotations

import re

from .. import __version__
from ..spec import PlatformSpec

__all__ = ["DEFAULT_IMAGE", "service_image"]

DEFAULT_IMAGE = f"synthdata-service:{__version__}"
_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?$")


def service_image(spec: PlatformSpec, image: str | None = None) -> str:
    """The image reference pods run: `image`, else `generator.image`, else the default."""
    chosen = image or spec.generator.image or DEFAULT_IMAGE
    if not _IMAGE_RE.match(chosen):
        raise ValueError(f"image: {chosen!r} is not an image reference such as "
                         "'registry.example.com/synthdata-service@sha256:<digest>'")
    return chosen
