"""What an Azure platform will do, read from its synthesized Terraform JSON
(`constructs_lib.facts.azure`), equals what its spec asks for - the cross-cloud parity
contract - for the default spec and for non-default values of every fact's field."""

from __future__ import annotations

import pytest

from constructs_lib.facts import FACT_KEYS, expected_facts
from constructs_lib.facts.azure import facts

FACT_SPECS = {
    "facts-default": {},
    "facts-prod": {
        "environment": "prod", "removal_policy": "retain",
        "generator": {"memory_mb": 6144, "timeout_seconds": 200, "concurrency": 50,
                      "min_instances": 2, "max_rows": 5_000_000, "max_upload_mb": 500,
                      "synthesizers": ["gaussian_copula", "ctgan", "par"]},
        "storage": {"retention_days": 90, "noncurrent_version_days": 14},
        "api": {"rate_limit_per_second": 50, "burst": 100,
                "cors_origins": ["https://b.example.com", "https://a.example.com"]},
        "monitoring": {"alarm_emails": ["z@example.com", "oncall@example.com"],
                       "error_threshold": 3, "latency_threshold_ratio": 0.5,
                       "log_retention_days": 365},
        "jobs": {"max_attempts": 5, "cpu": 4096, "memory_mb": 16384,
                 "worker_concurrency": 8},
    },
    "facts-private-provider-keys": {
        "network": {"vpc": True, "cidr": "10.60.0.0/20"},
        "storage": {"encryption": "provider_managed", "access_logs": False},
        "jobs": {"long_running": False, "worker_timeout_seconds": 600},
        "api": {"rate_limit_per_second": 2.5},
        "removal_policy": "destroy",
    },
    "facts-functions": {
        "generator": {"packaging": "source", "memory_mb": 4096, "timeout_seconds": 120,
                      "concurrency": 40, "min_instances": 1},
        "api": {"auth": "iam", "cors_origins": ["https://app.example.com"]},
        "monitoring": {"latency_threshold_ratio": 0.9},
    },
}


@pytest.mark.parametrize("label", sorted(FACT_SPECS))
def test_facts_read_from_the_template_match_the_spec(variants, label):
    synthesized, built = variants
    variant = built[label]
    assert variant.error is None, variant.error
    found = facts(synthesized.templates[label], f"{label}/Synth")
    assert set(found) == set(FACT_KEYS)
    assert found == expected_facts(variant.spec)


def test_the_reader_needs_a_platform_at_the_path(variants):
    synthesized, _ = variants
    with pytest.raises(ValueError, match="no generator"):
        facts(synthesized.templates["facts-default"], "facts-default/Elsewhere")
