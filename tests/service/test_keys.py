"""API keys: bearer auth, scopes, issue/list/revoke, hashed storage, the pepper, audit."""

from __future__ import annotations

import stat

import pytest

from synthdata_service.backends.metadata import ApiKeyRecord, AuditRecord

from .conftest import auth


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer    "])
def test_protected_routes_refuse_missing_or_malformed_credentials(env, header):
    headers = {"Authorization": header} if header is not None else {}
    response = env.client.get("/v1/datasets", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "missing_api_key"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("key", ["nonsense", "sk_key_00000000000000000000_" + "a" * 43])
def test_unknown_keys_are_401(env, key):
    response = env.client.get("/v1/datasets", headers=auth(key))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_a_key_with_a_wrong_secret_is_refused(env):
    forged = env.reader[:-4] + ("AAAA" if not env.reader.endswith("AAAA") else "BBBB")
    assert env.client.get("/v1/datasets", headers=auth(forged)).status_code == 401


def test_scopes_rank_admin_over_write_over_read(env):
    assert env.client.get("/v1/datasets", headers=auth(env.reader)).status_code == 200
    refused = env.client.post("/v1/models", headers=auth(env.reader),
                              json={"dataset_id": "x", "synthesizer": "gaussian_copula"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"
    assert env.client.get("/v1/keys", headers=auth(env.writer)).status_code == 403
    assert env.client.get("/v1/keys", headers=auth(env.admin)).status_code == 200


def test_issued_key_is_shown_once_and_works(env):
    created = env.client.post("/v1/keys", headers=auth(env.admin),
                              json={"scope": "read", "name": "analyst", "owner": "team-a"})
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("sk_") and body["owner"] == "team-a"
    assert env.client.get("/v1/datasets", headers=auth(body["key"])).status_code == 200
    listed = env.client.get("/v1/keys", headers=auth(env.admin)).json()
    assert body["id"] in {k["id"] for k in listed}
    assert all("key" not in k and "hash" not in k and "salt" not in k for k in listed)


def test_revoked_key_stops_working_at_once(env):
    created = env.client.post("/v1/keys", headers=auth(env.admin), json={"scope": "write"}).json()
    revoked = env.client.delete(f"/v1/keys/{created['id']}", headers=auth(env.admin))
    assert revoked.status_code == 204
    assert env.client.get("/v1/datasets", headers=auth(created["key"])).status_code == 401
    again = env.client.delete(f"/v1/keys/{created['id']}", headers=auth(env.admin))
    assert again.status_code == 409 and again.json()["code"] == "key_revoked"
    assert env.client.delete("/v1/keys/key_missing", headers=auth(env.admin)).status_code == 404


def test_invalid_key_requests_are_422(env):
    bad_scope = env.client.post("/v1/keys", headers=auth(env.admin), json={"scope": "root"})
    assert bad_scope.status_code == 422
    bad_owner = env.client.post("/v1/keys", headers=auth(env.admin),
                                json={"scope": "read", "owner": "Not Valid!"})
    assert bad_owner.status_code == 422 and bad_owner.json()["code"] == "invalid_request"


def test_keys_are_stored_only_as_salted_peppered_hashes(env):
    secret = env.reader.rsplit("_", 1)[-1]
    records = env.service.store.query(ApiKeyRecord)
    assert len({r.salt for r in records}) == len(records)
    for record in records:
        assert secret not in (record.hash, record.salt) and len(record.hash) == 64
    # Without the pepper the stored hash cannot be reproduced.
    import hashlib
    import hmac

    reader = env.service.keys.verify(env.reader)
    unpeppered = hmac.new(b"", bytes.fromhex(reader.salt) + secret.encode(),
                          hashlib.sha256).hexdigest()
    assert unpeppered != reader.hash


def test_pepper_file_is_created_private(env):
    env.client.get("/readyz")
    path = env.settings.data_dir / "pepper"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) >= 32


def test_key_actions_are_audited_and_readable_by_admins_only(env):
    created = env.client.post("/v1/keys", headers=auth(env.admin), json={"scope": "read"}).json()
    env.client.delete(f"/v1/keys/{created['id']}", headers=auth(env.admin))
    assert env.client.get("/v1/audit", headers=auth(env.writer)).status_code == 403
    events = env.client.get("/v1/audit", headers=auth(env.admin),
                            params={"target_id": created["id"]}).json()
    assert [e["action"] for e in events] == ["key.revoke", "key.create"]
    admin_id = env.service.keys.verify(env.admin).id
    assert all(e["actor"] == admin_id and e["request_id"] for e in events)
    assert env.service.store.query(AuditRecord, {"target_id": created["id"]})


def test_failed_authentication_is_audited_then_limited(tmp_path):
    from .conftest import Env, make_settings

    env = Env(make_settings(tmp_path, auth_failure_per_second=0.01, auth_failure_burst=3))
    try:
        forged = "sk_key_" + "0" * 20 + "_" + "A" * 43
        statuses = [env.client.get("/v1/datasets", headers=auth(forged)).status_code
                    for _ in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        limited = env.client.get("/v1/datasets", headers=auth(forged))
        assert limited.json()["code"] == "auth_rate_limited" and limited.headers["retry-after"]
        events = env.client.get("/v1/audit", headers=auth(env.admin),
                                params={"action": "auth.failed"}).json()
        assert len(events) == 3 and {e["target_id"] for e in events} == {"key_" + "0" * 20}
        assert all(e["outcome"] == "denied" and e["detail"]["client"] for e in events)
    finally:
        env.close()


def test_a_used_key_records_when_it_was_last_used(env):
    listed = env.client.get("/v1/keys", headers=auth(env.admin)).json()
    admin = [k for k in listed if k["name"] == "admin"][0]
    assert admin["last_used_at"] is not None
    assert [k for k in listed if k["name"] == "reader"][0]["last_used_at"] is None
