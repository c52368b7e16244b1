"""The Azure Functions entry point, driven with real `azure.functions.HttpRequest` objects
through the function `AsgiFunctionApp` registers (no Functions host can be installed
here), in the environment the Flex Consumption app gets: a user-assigned identity behind
a managed-identity endpoint, Blob Storage and the job queue on Azurite (Entra tokens, no
key), Cosmos DB on the NoSQL-protocol server, the pepper in Key Vault (loopback REST
server). Jobs run as the Container Apps Job's worker runs them
(`synthdata_service.handlers.azure_worker.handle_one`). Upload -> train -> sample, and a
large result through a user-delegation SAS link (Functions buffers whole responses)."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import uuid

import httpx
import pytest

from tests.service.conftest import DIAMONDS

from .conftest import ACCOUNT, CONTAINER
from .identity_server import IdentityEndpoint
from .keyvault_server import KeyVaultServer

pytestmark = pytest.mark.slow

CLIENT_ID = "22222222-2222-2222-2222-222222222222"


@pytest.fixture(scope="module")
def deployment(azure_env, azurite, cosmos_server, certificate):
    """(functions app module, worker service, admin key) in a Function App's environment."""
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

    from synthdata_service.backends import azure_secrets
    from synthdata_service.core import Service, open_key_manager
    from synthdata_service.settings import Settings

    run = uuid.uuid4().hex[:8]
    queue = f"jobs-{run}"
    try:
        BlobServiceClient.from_connection_string(azurite.connection_string) \
            .create_container(CONTAINER)
    except Exception:  # noqa: BLE001 - made by another test module
        pass
    QueueClient.from_connection_string(azurite.connection_string, queue).create_queue()
    with IdentityEndpoint() as identity, KeyVaultServer(
            str(certificate.cert), str(certificate.key), readers={CLIENT_ID}) as vault:
        vault.set_secret("synth-pepper", "8H2nV0aP3xQ9mZ1cW6tR4yL7uK5sJ0dF")
        env = {
            **identity.environment(CLIENT_ID),
            "AZURE_STORAGE_CONNECTION_STRING": azurite.endpoints_only,
            "AZURE_COSMOS_CONNECTION_STRING": cosmos_server,
            "REQUESTS_CA_BUNDLE": str(certificate.bundle),
            "SSL_CERT_FILE": str(certificate.bundle),
            "SYNTH_STORAGE_URL": f"az://{ACCOUNT}/{CONTAINER}/fn-{run}",
            "SYNTH_METADATA_URL": f"cosmos://localaccount/fn-{run}",
            "SYNTH_JOBS_URL": f"azqueue://{ACCOUNT}/{queue}?max_attempts=3",
            "SYNTH_API_KEYS_SECRET": f"{vault.url}/secrets/synth-pepper",
            "SYNTH_SYNTHESIZERS": "gaussian_copula",
            "SYNTH_INLINE_MAX_ROWS": "100",
            "SYNTH_RATE_LIMIT_PER_SECOND": "1000",
            "SYNTH_RATE_LIMIT_BURST": "1000",
        }
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        azure_secrets.clear_cache()
        try:
            settings = Settings.from_env(os.environ)
            key = open_key_manager(settings).issue(scope="admin", name="bootstrap").secret
            module = importlib.import_module("synthdata_service.handlers.azure_functions")
            module = importlib.reload(module)  # built from this environment
            # get_functions() registers on every call: index the app once, as the host does.
            (function,) = module.app.get_functions()
            worker = Service(Settings.from_env(os.environ, allow_streaming=False),
                             start_runner=False)
            loop = asyncio.new_event_loop()
            yield function, worker, key, identity, loop
            worker.close()
            if module.app.startup_task_done:  # the host's shutdown: lifespan ends in its loop
                loop.run_until_complete(module.app.middleware.notify_shutdown())
                module.app.startup_task_done = False
            loop.close()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            azure_secrets.clear_cache()


