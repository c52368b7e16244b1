"""Emulators for the GCP backends, started once per session on loopback and stopped after:
the GCS emulator (PyPI `gcp-storage-emulator`) and Google's own Firestore emulator (the
`cloud-firestore-emulator` jar that ships with the Cloud SDK's firestore-emulator
component). Tests that need an emulator that cannot start here are skipped with the
reason, never passed against something else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, stop_server, wait_for_port

REPO = Path(__file__).resolve().parents[2]
BUCKET = "synth-test"
PROJECT = "synth-test"

_FIRESTORE_JAR = "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"


def start(argv: list[str], port: int, log: Path, timeout: float, address: str = "127.0.0.1",
          **kwargs) -> subprocess.Popen:
    handle = log.open("wb")
    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)
    try:
        wait_for_port(port, process, log, timeout, host=address)
    except BaseException:
        stop_server(process)
        raise
    return process


def firestore_jar() -> Path | None:
    """The Firestore emulator jar from an installed Cloud SDK, if there is one."""
    roots = [os.environ.get("CLOUDSDK_ROOT_DIR", ""), "/usr/lib/google-cloud-sdk",
             "/usr/share/google-cloud-sdk", "/google-cloud-sdk"]
    gcloud = shutil.which("gcloud")
    if gcloud:
        roots.append(str(Path(os.path.realpath(gcloud)).parents[1]))
    for root in filter(None, roots):
        jar = Path(root) / _FIRESTORE_JAR
        if jar.is_file():
            return jar
    return None


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory) -> Iterator[str]:
    """`STORAGE_EMULATOR_HOST` for an in-memory GCS emulator with bucket `synth-test`."""
    port = free_port()
    log = tmp_path_factory.mktemp("gcs") / "emulator.log"
    process = start([sys.executable, "-m", "gcp_storage_emulator", "start", "--host",
                     "127.0.0.1", "--port", str(port), "--in-memory", "--default-bucket",
                     BUCKET], port, log, timeout=30)
    host = f"http://127.0.0.1:{port}"
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = host
    yield host
    if previous is None:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = previous
    stop_server(process)


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory) -> Iterator[str]:
    """`FIRESTORE_EMULATOR_HOST` for Google's Firestore emulator (native mode)."""
    jar, java = firestore_jar(), shutil.which("java")
    if jar is None or java is None:
        pytest.skip("the Firestore emulator (Cloud SDK component cloud-firestore-emulator, "
                    "needs Java) is not installed here")
    port = free_port()
    log = tmp_path_factory.mktemp("firestore") / "emulator.log"
    process = start([java, "-Duser.language=en", "-cp", str(jar),
                     "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                     "--host", "127.0.0.1", "--port", str(port), "--project_id", PROJECT],
                    port, log, timeout=60)
    host = f"127.0.0.1:{port}"
    saved = {name: os.environ.get(name)
             for name in ("FIRESTORE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")}
    os.environ.update(FIRESTORE_EMULATOR_HOST=host, GOOGLE_CLOUD_PROJECT=PROJECT)
    yield host
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    stop_server(process)


@pytest.fixture
def gcs_url(gcs_emulator) -> str:
    """A fresh prefix in the emulator's bucket."""
    return f"gs://{BUCKET}/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def firestore_url(firestore_emulator) -> str:
    """A fresh (empty) database in the emulator."""
    return f"firestore://t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def diamonds():
    """ggplot2's diamonds (the shared service tests' table)."""
    import pandas as pd

    from tests.service.conftest import DIAMONDS

    return pd.read_csv(DIAMONDS)
