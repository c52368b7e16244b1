"""The engine interface: what the service needs from a synthesizer library.

An engine trains named synthesizers on a dict of tables, serialises the fitted object,
and samples from it in chunks (so the service can stream with bounded memory). SDV is the
default engine; others register through the `synthdata.engines` entry point group.
Engines import their heavy libraries inside methods, never at module import.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Engine",
    "EngineError",
    "FittedModel",
    "JobCancelled",
    "ProgressCallback",
    "SAMPLER_ATTR",
    "SynthesizerInfo",
    "TableSet",
    "sampler_path",
]

SAMPLER_ATTR = "synthdata.sampler"
"""Key in a sampled DataFrame's `attrs` naming the path that drew it: a dict with `sampler`
(e.g. "vectorized" or "sdv") and, when the engine fell back, the `reason`. The API
reports it in the `X-Synth-Sampler` header and the sample job's result."""



def sampler_path(frame: Any) -> dict:
    """The `SAMPLER_ATTR` an engine put on a sampled frame (empty when it named none)."""
    attrs = getattr(frame, "attrs", None)
    return dict(attrs.get(SAMPLER_ATTR) or {}) if isinstance(attrs, dict) else {}


TableSet = Mapping[str, Any]
"""Table name -> pandas DataFrame."""

ProgressCallback = Callable[[float, str], None]
"""progress(fraction 0..1, message); may raise `JobCancelled` to stop training."""


class JobCancelled(Exception):
    """Raised from a progress callback when the job was cancelled."""


class EngineError(Exception):
    """A caller-fixable problem found by the engine (bad parameters, unsupported data)."""

    def __init__(self, message: str, *, code: str = "engine_error") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SynthesizerInfo:
    name: str
    kind: Literal["single_table", "multi_table", "sequential"]
    description: str
    parameters_schema: dict = field(default_factory=dict)
    supports_conditions: bool = False


@dataclass
class FittedModel:
    model: Any
    metadata: dict
    """The table metadata the model was trained with (SDV metadata dict shape)."""


class Engine(abc.ABC):
    """One synthesizer library behind the service."""

    name: str = ""
    license: str = ""

    @abc.abstractmethod
    def synthesizers(self) -> Mapping[str, SynthesizerInfo]: ...

    @abc.abstractmethod
    def validate_parameters(self, synthesizer: str, parameters: Mapping[str, Any]) -> dict:
        """Return the normalised parameters or raise `EngineError` naming what to fix."""

    @abc.abstractmethod
    def fit(self, synthesizer: str, tables: TableSet, parameters: Mapping[str, Any],
            progress: ProgressCallback) -> FittedModel: ...

    @abc.abstractmethod
    def dumps(self, model: Any) -> bytes: ...

    @abc.abstractmethod
    def loads(self, data: bytes) -> Any:
        """Deserialise a model. Only ever called on bytes whose integrity tag verified."""

    @abc.abstractmethod
    def sample(self, model: Any, num_rows: int, *, seed: int,
               conditions: Mapping[str, Any] | None = None,
               chunk_rows: int = 50_000, options: Mapping[str, Any] | None = None,
               ) -> Iterator[dict[str, Any]]:
        """Yield chunks (table name -> DataFrame) adding up to `num_rows` rows of the main
        table; the same seed gives the same rows. An engine with several sampling paths
        names the one it took in each frame's `attrs[SAMPLER_ATTR]`."""
