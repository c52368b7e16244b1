"""Parameters each SDV synthesizer accepts, validated before a job is queued.

Pydantic models with `extra="forbid"`: a misspelt parameter is an error naming the field,
not a silently ignored option. Bounds keep one training job within a sane budget.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["PARAMETER_MODELS"]

Distribution = Literal["norm", "beta", "truncnorm", "uniform", "gamma", "gaussian_kde"]
Sdtype = Literal["numerical", "categorical", "boolean", "datetime", "id"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column_sdtypes: dict[str, Sdtype] = Field(
        default_factory=dict,
        description="Override detected column types, e.g. {'zip': 'categorical'}.",
    )


class _SingleTable(_Params):
    enforce_min_max_values: bool = True
    enforce_rounding: bool = True
    primary_key: str | None = Field(None, description="Column holding unique row ids.")


class GaussianCopulaParams(_SingleTable):
    default_distribution: Distribution = "beta"
    numerical_distributions: dict[str, Distribution] = Field(default_factory=dict)


Dims = tuple[int, ...]


class _GanCommon(_SingleTable):
    epochs: int = Field(300, ge=1, le=10_000)
    batch_size: int = Field(500, ge=2, le=100_000)
    embedding_dim: int = Field(128, ge=2, le=4096)


class CtganParams(_GanCommon):
    generator_dim: Dims = (256, 256)
    discriminator_dim: Dims = (256, 256)
    generator_lr: float = Field(2e-4, gt=0, le=1)
    discriminator_lr: float = Field(2e-4, gt=0, le=1)
    generator_decay: float = Field(1e-6, ge=0, le=1)
    discriminator_decay: float = Field(1e-6, ge=0, le=1)
    discriminator_steps: int = Field(1, ge=1, le=100)
    log_frequency: bool = True
    pac: int = Field(10, ge=1, le=100)

    @model_validator(mode="after")
    def _batch_matches_pac(self):
        if self.batch_size % 2 or self.batch_size % self.pac:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be even and a multiple of pac ({self.pac})"
            )
        return self


class CopulaGanParams(CtganParams):
    default_distribution: Distribution = "beta"
    numerical_distributions: dict[str, Distribution] = Field(default_factory=dict)


class TvaeParams(_GanCommon):
    compress_dims: Dims = (128, 128)
    decompress_dims: Dims = (128, 128)
    l2scale: float = Field(1e-5, ge=0, le=1)
    loss_factor: float = Field(2, gt=0, le=100)


class Relationship(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    parent_table_name: str
    parent_primary_key: str
    child_table_name: str
    child_foreign_key: str


class HmaParams(_Params):
    column_sdtypes: dict[str, dict[str, Sdtype]] = Field(  # type: ignore[assignment]
        default_factory=dict, description="Per table: column -> sdtype overrides."
    )
    primary_keys: dict[str, str] = Field(
        default_factory=dict, description="Table -> primary key column (else detected)."
    )
    relationships: list[Relationship] | None = Field(
        None, description="Parent/child links; default: detected from matching column names."
    )
    main_table: str | None = Field(
        None, description="Table whose row count `num_rows` sets when sampling; default: "
        "the root table.",
    )


class ParParams(_Params):
    enforce_min_max_values: bool = True
    enforce_rounding: bool = True
    sequence_key: str = Field(..., description="Column identifying each sequence (entity).")
    sequence_index: str | None = Field(None, description="Column ordering rows in a sequence.")
    context_columns: list[str] = Field(
        default_factory=list, description="Columns constant within a sequence."
    )
    epochs: int = Field(128, ge=1, le=10_000)
    segment_size: int | None = Field(None, ge=1)
    sample_size: int = Field(1, ge=1, le=100)


PARAMETER_MODELS: dict[str, type[_Params]] = {
    "gaussian_copula": GaussianCopulaParams,
    "ctgan": CtganParams,
    "tvae": TvaeParams,
    "copula_gan": CopulaGanParams,
    "hma": HmaParams,
    "par": ParParams,
}