class FunctionsClient:
    """Calls the registered HTTP function with `azure.functions.HttpRequest` objects."""

    def __init__(self, function, key: str, loop) -> None:
        self.function = function.get_user_function()
        self.key = key
        self.loop = loop

    def call(self, method: str, path: str, *, body: bytes = b"", headers=None, params=None,
             auth: bool = True):
        import azure.functions as func

        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = f"Bearer {self.key}"
        request = func.HttpRequest(method=method, url=f"https://synth.azurewebsites.net{path}",
                                   headers=headers, params=params or {}, body=body,
                                   route_params={"route": path.lstrip("/")})
        return self.loop.run_until_complete(self.function(request, _Context()))

    def json(self, method: str, path: str, payload=None, **kwargs):
        body = json.dumps(payload).encode() if payload is not None else b""
        response = self.call(method, path, body=body,
                             headers={"Content-Type": "application/json"}, **kwargs)
        return response.status_code, json.loads(response.get_body() or b"null")


class _Context:
    invocation_id = str(uuid.uuid4())
    function_name = "synth_http"
    function_directory = "/home/site/wwwroot"
    trace_context = None
    retry_context = None
    thread_local_storage = None


def _run_queued_jobs(worker) -> list[str]:
    from synthdata_service.handlers.azure_worker import handle_one

    outcomes = []
    while (outcome := handle_one(worker)) != "empty":
        outcomes.append(outcome)
    return outcomes


def _multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_the_app_registers_one_anonymous_catch_all_http_function(deployment):
    function = deployment[0]
    trigger = function.get_trigger()
    assert trigger.route == "/{*route}" and str(trigger.auth_level).endswith("ANONYMOUS")
    assert function.get_function_name() == "synth_http"


def test_upload_train_and_sample_round_trip_through_functions_requests(deployment, certificate):
    function, worker, key, identity, loop = deployment
    client = FunctionsClient(function, key, loop)
    table = DIAMONDS.read_text().splitlines()[:301]
    assert json.loads(client.call("GET", "/healthz", auth=False).get_body())["status"] == "ok"
    assert client.call("GET", "/v1/models", auth=False).status_code == 401

    body, content_type = _multipart("diamonds.csv", "\n".join(table).encode())
    uploaded = client.call("POST", "/v1/datasets", body=body,
                           headers={"Content-Type": content_type})
    assert uploaded.status_code == 201, uploaded.get_body()
    dataset = json.loads(uploaded.get_body())
    assert dataset["n_rows"] == 300

    status, created = client.json("POST", "/v1/models", {
        "dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}})
    assert status == 202, created
    assert _run_queued_jobs(worker) == ["ran"]
    status, job = client.json("GET", f"/v1/jobs/{created['job_id']}")
    assert job["status"] == "succeeded", job

    status, inline = client.json("POST", f"/v1/models/{created['id']}/samples",
                                 {"num_rows": 25, "seed": 7, "format": "json"})
    assert status == 200 and len(inline["rows"]) == 25
    assert set(inline["rows"][0]) == set(table[0].split(","))

    # Past the inline limit, and streaming is off under Functions: a job and a link.
    status, linked = client.json("POST", f"/v1/models/{created['id']}/samples",
                                 {"num_rows": 500, "seed": 2, "format": "csv"})
    assert status == 202, linked
    assert _run_queued_jobs(worker) == ["ran"]
    status, sample = client.json("GET", f"/v1/samples/{linked['id']}")
    url = sample["download_url"]
    assert url.startswith("https://127.0.0.1:") and "skoid=" in url  # user-delegation SAS
    download = httpx.get(url, verify=certificate.context(), timeout=60)
    assert download.status_code == 200 and download.text.count("\n") == 501

    status, ready = client.json("GET", "/readyz", auth=False)
    assert ready["checks"]["storage"] == ready["checks"]["metadata"] == "ok"
    # Every Azure call went out as the user-assigned identity.
    assert {client_id for _, client_id in identity.issued} == {CLIENT_ID}
    assert {"https://storage.azure.com", "https://vault.azure.net"} <= \
        {resource for resource, _ in identity.issued}
