"""The default engine: SDV 2.0 (BUSL-1.1, see docs/licensing.md).

SDV, torch and pandas are imported inside the methods, so importing this module (which
the registry does at startup) stays cheap.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from . import _progress
from ._imports import import_sdv, needs_torch
from .base import (
    SAMPLER_ATTR,
    Engine,
    EngineError,
    FittedModel,
    ProgressCallback,
    SynthesizerInfo,
)
from .sdv_params import PARAMETER_MODELS

__all__ = ["SdvEngine"]

_SYNTHESIZERS = {
    "gaussian_copula": ("single_table", "GaussianCopulaSynthesizer",
                        "Gaussian copula over per-column marginals; fast, strong baseline."),
    "ctgan": ("single_table", "CTGANSynthesizer",
              "Conditional GAN; learns complex distributions, needs many epochs."),
    "tvae": ("single_table", "TVAESynthesizer", "Variational autoencoder for tables."),
    "copula_gan": ("single_table", "CopulaGANSynthesizer",
                   "CTGAN on copula-transformed marginals."),
    "hma": ("multi_table", "HMASynthesizer",
            "Hierarchical model for up to 5 related tables (one parent-child level)."),
    "par": ("sequential", "PARSynthesizer", "Autoregressive model for sequences per entity."),
}
_CONDITIONAL = {"gaussian_copula", "ctgan", "tvae", "copula_gan"}
_TORCH_FREE = {"gaussian_copula", "hma"}
# SDV warns on every synthesizer built from detected metadata; the service stores that
# metadata with each version, which is what the warning asks for.
warnings.filterwarnings("ignore", message="We strongly recommend saving the metadata",
                        category=UserWarning)
# PAR and HMA draw from numpy/torch global generators: seeding them must be serialised.
_GLOBAL_RNG_LOCK = threading.Lock()
SAMPLERS = ("auto", "sdv")
"""`options["sampler"]`: "auto" takes the vectorized GaussianCopula path where it replays
SDV exactly; "sdv" always calls SDV's own `sample()`."""


def _info(name: str) -> SynthesizerInfo:
    kind, _cls, description = _SYNTHESIZERS[name]
    return SynthesizerInfo(
        name=name, kind=kind, description=description,  # type: ignore[arg-type]
        parameters_schema=PARAMETER_MODELS[name].model_json_schema(),
        supports_conditions=name in _CONDITIONAL,
    )


def _sdv_error_types() -> tuple[type[BaseException], ...]:
    from sdv import errors

    names = ("InvalidDataError", "SynthesizerInputError", "InvalidDataTypeError",
             "NotFittedError", "ConstraintsNotMetError", "SamplingError")
    found = tuple(getattr(errors, n) for n in names if hasattr(errors, n))
    from sdv.metadata.errors import InvalidMetadataError

    return (*found, InvalidMetadataError)


