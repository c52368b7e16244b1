"""Parity harness: run any cloud's constructs through the one interface.

Used by each cloud's tests (and usable by anyone adding a cloud):

    problems = check_module(constructs_lib.aws)          # names, signatures, types
    problems += check_platform(platform, spec, storage_scheme="s3", metadata_scheme="dynamodb")
    assert not problems

Behaviour is compared elsewhere: `constructs_lib.facts` reads what each cloud's
synthesized template will do and compares it with what the spec asks for.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

from . import contract
from .interface import (
    CLOUD_TYPE,
    CONSTRUCT_NAMES,
    CONSTRUCTOR_ARGUMENTS,
    IMPORTERS,
    JobRunnerLike,
    MetadataStoreLike,
    PlatformLike,
    SecureBucketLike,
    ServerlessGeneratorLike,
)

__all__ = ["REQUIRED_VARIABLES", "check_module", "check_platform"]

#: Variables every deployment must hand the service.
REQUIRED_VARIABLES = (
    contract.STORAGE_URL,
    contract.METADATA_URL,
    contract.JOBS_URL,
    contract.API_KEYS_SECRET,
    contract.MAX_ROWS,
    contract.MAX_UPLOAD_MB,
    contract.SYNTHESIZERS,
    contract.RATE_LIMIT_PER_SECOND,
    contract.RATE_LIMIT_BURST,
)


def check_module(module: ModuleType) -> list[str]:
    """Problems with a cloud module's exported names, constructor signatures (argument
    names and, for the shared types, their annotations) and importers."""
    problems = []
    for name in CONSTRUCT_NAMES:
        cls = getattr(module, name, None)
        if cls is None:
            problems.append(f"{module.__name__} does not export {name}")
            continue
        params = inspect.signature(cls.__init__).parameters
        positional = [p for p in params.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if [p.name for p in positional] != ["self", "scope", "id"]:
            problems.append(f"{name}.__init__ must take (scope, id, *, ...) positionally")
        keyword = {p.name: p for p in params.values() if p.kind == p.KEYWORD_ONLY}
        expected = CONSTRUCTOR_ARGUMENTS[name]
        for arg, annotation in expected.items():
            if arg not in keyword:
                problems.append(f"{name}.__init__ lacks keyword argument {arg!r}")
            elif annotation != CLOUD_TYPE and _annotation(keyword[arg]) != annotation:
                problems.append(f"{name}.__init__ argument {arg!r} is annotated "
                                f"{_annotation(keyword[arg])!r}; every cloud uses {annotation!r}")
        for arg, param in keyword.items():
            required = param.default is inspect.Parameter.empty
            if arg not in expected and required:
                problems.append(f"{name}.__init__ adds required argument {arg!r}; "
                                "give it a default")
        for importer in IMPORTERS.get(name, ()):
            method = getattr(cls, importer, None)
            if method is None:
                problems.append(f"{name} lacks the importer {name}.{importer}(scope, id, ...)")
    return problems


def _annotation(param: inspect.Parameter) -> str:
    annotation = param.annotation
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return " ".join(text.split())


def check_platform(
    platform: Any, spec: Any, *, storage_scheme: str, metadata_scheme: str
) -> list[str]:
    """Problems with a built platform's public attributes and runtime contract."""
    problems = []
    for obj, protocol, label in (
        (platform, PlatformLike, "platform"),
        (getattr(platform, "bucket", None), SecureBucketLike, "platform.bucket"),
        (getattr(platform, "metadata_store", None), MetadataStoreLike, "platform.metadata_store"),
        (getattr(platform, "generator", None), ServerlessGeneratorLike, "platform.generator"),
        *(((platform.job_runner, JobRunnerLike, "platform.job_runner"),)
          if getattr(platform, "job_runner", None) is not None else ()),
    ):
        if not isinstance(obj, protocol):
            missing = [a for a in _protocol_attrs(protocol) if not hasattr(obj, a)]
            problems.append(f"{label} lacks {', '.join(missing) or 'the interface'}")
    if problems:
        return problems
    env = dict(platform.generator.runtime_environment)
    for variable in REQUIRED_VARIABLES:
        if variable not in env:
            problems.append(f"runtime environment lacks {variable}")
    if not str(platform.bucket.storage_url).startswith(f"{storage_scheme}://"):
        problems.append(f"storage_url {platform.bucket.storage_url!r} is not {storage_scheme}://")
    if not str(platform.metadata_store.metadata_url).startswith(f"{metadata_scheme}://"):
        problems.append(
            f"metadata_url {platform.metadata_store.metadata_url!r} is not {metadata_scheme}://"
        )
    if env.get(contract.STORAGE_URL) != platform.bucket.storage_url:
        problems.append("the service is not given the platform bucket's storage URL")
    if env.get(contract.METADATA_URL) != platform.metadata_store.metadata_url:
        problems.append("the service is not given the platform store's metadata URL")
    expected = logical_from_spec(spec)
    actual = {key: env.get(variable) for key, variable in _LOGICAL.items()}
    for key, value in expected.items():
        if actual.get(key) != value:
            problems.append(f"{key}: spec says {value!r}, platform has {actual.get(key)!r}")
    return problems


_LOGICAL = {
    "max_rows": contract.MAX_ROWS,
    "max_upload_mb": contract.MAX_UPLOAD_MB,
    "synthesizers": contract.SYNTHESIZERS,
    "rate_limit_per_second": contract.RATE_LIMIT_PER_SECOND,
    "rate_limit_burst": contract.RATE_LIMIT_BURST,
}


def logical_from_spec(spec: Any) -> dict[str, Any]:
    """What the spec says the service must be told, whatever the cloud."""
    return {
        "max_rows": str(spec.generator.max_rows),
        "max_upload_mb": str(spec.generator.max_upload_mb),
        "synthesizers": ",".join(spec.generator.synthesizers),
        "rate_limit_per_second": contract.RuntimeContract(
            storage_url="", metadata_url="", rate_limit_per_second=spec.api.rate_limit_per_second
        ).to_env()[contract.RATE_LIMIT_PER_SECOND],
        "rate_limit_burst": str(spec.api.burst),
    }


def _protocol_attrs(protocol: type) -> list[str]:
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")}
    return sorted(names)
