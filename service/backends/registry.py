"""Scheme -> implementation registries, resolved lazily from import paths."""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

from ..errors import ServiceError

__all__ = [
    "UnknownBackend",
    "open_job_runner",
    "open_metadata",
    "open_secret_provider",
    "open_storage",
    "register_job_runner",
    "register_metadata",
    "register_secret_provider",
    "register_storage",
    "registered_schemes",
    "resolve",
]


class UnknownBackend(ServiceError):
    status, code, title = 500, "unknown_backend", "Unknown backend"


_REGISTRIES: dict[str, dict[str, str | Any]] = {
    "storage": {
        "file": "synthdata_service.backends.file_storage:FileStorage",
        "az": "synthdata_service.backends.azure_storage:AzureBlobStorage",
        "gs": "synthdata_service.backends.gcs_storage:GcsStorage",
        "s3": "synthdata_service.backends.s3_storage:S3Storage",
    },
    "metadata": {
        "sqlite": "synthdata_service.backends.sqlite_metadata:SqliteMetadataStore",
        "postgresql": "synthdata_service.backends.postgres_metadata:PostgresMetadataStore",
        "postgres": "synthdata_service.backends.postgres_metadata:PostgresMetadataStore",
        "firestore": "synthdata_service.backends.firestore_metadata:FirestoreMetadataStore",
        "dynamodb": "synthdata_service.backends.dynamodb_metadata:DynamoDbMetadataStore",
        "cosmos": "synthdata_service.backends.cosmos_metadata:CosmosMetadataStore",
    },
    "jobs": {
        "inline": "synthdata_service.jobs.inline:InlineJobRunner",
        "sqs": "synthdata_service.jobs.aws:SqsJobRunner",
        "cloudrun": "synthdata_service.jobs.gcp:CloudRunJobRunner",
        "azqueue": "synthdata_service.jobs.azure:AzureQueueJobRunner",
        "k8s": "synthdata_service.jobs.kubernetes:KubernetesJobRunner",
    },
    "secrets": {
        "file": "synthdata_service.backends.secrets:FileSecretProvider",
        "env": "synthdata_service.backends.secrets:EnvSecretProvider",
        "arn": "synthdata_service.backends.aws_secrets:SecretsManagerProvider",
        "secretsmanager": "synthdata_service.backends.aws_secrets:SecretsManagerProvider",
        # Key Vault secret identifiers: https://<vault>.vault.azure.net/secrets/<name>
        "https": "synthdata_service.backends.azure_secrets:KeyVaultSecretProvider",
        # Scheme-less cloud resource names are keyed by their first segment (see resolve).
        "projects": "synthdata_service.backends.gcp_secrets:SecretManagerProvider",
    },
}


def register(kind: str, scheme: str, target: str | Any) -> None:
    """Register `target` (a class/factory or a `"module:attr"` path) for `scheme://` URLs."""
    _REGISTRIES.setdefault(kind, {})[scheme] = target


def register_storage(scheme: str, target: str | Any) -> None:
    register("storage", scheme, target)


def register_metadata(scheme: str, target: str | Any) -> None:
    register("metadata", scheme, target)


def register_secret_provider(scheme: str, target: str | Any) -> None:
    register("secrets", scheme, target)


def registered_schemes(kind: str) -> tuple[str, ...]:
    return tuple(sorted(_REGISTRIES.get(kind, {})))


def resolve(kind: str, url: str) -> Any:
    """The factory registered for the scheme of `url` (imported on first use)."""
    # A reference without a scheme (`projects/p/secrets/s`, a GCP resource name) is keyed
    # by its first path segment.
    scheme = urlsplit(url).scheme.split("+", 1)[0] or url.split("/", 1)[0]
    target = _REGISTRIES.get(kind, {}).get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in registered_schemes(kind))
        raise UnknownBackend(f"no {kind} backend for {scheme or url!r}; known: {known}")
    if isinstance(target, str):
        module_name, _, attribute = target.partition(":")
        target = getattr(importlib.import_module(module_name), attribute)
        _REGISTRIES[kind][scheme] = target
    return target


def open_storage(url: str, **kwargs: Any):
    return resolve("storage", url).from_url(url, **kwargs)


def open_metadata(url: str, **kwargs: Any):
    return resolve("metadata", url).from_url(url, **kwargs)


def open_secret_provider(url: str, **kwargs: Any):
    return resolve("secrets", url).from_url(url, **kwargs)


def open_job_runner(url: str, **kwargs: Any):
    return resolve("jobs", url).from_url(url, **kwargs)


def register_job_runner(scheme: str, target: str | Any) -> None:
    register("jobs", scheme, target)
