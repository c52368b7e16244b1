"""Fitted models in the service's own storage, each with an HMAC integrity tag.

The tag is HMAC-SHA256(pepper, context || version id || sha256(bytes)) and lives in the
metadata store, not beside the blob: someone who can write the bucket still cannot make
the service unpickle their file. Models are only ever read from the key the service wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict

from .backends.metadata import ModelVersionRecord
from .backends.storage import ObjectNotFound, Storage
from .errors import ServiceError

__all__ = ["ModelIntegrityError", "ModelStore", "model_key", "report_prefix"]

_CONTEXT = b"synthdata-model-v1\x00"


class ModelIntegrityError(ServiceError):
    status, code, title = 500, "model_integrity_failed", "Model integrity check failed"


def model_key(model_id: str, version: int) -> str:
    return f"models/{model_id}/v{version}/model.pkl"


def report_prefix(model_id: str, version: int, report_id: str) -> str:
    """Reports live with the model version they score (and go when the model goes)."""
    return f"models/{model_id}/v{version}/reports/{report_id}"


class ModelStore:
    def __init__(self, storage: Storage, pepper: bytes, *, cache_bytes: int = 256 << 20) -> None:
        self._storage = storage
        self._pepper = pepper
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_limit = cache_bytes
        self._lock = threading.Lock()

    def tag(self, version_id: str, data: bytes) -> str:
        digest = hashlib.sha256(data).digest()
        return hmac.new(self._pepper, _CONTEXT + version_id.encode() + b"\x00" + digest,
                        hashlib.sha256).hexdigest()

    def save(self, version: ModelVersionRecord, data: bytes) -> tuple[str, str]:
        """Write the blob; return (storage key, integrity tag) for the version record."""
        key = model_key(version.model_id, version.version)
        self._storage.put_bytes(key, data)
        return key, self.tag(version.id, data)

    def load_bytes(self, version: ModelVersionRecord) -> bytes:
        """The verified bytes of a trained version (cached after the first check)."""
        with self._lock:
            cached = self._cache.get(version.id)
            if cached is not None:
                self._cache.move_to_end(version.id)
                return cached
        expected_key = model_key(version.model_id, version.version)
        if version.storage_key != expected_key or not version.integrity:
            raise ModelIntegrityError("the model record does not point at the service's own "
                                      "copy; it was not loaded. Train a new version")
        try:
            data = self._storage.get_bytes(expected_key)
        except ObjectNotFound:
            raise ModelIntegrityError("the stored model is missing; train a new version",
                                      code="model_missing") from None
        if not hmac.compare_digest(self.tag(version.id, data), version.integrity):
            raise ModelIntegrityError("the stored model failed its integrity check (it was "
                                      "changed after training) and was not loaded; train a "
                                      "new version")
        with self._lock:
            self._cache[version.id] = data
            while sum(len(v) for v in self._cache.values()) > self._cache_limit and self._cache:
                self._cache.popitem(last=False)
        return data

    def forget(self, version_id: str) -> None:
        with self._lock:
            self._cache.pop(version_id, None)
