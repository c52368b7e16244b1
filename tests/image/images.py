"""Build and run the service image with podman, as a deploy builds it, on a machine that
reaches only PyPI, npm and Debian (`make image-test`; docs/image.md).

* podman keeps its own storage under the cache directory (`SYNTH_IMAGE_CACHE`, default
  `~/.cache/synthdata-platform/image`), never the machine's images: everything a test needs
  is built by the tests, and the cache only saves time (every entry is keyed by content).
* The base image the Dockerfile names cannot be pulled: a stand-in is built from the same
  Debian release with mmdebstrap (`base/Containerfile`) and tagged with the FROM name.
* pip inside the build has no network. The harness downloads the pinned wheels on the host
  with the host's own pip configuration (torch from the index the Dockerfile names), for
  exactly the platform tags the base image's Python accepts, and the build reads them
  through a read-only mount and a pip.conf that allows no index. So the build proves that
  `requirements.txt` is complete and installs on the base image's libc, not merely that
  pip could find something on the internet.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
BASE_RECIPE = HERE / "base" / "Containerfile"
#: The stand-in's root filesystem: the Debian release of the real base image.
ROOTFS_SUITE = "bookworm"
ROOTFS_PACKAGES = ("python3", "python3-venv", "ca-certificates", "netbase", "tzdata")
_PIP_CONF = "[global]\nno-index = true\nfind-links = /wheels\n"
_TORCH_RUN = re.compile(r'pip install "(?P<requirement>torch==[^"]+)" --index-url (?P<index>\S+)')


def cache_root() -> Path:
    configured = os.environ.get("SYNTH_IMAGE_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "synthdata-platform" / "image"


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def directory_digest(root: Path) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return digest(*(f"{p.relative_to(root).as_posix()}\0".encode() + p.read_bytes()
                    for p in files))


@contextlib.contextmanager
def exclusive(cache: Path) -> Iterator[None]:
    """One image session per cache at a time (builds and the podman storage are shared)."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pid_max() -> int:
    """The kernel's highest pid: some sandboxes refuse an nproc limit above it."""
    try:
        return int(Path("/proc/sys/kernel/pid_max").read_text())
    except (OSError, ValueError):
        return resource.RLIM_INFINITY


def _limit(value: int) -> str:
    return "-1" if value == resource.RLIM_INFINITY else str(value)


class PodmanError(RuntimeError):
    pass


