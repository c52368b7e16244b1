"""The pepper from Secrets Manager, named by ARN as the constructs set it, cached in
process."""

from __future__ import annotations

import pytest

from synthdata_service.backends import open_secret_provider
from synthdata_service.backends._aws import BackendUnavailable
from synthdata_service.backends.aws_secrets import SecretsManagerProvider
from synthdata_service.errors import ServiceUnavailable


def _count_reads(provider: SecretsManagerProvider) -> list:
    calls: list = []
    provider._clients.client("secretsmanager").meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue",
        lambda params, **_: calls.append(params))
    return calls


def test_an_arn_opens_the_secrets_manager_provider(local_aws):
    provider = open_secret_provider(local_aws.secret_arn)
    assert isinstance(provider, SecretsManagerProvider)
    pepper = provider.pepper()
    expected = local_aws.client("secretsmanager").get_secret_value(
        SecretId=local_aws.secret_arn)["SecretString"]
    assert pepper == expected.encode() and len(pepper) == 64


def test_the_value_is_cached_in_process(local_aws):
    provider = open_secret_provider(local_aws.secret_arn)
    calls = _count_reads(provider)
    first = provider.pepper()
    again = open_secret_provider(local_aws.secret_arn)  # a second Service in the same process
    assert provider.pepper() == again.pepper() == first
    assert len(calls) == 1


def test_the_cache_expires_after_its_ttl(local_aws):
    provider = open_secret_provider("secretsmanager://synth-pepper?ttl=0")
    calls = _count_reads(provider)
    provider.pepper()
    provider.pepper()
    assert len(calls) == 2


def test_a_short_secret_is_refused_with_a_503(local_aws):
    arn = local_aws.client("secretsmanager").create_secret(
        Name="short-pepper", SecretString="tooshort")["ARN"]
    with pytest.raises(ServiceUnavailable, match="shorter than"):
        open_secret_provider(arn).pepper()


def test_a_missing_secret_is_backend_unavailable(local_aws):
    arn = local_aws.secret_arn.replace("synth-pepper", "gone-pepper")
    with pytest.raises(BackendUnavailable) as caught:
        open_secret_provider(arn).pepper()
    assert caught.value.headers["Retry-After"]


def test_other_arns_are_refused(local_aws):
    with pytest.raises(ValueError, match="Secrets Manager"):
        open_secret_provider("arn:aws:ssm:eu-west-1:123456789012:parameter/pepper")
