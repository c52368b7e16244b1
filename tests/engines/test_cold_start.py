"""A GaussianCopula loads and samples without importing torch; CTGAN still trains and
samples afterwards in the same process."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_gaussian_copula_never_loads_torch_and_ctgan_still_works_after_it(tmp_path):
    code = textwrap.dedent("""
        import sys, warnings
        warnings.simplefilter("ignore")
        import pandas as pd
        from synthdata_service.engines.sdv_engine import SdvEngine

        engine = SdvEngine()
        table = {"d": pd.read_csv("examples/data/diamonds.csv").head(200)}
        def fit(name, **params):
            params = engine.validate_parameters(name, params)
            return engine.dumps(engine.fit(name, table, params, lambda *a: None).model)

        copula = fit("gaussian_copula", default_distribution="norm")
        rows = next(engine.sample(engine.loads(copula), 10, seed=1))["d"]
        print("copula", len(rows), "torch" in sys.modules)
        gan = fit("ctgan", epochs=1, batch_size=50, pac=5)
        rows = next(engine.sample(engine.loads(gan), 10, seed=1))["d"]
        print("ctgan", len(rows), "torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout.split()
    assert out == ["copula", "10", "False", "ctgan", "10", "True"]
