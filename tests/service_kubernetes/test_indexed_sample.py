"""A large sample as an Indexed Job: pods write disjoint-seed parts, a join Job streams them
into the result. The joined result holds exactly the rows asked for, and equals - byte for
byte - the engine's own samples of each part with that part's seed, concatenated in index
order: the seed contract of a split sample."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthdata_service.backends.metadata import ArtifactRecord, ModelRecord
from synthdata_service.jobs.kubernetes import part_rows, part_seed, parts_for, parts_prefix
from synthdata_service.output import encode

from .conftest import NAMESPACE, ApiPod, api_settings, auth


@given(rows_per_part=st.integers(1, 10**7), parts=st.integers(1, 2000), data=st.data())
def test_parts_cover_every_row_once_in_near_equal_shares(rows_per_part, parts, data):
    num_rows = data.draw(st.integers((parts - 1) * rows_per_part + 1, parts * rows_per_part))
    assert parts_for(num_rows, rows_per_part) == parts
    rows = part_rows(num_rows, parts)
    assert len(rows) == parts
    assert sum(rows) == num_rows
    assert max(rows) - min(rows) <= 1 and max(rows) <= rows_per_part


@given(seed=st.integers(0, 2**31 - 1), parts=st.integers(1, 5000))
def test_part_seeds_are_pairwise_distinct_and_part_zero_keeps_the_seed(seed, parts):
    seeds = [part_seed(seed, index) for index in range(parts)]
    assert len(set(seeds)) == parts
    assert seeds[0] == seed
    assert all(0 <= s < 2**31 for s in seeds)


def _sample(api: ApiPod, model_id: str, fmt: str, seed: int, rows: int) -> tuple[dict, bytes]:
    response = api.client.post(f"/v1/models/{model_id}/samples", headers=auth(api.key), json={
        "num_rows": rows, "seed": seed, "format": fmt, "delivery": "link"})
    assert response.status_code == 202, response.text
    artifact = response.json()
    job = api.wait(artifact["job_id"])
    assert job["status"] == "succeeded", job
    stored = api.service.store.get(ArtifactRecord, artifact["id"])
    return job, api.service.storage.get_bytes(stored.storage_key)


@pytest.mark.slow
def test_a_large_sample_is_split_joined_and_keeps_the_seed_contract(cluster):
    rows, seed, per_part = 2500, 1234, 1000
    api = ApiPod(api_settings(cluster, jobs_url=cluster.jobs_url(part_rows=per_part)))
    try:
        created = api.train()
        assert api.wait(created["job_id"])["status"] == "succeeded"
        cluster.kubelet.index_faults[1].append(("OOMKilled", 137))  # one part dies once

        job, joined = _sample(api, created["id"], "csv", seed, rows)

        assert job["result"]["rows"] == rows and job["result"]["parts"] == 3
        assert len(pd.read_csv(io.BytesIO(joined))) == rows
        # The engine's own samples of each part, with each part's seed, in index order.
        service = api.service
        model = service.store.get(ModelRecord, created["id"])
        version = service.store.version(model.id, 1)
        expected = [list(service.sample_frames(model, version, num_rows=n,
                                               seed=part_seed(seed, index), conditions=None,
                                               table=None))
                    for index, n in enumerate(part_rows(rows, 3))]
        assert joined == b"".join(encode("csv", iter([f for part in expected for f in part])))
        first, second = (pd.concat(part) for part in expected[:2])
        assert not first.head(50).reset_index(drop=True).equals(
            second.head(50).reset_index(drop=True))  # disjoint seeds: different streams

        [parts_job] = cluster.server.jobs(
            NAMESPACE, f"synthdata.io/job-id={job['id']},synthdata.io/job-role=parts")
        spec = parts_job["spec"]
        assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == (
            "Indexed", 3, 2)
        assert spec["backoffLimitPerIndex"] == 2
        assert cluster.server.jobs(
            NAMESPACE, f"synthdata.io/job-id={job['id']},synthdata.io/job-role=join")
        retried = [p for p in cluster.kubelet.started if p.startswith(
            parts_job["metadata"]["name"] + "-1-")]
        assert len(retried) == 2  # index 1 was killed once and ran again
        assert service.storage.list_keys(parts_prefix(model.id, job["result"]["sample_id"])) \
            == []  # the parts are gone once joined

        again_job, again = _sample(api, created["id"], "csv", seed, rows)
        assert again == joined  # same seed, same rows: a second split gives the same bytes
        _, parquet = _sample(api, created["id"], "parquet", seed, rows)
        table = pd.read_parquet(io.BytesIO(parquet))
        direct = pd.concat([f for part in expected for f in part], ignore_index=True)
        pd.testing.assert_frame_equal(table, direct, check_dtype=False)
        assert again_job["id"] != job["id"]
    finally:
        api.close()
