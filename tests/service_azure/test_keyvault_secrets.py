"""The pepper from Key Vault, against a loopback HTTPS server speaking Key Vault's REST API
(`keyvault_server.py`; no Key Vault emulator exists): the identity's token is sent, the
value is read once per process, and every failure names its fix."""

from __future__ import annotations

import pytest

from synthdata_service.backends import azure_secrets, open_secret_provider
from synthdata_service.backends.azure_secrets import KeyVaultSecretProvider
from synthdata_service.errors import ServiceUnavailable

from .conftest import FakeEntraToken
from .keyvault_server import KeyVaultServer

READER = "11111111-1111-1111-1111-111111111111"
PEPPER = "q0pW3v1QF8lT0bY2kq7oHqJ6c8m3s9Zp1rXyB4nA5dE="


@pytest.fixture
def vault(certificate):
    azure_secrets.clear_cache()
    with KeyVaultServer(str(certificate.cert), str(certificate.key), readers={READER}) as server:
        yield server
    azure_secrets.clear_cache()


def provider(url, certificate, object_id=READER):
    return open_secret_provider(url, credential=FakeEntraToken(object_id),
                                scope="https://vault.azure.net/.default",
                                verify=certificate.context())


def test_secret_identifiers_select_the_key_vault_provider(vault, certificate):
    assert isinstance(provider(f"{vault.url}/secrets/pepper", certificate),
                      KeyVaultSecretProvider)
    for bad in ("https://vault.example/keys/k", "https://vault.example/secrets/a/b/c",
                "https://vault.example/secrets/bad_name"):
        with pytest.raises(ValueError, match="Key Vault secret identifier"):
            KeyVaultSecretProvider(bad)


def test_the_audience_follows_the_vault_domain():
    assert KeyVaultSecretProvider("https://kv1.vault.azure.net/secrets/p").scope == \
        "https://vault.azure.net/.default"
    assert KeyVaultSecretProvider("https://kv1.vault.azure.cn/secrets/p").scope == \
        "https://vault.azure.cn/.default"


def test_the_current_version_is_read_with_the_identitys_token(vault, certificate):
    vault.set_secret("pepper", "an-old-value-that-is-long-enough")
    vault.set_secret("pepper", PEPPER + "\n")
    assert provider(f"{vault.url}/secrets/pepper", certificate).pepper() == PEPPER.encode()
    path, authorization = vault.requests[-1]
    assert path == "/secrets/pepper" and authorization.startswith("Bearer ")


def test_a_named_version_is_read_as_named(vault, certificate):
    first = vault.set_secret("pepper", "first-value-that-is-long-enough")
    vault.set_secret("pepper", PEPPER)
    assert provider(f"{vault.url}/secrets/pepper/{first}", certificate).pepper() == \
        b"first-value-that-is-long-enough"


def test_the_pepper_is_read_once_per_process(vault, certificate):
    vault.set_secret("pepper", PEPPER)
    url = f"{vault.url}/secrets/pepper"
    provider(url, certificate).pepper()
    provider(url, certificate).pepper()
    assert len(vault.requests) == 1


def test_a_missing_secret_says_how_to_set_it(vault, certificate):
    with pytest.raises(ServiceUnavailable, match="az keyvault secret set"):
        provider(f"{vault.url}/secrets/pepper", certificate).pepper()


def test_an_identity_without_a_role_is_told_which_role(vault, certificate):
    vault.set_secret("pepper", PEPPER)
    with pytest.raises(ServiceUnavailable, match="Key Vault Secrets User"):
        provider(f"{vault.url}/secrets/pepper", certificate, object_id="someone-else").pepper()


def test_short_or_disabled_secrets_are_refused(vault, certificate):
    vault.set_secret("short", "tiny")
    with pytest.raises(ServiceUnavailable, match="shorter than"):
        provider(f"{vault.url}/secrets/short", certificate).pepper()
    vault.set_secret("off", PEPPER, enabled=False)
    with pytest.raises(ServiceUnavailable, match="disabled"):
        provider(f"{vault.url}/secrets/off", certificate).pepper()


def test_an_unreachable_vault_is_unavailable_not_a_crash(certificate):
    azure_secrets.clear_cache()
    with pytest.raises(ServiceUnavailable, match="cannot reach Key Vault"):
        provider("https://127.0.0.1:1/secrets/pepper", certificate).pepper()
