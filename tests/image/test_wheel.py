"""`pip install synthdata-platform[aws]` from the wheel, in a fresh venv outside the
repository, then a user's own CDK app synthesized from it: its image asset is complete
(the same build context the repository's app stages, byte for byte) and builds with
podman into the same image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.test_packaging import ROOT, build_wheel
from tests.image import images

USER_APP = '''
import constructs_lib
from aws_cdk import App, Stack
from constructs_lib import PlatformSpec
from constructs_lib.aws import SyntheticDataPlatform

app = App(outdir="cdk.out")
stack = Stack(app, "UserStack")
SyntheticDataPlatform(stack, "Synthetic", spec=PlatformSpec(name="userapp"))
app.synth()
print(constructs_lib.__file__)
'''


@pytest.fixture(scope="module")
def user_app(tmp_path_factory) -> tuple[Path, str]:
    """(the user app's cdk.out, where constructs_lib was imported from)."""
    work = tmp_path_factory.mktemp("wheel-user")
    wheel = build_wheel(work / "dist")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-c", str(ROOT / "requirements.lock"), f"{wheel}[aws]"],
        capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    app_dir = work / "my-app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(USER_APP)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    proc = subprocess.run([str(python), "app.py"], cwd=app_dir, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return app_dir / "cdk.out", proc.stdout.strip().splitlines()[-1]


def _asset(outdir: Path) -> tuple[str, Path]:
    (manifest,) = outdir.glob("*.assets.json")
    ((asset_hash, asset),) = json.loads(manifest.read_text())["dockerImages"].items()
    return asset_hash, outdir / asset["source"]["directory"]


def test_the_user_app_imports_the_installed_wheel_not_the_checkout(user_app):
    _, imported_from = user_app
    assert "site-packages" in imported_from and not imported_from.startswith(str(ROOT))


def test_the_image_asset_is_the_build_context_the_repository_stages(user_app, aws_synth):
    asset_hash, context = _asset(user_app[0])
    assert asset_hash == aws_synth.image_asset_hash
    assert images.directory_digest(context) == images.directory_digest(aws_synth.image_context)


def test_the_user_apps_image_asset_builds(user_app, podman, aws_image, image_logs):
    _, context = _asset(user_app[0])
    assert images.build_service_image(podman, context, log_dir=image_logs) == aws_image
