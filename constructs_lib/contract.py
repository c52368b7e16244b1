"""The runtime contract between the constructs and the service.

The constructs hand the service its configuration as environment variables; the service
picks its backends from the URL schemes. This module is the single place both sides take
the variable names from. It imports nothing but the standard library, so the service
image can carry it without the construct library's dependencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ALL_VARIABLES",
    "API_KEYS_SECRET",
    "CORS_ORIGINS",
    "JOBS_URL",
    "MAX_ROWS",
    "MAX_UPLOAD_MB",
    "METADATA_URL",
    "RATE_LIMIT_BURST",
    "RATE_LIMIT_PER_SECOND",
    "RATE_LIMIT_URL",
    "RuntimeContract",
    "STORAGE_URL",
    "SYNTHESIZERS",
    "merge_environment",
]

STORAGE_URL = "SYNTH_STORAGE_URL"
"""Where datasets, models and samples live: file://, s3://, gs://, az://."""
METADATA_URL = "SYNTH_METADATA_URL"
"""Where records live: sqlite://, postgresql://, dynamodb://, firestore://, cosmos://."""
JOBS_URL = "SYNTH_JOBS_URL"
"""How background jobs run: inline:// (in process) or the cloud's job runner."""
API_KEYS_SECRET = "SYNTH_API_KEYS_SECRET"
"""Reference to the secret holding the key-hashing pepper (ARN, resource name, URL)."""
MAX_ROWS = "SYNTH_MAX_ROWS"
MAX_UPLOAD_MB = "SYNTH_MAX_UPLOAD_MB"
SYNTHESIZERS = "SYNTH_SYNTHESIZERS"
"""Comma-separated synthesizer names callers may train."""
RATE_LIMIT_PER_SECOND = "SYNTH_RATE_LIMIT_PER_SECOND"
RATE_LIMIT_BURST = "SYNTH_RATE_LIMIT_BURST"
RATE_LIMIT_URL = "SYNTH_RATE_LIMIT_URL"
"""Optional shared limiter store (redis://); unset means in-memory per instance."""
CORS_ORIGINS = "SYNTH_CORS_ORIGINS"
"""Comma-separated browser origins the service answers CORS for (`api.cors_origins`), where
no edge in front of it does (GCP). Unset: no CORS headers."""

ALL_VARIABLES = (
    STORAGE_URL,
    METADATA_URL,
    JOBS_URL,
    API_KEYS_SECRET,
    MAX_ROWS,
    MAX_UPLOAD_MB,
    SYNTHESIZERS,
    RATE_LIMIT_PER_SECOND,
    RATE_LIMIT_BURST,
    RATE_LIMIT_URL,
    CORS_ORIGINS,
)


#: Variables the platform sets from the spec and its resources; `environment=` on a
#: construct may add any other variable (SYNTH_RATE_LIMIT_URL included) but not these.
PLATFORM_SET_VARIABLES = tuple(v for v in ALL_VARIABLES if v != RATE_LIMIT_URL)


def merge_environment(contract_env: Mapping[str, str],
                      extra: Mapping[str, str] | None) -> dict[str, str]:
    """The contract's variables plus a user's `extra` ones; the same rule on every cloud.

    Replacing a variable the platform derives from the spec would make the service and
    its infrastructure disagree (a storage URL the role has no grant on), so it raises a
    ValueError naming the variables and the fix.
    """
    extra = dict(extra or {})
    clashes = sorted(set(extra) & set(PLATFORM_SET_VARIABLES))
    if clashes:
        raise ValueError(
            f"environment: {', '.join(clashes)} are set by the platform from the spec and "
            "its resources; change the spec (or pass the resource) instead of overriding them"
        )
    return {**contract_env, **extra}


@dataclass(frozen=True)
class RuntimeContract:
    """The values one deployment gives the service. `to_env()` renders the variables."""

    storage_url: str
    metadata_url: str
    jobs_url: str = "inline://"
    api_keys_secret: str | None = None
    max_rows: int = 1_000_000
    max_upload_mb: int = 100
    synthesizers: tuple[str, ...] = ("gaussian_copula",)
    rate_limit_per_second: float = 10.0
    rate_limit_burst: int = 20
    rate_limit_url: str | None = None
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def for_spec(cls, spec, *, storage_url: str, metadata_url: str, **overrides) -> RuntimeContract:
        """The contract for a `PlatformSpec`, given the URLs of the resources a cloud made."""
        values = dict(
            storage_url=storage_url,
            metadata_url=metadata_url,
            max_rows=spec.generator.max_rows,
            max_upload_mb=spec.generator.max_upload_mb,
            synthesizers=tuple(spec.generator.synthesizers),
            rate_limit_per_second=spec.api.rate_limit_per_second,
            rate_limit_burst=spec.api.burst,
        )
        values.update(overrides)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        env = {
            STORAGE_URL: self.storage_url,
            METADATA_URL: self.metadata_url,
            JOBS_URL: self.jobs_url,
            MAX_ROWS: str(self.max_rows),
            MAX_UPLOAD_MB: str(self.max_upload_mb),
            SYNTHESIZERS: ",".join(self.synthesizers),
            RATE_LIMIT_PER_SECOND: _number(self.rate_limit_per_second),
            RATE_LIMIT_BURST: str(self.rate_limit_burst),
        }
        if self.api_keys_secret is not None:
            env[API_KEYS_SECRET] = self.api_keys_secret
        if self.rate_limit_url is not None:
            env[RATE_LIMIT_URL] = self.rate_limit_url
        if self.cors_origins:
            env[CORS_ORIGINS] = ",".join(self.cors_origins)
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RuntimeContract:
        """Read the contract back (the service side); unset variables take the defaults."""
        defaults = cls(storage_url="", metadata_url="")
        synths = env.get(SYNTHESIZERS)
        origins = tuple(o.strip() for o in env.get(CORS_ORIGINS, "").split(",") if o.strip())
        return cls(
            storage_url=env.get(STORAGE_URL, ""),
            metadata_url=env.get(METADATA_URL, ""),
            jobs_url=env.get(JOBS_URL, defaults.jobs_url),
            api_keys_secret=env.get(API_KEYS_SECRET),
            max_rows=int(env.get(MAX_ROWS, defaults.max_rows)),
            max_upload_mb=int(env.get(MAX_UPLOAD_MB, defaults.max_upload_mb)),
            synthesizers=tuple(s for s in synths.split(",") if s) if synths
            else defaults.synthesizers,
            rate_limit_per_second=float(
                env.get(RATE_LIMIT_PER_SECOND, defaults.rate_limit_per_second)
            ),
            rate_limit_burst=int(env.get(RATE_LIMIT_BURST, defaults.rate_limit_burst)),
            rate_limit_url=env.get(RATE_LIMIT_URL),
            cors_origins=origins,
        )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
