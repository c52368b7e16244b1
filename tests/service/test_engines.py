"""Pluggable engines: a third-party engine registered through the `synthdata.engines`
entry point group trains and samples through the API like SDV does."""

from __future__ import annotations

import sys
import textwrap

import pytest

from synthdata_service.engines import ENTRY_POINT_GROUP, load_engines

from .conftest import Env, auth, csv_bytes, make_settings, wait_job

_PLUGIN = textwrap.dedent('''
    """A plug-in engine: independent columns resampled with numpy (a naive baseline)."""
    import pickle

    import numpy as np
    import pandas as pd

    from synthdata_service.engines import Engine, EngineError, FittedModel, SynthesizerInfo


    class IndependentModel:
        def __init__(self, columns):
            self.columns = columns


    class IndependentEngine(Engine):
        name = "independent"
        license = "MIT"

        def synthesizers(self):
            return {"independent": SynthesizerInfo("independent", "single_table",
                                                   "Each column resampled on its own.")}

        def validate_parameters(self, synthesizer, parameters):
            if parameters:
                raise EngineError("independent takes no parameters", code="invalid_parameters")
            return {}

        def fit(self, synthesizer, tables, parameters, progress):
            (name, frame), = tables.items()
            progress(0.5, "counting")
            columns = {c: frame[c].dropna().to_numpy() for c in frame.columns}
            metadata = {"tables": {name: {"columns": {c: {"sdtype": "categorical"}
                                                      for c in frame.columns}}},
                        "relationships": []}
            return FittedModel(model=(name, IndependentModel(columns)), metadata=metadata)

        def dumps(self, model):
            return pickle.dumps(model)

        def loads(self, data):
            return pickle.loads(data)

        def sample(self, model, num_rows, *, seed, conditions=None, chunk_rows=50_000,
                   options=None):
            name, fitted = model
            rng = np.random.default_rng(seed)
            remaining = num_rows
            while remaining > 0:
                count = min(chunk_rows, remaining)
                yield {name: pd.DataFrame({c: rng.choice(v, count)
                                           for c, v in fitted.columns.items()})}
                remaining -= count
''')


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """Install a real distribution (dist-info with entry_points.txt) on sys.path."""
    site = tmp_path / "site"
    (site / "synth_plugin_demo").mkdir(parents=True)
    (site / "synth_plugin_demo" / "__init__.py").write_text(_PLUGIN)
    dist = site / "synth_plugin_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: synth-plugin-demo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nindependent = synth_plugin_demo:IndependentEngine\n")
    monkeypatch.syspath_prepend(str(site))
    load_engines.cache_clear()
    yield
    load_engines.cache_clear()
    sys.modules.pop("synth_plugin_demo", None)


def test_sdv_is_the_default_engine_and_offers_six_synthesizers():
    load_engines.cache_clear()
    engines = load_engines()
    assert set(engines["sdv"].synthesizers()) == {"gaussian_copula", "ctgan", "tvae",
                                                  "copula_gan", "hma", "par"}
    assert "BUSL" in engines["sdv"].license


def test_an_entry_point_engine_trains_and_samples_through_the_api(plugin, tmp_path, diamonds):
    assert "independent" in load_engines()
    env = Env(make_settings(tmp_path, synthesizers=("gaussian_copula", "independent")))
    try:
        offered = env.client.get("/v1/synthesizers", headers=auth(env.reader)).json()
        assert {s["name"]: s["engine"] for s in offered} == {"gaussian_copula": "sdv",
                                                             "independent": "independent"}
        model = env.train(csv_bytes(diamonds.head(200)), "independent")
        assert model["engine"] == "independent"
        rows = env.client.post(f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                               json={"num_rows": 30, "seed": 1}).json()["rows"]
        assert len(rows) == 30 and set(rows[0]) == set(diamonds.columns)
        bad = env.client.post("/v1/models", headers=auth(env.writer), json={
            "dataset_id": model["dataset_id"], "synthesizer": "independent",
            "parameters": {"x": 1}})
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_parameters"
        created = env.client.post(f"/v1/models/{model['id']}/reports", headers=auth(env.writer))
        assert wait_job(env.client, env.writer, created.json()["job_id"])["status"] == "succeeded"
    finally:
        env.close()
