"""What the AWS backends share: boto3 clients with bounded retries and timeouts, and the
translation of botocore failures into a 503 problem response with `Retry-After`.

Clients come from one private `boto3.session.Session` per backend (creating clients on
the default session is not thread-safe). botocore reads `AWS_ENDPOINT_URL` (and
`AWS_ENDPOINT_URL_<SERVICE>`) itself, which is how the tests point everything at moto.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import BackendUnavailable

__all__ = ["BackendUnavailable", "ClientFactory", "aws_errors", "error_code", "is_transient"]

_RETRY_AFTER_SECONDS = 5
_RETRY_AFTER_MISCONFIGURED = 30

# Error codes that mean "try again shortly" (throttling or a service-side hiccup).
_THROTTLING = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestThrottledException", "TooManyRequestsException", "SlowDown",
    "ProvisionedThroughputExceededException", "RequestLimitExceeded", "LimitExceededException",
    "TransactionInProgressException", "InternalError", "InternalFailure",
    "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException",
    "RequestTimeout", "RequestTimeoutException", "KMS.ThrottlingException",
})
# Error codes that mean the deployment cannot reach its resource (missing, or not allowed):
# the caller can do nothing but retry later, so they are 503 too, with a longer pause.
_MISCONFIGURED = frozenset({
    "NoSuchBucket", "ResourceNotFoundException", "AccessDenied", "AccessDeniedException",
    "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
    "ExpiredTokenException", "UnrecognizedClientException", "KMS.DisabledException",
    "KMS.NotFoundException", "KMS.KMSInvalidStateException", "KMS.AccessDeniedException",
    "KMSAccessDeniedException", "KMSDisabledException", "KMSNotFoundException",
    "KMSInvalidStateException", "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist", "ClusterNotFoundException",
})


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore `ClientError` ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_transient(exc: BaseException) -> bool:
    """Connection failures, timeouts, throttling and 5xx answers."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        HTTPClientError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError
                  | HTTPClientError | NoCredentialsError):
        return True
    if isinstance(exc, ClientError):
        return error_code(exc) in _THROTTLING or _status(exc) >= 500
    return False


def _translate(service: str, exc: BaseException) -> BackendUnavailable | None:
    from botocore.exceptions import BotoCoreError, ClientError

    code = error_code(exc)
    if is_transient(exc):
        reason = code or type(exc).__name__
        return BackendUnavailable(
            f"{service} is unreachable or throttling ({reason}); nothing was lost, retry "
            f"after {_RETRY_AFTER_SECONDS} s", code="backend_unavailable", backend=service)
    if isinstance(exc, ClientError) and (code in _MISCONFIGURED or code.startswith("KMS")):
        return BackendUnavailable(
            f"{service} refused the call ({code}): the deployment's resource is missing or "
            "its role lacks a permission; an operator must fix it, then retry",
            code="backend_unavailable", retry_after=_RETRY_AFTER_MISCONFIGURED,
            backend=service)
    if isinstance(exc, BotoCoreError) and not isinstance(exc, ClientError):
        return BackendUnavailable(f"{service} could not be called ({type(exc).__name__})",
                                  code="backend_unavailable", backend=service)
    return None


@contextmanager
def aws_errors(service: str) -> Iterator[None]:
    """Re-raise botocore failures that a retry could cure as `BackendUnavailable`; other
    `ClientError`s (a bug or an expected condition the caller handles) pass through."""
    try:
        yield
    except BackendUnavailable:
        raise
    except Exception as exc:
        translated = _translate(service, exc)
        if translated is None:
            raise
        raise translated from exc


class ClientFactory:
    """Lazily built, cached boto3 clients (one session per backend instance)."""

    def __init__(self, *, region: str | None = None, connect_timeout: float = 3,
                 read_timeout: float = 30, max_attempts: int = 3, **config: Any) -> None:
        self._region = region
        self._config_args = dict(connect_timeout=connect_timeout, read_timeout=read_timeout,
                                 retries={"mode": "standard", "max_attempts": max_attempts},
                                 **config)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None

    def client(self, name: str) -> Any:
        client = self._clients.get(name)
        if client is None:
            with self._lock:
                client = self._clients.get(name)
                if client is None:
                    import boto3
                    from botocore.config import Config

                    if self._session is None:
                        self._session = boto3.session.Session()
                    client = self._session.client(name, region_name=self._region,
                                                  config=Config(**self._config_args))
                    self._clients[name] = client
        return client
