"""CORS from the runtime contract: `SYNTH_CORS_ORIGINS` (the spec's `api.cors_origins`) is
answered by the service itself where no edge does (GCP); without it, no CORS headers."""

from __future__ import annotations

import pytest

from constructs_lib import contract
from synthdata_service.settings import Settings

from .conftest import Env, auth, make_settings

ORIGIN = "https://app.example.com"


@pytest.fixture
def cors_env(tmp_path):
    environment = Env(make_settings(tmp_path, cors_origins=(ORIGIN,)))
    yield environment
    environment.close()


def test_the_contract_variable_becomes_the_allowed_origins():
    settings = Settings.from_env({contract.CORS_ORIGINS: f"{ORIGIN}, https://b.example.com"})
    assert settings.cors_origins == (ORIGIN, "https://b.example.com")
    assert Settings.from_env({}).cors_origins == ()


def test_a_preflight_from_an_allowed_origin_is_answered_without_a_key(cors_env):
    response = cors_env.client.options("/v1/datasets", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in response.headers


def test_responses_to_an_allowed_origin_carry_the_header_even_when_refused(cors_env):
    ok = cors_env.client.get("/v1/models", headers={"Origin": ORIGIN, **auth(cors_env.reader)})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    refused = cors_env.client.get("/v1/models", headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ORIGIN


def test_another_origin_gets_no_cors_headers(cors_env):
    response = cors_env.client.options("/v1/datasets", headers={
        "Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_without_origins_the_service_sends_no_cors_headers(env):
    response = env.client.get("/v1/models", headers={"Origin": ORIGIN, **auth(env.reader)})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
