"""Engine registry: the built-in SDV engine plus `synthdata.engines` entry points."""

from __future__ import annotations

import importlib
import logging
from functools import lru_cache
from importlib.metadata import entry_points

from .base import (
    SAMPLER_ATTR,
    Engine,
    EngineError,
    FittedModel,
    JobCancelled,
    ProgressCallback,
    SynthesizerInfo,
    sampler_path,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Engine",
    "EngineError",
    "FittedModel",
    "JobCancelled",
    "ProgressCallback",
    "SAMPLER_ATTR",
    "SynthesizerInfo",
    "engine_for",
    "load_engines",
    "sampler_path",
]

ENTRY_POINT_GROUP = "synthdata.engines"
_BUILTIN = {"sdv": "synthdata_service.engines.sdv_engine:SdvEngine"}
_log = logging.getLogger("synthdata_service.engines")


def _load(target: str) -> type[Engine]:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@lru_cache(maxsize=1)
def load_engines() -> dict[str, Engine]:
    """Engine name -> instance. Entry points may add engines or replace the built-in."""
    engines: dict[str, Engine] = {}
    for name, target in _BUILTIN.items():
        engines[name] = _load(target)()
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.value in _BUILTIN.values():
            continue
        try:
            engine = point.load()()
        except Exception:  # noqa: BLE001 - one broken plug-in must not take the service down
            _log.exception("engine entry point %s failed to load", point.name)
            continue
        engines[point.name] = engine
    return engines


def engine_for(synthesizer: str) -> tuple[Engine, object]:
    """The engine offering `synthesizer` and its `SynthesizerInfo`; KeyError if none."""
    for engine in load_engines().values():
        info = engine.synthesizers().get(synthesizer)
        if info is not None:
            return engine, info
    raise KeyError(synthesizer)