class SdvEngine(Engine):
    name = "sdv"
    license = "BUSL-1.1 (sdv, ctgan, copulas, rdt, deepecho); MIT four years after each release"

    def __init__(self) -> None:
        # Compiled vectorized samplers by model digest: compiling tabulates each marginal
        # (about 10 ms a column), so a model's later requests skip it.
        self._compiled: OrderedDict[str, Any] = OrderedDict()
        self._digests: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._compiled_lock = threading.Lock()

    def synthesizers(self) -> Mapping[str, SynthesizerInfo]:
        return {name: _info(name) for name in _SYNTHESIZERS}

    def validate_parameters(self, synthesizer: str, parameters: Mapping[str, Any]) -> dict:
        try:
            model = PARAMETER_MODELS[synthesizer](**dict(parameters))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'parameters'}: {err['msg']}"
                for err in exc.errors()
            )
            raise EngineError(f"invalid parameters for {synthesizer}: {problems}",
                              code="invalid_parameters") from None
        return model.model_dump(mode="json", exclude_none=False)

    # Training.

    def fit(self, synthesizer: str, tables: Mapping[str, Any], parameters: Mapping[str, Any],
            progress: ProgressCallback) -> FittedModel:
        params = PARAMETER_MODELS[synthesizer](**dict(parameters))
        kind, class_name, _ = _SYNTHESIZERS[synthesizer]
        progress(0.02, "loading SDV")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import_sdv(torch_needed=synthesizer not in _TORCH_FREE)
            import sdv.multi_table
            import sdv.sequential
            import sdv.single_table

            _progress.install()
            sdv_errors = _sdv_error_types()
            try:
                metadata = self._metadata(kind, tables, params)
                progress(0.08, "metadata detected")
                synth = self._construct(kind, class_name, metadata, params,
                                        sdv.single_table, sdv.multi_table, sdv.sequential)

                def on_step(fraction: float) -> None:
                    progress(0.1 + 0.85 * fraction, "training")

                with _progress.reporting(on_step):
                    synth.fit(dict(tables))
            except sdv_errors as exc:
                raise EngineError(f"SDV refused the data: {exc}", code="training_refused") from None
        progress(0.96, "trained")
        return FittedModel(model=synth, metadata=metadata.to_dict())

    def _metadata(self, kind: str, tables: Mapping[str, Any], params: Any):
        from sdv.metadata import Metadata

        names = list(tables)
        if kind != "multi_table" and len(names) != 1:
            raise EngineError(f"this synthesizer trains on one table; the dataset has "
                              f"{len(names)}", code="wrong_table_count")
        if kind == "multi_table" and len(names) < 2:
            raise EngineError("hma needs a dataset with at least two related tables; upload "
                              "them together (several `file` parts)", code="wrong_table_count")
        infer = "primary_and_foreign" if kind == "multi_table" else "primary_only"
        if kind == "multi_table" and params.relationships is not None:
            infer = "primary_only"
        metadata = Metadata.detect_from_dataframes(dict(tables), infer_keys=infer)
        self._check_columns(tables, params, kind)
        if kind == "multi_table":
            for table, overrides in params.column_sdtypes.items():
                for column, sdtype in overrides.items():
                    metadata.update_column(column, table_name=table, sdtype=sdtype)
            for table, column in params.primary_keys.items():
                metadata.update_column(column, table_name=table, sdtype="id")
                metadata.set_primary_key(column, table_name=table)
            for rel in params.relationships or ():
                metadata.update_column(rel.child_foreign_key, table_name=rel.child_table_name,
                                       sdtype="id")
                metadata.add_relationship(**rel.model_dump())
        else:
            table = names[0]
            for column, sdtype in params.column_sdtypes.items():
                metadata.update_column(column, table_name=table, sdtype=sdtype)
            if kind == "single_table" and params.primary_key:
                metadata.update_column(params.primary_key, table_name=table, sdtype="id")
                metadata.set_primary_key(params.primary_key, table_name=table)
            if kind == "sequential":
                table_meta = metadata.tables[table]
                if table_meta.primary_key == params.sequence_key:
                    metadata.remove_primary_key(table_name=table)
                metadata.update_column(params.sequence_key, table_name=table, sdtype="id")
                metadata.set_sequence_key(params.sequence_key, table_name=table)
                if params.sequence_index:
                    if table_meta.primary_key == params.sequence_index:
                        metadata.remove_primary_key(table_name=table)
                    import pandas as pd

                    index = tables[table][params.sequence_index]
                    if pd.api.types.is_numeric_dtype(index):
                        metadata.update_column(params.sequence_index, table_name=table,
                                               sdtype="numerical")
                    elif not pd.api.types.is_datetime64_any_dtype(index):
                        raise EngineError("sequence_index must be a numeric or datetime column",
                                          code="invalid_parameters")
                    metadata.set_sequence_index(params.sequence_index, table_name=table)
        metadata.validate()
        return metadata

    @staticmethod
    def _check_columns(tables: Mapping[str, Any], params: Any, kind: str) -> None:
        if kind == "multi_table":
            for table, overrides in params.column_sdtypes.items():
                if table not in tables:
                    raise EngineError(f"column_sdtypes names unknown table {table!r}",
                                      code="invalid_parameters")
                missing = set(overrides) - set(tables[table].columns)
                if missing:
                    raise EngineError(f"column_sdtypes names unknown columns {sorted(missing)} "
                                      f"in {table!r}", code="invalid_parameters")
            return
        columns = set(next(iter(tables.values())).columns)
        named = set(params.column_sdtypes)
        for attr in ("primary_key", "sequence_key", "sequence_index"):
            value = getattr(params, attr, None)
            if value:
                named.add(value)
        named.update(getattr(params, "context_columns", []) or [])
        missing = named - columns
        if missing:
            raise EngineError(f"parameters name columns the dataset does not have: "
                              f"{sorted(missing)}; columns are {sorted(columns)}",
                              code="invalid_parameters")

    @staticmethod
    def _construct(kind, class_name, metadata, params, single, multi, sequential):
        values = params.model_dump()
        for key in ("column_sdtypes", "primary_key", "primary_keys", "relationships",
                    "main_table", "sequence_key", "sequence_index"):
            values.pop(key, None)
        if kind == "single_table":
            cls = getattr(single, class_name)
            if "epochs" in values:
                values["enable_gpu"] = False
            if values.get("numerical_distributions") == {}:
                values["numerical_distributions"] = None
            return cls(metadata, **values)
        if kind == "sequential":
            values["context_columns"] = values.get("context_columns") or None
            return sequential.PARSynthesizer(metadata, cuda=False, **values)
        return multi.HMASynthesizer(metadata, verbose=False)

    # Serialisation.

    def dumps(self, model: Any) -> bytes:
        return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import_sdv(torch_needed=needs_torch(data))  # the pickle's classes live there
            _progress.install()
            model = pickle.loads(data)  # noqa: S301 - integrity tag verified by the caller
        try:
            self._digests[model] = hashlib.sha256(data).hexdigest()
        except TypeError:  # not weak-referenceable (a plug-in's tuple): nothing to cache
            pass
        return model

    def _copula_sampler(self, model: Any):
        """The compiled vectorized sampler for `model`, cached by the bytes it came from.
        A compiled sampler never changes its model's random states (it draws from copies),
        so one compiled from an earlier load of the same bytes gives the same rows."""
        from .copula_sampler import CopulaSampler

        digest = self._digests.get(model)
        with self._compiled_lock:
            compiled = self._compiled.get(digest) if digest else None
            if compiled is not None:
                self._compiled.move_to_end(digest)
                return compiled
        compiled = CopulaSampler(model)
        if digest:
            with self._compiled_lock:
                self._compiled[digest] = compiled
                while len(self._compiled) > 32:
                    self._compiled.popitem(last=False)
        return compiled

    # Sampling.

    def sample(self, model: Any, num_rows: int, *, seed: int,
               conditions: Mapping[str, Any] | None = None, chunk_rows: int = 50_000,
               options: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        from sdv.multi_table.base import BaseMultiTableSynthesizer
        from sdv.sequential import PARSynthesizer

        options = dict(options or {})
        sdv_errors = _sdv_error_types()
        if isinstance(model, PARSynthesizer):
            if conditions:
                raise EngineError("par does not take conditions", code="conditions_unsupported")
            yield self._sample_par(model, num_rows, seed, options.get("sequence_length"))
            return
        if isinstance(model, BaseMultiTableSynthesizer):
            if conditions:
                raise EngineError("hma does not take conditions", code="conditions_unsupported")
            yield self._sample_hma(model, num_rows, seed, options.get("main_table"))
            return
        table = model._table_name if hasattr(model, "_table_name") else None
        reason = self._vectorized_refusal(model, conditions, options.get("sampler", "auto"))
        if reason is None:
            path = {"sampler": "vectorized"}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sampler = self._copula_sampler(model)
                for frame in sampler.sample(num_rows, seed=seed, chunk_rows=chunk_rows):
                    frame.attrs[SAMPLER_ATTR] = path
                    yield {table or "table": frame}
            return
        path = {"sampler": "sdv", "reason": reason}
        model._set_random_state(seed)
        remaining = num_rows
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while remaining > 0:
                count = min(chunk_rows, remaining)
                try:
                    if conditions:
                        from sdv.sampling import Condition

                        result = model.sample_from_conditions(
                            [Condition(num_rows=count, column_values=dict(conditions))]
                        )
                    else:
                        result = model.sample(count)
                except sdv_errors as exc:
                    raise EngineError(f"SDV could not sample: {exc}",
                                      code="sampling_failed") from None
                except ValueError as exc:
                    raise EngineError(f"SDV could not sample with these conditions: {exc}",
                                      code="conditions_unsatisfiable") from None
                frame = result if not isinstance(result, dict) else next(iter(result.values()))
                frame.attrs[SAMPLER_ATTR] = path
                if table is None and isinstance(result, dict):
                    table = next(iter(result))
                remaining -= len(frame)
                yield {table or "table": frame}
                if len(frame) == 0:
                    return

    @staticmethod
    def _vectorized_refusal(model: Any, conditions: Mapping[str, Any] | None,
                            sampler: str) -> str | None:
        """None when the vectorized path serves this request, else why SDV's does."""
        if sampler not in SAMPLERS:
            raise EngineError(f"unknown sampler {sampler!r}; choose one of {list(SAMPLERS)}",
                              code="invalid_sampler")
        if sampler == "sdv":
            return "the request asked for SDV's own sampler"
        from .copula_sampler import unsupported_reason

        return unsupported_reason(model, conditions)

    def _sample_par(self, model, num_sequences, seed, sequence_length):
        import numpy as np
        import torch

        with _GLOBAL_RNG_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.random.seed(seed % 2**32)
            torch.manual_seed(seed)
            context = getattr(model, "_context_synthesizer", None)
            if context is not None:
                context._set_random_state(seed)
            return model.sample_sequences(num_sequences, sequence_length=sequence_length)

    def _sample_hma(self, model, num_rows, seed, main_table):
        import numpy as np

        with _GLOBAL_RNG_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.random.seed(seed % 2**32)
            for offset, name in enumerate(sorted(model._table_synthesizers)):
                model._table_synthesizers[name]._set_random_state(seed + offset)
            if main_table is None:
                meta = model.metadata.to_dict()
                children = {r["child_table_name"] for r in meta.get("relationships", [])}
                roots = sorted(set(meta["tables"]) - children)
                main_table = roots[0] if roots else sorted(meta["tables"])[0]
            try:
                return model.sample(num_rows, main_table_name=main_table)
            except _sdv_error_types() as exc:
                raise EngineError(f"SDV could not sample: {exc}", code="sampling_failed") from None
