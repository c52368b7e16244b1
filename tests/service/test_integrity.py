"""Fitted models are loaded only from the service's own storage and only when their HMAC
integrity tag verifies: a tampered file is refused, never unpickled."""

from __future__ import annotations

import os
import pickle

from synthdata_service.backends.metadata import ModelVersionRecord
from synthdata_service.modelstore import model_key

from .conftest import auth, csv_bytes


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_tampered_model_is_refused_and_never_unpickled(env, diamonds, tmp_path):
    model = env.train(csv_bytes(diamonds.head(100)), parameters={"default_distribution": "norm"})
    marker = tmp_path / "pwned"
    key = model_key(model["id"], 1)
    env.service.models.forget(env.service.store.version(model["id"], 1).id)
    env.service.storage.put_bytes(key, pickle.dumps(_Exploit(str(marker))))
    response = env.client.post(f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                               json={"num_rows": 3})
    assert response.status_code == 500
    assert response.json()["code"] == "model_integrity_failed"
    assert not marker.exists()


def test_a_record_pointing_outside_the_services_copy_is_refused(env, diamonds):
    model = env.train(csv_bytes(diamonds.head(100)), parameters={"default_distribution": "norm"})
    store = env.service.store
    version = store.version(model["id"], 1)
    env.service.models.forget(version.id)
    store.update(ModelVersionRecord, version.id, {"storage_key": "datasets/elsewhere.pkl"})
    response = env.client.post(f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                               json={"num_rows": 3})
    assert response.status_code == 500 and response.json()["code"] == "model_integrity_failed"


def test_the_tag_depends_on_the_pepper(env, diamonds):
    from synthdata_service.modelstore import ModelStore

    model = env.train(csv_bytes(diamonds.head(100)), parameters={"default_distribution": "norm"})
    version = env.service.store.version(model["id"], 1)
    data = env.service.storage.get_bytes(version.storage_key)
    other = ModelStore(env.service.storage, b"another-pepper-of-32-bytes......")
    assert other.tag(version.id, data) != version.integrity
    assert env.service.models.tag(version.id, data) == version.integrity


def test_a_stream_from_a_tampered_model_fails_before_the_response_starts(env, diamonds):
    model = env.train(csv_bytes(diamonds.head(100)), parameters={"default_distribution": "norm"})
    env.service.models.forget(env.service.store.version(model["id"], 1).id)
    env.service.storage.put_bytes(model_key(model["id"], 1), b"not a pickle at all")
    response = env.client.post(f"/v1/models/{model['id']}/samples", headers=auth(env.reader),
                               json={"num_rows": 100_000, "delivery": "stream"})
    assert response.status_code == 500
    assert response.json()["code"] == "model_integrity_failed"
