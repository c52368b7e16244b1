"""The service image run as the synthesized Container App and Container Apps Job run it, on
Azurite (blobs, the job queue), the local Cosmos DB NoSQL server and the loopback Key Vault
(tests/service_azure: no Key Vault emulator exists), with the managed-identity endpoint
Container Apps give an app (`IDENTITY_ENDPOINT` / `IDENTITY_HEADER`).

Each `${azurerm_...}` reference in the container's environment becomes what Terraform would
fill in after apply (the account, container, queue and database names, the vault URI, the
identity's client id). What differs from Azure, and why:
* the containers share the host's network so they reach the emulators on loopback (each
  with its own host name, as replicas have), and the app listens on a free port rather
  than 8080;
* `AZURE_STORAGE_CONNECTION_STRING` (endpoints only: the identity's token is still used)
  and `AZURE_COSMOS_CONNECTION_STRING` (with the emulator's key: the local server knows no
  Entra ID) point the SDKs at the emulators; the emulators' self-signed CA is mounted and
  named in `REQUESTS_CA_BUNDLE` / `SSL_CERT_FILE`;
* the Container Apps Job's queue trigger (KEDA) is a loop here that starts one execution
  of the job's container whenever the queue holds a message.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.image import images
from tests.service_azure.conftest import (  # noqa: F401 - fixtures used by this module
    ACCOUNT,
    azurite,
    certificate,
    cosmos_server,
)
from tests.service_azure.identity_server import IdentityEndpoint
from tests.service_azure.keyvault_server import KeyVaultServer

REPO = Path(__file__).resolve().parents[2]
DIAMONDS = REPO / "examples" / "data" / "diamonds.csv"
STACK = "azure-image-test"
CLIENT_ID = "44444444-4444-4444-4444-444444444444"
BUNDLE = "/etc/synth-test/ca-bundle.pem"
_REFERENCE = re.compile(r"\$\{(azurerm_[a-z_]+)\.[A-Za-z0-9_-]+\.([a-z_]+)\}")


@pytest.fixture(scope="module")
def azure_template(tmp_path_factory) -> dict[str, Any]:
    from cdktn import App, TerraformStack
    from cdktn_provider_azurerm.provider import AzurermProvider

    from constructs_lib import PlatformSpec
    from constructs_lib.azure import SyntheticDataPlatform

    outdir = tmp_path_factory.mktemp("azure.out")
    app = App(outdir=str(outdir))
    stack = TerraformStack(app, STACK)
    AzurermProvider(stack, "azurerm", features=[{}], storage_use_azuread=True)
    SyntheticDataPlatform(stack, "Synth", spec=PlatformSpec.from_dict({
        "name": "imagetest", "generator": {"timeout_seconds": 200}}))
    app.synth()
    manifest = json.loads((outdir / "manifest.json").read_text())
    return json.loads((outdir / manifest["stacks"][STACK]["synthesizedStackPath"]).read_text())


def _only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (resource,) = template["resource"][kind].values()
    return resource


@pytest.fixture(scope="module")
def azure_local(azurite, cosmos_server, certificate):  # noqa: F811 - the imported fixtures
    """The emulators with what the stack would have created in them; the values Terraform
    would fill in for each `${azurerm_<type>.<name>.<attribute>}`."""
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

    run = uuid.uuid4().hex[:8]
    container, queue, database = f"data-{run}", f"jobs-{run}", f"meta-{run}"
    # The emulators' CA only for these clients: setting REQUESTS_CA_BUNDLE for the session
    # would also replace the CAs of every later pip call (the wheel test's install).
    verify = {"connection_verify": str(certificate.bundle)}
    BlobServiceClient.from_connection_string(azurite.connection_string, **verify) \
        .create_container(container)
    queue_client = QueueClient.from_connection_string(azurite.connection_string, queue,
                                                      **verify)
    queue_client.create_queue()
    with IdentityEndpoint() as identity, KeyVaultServer(
            str(certificate.cert), str(certificate.key), readers={CLIENT_ID}) as vault:
        vault.set_secret("synth-api-pepper", "pZ4kR8wQ2nB6vT1xL9cJ3hF7mD5sG0aY")
        values = {
            ("azurerm_storage_account", "name"): ACCOUNT,
            ("azurerm_storage_container", "name"): container,
            ("azurerm_storage_queue", "name"): queue,
            ("azurerm_cosmosdb_account", "name"): "localaccount",
            ("azurerm_cosmosdb_sql_database", "name"): database,
            ("azurerm_key_vault", "vault_uri"): f"{vault.url}/",
            ("azurerm_user_assigned_identity", "client_id"): CLIENT_ID,
            ("azurerm_application_insights", "connection_string"): "",
        }
        platform = {
            **identity.environment(CLIENT_ID),
            "AZURE_STORAGE_CONNECTION_STRING": azurite.endpoints_only,
            "AZURE_COSMOS_CONNECTION_STRING": cosmos_server,
            "REQUESTS_CA_BUNDLE": BUNDLE, "SSL_CERT_FILE": BUNDLE,
        }
        yield values, platform, queue_client


def container_environment(container: dict[str, Any], values: dict, platform: dict) -> dict:
    """The container's env as Container Apps gives it after `terraform apply`."""
    env = {}
    for item in container["env"]:
        value = _REFERENCE.sub(lambda m: values[(m[1], m[2])], item["value"])
        assert "${" not in value, f"{item['name']}: unfilled reference in {value}"
        env[item["name"]] = value
    return {**env, **platform}


