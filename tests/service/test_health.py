"""Health, readiness, metrics, and the shape of every error (problem+json, request ids)."""

from __future__ import annotations

from .conftest import auth


def test_healthz_answers_without_building_backends(env):
    response = env.client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert env.app.state.services.built is None


def test_readyz_reports_each_backend(env):
    response = env.client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"storage": "ok", "metadata": "ok", "rate_limit": "ok"}


def test_readyz_is_503_when_storage_is_unwritable(env):
    env.client.get("/readyz")
    root = env.service.storage.root
    root.chmod(0o500)
    try:
        import os

        if os.geteuid() == 0:  # root ignores permissions: break the directory instead
            root.chmod(0o700)
            root.rename(root.with_name("moved"))
        response = env.client.get("/readyz")
    finally:
        if root.with_name("moved").exists():
            root.with_name("moved").rename(root)
        root.chmod(0o700)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["checks"]["storage"] == "failed"


def test_metrics_need_a_key_and_render_prometheus_text(env):
    assert env.client.get("/metrics").status_code == 401
    env.client.get("/healthz")
    response = env.client.get("/metrics", headers=auth(env.reader))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'synth_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text


def test_unknown_route_is_a_problem_document(env):
    response = env.client.get("/v1/nothing-here", headers=auth(env.reader))
    assert response.status_code == 404
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["code"] == "route_not_found"
    assert body["request_id"] == response.headers["x-request-id"]


def test_request_id_is_kept_when_well_formed_and_replaced_when_not(env):
    kept = env.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = env.client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"].startswith("req_")


def test_invalid_json_body_is_a_422_problem_naming_the_field(env):
    response = env.client.post("/v1/models", headers=auth(env.writer), json={"synthesizer": 3})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert any(e["field"].endswith("dataset_id") for e in body["errors"])


def test_unexpected_errors_are_generic_500s_without_a_trace(env, monkeypatch):
    env.client.get("/readyz")

    def boom(*_args, **_kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(env.service, "list_datasets", boom)
    response = env.client.get("/v1/datasets", headers=auth(env.reader))
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text


def test_openapi_documents_the_versioned_api(env):
    paths = env.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/datasets", "/v1/models", "/v1/jobs/{job_id}",
                 "/v1/models/{model_id}/samples", "/v1/models/{model_id}/reports", "/v1/keys"):
        assert path in paths
