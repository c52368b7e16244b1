"""Local stand-ins for the Azure backends, started once per session on loopback and
stopped after (each only by the process id this session started):

* Azurite (npm `azurite`, Microsoft's Storage emulator) for blobs and queues, over HTTPS
  with `--oauth basic`, so the Entra ID token path and user-delegation SAS links run for
  real - with this session's self-signed certificate;
* `@vercel/cosmosdb-server` (npm), a server speaking the Cosmos DB NoSQL protocol, over
  HTTPS with the same certificate (its bundled certificate expired in 2021);
* a loopback HTTPS server speaking Key Vault's REST API for `GET secret` (no Key Vault
  emulator exists): `tests/service_azure/keyvault_server.py`.

Both emulators take their connection strings through the variables the service reads on
Azure (`AZURE_STORAGE_CONNECTION_STRING`, `AZURE_COSMOS_CONNECTION_STRING`), and the
certificate through `REQUESTS_CA_BUNDLE` (azure-core's transport honours it; azure-cosmos
skips verification for loopback hosts by its own emulator rule).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, stop_server
from tests.service_gcp.conftest import start

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "node_modules" / ".bin"
ACCOUNT = "devstoreaccount1"
# Azurite's published development account key (the same on every machine).
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")
# The documented Cosmos DB emulator key; the local server accepts any key.
COSMOS_KEY = ("C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67"
              "XIw/Jw==")
CONTAINER = "synth-test"


@dataclass
class Certificate:
    cert: Path
    key: Path
    bundle: Path
    """The certificate appended to certifi's CAs (what REQUESTS_CA_BUNDLE points at)."""

    def context(self):
        """An SSL context trusting the bundle (for httpx clients in tests)."""
        import ssl

        return ssl.create_default_context(cafile=str(self.bundle))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for one day."""
    import certifi
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (folder / "bundle.pem").write_bytes(Path(certifi.where()).read_bytes() + b"\n" + pem)
    return Certificate(folder / "cert.pem", folder / "key.pem", folder / "bundle.pem")


def _node_tool(name: str) -> str:
    tool = BIN / name
    if not tool.exists():
        pytest.fail(f"{name} is not installed: run `make setup` (npm ci installs it)")
    return str(tool)


@dataclass
class Azurite:
    blob_url: str
    queue_url: str

    @property
    def connection_string(self) -> str:
        """Key auth, as the Azure SDKs' emulator examples use it."""
        return (f"DefaultEndpointsProtocol=https;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={self.blob_url};QueueEndpoint={self.queue_url};")

    @property
    def endpoints_only(self) -> str:
        """Endpoints without a key: the SDK then uses the token credential it is given."""
        return f"BlobEndpoint={self.blob_url};QueueEndpoint={self.queue_url};"


@pytest.fixture(scope="session")
def azurite(tmp_path_factory, certificate) -> Iterator[Azurite]:
    folder = tmp_path_factory.mktemp("azurite")
    blob, queue, table = free_port(), free_port(), free_port()
    process = start([_node_tool("azurite"), "--silent", "--inMemoryPersistence",
                     "--skipApiVersionCheck", "--disableTelemetry", "--loose",
                     "--oauth", "basic", "--cert", str(certificate.cert),
                     "--key", str(certificate.key),
                     "--blobHost", "127.0.0.1", "--blobPort", str(blob),
                     "--queueHost", "127.0.0.1", "--queuePort", str(queue),
                     "--tableHost", "127.0.0.1", "--tablePort", str(table),
                     ], queue, folder / "azurite.log", timeout=60)
    yield Azurite(f"https://127.0.0.1:{blob}/{ACCOUNT}", f"https://127.0.0.1:{queue}/{ACCOUNT}")
    stop_server(process)


@pytest.fixture(scope="session")
def cosmos_server(tmp_path_factory, certificate) -> Iterator[str]:
    """`AZURE_COSMOS_CONNECTION_STRING` of a local NoSQL-protocol server."""
    folder = tmp_path_factory.mktemp("cosmos")
    port = free_port()
    module = REPO / "node_modules" / "@vercel" / "cosmosdb-server"
    if not module.exists():
        pytest.fail("@vercel/cosmosdb-server is not installed: run `make setup`")
    script = (f"const fs = require('fs');"
              f"require({json.dumps(str(module))}).createHttpsServer({{"
              f"cert: fs.readFileSync({json.dumps(str(certificate.cert))}),"
              f"key: fs.readFileSync({json.dumps(str(certificate.key))})}})"
              f".listen({port}, '127.0.0.1');")
    process = start([_node_tool("node"), "-e", script], port, folder / "cosmos.log", timeout=30)
    yield f"AccountEndpoint=https://127.0.0.1:{port}/;AccountKey={COSMOS_KEY};"
    stop_server(process)


class FakeEntraToken:
    """A token credential that mints the unsigned bearer tokens Azurite's `--oauth basic`
    accepts (it checks audience, issuer and lifetime, not a signature): the SDKs take the
    same code path as with a managed identity on Azure."""

    def __init__(self, object_id: str = "00000000-0000-0000-0000-000000000001") -> None:
        self.object_id = object_id

    def get_token(self, *scopes: str, **_: object):
        from azure.core.credentials import AccessToken

        now = int(time.time())
        audience = scopes[0].removesuffix("/.default") if scopes else "https://storage.azure.com"
        claims = {"aud": audience, "iss": "https://sts.windows.net/"
                  "ab1f708d-50f6-404c-a006-d71b2ac7a606/", "iat": now - 60, "nbf": now - 60,
                  "exp": now + 3600, "oid": self.object_id, "tid":
                  "ab1f708d-50f6-404c-a006-d71b2ac7a606", "appid": str(uuid.uuid4())}

        def part(value: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2ln"
        return AccessToken(token, now + 3600)

    def get_token_info(self, *scopes: str, **kwargs: object):
        from azure.core.credentials import AccessTokenInfo

        token = self.get_token(*scopes)
        return AccessTokenInfo(token.token, token.expires_on)


@pytest.fixture(scope="session")
def azure_env(azurite, cosmos_server, certificate) -> Iterator[None]:
    """The process environment the service reads on Azure, pointed at the local servers."""
    saved = {name: os.environ.get(name) for name in (
        "AZURE_STORAGE_CONNECTION_STRING", "AZURE_COSMOS_CONNECTION_STRING",
        "REQUESTS_CA_BUNDLE")}
    os.environ.update(AZURE_STORAGE_CONNECTION_STRING=azurite.connection_string,
                      AZURE_COSMOS_CONNECTION_STRING=cosmos_server,
                      REQUESTS_CA_BUNDLE=str(certificate.bundle))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def az_url(azure_env, azurite) -> str:
    """A fresh prefix in a container of the emulator."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    try:
        service.create_container(CONTAINER)
    except ResourceExistsError:
        pass
    return f"az://{ACCOUNT}/{CONTAINER}/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def cosmos_url(azure_env) -> str:
    """A fresh (empty) database on the local server."""
    return f"cosmos://localaccount/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def queue_url(azure_env, azurite) -> str:
    from azure.storage.queue import QueueClient

    name = f"jobs-{uuid.uuid4().hex[:12]}"
    QueueClient.from_connection_string(azurite.connection_string, name).create_queue()
    return f"azqueue://{ACCOUNT}/{name}?max_attempts=3&visibility_seconds=30"


@pytest.fixture(scope="session")
def diamonds():
    import pandas as pd

    from tests.service.conftest import DIAMONDS

    return pd.read_csv(DIAMONDS)
