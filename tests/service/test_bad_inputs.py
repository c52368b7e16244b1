"""Bad uploads beyond the hostile corpus (test_hostile_inputs.py): a huge cell, the size
limits, formulas kept on request, and a failure while storing."""

from __future__ import annotations

from synthdata_service.backends.metadata import DatasetRecord

from .conftest import auth, upload


def _assert_nothing_stored(env) -> None:
    assert env.client.get("/v1/datasets", headers=auth(env.admin)).json() == []
    assert env.service.store.query(DatasetRecord) == []
    assert env.service.storage.list_keys("datasets") == []


def test_a_100_mb_single_cell_is_refused(env):
    data = b"a,b\n1," + b"x" * 100_000_000 + b"\n"
    response = upload(env.client, env.writer, data)
    assert response.status_code == 422
    assert response.json()["code"] == "cell_too_long"
    _assert_nothing_stored(env)


def test_a_body_over_the_upload_limit_is_413_before_it_is_read(tmp_path):
    from .conftest import Env, make_settings

    small = Env(make_settings(tmp_path, max_upload_mb=1))
    try:
        response = upload(small.client, small.writer, b"a,b\n" + b"1,2\n" * 800_000)
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        # Just over the file limit (inside the multipart allowance): refused on size too.
        response = upload(small.client, small.writer, b"a,b\n" + b"1,2\n" * 300_000)
        assert response.status_code == 413
        assert response.json()["code"] == "upload_too_large"
        _assert_nothing_stored(small)
    finally:
        small.close()


def test_formula_cells_may_be_kept_as_text_when_asked(env):
    data = b"name,note\nann,=SUM(A1:A2)\nbob,ok\n"
    response = upload(env.client, env.writer, data, allow_formulas="true")
    assert response.status_code == 201


def test_a_multipart_body_without_a_file_part_is_422(env):
    response = env.client.post("/v1/datasets", headers=auth(env.writer),
                               files={"other": ("x.csv", b"a,b\n1,2\n", "text/csv")})
    assert response.status_code == 422 and response.json()["code"] == "missing_file"
    _assert_nothing_stored(env)


def test_a_failure_while_storing_leaves_nothing_behind(env, monkeypatch):
    env.client.get("/readyz")

    def fail_insert(record):
        raise RuntimeError("metadata store went away")

    monkeypatch.setattr(env.service.store, "insert", fail_insert)
    response = upload(env.client, env.writer, b"a,b\n1,2\n3,4\n")
    assert response.status_code == 500
    monkeypatch.undo()
    _assert_nothing_stored(env)
