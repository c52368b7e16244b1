"""Fixtures shared by every part of the suite: template snapshots and checker tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "snapshots"

# Templates are normalised by the module the project offers users for the same job:
# `constructs_lib.testing.normalise` (asset hashes, version stamps, staged paths).


class TemplateSnapshot(JSONSnapshotExtension):
    """Stores snapshots as `snapshots/<test folder>/<test file>/<test name>.json`."""

    @classmethod
    def dirname(cls, *, test_location) -> str:
        folder = Path(test_location.filepath).parent.name
        return str(SNAPSHOTS / folder / test_location.basename)


@pytest.fixture
def template_snapshot(snapshot):
    return snapshot.use_extension(TemplateSnapshot)


def checkov_binary() -> str:
    """checkov lives in its own environment (`make setup` builds `.venv-tools`)."""
    candidate = ROOT / ".venv-tools" / "bin" / "checkov"
    found = os.environ.get("CHECKOV_BIN") or (str(candidate) if candidate.exists() else None)
    found = found or shutil.which("checkov")
    if not found:
        pytest.fail("checkov is not installed: run `make setup` (it builds .venv-tools)")
    return found


def run_checkov(path: Path | list[Path], *, framework: str, config: Path) -> dict[str, Any]:
    """Run checkov on one file (or several, in one run: it starts slowly) with a reasoned
    skip list; return its JSON summary. Failed checks name their `file_path`."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
           "LOG_LEVEL": "ERROR"}
    files = [a for p in (path if isinstance(path, list) else [path]) for a in ("--file", str(p))]
    proc = subprocess.run(
        [checkov_binary(), *files, "--framework", framework,
         "--config-file", str(config), "--output", "json", "--quiet", "--compact",
         "--skip-download"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    if proc.returncode not in (0, 1):
        pytest.fail(f"checkov crashed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = proc.stdout.strip() or "{}"
    data = json.loads(out)
    if isinstance(data, list):  # one entry per framework
        data = data[0] if data else {}
    return data


# -- the image tests (`make image-test`): podman builds, minutes each, outside `make test` --

IMAGE_TESTS = ROOT / "tests" / "image"


def pytest_addoption(parser):
    parser.addoption("--image", action="store_true", default=False,
                     help="run tests/image: build the service image with podman and run it "
                          "as each deploy target does (`make image-test`)")


def pytest_ignore_collect(collection_path, config):
    if Path(collection_path) == IMAGE_TESTS and not config.getoption("--image"):
        return True
    return None


#: Folders whose tests share expensive session fixtures (a synthesized app, an emulator):
#: each runs on one xdist worker so those fixtures are built once. Other tests spread
#: file by file. `make test` runs `pytest -n 2 --dist loadgroup`.
_SHARED_SESSION_FOLDERS = {"aws", "gcp", "azure", "kubernetes", "service_aws", "service_gcp",
                           "service_azure", "service_kubernetes", "engines"}


def pytest_collection_modifyitems(config, items):
    tests = ROOT / "tests"
    for item in items:
        relative = Path(str(item.path)).relative_to(tests)
        group = relative.parts[0] if relative.parts[0] in _SHARED_SESSION_FOLDERS \
            else relative.as_posix()
        item.add_marker(pytest.mark.xdist_group(group))
@contextmanager
def tmpdir_at(path: Path) -> Iterator[Path]:
    """Point TMPDIR (and Python's cached default) at `path` while the block runs, so the
    jsii kernel and CDK Terrain leave nothing in /tmp (their `cdktf.outdir.*` folders)."""
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(path)
    tempfile.tempdir = None
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous
        tempfile.tempdir = None


# PostgreSQL and Redis for the service tests. A running server on the usual loopback port
# is used as it is (CI's machines run both); otherwise one is started from the
# distribution's server binaries in a temporary directory on a free loopback port. With
# neither, the session stops at once naming what to install: these tests are never
# skipped (CI=true or not).

_PG_INSTALL = ("PostgreSQL is not running on 127.0.0.1:5432 and its server binaries "
               "(initdb, postgres) are not installed: install them (Debian/Ubuntu: "
               "`apt-get install postgresql`, macOS: `brew install postgresql`) or set "
               "SYNTH_TEST_POSTGRES_URL")
_REDIS_INSTALL = ("Redis is not running on 127.0.0.1:6379 and `redis-server` is not "
                  "installed: install it (Debian/Ubuntu: `apt-get install redis-server`, "
                  "macOS: `brew install redis`) or set SYNTH_TEST_REDIS_URL")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 60,
                  host: str = "127.0.0.1") -> None:
    """Wait until a server this session started listens on `host:port` (or say why not)."""
    import time

    deadline = time.monotonic() + timeout
    while not port_open(port, host):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def postgres_binaries() -> Path | None:
    """The directory holding `initdb` and `postgres` (PATH, then Debian's layout)."""
    for name in ("initdb",):
        found = shutil.which(name)
        if found and (Path(found).parent / "postgres").exists():
            return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    return None


def _as_postgres_user():
    """initdb and postgres refuse to run as root: run them as `postgres` when root."""
    import pwd

    if os.geteuid() != 0:
        return None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        user = pwd.getpwnam("nobody")

    def demote() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return demote, user


def start_postgres() -> tuple[str, subprocess.Popen]:
    """A private PostgreSQL (trust auth, database `test`) on a free loopback port, in a
    temporary directory of its own (under /tmp, which the server's user can reach)."""
    import tempfile

    binaries = postgres_binaries()
    if binaries is None:
        raise FileNotFoundError(_PG_INSTALL)
    demote, user = _as_postgres_user()
    # As root the server runs as another user, who must reach its directory: not under a
    # test's private (0700) TMPDIR, but directly in the system's temporary directory.
    base = "/tmp" if user is not None and os.path.isdir("/tmp") else None
    directory = Path(tempfile.mkdtemp(prefix="synth-postgres-", dir=base))
    data = directory / "data"
    data.mkdir(parents=True)
    if user is not None:
        os.chown(directory, user.pw_uid, user.pw_gid)
        os.chown(data, user.pw_uid, user.pw_gid)
    log = directory / "postgres.log"
    subprocess.run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--no-sync"], check=True,
                   capture_output=True, preexec_fn=demote, timeout=120)
    port = free_port()
    handle = log.open("wb")
    process = subprocess.Popen(
        [str(binaries / "postgres"), "-D", str(data), "-p", str(port), "-k", str(directory),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=handle, stderr=subprocess.STDOUT, preexec_fn=demote, start_new_session=True)
    process.directory = directory  # type: ignore[attr-defined] - removed by stop_server
    wait_for_port(port, process, log)
    import psycopg

    for _attempt in range(50):
        try:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres",
                                 autocommit=True) as conn:
                conn.execute("CREATE DATABASE test")
            break
        except psycopg.OperationalError:  # still starting up
            import time

            time.sleep(0.1)
    return f"postgresql://postgres@127.0.0.1:{port}/test", process


def start_redis(directory: Path) -> tuple[str, subprocess.Popen]:
    """A private Redis (no persistence) on a free loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError(_REDIS_INSTALL)
    port = free_port()
    log = directory / "redis.log"
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory)], stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    wait_for_port(port, process, log)
    return f"redis://127.0.0.1:{port}/0", process


def stop_server(process: subprocess.Popen) -> None:
    """End a server this session started (its process group, nothing else)."""
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    directory = getattr(process, "directory", None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def _server(variable: str, port: int, default_url: str, start):
    """A configured URL, the server already on its usual port, or one started here."""
    if os.environ.get(variable):
        yield os.environ[variable]
        return
    if port_open(port):
        yield default_url
        return
    try:
        url, process = start()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield url
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def postgres_url():
    """Base URL of a PostgreSQL database (`.../test`) with trust auth on loopback."""
    yield from _server("SYNTH_TEST_POSTGRES_URL", 5432,
                       "postgresql://postgres@127.0.0.1:5432/test", start_postgres)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """URL of a Redis database on loopback."""
    yield from _server("SYNTH_TEST_REDIS_URL", 6379, "redis://127.0.0.1:6379/0",
                       lambda: start_redis(tmp_path_factory.mktemp("redis")))
