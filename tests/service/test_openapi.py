"""The OpenAPI document is a complete contract: the security scheme, every error as a
problem document, the key owner pattern, bounds that keep numbers in range; and 405s name
every method a path accepts."""

from __future__ import annotations

import pytest

from .conftest import auth


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    from synthdata_service.app import create_app

    return create_app(data_dir=tmp_path_factory.mktemp("openapi")).openapi()


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_bearer_scheme_is_declared_and_required_where_keys_are(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes == {"apiKey": {"type": "http", "scheme": "bearer",
                                  "description": schemes["apiKey"]["description"]}}
    for path, _method, operation in _operations(document):
        open_paths = ("/healthz", "/readyz", "/v1/samples/{sample_id}/download")
        assert bool(operation.get("security")) == (path not in open_paths), path


def test_every_error_is_a_problem_document(document):
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                content = response["content"]
                assert list(content) == ["application/problem+json"], (path, method, status)
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}
        if operation.get("security"):
            assert {"401", "403", "429", "503"} <= set(operation["responses"]), path
            assert "Retry-After" in operation["responses"]["429"]["headers"]
    upload = document["paths"]["/v1/datasets"]["post"]["responses"]
    assert {"409", "413", "415", "422"} <= set(upload)
    assert "404" in document["paths"]["/v1/models/{model_id}"]["get"]["responses"]


def test_the_key_owner_and_numbers_have_their_bounds(document):
    schemas = document["components"]["schemas"]
    assert schemas["ApiKeyCreate"]["properties"]["owner"]["pattern"] == \
        r"^[a-z0-9][a-z0-9_-]{0,62}$"
    seed = schemas["SampleRequest"]["properties"]["seed"]["anyOf"][0]
    assert seed["maximum"] == 2**32 - 1
    version = [p for p in document["paths"]["/v1/models/{model_id}/versions/{version}"]
               ["get"]["parameters"] if p["name"] == "version"][0]
    assert version["schema"]["maximum"] == 2**31 - 1


def test_405_names_every_method_the_path_accepts(env):
    response = env.client.delete("/v1/datasets", headers=auth(env.reader))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.headers["content-type"] == "application/problem+json"
    item = env.client.put("/v1/models/mdl_x", headers=auth(env.reader))
    assert item.headers["allow"] == "DELETE, GET"


def test_the_largest_seed_samples_and_a_larger_one_is_422(trained):
    env, model = trained
    url = f"/v1/models/{model['id']}/samples"
    largest = env.client.post(url, headers=auth(env.reader), json={"num_rows": 3,
                                                                   "seed": 2**32 - 1})
    assert largest.status_code == 200
    larger = env.client.post(url, headers=auth(env.reader), json={"num_rows": 3, "seed": 2**32})
    assert larger.status_code == 422 and larger.json()["code"] == "invalid_request"