def _mounts(certificate) -> list[str]:  # noqa: F811
    return [f"type=bind,src={certificate.bundle},dst={BUNDLE},ro=true"]


@pytest.fixture(scope="module")
def container_app(podman, aws_image, azure_template, azure_local, certificate,  # noqa: F811
                  image_logs):
    values, platform, _ = azure_local
    (container,) = _only(azure_template, "azurerm_container_app")["template"]["container"]
    port = images.free_port()
    env = {**container_environment(container, values, platform), "PORT": str(port),
           "CONTAINER_APP_NAME": "synth-imagetest", "CONTAINER_APP_REVISION": "r1"}
    assert env["SYNTH_SERVER"] == "uvicorn"
    run = podman.start(aws_image, name="synth-image-test-container-app", env=env,
                       volumes=_mounts(certificate), network="host", host_port=port,
                       hostname="synth-imagetest--r1", log_dir=image_logs)
    yield run, container
    run.stop()


@pytest.fixture(scope="module")
def queue_trigger(podman, aws_image, azure_template, azure_local, certificate,  # noqa: F811
                  image_logs):
    """The Container Apps Job's queue rule: one execution of the job's container per poll
    that finds a message (replica_retry_limit 0: an execution runs once)."""
    values, platform, queue_client = azure_local
    job = _only(azure_template, "azurerm_container_app_job")
    (container,) = job["template"]["container"]
    env = container_environment(container, values, platform)
    command = [*container.get("command", []), *container.get("args", [])]
    executions: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(2):
            if queue_client.get_queue_properties().approximate_message_count:
                name = f"synth-image-test-job-{len(executions)}"
                proc = podman("run", "--rm", "--name", name, "--hostname", name,
                              *podman.ulimits, "--network", "host",
                              "--mount", _mounts(certificate)[0],
                              "--env-file", str(_env_file(image_logs, name, env)),
                              "--entrypoint",
                              command[0], aws_image, *command[1:], timeout=600, check=False)
                (image_logs / f"{name}.log").write_text(proc.stdout + proc.stderr)
                executions.append(proc.returncode)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    yield executions
    stop.set()
    thread.join(timeout=620)


def _env_file(folder: Path, name: str, env: dict[str, str]) -> Path:
    path = folder / f"{name}.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in sorted(env.items())))
    return path


def test_the_container_app_answers_its_startup_and_liveness_probes(container_app):
    run, container = container_app
    for probe in ("startup_probe", "liveness_probe"):
        (settings,) = container[probe]
        run.wait_http(settings["path"], timeout=180)
    assert run.wait_http("/readyz", timeout=60).json()["status"] == "ready"


def test_upload_train_on_the_job_and_sample_on_the_container_app(container_app,
                                                                 queue_trigger):
    run, _ = container_app
    run.wait_http("/readyz", timeout=180)
    created = run.exec("python", "-m", "synthdata_service.cli", "keys", "create",
                       "--scope", "admin", "--name", "operator")
    assert created.returncode == 0, created.stdout + created.stderr
    key = created.stdout.strip().splitlines()[-1].strip()
    text = images.train_and_sample(run.url, key, DIAMONDS, rows=300)
    assert text.count("\n") == 301  # the header and 300 rows
    assert queue_trigger and all(code == 0 for code in queue_trigger), queue_trigger