class Podman:
    """podman with the harness's own storage and the settings a VM without systemd needs:
    runc with cgroupfs, and ulimits no higher than this process's hard limits and the
    kernel's pid range (podman's defaults exceed them, which a runtime without
    CAP_SYS_RESOURCE cannot set)."""

    def __init__(self, cache: Path) -> None:
        binary = shutil.which("podman")
        if binary is None:
            raise PodmanError("podman is not installed: run `make image-tools` (apt-get "
                              "install podman, runc, mmdebstrap; needs root)")
        self.binary = binary
        self.cache = cache
        self.global_args = ["--root", str(cache / "storage"), "--runroot", str(cache / "run"),
                            "--runtime", "runc", "--cgroup-manager", "cgroupfs",
                            "--events-backend", "file"]
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], _pid_max())
        self.ulimits = ["--ulimit", f"nofile={_limit(nofile)}:{_limit(nofile)}",
                        "--ulimit", f"nproc={_limit(nproc)}:{_limit(nproc)}"]

    def __call__(self, *args: str, timeout: float = 600, check: bool = True,
                 capture: bool = True) -> subprocess.CompletedProcess:
        argv = [self.binary, *self.global_args, *args]
        proc = subprocess.run(argv, capture_output=capture, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            output = ((proc.stdout or "") + (proc.stderr or ""))[-4000:]
            raise PodmanError(f"podman {' '.join(args[:2])} failed ({proc.returncode}):\n"
                              f"{output}")
        return proc

    def image_label(self, reference: str, label: str) -> str | None:
        proc = self("image", "inspect", reference, check=False)
        if proc.returncode != 0:
            return None
        return (json.loads(proc.stdout)[0].get("Labels") or {}).get(label)

    def build(self, context: Path, tag: str, *, containerfile: Path | None = None,
              build_args: Mapping[str, str] | None = None, volumes: Sequence[str] = (),
              labels: Mapping[str, str] | None = None, log: Path | None = None,
              timeout: float = 1800) -> str:
        """Build `context` offline (no network, no pulls); return the image id."""
        with tempfile.TemporaryDirectory() as scratch:
            iidfile = Path(scratch) / "iid"
            args = ["build", "--pull=never", "--network=none", "--layers",
                    "--iidfile", str(iidfile), "-t", tag, *self.ulimits]
            if containerfile is not None:
                args += ["-f", str(containerfile)]
            for name, value in (build_args or {}).items():
                args += ["--build-arg", f"{name}={value}"]
            for name, value in (labels or {}).items():
                args += ["--label", f"{name}={value}"]
            for volume in volumes:
                args += ["-v", volume]
            proc = self(*args, str(context), timeout=timeout, check=False)
            if log is not None:
                log.write_text((proc.stdout or "") + (proc.stderr or ""))
            if proc.returncode != 0:
                raise PodmanError(f"building {context} failed ({proc.returncode}):\n"
                                  f"{((proc.stdout or '') + (proc.stderr or ''))[-6000:]}")
            return iidfile.read_text().strip()

    def gateway(self, image: str) -> str:
        """The host's address on podman's default bridge: where containers reach services
        the tests run on the host (which bind to it rather than to every interface)."""
        proc = self("network", "inspect", "podman")
        address = json.loads(proc.stdout)[0]["subnets"][0]["gateway"]
        if not _bindable(address):  # the bridge appears with the first container on it
            self("run", "--rm", *self.ulimits, "--entrypoint", "/bin/true", image,
                 timeout=120)
        if not _bindable(address):
            raise PodmanError(f"the podman bridge's gateway {address} is not on this host")
        return address

    def run_once(self, image: str, command: Sequence[str], *, env: Mapping[str, str],
                 log_dir: Path, name: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run `command` in a fresh container to its end (an operator's one-off task)."""
        env_file = log_dir / f"{name}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())))
        self("rm", "--force", "--ignore", name, check=False)
        try:
            return self("run", "--rm", "--name", name, *self.ulimits, "--env-file",
                        str(env_file), image, *command, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            logs = self("logs", name, check=False)
            self("rm", "--force", "--time", "0", name, check=False)
            output = (logs.stdout or "") + (logs.stderr or "")
            raise AssertionError(f"{shlex.join(command)} did not end in {timeout}s:\n"
                                 f"{output[-4000:]}") from exc

    def start(self, image: str, *, name: str, env: Mapping[str, str],
              command: Sequence[str] = (), entrypoint: str | None = None,
              user: str | None = None, read_only: bool = False, tmpfs: Sequence[str] = (),
              volumes: Sequence[str] = (), publish: int | None = None,
              memory_mb: int | None = None, cpus: float | None = None,
              network: str | None = None, cap_drop: Sequence[str] = (),
              security_opts: Sequence[str] = (), host_port: int | None = None,
              hostname: str | None = None, log_dir: Path) -> Container:
        """Start a detached container; `publish` maps that container port to a free port
        on the host's loopback. With `network="host"` the container shares the host's
        loopback (its local servers) and `host_port` is where it listens."""
        self("rm", "--force", "--ignore", name, check=False)
        args = ["run", "--detach", "--name", name, *self.ulimits, "--log-driver", "k8s-file"]
        env_file = log_dir / f"{name}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())))
        args += ["--env-file", str(env_file)]
        if entrypoint is not None:
            args += ["--entrypoint", entrypoint]
        if user is not None:
            args += ["--user", user]
        if read_only:
            args += ["--read-only", "--read-only-tmpfs=false"]
        for mount in tmpfs:
            args += ["--tmpfs", mount]
        for volume in volumes:
            args += ["--mount", volume]
        if network is not None:
            args += ["--network", network]
        if hostname is not None:  # its own, as every replica has (even on the host's network)
            args += ["--hostname", hostname]
        for capability in cap_drop:
            args += ["--cap-drop", capability]
        for option in security_opts:
            args += ["--security-opt", option]
        if publish is not None:
            host_port = free_port()
            args += ["--publish", f"127.0.0.1:{host_port}:{publish}"]
        if memory_mb is not None:
            args += ["--memory", f"{memory_mb}m"]
        if cpus is not None:
            args += ["--cpus", str(cpus)]
        self(*args, image, *command, timeout=120)
        return Container(self, name, host_port, log_dir)


@dataclass
class Container:
    podman: Podman
    name: str
    port: int | None
    log_dir: Path
    stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def state(self) -> dict:
        proc = self.podman("inspect", "--type", "container", self.name, check=False)
        return json.loads(proc.stdout)[0]["State"] if proc.returncode == 0 else {}

    def logs(self) -> str:
        proc = self.podman("logs", self.name, check=False)
        return (proc.stdout or "") + (proc.stderr or "")

    def running(self) -> bool:
        return bool(self.state().get("Running"))

    def wait_http(self, path: str = "/healthz", timeout: float = 120) -> httpx.Response:
        """Poll `path` until it answers 200; fail with the container's log if it exits."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(self.url + path, timeout=5)
                if response.status_code == 200:
                    return response
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            if not self.running():
                raise AssertionError(f"{self.name} exited ({self.state().get('ExitCode')}) "
                                     f"before answering {path}:\n{self.logs()[-4000:]}")
            time.sleep(0.5)
        raise AssertionError(f"{self.name} did not answer {path} in {timeout}s ({last}):\n"
                             f"{self.logs()[-4000:]}")

    def wait_exit(self, timeout: float) -> int:
        proc = self.podman("wait", self.name, timeout=timeout + 30, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"{self.name}: {proc.stderr}")
        return int(proc.stdout.strip().splitlines()[-1])

    def exec(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.podman("exec", self.name, *command, timeout=timeout, check=False)

    def stop(self) -> None:
        if self.stopped:
            return
        (self.log_dir / f"{self.name}.log").write_text(self.logs())
        self.podman("rm", "--force", "--time", "5", self.name, check=False)
        self.stopped = True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _bindable(address: str) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


# -- the stand-in base image -------------------------------------------------------------

def from_image(context: Path) -> str:
    """The image the context's Dockerfile builds FROM."""
    for line in (context / "Dockerfile").read_text().splitlines():
        if line.upper().startswith("FROM "):
            return line.split()[1]
    raise AssertionError(f"{context}/Dockerfile has no FROM")


def rootfs_tarball(cache: Path) -> Path:
    """A Debian root filesystem (mmdebstrap), made once per recipe."""
    if shutil.which("mmdebstrap") is None:
        raise PodmanError("mmdebstrap is not installed: run `make image-tools`")
    key = digest(ROOTFS_SUITE, *ROOTFS_PACKAGES)
    target = cache / "rootfs" / f"{ROOTFS_SUITE}-{key}.tar"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.tar")
    proc = subprocess.run(
        ["mmdebstrap", "--variant=minbase", f"--include={','.join(ROOTFS_PACKAGES)}",
         ROOTFS_SUITE, str(partial)],
        capture_output=True, text=True, timeout=1200, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise PodmanError(f"mmdebstrap failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    partial.rename(target)
    return target


def stand_in_base(podman: Podman, name: str) -> str:
    """Tag a stand-in for `name` (the Dockerfile's FROM), unless this recipe's is there."""
    key = digest(ROOTFS_SUITE, *ROOTFS_PACKAGES, BASE_RECIPE.read_bytes())
    if podman.image_label(name, "synthdata.stand-in") == key:
        return name
    tarball = rootfs_tarball(podman.cache)
    rootfs = f"localhost/synthdata-test/rootfs:{key}"
    if podman.image_label(rootfs, "synthdata.stand-in") is None and \
            podman("image", "exists", rootfs, check=False).returncode != 0:
        podman("import", str(tarball), rootfs, timeout=600)
    podman.build(BASE_RECIPE.parent, name, containerfile=BASE_RECIPE,
                 build_args={"ROOTFS": rootfs}, labels={"synthdata.stand-in": key})
    return name


def platform_tags(podman: Podman, base: str) -> dict[str, list[str]]:
    """The wheel tags the base image's pip accepts: interpreter, abis, platforms."""
    script = ("import json, sys; from pip._vendor.packaging import tags; t = list(tags.sys_tags());"
              "print(json.dumps({'python': '%d.%d' % sys.version_info[:2],"
              "'implementation': t[0].interpreter[:2],"
              "'abis': sorted({x.abi for x in t}),"
              "'platforms': list(dict.fromkeys(x.platform for x in t if x.platform != 'any'))}))")
    proc = podman("run", "--rm", "--network=none", *podman.ulimits, base, "python3", "-c",
                  script, timeout=120)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wheelhouse(podman: Podman, context: Path, base: str) -> Path:
    """Every wheel the context's Dockerfile installs, for the base image's tags."""
    requirements = (context / "synthdata_service" / "requirements.txt").read_text()
    torch = _TORCH_RUN.search((context / "Dockerfile").read_text())
    if torch is None:
        raise AssertionError("the Dockerfile no longer installs torch from its CPU index as "
                             "tests/image/images.py expects: update wheelhouse()")
    tags = platform_tags(podman, base)
    key = digest(requirements, torch["requirement"], torch["index"], json.dumps(tags))
    target = podman.cache / "wheels" / key
    if (target / ".complete").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    tag_args = ["--python-version", tags["python"], "--implementation", tags["implementation"],
                *[a for abi in tags["abis"] for a in ("--abi", abi)],
                *[a for platform in tags["platforms"] for a in ("--platform", platform)]]
    others = [line for line in requirements.splitlines()
              if line.strip() and not line.startswith("#")
              and not line.lower().startswith("torch==")]
    (partial / ".requirements.txt").write_text("\n".join(others) + "\n")
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--dest", str(partial), *tag_args]
    for argv in ([*pip, "--index-url", torch["index"], torch["requirement"]],
                 [*pip, "-r", str(partial / ".requirements.txt")]):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise PodmanError(f"{shlex.join(argv[3:6])}... failed: a pinned package has no "
                              f"wheel for the base image ({tags['python']}, "
                              f"{tags['platforms'][0]}):\n{_pip_errors(proc)}")
    (partial / ".requirements.txt").unlink()
    (partial / ".complete").write_text("")
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    return target


def _pip_errors(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if "is ignored" not in line]
    return "\n".join(lines[-30:])


def build_service_image(podman: Podman, context: Path, *, log_dir: Path) -> str:
    """Build the service image from a staged build context as the deploy would, offline;
    return its image id."""
    base = stand_in_base(podman, from_image(context))
    wheels = wheelhouse(podman, context, base)
    pip_conf = podman.cache / "pip.conf"
    pip_conf.write_text(_PIP_CONF)
    tag = f"localhost/synthdata-test/service:{directory_digest(context)}"
    return podman.build(context, tag, volumes=[f"{wheels}:/wheels:ro",
                                               f"{pip_conf}:/etc/pip.conf:ro"],
                        log=log_dir / f"build-{context.name}.log")


def train_and_sample(base_url: str, key: str, csv: Path, *, rows: int = 200,
                     timeout: float = 300) -> str:
    """Upload `csv`, train a GaussianCopula, wait for the job and sample `rows` rows as CSV
    through the API at `base_url`: the round trip every deploy target must complete."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"},
                      timeout=120) as client:
        response = client.post("/v1/datasets", files={
            "file": (csv.name, csv.read_bytes(), "text/csv")})
        assert response.status_code == 201, response.text
        response = client.post("/v1/models", json={
            "dataset_id": response.json()["id"], "synthesizer": "gaussian_copula",
            "parameters": {"default_distribution": "norm"}})
        assert response.status_code == 202, response.text
        model = response.json()
        deadline = time.monotonic() + timeout
        while True:
            job = client.get(f"/v1/jobs/{model['job_id']}").json()
            if job["status"] in ("succeeded", "failed", "cancelled") or \
                    time.monotonic() > deadline:
                break
            time.sleep(1)
        assert job["status"] == "succeeded", job
        response = client.post(f"/v1/models/{model['id']}/samples",
                               json={"num_rows": rows, "seed": 7, "format": "csv"})
        assert response.status_code == 200, response.text
        return response.text
