"""The image the GCP stack builds, run as its Cloud Run service runs it: the container's
environment exactly as the synthesized service declares it (references filled in as
`terraform apply` would), plus what Cloud Run adds (PORT from the container port,
K_SERVICE / K_REVISION / K_CONFIGURATION), its memory and CPU limits, and the emulator
redirections: the GCS emulator, Google's Firestore emulator and a Secret Manager stand-in
(no emulator exists; the service's real HTTP client reads the pepper from it). Cloud Run's
metadata server, which gives the container its project and identity, is played by a
loopback stand-in (`GCE_METADATA_HOST`). Training runs on Cloud Run Jobs: the Admin API
stand-in of tests/service_gcp/cloud_run_api.py answers the service's `:run` calls and each
execution runs the job's container from the same image, with the job's command, its
environment and limits, the override arguments and Cloud Run Jobs' task variables. The
runner's only redirect is its URL's `endpoint=`, appended to `SYNTH_JOBS_URL` (the one
value that differs from the template). An operator bootstraps a key with the image's CLI;
a client uploads, trains and samples over HTTP.

The Cloud Functions target runs the staged function bundle under functions-framework:
tests/service_gcp/test_functions_entry.py.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from tests.image import images

REPO = Path(__file__).resolve().parents[2]
DIAMONDS = REPO / "examples" / "data" / "diamonds.csv"


def _memory_mb(limit: str) -> int:
    units = {"Mi": 1, "Gi": 1024, "M": 1, "G": 1000}
    for suffix, factor in units.items():
        if limit.endswith(suffix):
            return int(float(limit[: -len(suffix)]) * factor)
    return int(limit) // (1024 * 1024)


def _cpus(limit: str) -> float:
    return float(limit[:-1]) / 1000 if limit.endswith("m") else float(limit)


class _Metadata(BaseHTTPRequestHandler):
    """Cloud Run's metadata server: project, region, the service account and its token."""

    values: dict[str, str] = {}

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("", "/computeMetadata/v1"):
            body, content_type = "", "text/plain"
        elif path == "/computeMetadata/v1/instance/service-accounts/default/token":
            body, content_type = json.dumps({"access_token": "ya29.image-test",
                                             "expires_in": 3600, "token_type": "Bearer"}), \
                "application/json"
        elif path == "/computeMetadata/v1/instance/service-accounts/default":
            body, content_type = json.dumps({
                "email": self.values["email"], "aliases": ["default"],
                "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}), \
                "application/json"
        elif path.removeprefix("/computeMetadata/v1/") in self.values:
            body, content_type = self.values[path.removeprefix("/computeMetadata/v1/")], \
                "text/plain"
        else:
            self.send_response(404)
            self.send_header("Metadata-Flavor", "Google")
            self.end_headers()
            return
        raw = body.encode()
        self.send_response(200)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def cloud_run_service(gcp_synth):
    services = gcp_synth.resources("google_cloud_run_v2_service")
    assert len(services) == 1, sorted(services)
    return next(iter(services.values()))


@pytest.fixture(scope="module")
def gcp_emulators(gcp_synth, cloud_run_service, gateway, tmp_path_factory):
    """GCS (with the stack's data bucket), Firestore and Secret Manager on the bridge."""
    from tests.conftest import stop_server
    from tests.service_gcp.conftest import firestore_jar, start
    from tests.service_gcp.test_gcp_secrets import _payload, _SecretManager

    jar, java = firestore_jar(), shutil.which("java")
    if jar is None or java is None:
        pytest.skip("the Firestore emulator (Cloud SDK component cloud-firestore-emulator, "
                    "needs Java) is not installed here")
    logs = tmp_path_factory.mktemp("gcp-emulators")
    (container,) = cloud_run_service["template"]["containers"]
    env = {e["name"]: gcp_synth.resolve(e["value"]) for e in container.get("env", [])}
    bucket = env["SYNTH_STORAGE_URL"].removeprefix("gs://").split("/", 1)[0]
    gcs_port = images.free_port(gateway)
    gcs = start([sys.executable, "-m", "gcp_storage_emulator", "start", "--host", gateway,
                 "--port", str(gcs_port), "--in-memory", "--default-bucket", bucket],
                gcs_port, logs / "gcs.log", timeout=30, address=gateway)
    firestore_port = images.free_port(gateway)
    firestore = start([java, "-Duser.language=en", "-cp", str(jar),
                       "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                       "--host", gateway, "--port", str(firestore_port),
                       "--project_id", gcp_synth.project],
                      firestore_port, logs / "firestore.log", timeout=60, address=gateway)
    pepper = secrets.token_urlsafe(48).encode()
    _SecretManager.calls = []
    _SecretManager.secrets = {
        f"/v1/{env['SYNTH_API_KEYS_SECRET']}/versions/latest:access": _payload(pepper)}
    secret_manager = ThreadingHTTPServer((gateway, 0), _SecretManager)
    threading.Thread(target=secret_manager.serve_forever, daemon=True).start()
    region = cloud_run_service["location"]
    _Metadata.values = {
        "email": gcp_synth.resolve(cloud_run_service["template"]["service_account"]),
        "project/project-id": gcp_synth.project,
        "project/numeric-project-id": "123456789012",
        "instance/region": f"projects/123456789012/regions/{region}",
        "instance/service-accounts/default/email":
            gcp_synth.resolve(cloud_run_service["template"]["service_account"]),
    }
    metadata = ThreadingHTTPServer((gateway, 0), _Metadata)
    threading.Thread(target=metadata.serve_forever, daemon=True).start()
    metadata_host = f"{gateway}:{metadata.server_address[1]}"
    try:
        yield {
            "GCE_METADATA_HOST": metadata_host, "GCE_METADATA_IP": metadata_host,
            "STORAGE_EMULATOR_HOST": f"http://{gateway}:{gcs_port}",
            "FIRESTORE_EMULATOR_HOST": f"{gateway}:{firestore_port}",
            "SECRET_MANAGER_EMULATOR_HOST": f"{gateway}:{secret_manager.server_address[1]}",
        }
    finally:
        for server in (secret_manager, metadata):
            server.shutdown()
            server.server_close()
        stop_server(firestore)
        stop_server(gcs)


def container_environment(gcp_synth, container: dict, redirects: dict[str, str]) -> dict:
    """A container's variables as applied, with the emulators' redirections (and the job
    runner's endpoint appended to its URL)."""
    env = {e["name"]: gcp_synth.resolve(e["value"]) for e in container.get("env", [])}
    if env.get("SYNTH_JOBS_URL", "").startswith("cloudrun://") and "CLOUD_RUN_API" in redirects:
        env["SYNTH_JOBS_URL"] += f"&endpoint={redirects['CLOUD_RUN_API']}"
    return {**env, **{k: v for k, v in redirects.items() if k != "CLOUD_RUN_API"}}


def limits(container: dict) -> dict:
    found = container.get("resources", {}).get("limits", {})
    return {"memory_mb": _memory_mb(found["memory"]) if "memory" in found else None,
            "cpus": _cpus(found["cpu"]) if "cpu" in found else None}


@pytest.fixture(scope="module")
def cloud_run_jobs(podman, gcp_image, gcp_synth, gcp_emulators, gateway, image_logs):
    """Cloud Run Jobs for the stack's jobs: an Admin API stand-in whose executions run the
    job's container. Yields the redirections with the API's address added."""
    jobs = gcp_synth.resources("google_cloud_run_v2_job")
    if not jobs:
        yield gcp_emulators
        return
    from tests.service_gcp.cloud_run_api import CloudRunAdminApi, JobDefinition

    port = images.free_port(gateway)
    redirects = {**gcp_emulators, "CLOUD_RUN_API": f"http://{gateway}:{port}"}
    task_variables = ("CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION", "CLOUD_RUN_TASK_INDEX",
                      "CLOUD_RUN_TASK_COUNT", "CLOUD_RUN_TASK_ATTEMPT")
    definitions = {}
    for resource in jobs.values():
        template = resource["template"]["template"]
        (container,) = template["containers"]
        name = f"synth-image-test-job-{resource['name']}"
        env_file = image_logs / f"{name}.env"
        env_file.write_text("".join(
            f"{k}={v}\n" for k, v in container_environment(gcp_synth, container,
                                                             redirects).items()))
        size = limits(container)
        run = [podman.binary, *podman.global_args, "run", "--rm", *podman.ulimits,
               "--env-file", str(env_file), *[a for v in task_variables for a in ("-e", v)],
               *(["--memory", f"{size['memory_mb']}m"] if size["memory_mb"] else []),
               *(["--cpus", str(size["cpus"])] if size["cpus"] else []),
               *(["--entrypoint", container["command"][0]] if container.get("command") else []),
               gcp_image, *container.get("command", [])[1:], *container.get("args", [])]
        path = (f"projects/{resource.get('project', gcp_synth.project)}/locations/"
                f"{resource['location']}/jobs/{resource['name']}")
        definitions[path] = JobDefinition(command=run,
                                          max_retries=int(template.get("max_retries", 0)))
    with CloudRunAdminApi(definitions, host=gateway, port=port,
                          log_dir=str(image_logs)) as api:
        yield redirects
        assert api.executions, "the service never started a Cloud Run Job execution"


@pytest.fixture(scope="module")
def cloud_run(podman, gcp_image, gcp_synth, cloud_run_service, cloud_run_jobs, image_logs):
    """The container as Cloud Run starts it; (container, environment)."""
    (container,) = cloud_run_service["template"]["containers"]
    env = container_environment(gcp_synth, container, cloud_run_jobs)
    port = int(container.get("ports", {}).get("container_port", 8080))
    name = cloud_run_service["name"]
    cloud_run = {"PORT": str(port), "K_SERVICE": name, "K_REVISION": f"{name}-00001-tst",
                 "K_CONFIGURATION": name}
    clashes = sorted(set(cloud_run) & set(env))
    assert not clashes, f"the service sets Cloud Run's reserved variables {clashes}"
    command = [*container.get("command", []), *container.get("args", [])]
    run = podman.start(
        gcp_image, name="synth-image-test-cloud-run", env={**env, **cloud_run},
        entrypoint=container["command"][0] if container.get("command") else None,
        command=command[1:] if container.get("command") else command,
        publish=port, log_dir=image_logs, **limits(container))
    yield run, env
    run.stop()


def test_the_cloud_run_service_runs_the_image_the_stack_builds_by_digest(gcp_synth,
                                                                         cloud_run_service):
    """Cloud Run runs `<repository>@<digest of the pushed image>`, and the pushed image is
    the one the stack builds from the context tests/image built."""
    image = cloud_run_service["template"]["containers"][0]["image"]
    repository, _, digest = image.partition("@")
    match = re.fullmatch(r"\$\{docker_registry_image\.([A-Za-z0-9_-]+)\.sha256_digest\}", digest)
    assert match, f"Cloud Run must run the image the deploy pushes, by digest: {image}"
    push = gcp_synth.resources("docker_registry_image")[match[1]]
    builds = gcp_synth.resources("docker_image")
    (build,) = [b for name, b in builds.items()
                if push["name"] in (b["name"], f"${{docker_image.{name}.name}}")]
    assert build["name"].startswith(repository + ":")


def test_the_service_answers_healthz_on_the_port_cloud_run_gives_it(cloud_run):
    run, _ = cloud_run
    run.wait_http("/healthz", timeout=120)
    assert "uvicorn" in run.logs().lower()


def test_upload_train_and_sample_on_cloud_run(cloud_run, podman, gcp_image, image_logs):
    run, env = cloud_run
    run.wait_http("/healthz", timeout=120)
    proc = podman.run_once(gcp_image, ["python", "-m", "synthdata_service.cli", "keys",
                                       "create", "--scope", "admin", "--name", "operator"],
                           env=env, log_dir=image_logs, name="synth-image-test-gcp-keys")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    key = proc.stdout.strip().splitlines()[-1].strip()
    text = images.train_and_sample(run.url, key, DIAMONDS, rows=200)
    rows = pd.read_csv(io.StringIO(text))
    assert len(rows) == 200
    assert list(rows.columns) == list(pd.read_csv(DIAMONDS, nrows=1).columns)
