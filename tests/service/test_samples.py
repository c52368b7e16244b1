"""Samples: seeds, conditions, formats, inline/stream/link delivery, formula
neutralisation, limits."""

from __future__ import annotations

import io
import time

import pandas as pd
import pytest

from .conftest import auth, csv_bytes, wait_job


def _sample(env, model_id, key=None, **body):
    return env.client.post(f"/v1/models/{model_id}/samples", headers=auth(key or env.reader),
                           json=body)


def test_same_seed_same_rows_and_different_seed_different_rows(trained):
    env, model = trained
    first = _sample(env, model["id"], num_rows=50, seed=11).json()
    again = _sample(env, model["id"], num_rows=50, seed=11).json()
    other = _sample(env, model["id"], num_rows=50, seed=12).json()
    assert first["rows"] == again["rows"]
    assert first["rows"] != other["rows"]
    assert first["seed"] == 11 and len(first["rows"]) == 50


def test_without_a_seed_one_is_chosen_and_reported(trained):
    env, model = trained
    response = _sample(env, model["id"], num_rows=5)
    seed = int(response.headers["x-synth-seed"])
    assert response.json()["seed"] == seed
    again = _sample(env, model["id"], num_rows=5, seed=seed).json()["rows"]
    assert again == response.json()["rows"]


def test_synthetic_rows_follow_the_real_columns(trained, diamonds):
    env, model = trained
    rows = pd.DataFrame(_sample(env, model["id"], num_rows=2000, seed=1).json()["rows"])
    assert list(rows.columns) == list(diamonds.columns)
    assert set(rows["cut"]) <= set(diamonds["cut"])
    # A GaussianCopula keeps the strong carat-price correlation of the real data.
    assert rows["carat"].corr(rows["price"]) > 0.7


def test_conditions_fix_column_values(trained):
    env, model = trained
    rows = _sample(env, model["id"], num_rows=30, seed=2,
                   conditions={"cut": "Ideal"}).json()["rows"]
    assert len(rows) == 30 and {r["cut"] for r in rows} == {"Ideal"}


def test_conditions_on_unknown_columns_are_422(trained):
    env, model = trained
    response = _sample(env, model["id"], num_rows=5, conditions={"colour": "red"})
    assert response.status_code == 422 and response.json()["code"] == "unknown_condition_column"


@pytest.mark.parametrize("fmt, media", [("csv", "text/csv"),
                                        ("parquet", "application/vnd.apache.parquet"),
                                        ("jsonl", "application/x-ndjson")])
def test_inline_formats(trained, fmt, media):
    env, model = trained
    response = _sample(env, model["id"], num_rows=40, seed=3, format=fmt)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    if fmt == "csv":
        frame = pd.read_csv(io.BytesIO(response.content))
    elif fmt == "parquet":
        frame = pd.read_parquet(io.BytesIO(response.content))
    else:
        frame = pd.read_json(io.BytesIO(response.content), lines=True)
    expected = pd.DataFrame(_sample(env, model["id"], num_rows=40, seed=3).json()["rows"])
    assert len(frame) == 40
    assert frame["price"].tolist() == expected["price"].tolist()


def test_streamed_results_arrive_in_chunks_and_match_the_seed(trained):
    env, model = trained
    with env.client.stream("POST", f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                           json={"num_rows": 120_000, "seed": 5, "format": "csv",
                                 "delivery": "stream"}) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        chunks = list(response.iter_bytes())
    frame = pd.read_csv(io.BytesIO(b"".join(chunks)))
    assert len(frame) == 120_000
    head = pd.DataFrame(_sample(env, model["id"], num_rows=10, seed=5).json()["rows"])
    assert frame.head(10)["price"].tolist() == head["price"].tolist()


def test_large_results_become_a_job_with_an_expiring_signed_link(trained):
    env, model = trained
    created = _sample(env, model["id"], num_rows=20_000, seed=6, format="csv")
    assert created.status_code == 202
    body = created.json()
    assert body["status"] == "pending" and body["download_url"] is None
    assert wait_job(env.client, env.reader, body["job_id"])["status"] == "succeeded"
    sample = env.client.get(f"/v1/samples/{body['id']}", headers=auth(env.reader)).json()
    assert sample["status"] == "ready" and sample["num_rows"] == 20_000
    url = sample["download_url"].replace("http://testserver", "")
    downloaded = env.client.get(url)  # the signature is the credential: no bearer needed
    assert downloaded.status_code == 200
    assert len(pd.read_csv(io.BytesIO(downloaded.content))) == 20_000
    tampered = url.replace("signature=", "signature=0")
    assert env.client.get(tampered).status_code == 403
    other_id = url.replace(body["id"], "smp_00000000000000000000")
    assert env.client.get(other_id).json()["code"] == "invalid_signature"


def test_an_expired_link_is_410(trained):
    from synthdata_service.signing import sign_download

    env, model = trained
    body = _sample(env, model["id"], num_rows=6_000, seed=6, delivery="link").json()
    wait_job(env.client, env.reader, body["job_id"])
    expires, signature = sign_download(env.service.pepper, body["id"], -5)
    response = env.client.get(f"/v1/samples/{body['id']}/download",
                              params={"expires": expires, "signature": signature})
    assert response.status_code == 410 and response.json()["code"] == "link_expired"


