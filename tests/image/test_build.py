"""The service image builds, offline, from exactly the directory each deploy builds from:
the asset directory `cdk synth` stages, and the context the GCP stack builds."""

from __future__ import annotations

from tests.image.conftest import gcp_image_context


def test_the_cdk_asset_directory_holds_only_the_build_context(aws_synth):
    context = aws_synth.image_context
    assert context.name == f"asset.{aws_synth.image_asset_hash}"
    assert sorted(p.name for p in context.iterdir()) == [
        "Dockerfile", "constructs_lib", "synthdata_service"]


def test_the_image_builds_from_the_cdk_asset_directory(aws_image, podman):
    config = podman("image", "inspect", aws_image, "--format",
                    "{{json .Config.Entrypoint}} {{json .Config.Cmd}}").stdout.split()
    assert config == ['["/usr/local/bin/synth-entrypoint"]',
                      '["synthdata_service.handlers.aws_lambda.handler"]']


def test_the_build_leaves_no_package_index_settings_in_the_image(aws_image, podman):
    """The build read its wheels through a mount: none of it may stay in the image."""
    proc = podman("run", "--rm", "--network=none", *podman.ulimits, "--entrypoint", "sh",
                  aws_image, "-c", "cat /etc/pip.conf 2>/dev/null; ls -A /wheels 2>/dev/null;"
                  " ls -A /tmp")
    assert proc.stdout.strip() == ""


def test_the_gcp_stack_builds_the_same_image_from_its_own_input(gcp_synth, gcp_image,
                                                                aws_image):
    assert (gcp_image_context(gcp_synth) / "Dockerfile").is_file()
    assert gcp_image == aws_image
