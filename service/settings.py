"""Service settings: the runtime contract's variables plus service-local knobs.

The contract's variable names come from `constructs_lib.contract` (shared with the
constructs); the service-only knobs (`SYNTH_DATA_DIR` and limits the spec does not carry)
are read here. With nothing set, everything lives under one local data directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from constructs_lib import contract

__all__ = ["BUILTIN_SYNTHESIZERS", "DATA_DIR", "Settings"]

DATA_DIR = "SYNTH_DATA_DIR"
"""Service-local: the directory the embedded default keeps files, SQLite and the pepper in."""

BUILTIN_SYNTHESIZERS = ("gaussian_copula", "ctgan", "tvae", "copula_gan", "hma", "par")

_LOCAL_ENV = {
    "max_columns": "SYNTH_MAX_COLUMNS",
    "max_cell_chars": "SYNTH_MAX_CELL_CHARS",
    "max_dataset_rows": "SYNTH_MAX_DATASET_ROWS",
    "inline_max_rows": "SYNTH_INLINE_MAX_ROWS",
    "inline_max_bytes": "SYNTH_INLINE_MAX_BYTES",
    "link_ttl_seconds": "SYNTH_LINK_TTL_SECONDS",
    "job_stale_seconds": "SYNTH_JOB_STALE_SECONDS",
    "public_url": "SYNTH_PUBLIC_URL",
    "max_column_name_chars": "SYNTH_MAX_COLUMN_NAME_CHARS",
    "max_concurrent_uploads": "SYNTH_MAX_CONCURRENT_UPLOADS",
    "auth_failure_per_second": "SYNTH_AUTH_FAILURE_PER_SECOND",
    "auth_failure_burst": "SYNTH_AUTH_FAILURE_BURST",
}


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to pick its backends and enforce its limits."""

    data_dir: Path = Path(".synth-data")
    storage_url: str = ""
    """Default: `file://<data_dir>/objects`."""
    metadata_url: str = ""
    """Default: `sqlite:///<data_dir>/metadata.sqlite3`."""
    jobs_url: str = "inline://"
    api_keys_secret: str = ""
    """Default: `file://<data_dir>/pepper` (created with mode 0600 on first use)."""
    max_rows: int = 1_000_000
    """Most rows one sample request may ask for."""
    max_upload_mb: int = 100
    synthesizers: tuple[str, ...] = BUILTIN_SYNTHESIZERS
    rate_limit_per_second: float = 10.0
    rate_limit_burst: int = 20
    rate_limit_url: str = ""
    """Empty: an in-memory bucket per process. `redis://...`: shared by every replica."""
    cors_origins: tuple[str, ...] = ()
    """Browser origins answered with CORS headers (`SYNTH_CORS_ORIGINS`); empty: none."""
    max_columns: int = 1_000
    max_cell_chars: int = 10_000
    max_dataset_rows: int = 2_000_000
    inline_max_rows: int = 10_000
    """Sample requests up to this many rows are answered in the response body..."""
    inline_max_bytes: int = 5_000_000
    """...if their estimated size fits too (Lambda's synchronous responses stop at 6 MB)."""
    link_ttl_seconds: int = 3_600
    job_stale_seconds: int = 60
    """A running job whose heartbeat is older than this is declared interrupted; jobs are
    stamped, and orphans looked for, every quarter of it."""
    max_column_name_chars: int = 256
    max_concurrent_uploads: int = 2
    """Uploads one replica parses at once; the next gets 503 + Retry-After."""
    auth_failure_per_second: float = 0.2
    auth_failure_burst: int = 10
    """Requests with bad keys one client address may make (then 429, not audited)."""
    public_url: str = ""
    """Base URL for download links; empty: derived from the request."""
    allow_streaming: bool = True
    """False behind adapters that buffer whole responses (Mangum): large results go to links."""
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data_dir = Path(self.data_dir).expanduser().resolve()
        object.__setattr__(self, "data_dir", data_dir)
        if not self.storage_url:
            object.__setattr__(self, "storage_url", (data_dir / "objects").as_uri())
        if not self.metadata_url:
            object.__setattr__(self, "metadata_url", f"sqlite:///{data_dir / 'metadata.sqlite3'}")
        if not self.api_keys_secret:
            object.__setattr__(self, "api_keys_secret", (data_dir / "pepper").as_uri())

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Settings from the runtime contract's variables; unset ones take the defaults."""
        env = os.environ if env is None else env
        runtime = contract.RuntimeContract.from_env(env)
        values: dict = {
            "data_dir": Path(env.get(DATA_DIR, ".synth-data")),
            "storage_url": runtime.storage_url,
            "metadata_url": runtime.metadata_url,
            "jobs_url": runtime.jobs_url or "inline://",
            "api_keys_secret": runtime.api_keys_secret or "",
            "max_rows": runtime.max_rows,
            "max_upload_mb": runtime.max_upload_mb,
            "rate_limit_per_second": runtime.rate_limit_per_second,
            "rate_limit_burst": runtime.rate_limit_burst,
            "rate_limit_url": runtime.rate_limit_url or "",
            "cors_origins": runtime.cors_origins,
        }
        # The contract defaults to GaussianCopula only (the deployed spec's choice); a local
        # service with no contract at all offers every built-in synthesizer.
        if env.get(contract.SYNTHESIZERS):
            values["synthesizers"] = runtime.synthesizers
        for name, variable in _LOCAL_ENV.items():
            if variable in env:
                default = cls.__dataclass_fields__[name].default
                raw = env[variable]
                try:
                    values[name] = type(default)(raw) if default is not None else raw
                except ValueError:
                    raise ValueError(f"{variable}={raw!r} is not a valid "
                                     f"{type(default).__name__}") from None
        values.update(overrides)
        return cls(**values)

    @classmethod
    def for_data_dir(cls, data_dir: str | Path, **overrides) -> Settings:
        """The embedded default: files, SQLite and the pepper under `data_dir`."""
        return cls(data_dir=Path(data_dir), **overrides)

    def with_overrides(self, **overrides) -> Settings:
        return replace(self, **overrides)
