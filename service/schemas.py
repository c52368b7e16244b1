"""The API's request and response bodies (pydantic): the contract clients see in /docs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .keys import OWNER_PATTERN

__all__ = [
    "ApiKeyCreate", "ApiKeyCreated", "ApiKeyOut", "AuditOut", "DatasetOut", "JobOut",
    "ModelCreate", "ModelCreated", "ModelOut", "ReportCreate", "ReportOut", "SampleOut",
    "SampleRequest", "VersionCreate", "VersionOut", "MAX_SEED", "MAX_VERSION",
]


MAX_SEED = 2**32 - 1
"""Seeds are 32-bit (what numpy's and torch's generators take)."""
MAX_VERSION = 2**31 - 1


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetOut(BaseModel):
    id: str
    name: str
    format: str
    tables: list[dict[str, Any]]
    n_rows: int
    n_columns: int
    size_bytes: int
    profile: dict[str, Any]
    created_at: str


class ModelCreate(_In):
    dataset_id: str = Field(..., description="The dataset to train on.")
    synthesizer: str = Field(..., description="gaussian_copula, ctgan, tvae, copula_gan, hma, "
                             "par, or a plug-in engine's name.")
    parameters: dict[str, Any] = Field(default_factory=dict,
                                       description="Synthesizer parameters (validated).")
    name: str = Field("", max_length=200)


class VersionOut(BaseModel):
    version: int
    status: str
    dataset_id: str
    parameters: dict[str, Any]
    job_id: str | None
    size_bytes: int
    fit_seconds: float | None
    created_at: str
    trained_at: str | None
    error: dict[str, Any] | None = None


class ModelOut(BaseModel):
    id: str
    name: str
    dataset_id: str
    synthesizer: str
    engine: str
    active_version: int | None
    latest_version: int
    created_at: str
    versions: list[VersionOut] = Field(default_factory=list)


class ModelCreated(ModelOut):
    job_id: str
    version: int


class VersionCreate(_In):
    parameters: dict[str, Any] | None = Field(None, description="Default: the last version's.")
    dataset_id: str | None = Field(None, description="Default: the model's dataset.")


class JobOut(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float
    message: str
    cancel_requested: bool = False
    model_id: str | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None


class SampleRequest(_In):
    num_rows: int = Field(..., ge=1, description="Rows to generate (sequences for par).")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Same seed, same rows.")
    format: Literal["json", "csv", "parquet", "jsonl"] = "json"
    conditions: dict[str, Any] | None = Field(
        None, description="Fixed column values, e.g. {'cut': 'Ideal'}.")
    delivery: Literal["auto", "inline", "stream", "link"] = Field(
        "auto", description="auto: inline when small, otherwise a stored file behind a link.")
    version: int | None = Field(None, ge=1, le=MAX_VERSION,
                                description="Default: the active version.")
    table: str | None = Field(None, description="Multi-table models: the table to return.")
    sequence_length: int | None = Field(None, ge=1, le=100_000, description="par only.")
    sampler: Literal["auto", "sdv"] = Field(
        "auto", description="auto: the vectorized GaussianCopula sampler where it replays SDV "
        "exactly, else SDV; sdv: always SDV's own sample(). The response names the path in "
        "`X-Synth-Sampler` (a job in its result).")


class SampleOut(BaseModel):
    id: str
    status: str
    model_id: str
    version: int
    format: str
    num_rows: int
    size_bytes: int
    seed: int | None
    job_id: str | None
    created_at: str
    download_url: str | None = None
    expires_at: str | None = None


class ReportCreate(_In):
    version: int | None = Field(None, ge=1, le=MAX_VERSION)
    num_rows: int | None = Field(None, ge=10, le=200_000,
                                 description="Synthetic rows to compare (default: up to 5,000).")


class ReportOut(BaseModel):
    id: str
    model_id: str
    version: int
    status: str
    job_id: str | None
    created_at: str
    quality: dict[str, Any] | None = None
    diagnostic: dict[str, Any] | None = None
    plots: dict[str, str] = Field(default_factory=dict)


class ApiKeyCreate(_In):
    scope: Literal["read", "write", "admin"]
    name: str = Field("", max_length=200)
    owner: str = Field("default", pattern=OWNER_PATTERN,
                       description="Keys with the same owner share datasets and models; "
                       "admin keys see all owners.")


class ApiKeyOut(BaseModel):
    id: str
    name: str
    scope: str
    owner: str
    created_at: str
    created_by: str | None
    revoked_at: str | None
    last_used_at: str | None = None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(..., description="The secret key. Shown once; store it now.")


class AuditOut(BaseModel):
    id: str
    at: str
    actor: str | None
    owner: str | None
    action: str
    target_type: str
    target_id: str | None
    outcome: str
    request_id: str | None
    detail: dict[str, Any]
