"""Reports: SDMetrics quality and diagnostic, overall, per property and per column, plots."""

from __future__ import annotations

from .conftest import auth, wait_job


def test_report_scores_quality_and_diagnostic_with_details_and_plots(trained):
    env, model = trained
    created = env.client.post(f"/v1/models/{model['id']}/reports", headers=auth(env.writer),
                              json={"num_rows": 1000})
    assert created.status_code == 202 and created.json()["status"] == "pending"
    job = wait_job(env.client, env.reader, created.json()["job_id"])
    assert job["status"] == "succeeded", job
    report = env.client.get(f"/v1/models/{model['id']}/reports/{created.json()['id']}",
                            headers=auth(env.reader)).json()
    quality = report["quality"]
    assert 0.75 < quality["score"] <= 1.0  # GaussianCopula on correlated diamonds
    assert {p["property"] for p in quality["properties"]} >= {"Column Shapes",
                                                              "Column Pair Trends"}
    per_column = quality["details"]["Column Shapes"]
    assert {row["Column"] for row in per_column} == {"carat", "cut", "color", "clarity", "depth",
                                                     "table", "price", "x", "y", "z"}
    assert report["diagnostic"]["score"] > 0.9
    assert "quality_column_shapes.html" in report["plots"]
    plot = env.client.get(report["plots"]["quality_column_shapes.html"], headers=auth(env.reader))
    assert plot.status_code == 200 and plot.headers["content-type"].startswith("text/html")
    assert "plotly" in plot.text.lower()
    listed = env.client.get(f"/v1/models/{model['id']}/reports", headers=auth(env.reader)).json()
    assert created.json()["id"] in [r["id"] for r in listed]


def test_reports_need_write_scope_and_a_known_model(trained):
    env, model = trained
    assert env.client.post(f"/v1/models/{model['id']}/reports",
                           headers=auth(env.reader)).status_code == 403
    missing = env.client.post("/v1/models/mdl_missing/reports", headers=auth(env.writer))
    assert missing.status_code == 404
    no_plot = env.client.get(f"/v1/models/{model['id']}/reports/rep_missing",
                             headers=auth(env.reader))
    assert no_plot.status_code == 404 and no_plot.json()["code"] == "report_not_found"


def test_reports_are_stored_with_the_model_version_and_deleted_with_the_model(env, diamonds):
    from .conftest import csv_bytes

    model = env.train(csv_bytes(diamonds.head(150)), parameters={"default_distribution": "norm"})
    created = env.client.post(f"/v1/models/{model['id']}/reports", headers=auth(env.writer))
    assert wait_job(env.client, env.reader, created.json()["job_id"])["status"] == "succeeded"
    stored = env.service.storage.list_keys(f"models/{model['id']}/v1/reports")
    assert f"models/{model['id']}/v1/reports/{created.json()['id']}/report.json" in stored
    deleted = env.client.delete(f"/v1/models/{model['id']}", headers=auth(env.writer))
    assert deleted.status_code == 204
    assert env.service.storage.list_keys(f"models/{model['id']}") == []