def test_deleting_a_sample_removes_its_file(trained):
    env, model = trained
    body = _sample(env, model["id"], num_rows=100, delivery="link", format="parquet").json()
    wait_job(env.client, env.reader, body["job_id"])
    path = f"/v1/samples/{body['id']}"
    assert env.client.delete(path, headers=auth(env.reader)).status_code == 403
    assert env.client.delete(path, headers=auth(env.writer)).status_code == 204
    assert env.client.get(f"/v1/samples/{body['id']}", headers=auth(env.reader)).status_code == 404
    assert not any(body["id"] in key for key in env.service.storage.list_keys("samples"))


def test_row_limits_are_enforced(trained):
    env, model = trained
    too_many = _sample(env, model["id"], num_rows=env.settings.max_rows + 1)
    assert too_many.status_code == 422 and too_many.json()["code"] == "too_many_rows"
    inline = _sample(env, model["id"], num_rows=env.settings.inline_max_rows + 1,
                     delivery="inline")
    assert inline.status_code == 422 and inline.json()["code"] == "too_many_inline_rows"
    zero = _sample(env, model["id"], num_rows=0)
    assert zero.status_code == 422


def test_sampling_an_untrained_model_is_409(env, diamonds):
    from .conftest import upload

    dataset = upload(env.client, env.writer, csv_bytes(diamonds.head(50))).json()
    created = env.client.post("/v1/models", headers=auth(env.writer), json={
        "dataset_id": dataset["id"], "synthesizer": "ctgan",
        "parameters": {"epochs": 10000, "batch_size": 10}}).json()
    response = _sample(env, created["id"], num_rows=5)
    assert response.status_code == 409 and response.json()["code"] == "model_not_ready"
    env.client.post(f"/v1/jobs/{created['job_id']}/cancel", headers=auth(env.writer))
    assert wait_job(env.client, env.writer, created["job_id"])["status"] == "cancelled"


def test_csv_output_neutralises_spreadsheet_formulas(env):
    frame = pd.DataFrame({"label": ["=HYPERLINK(\"http://x\")", "+cmd|calc", "@SUM(1)", "plain",
                                    "-2+3"] * 20,
                          "amount": [-1.5, 2.0, -3.25, 4.0, 5.0] * 20})
    from .conftest import upload

    dataset = upload(env.client, env.writer, csv_bytes(frame), allow_formulas="true").json()
    created = env.client.post("/v1/models", headers=auth(env.writer), json={
        "dataset_id": dataset["id"], "synthesizer": "gaussian_copula",
        "parameters": {"default_distribution": "norm"}}).json()
    assert wait_job(env.client, env.writer, created["job_id"])["status"] == "succeeded"
    model = created
    text = _sample(env, model["id"], num_rows=200, seed=1, format="csv").text
    cells = [line.split(",")[0].strip('"') for line in text.splitlines()[1:]]
    assert cells and all(not c.startswith(("=", "+", "@", "-")) for c in cells)
    assert any(c.startswith("'=") for c in cells)
    amounts = [float(line.rsplit(",", 1)[1]) for line in text.splitlines()[1:]]
    assert any(a < 0 for a in amounts)  # numbers keep their sign
    raw = _sample(env, model["id"], num_rows=200, seed=1, format="json").json()["rows"]
    assert any(r["label"].startswith("=") for r in raw)  # JSON is data, not a spreadsheet


def test_sample_requests_are_audited(trained):
    env, model = trained
    _sample(env, model["id"], num_rows=3, seed=1)
    time.sleep(0.05)
    events = env.client.get("/v1/audit", headers=auth(env.admin),
                            params={"action": "model.sample", "limit": 1}).json()
    assert events[0]["target_id"] == model["id"] and events[0]["detail"]["num_rows"] == 3


def test_prefetch_keeps_order_bounds_memory_and_reraises():
    from synthdata_service.output import prefetch

    produced = []

    def numbers():
        for i in range(10):
            produced.append(i)
            yield i

    stream = prefetch(numbers(), depth=2)
    assert next(stream) == 0
    import time as _time

    _time.sleep(0.2)
    assert len(produced) <= 4  # one consumed, two queued, one waiting to be put
    assert list(stream) == list(range(1, 10))

    def failing():
        yield 1
        raise ValueError("boom")

    failing_stream = prefetch(failing())
    assert next(failing_stream) == 1
    with pytest.raises(ValueError, match="boom"):
        next(failing_stream)


def test_a_wide_table_goes_to_a_link_before_its_response_outgrows_lambda(env):
    # 200 columns: 5 MB of JSON is about 780 rows, far below the 10,000-row inline limit.
    wide = pd.DataFrame({f"c{i}": range(i, i + 40) for i in range(200)})
    model = env.train(csv_bytes(wide), "gaussian_copula", {"default_distribution": "norm"})
    limit = env.settings.inline_max_bytes // (200 * 32)
    refused = _sample(env, model["id"], env.writer, num_rows=limit + 1, seed=1,
                      delivery="inline")
    assert refused.status_code == 422 and refused.json()["code"] == "too_many_inline_rows"
    assert str(limit) in refused.json()["detail"]
    automatic = _sample(env, model["id"], env.writer, num_rows=limit + 1, seed=1)
    assert automatic.status_code == 202 and automatic.json()["job_id"]
    fits = _sample(env, model["id"], env.writer, num_rows=limit, seed=1)
    assert fits.status_code == 200 and len(fits.json()["rows"]) == limit
