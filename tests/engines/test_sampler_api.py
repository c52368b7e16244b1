"""The API says which sampling path drew the rows: inline, streamed, and as a job."""

from __future__ import annotations

import pytest

from tests.service.conftest import DIAMONDS, Env, auth, make_settings, wait_job


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    env = Env(make_settings(tmp_path_factory.mktemp("sampler-api")))
    head = b"".join(DIAMONDS.read_bytes().splitlines(keepends=True)[:1001])
    model = env.train(head, "gaussian_copula", {"default_distribution": "norm"})
    yield env, model
    env.close()


def _sample(env, model_id, **body):
    return env.client.post(f"/v1/models/{model_id}/samples", headers=auth(env.reader),
                           json=body)


def test_a_gaussian_copula_sample_reports_the_vectorized_path(trained):
    env, model = trained
    response = _sample(env, model["id"], num_rows=20, seed=1)
    assert response.headers["x-synth-sampler"] == "vectorized"
    assert response.json()["sampler"] == "vectorized"
    assert "x-synth-sampler-reason" not in response.headers


def test_sdvs_path_is_reported_with_its_reason_and_gives_the_same_rows(trained):
    env, model = trained
    fast = _sample(env, model["id"], num_rows=200, seed=9, format="csv")
    sdv = _sample(env, model["id"], num_rows=200, seed=9, format="csv", sampler="sdv")
    conditioned = _sample(env, model["id"], num_rows=5, seed=9, conditions={"cut": "Good"})
    assert sdv.headers["x-synth-sampler"] == "sdv"
    assert "asked for SDV" in sdv.headers["x-synth-sampler-reason"]
    assert fast.content == sdv.content
    assert conditioned.headers["x-synth-sampler"] == "sdv"
    assert "conditional" in conditioned.headers["x-synth-sampler-reason"]


def test_a_streamed_sample_names_its_path_before_the_body(trained):
    env, model = trained
    with env.client.stream("POST", f"/v1/models/{model['id']}/samples",
                           headers=auth(env.reader),
                           json={"num_rows": 3000, "seed": 2, "format": "jsonl",
                                 "delivery": "stream"}) as response:
        assert response.headers["x-synth-sampler"] == "vectorized"
        assert len(b"".join(response.iter_bytes()).splitlines()) == 3000


def test_a_sample_job_result_names_its_path(trained):
    env, model = trained
    created = _sample(env, model["id"], num_rows=500, seed=4, format="parquet",
                      delivery="link", sampler="sdv").json()
    job = wait_job(env.client, env.reader, created["job_id"])
    assert job["status"] == "succeeded"
    assert job["result"]["sampler"] == "sdv" and job["result"]["reason"]
