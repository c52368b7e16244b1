"""Secure defaults and limits of the Azure constructs, as small pure functions of the spec.

Nothing here imports the azurerm provider, so the defaults can be read and tested without
loading it. `check_spec` refuses, by field name, what Azure cannot honour.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..naming import azure_location
from ..spec import PlatformSpec
from ..types import UnsupportedOnCloud

__all__ = [
    "CONTAINER_PORT",
    "COSMOS_CONTAINER",
    "COSMOS_DATA_CONTRIBUTOR",
    "COSMOS_DATA_READER",
    "FLEX_MEMORY_MB",
    "FRONT_END_TIMEOUT",
    "HEALTH_PATH",
    "JOB_TIMEOUT_SECONDS",
    "ROLES",
    "WORKER_COMMAND",
    "WorkloadProfile",
    "check_spec",
    "container_size",
    "function_timeout",
    "job_size",
    "location",
    "memory_gi",
    "workload_profile",
]

#: Port the service listens on in its container (SYNTH_SERVER=uvicorn).
CONTAINER_PORT = 8080
HEALTH_PATH = "/healthz"
#: The job worker: one execution takes one queue message (same image as the API).
WORKER_COMMAND = ("python", "-m", "synthdata_service.handlers.azure_worker")
#: Container Apps Jobs executions that take long training may run this long.
JOB_TIMEOUT_SECONDS = 24 * 3600
#: The Cosmos DB container the service's `cosmos://` store uses (partition key /pk).
COSMOS_CONTAINER = "records"
#: Cosmos DB's built-in data-plane role definitions (ids within an account).
COSMOS_DATA_READER = "00000000-0000-0000-0000-000000000001"
COSMOS_DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"
#: Flex Consumption instance sizes.
FLEX_MEMORY_MB = (512, 2048, 4096)
#: HTTP front ends end a request after this many seconds whatever the app does:
#: Container Apps' ingress (240 s) and the Functions front end (230 s).
FRONT_END_TIMEOUT = {"container": 240, "source": 230}

#: Built-in Azure RBAC roles the constructs assign (data plane only, never Owner or
#: Contributor on a resource).
ROLES = {
    "blob_read": "Storage Blob Data Reader",
    "blob_read_write": "Storage Blob Data Contributor",
    "blob_owner": "Storage Blob Data Owner",
    "queue_send": "Storage Queue Data Message Sender",
    "queue_work": "Storage Queue Data Contributor",
    "table_work": "Storage Table Data Contributor",
    "secrets_read": "Key Vault Secrets User",
    "secrets_write": "Key Vault Secrets Officer",
    "keys_admin": "Key Vault Crypto Officer",
    "key_encryption": "Key Vault Crypto Service Encryption User",
    "image_pull": "AcrPull",
    "image_push": "AcrPush",
}


def location(spec: PlatformSpec) -> str:
    return azure_location(spec)


def memory_gi(memory_mb: int) -> str:
    """Container Apps memory in the unit its API takes: `2.9375Gi` for 3008 MiB."""
    value = memory_mb / 1024
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return f"{text}Gi"


def _cpu_for(memory_mb: int) -> float:
    """vCPUs in 0.25 steps at Container Apps' Consumption ratio (2 GiB per vCPU)."""
    return max(0.25, math.ceil(memory_mb / 2048 * 4) / 4)


@dataclass(frozen=True)
class WorkloadProfile:
    """A Container Apps workload profile: `Consumption`, or a Dedicated size."""

    name: str
    kind: str
    vcpu: float
    memory_gib: int

    @property
    def dedicated(self) -> bool:
        return self.kind != "Consumption"


CONSUMPTION = WorkloadProfile("Consumption", "Consumption", 4, 8)
_DEDICATED = (
    WorkloadProfile("D4", "D4", 4, 16), WorkloadProfile("D8", "D8", 8, 32),
    WorkloadProfile("D16", "D16", 16, 64), WorkloadProfile("E16", "E16", 16, 128),
    WorkloadProfile("D32", "D32", 32, 128), WorkloadProfile("E32", "E32", 32, 256),
)


def _fits_consumption(cpu: float, memory_mb: int) -> bool:
    """Consumption takes exactly (0.25 .. 4 vCPU) with twice as many GiB."""
    return cpu <= 4 and memory_mb % 512 == 0 and memory_mb == int(cpu * 2048)


def workload_profile(cpu: float, memory_mb: int) -> WorkloadProfile:
    """Consumption when (cpu, memory) is one of its sizes, else the smallest Dedicated
    profile whose nodes hold it with room for the platform's own pods."""
    if _fits_consumption(cpu, memory_mb):
        return CONSUMPTION
    for profile in _DEDICATED:
        if cpu <= profile.vcpu - 0.5 and memory_mb <= profile.memory_gib * 1024 * 0.85:
            return profile
    raise ValueError(f"no Container Apps workload profile holds {cpu} vCPU / {memory_mb} MiB")


def container_size(spec: PlatformSpec) -> tuple[float, str, WorkloadProfile]:
    """(vCPU, memory, profile) of one API replica: exactly `generator.memory_mb`."""
    memory = spec.generator.memory_mb
    cpu = _cpu_for(memory)
    return cpu, memory_gi(memory), workload_profile(cpu, memory)


def job_size(spec: PlatformSpec) -> tuple[float, str, WorkloadProfile]:
    """(vCPU, memory, profile) of one job execution: `jobs.cpu` / `jobs.memory_mb` with
    long-running jobs, else the API's size (the queue worker's)."""
    if not spec.jobs.long_running:
        return container_size(spec)
    cpu = spec.jobs.cpu / 1024
    return cpu, memory_gi(spec.jobs.memory_mb), workload_profile(cpu, spec.jobs.memory_mb)


def function_timeout(seconds: int) -> str:
    """host.json's `functionTimeout` format (hh:mm:ss)."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def check_spec(spec: PlatformSpec) -> None:
    """Refuse, by field name, what the Azure platform cannot honour."""
    packaging = spec.generator.packaging
    front_end = FRONT_END_TIMEOUT[packaging]
    where = "Container Apps' ingress" if packaging == "container" else \
        "the Functions HTTP front end"
    if spec.generator.timeout_seconds > front_end:
        raise UnsupportedOnCloud(
            "generator.timeout_seconds", "azure",
            f"{where} ends every request after {front_end} s",
            f"set generator.timeout_seconds to at most {front_end}; longer work runs as jobs")
    if packaging == "source":
        if spec.generator.memory_mb not in FLEX_MEMORY_MB:
            raise UnsupportedOnCloud(
                "generator.memory_mb", "azure",
                "Flex Consumption instances have 512, 2048 or 4096 MB",
                "set generator.memory_mb to one of them, or packaging: container")
        if spec.generator.image:
            raise UnsupportedOnCloud(
                "generator.image", "azure",
                "a Function App on Flex Consumption runs source, not an image",
                "set generator.packaging to 'container' to run the image on Container Apps")
    elif spec.api.auth == "iam":
        raise UnsupportedOnCloud(
            "api.auth", "azure",
            "Entra ID authentication of Container Apps has no azurerm resource",
            "use generator.packaging: source (Function App with Entra ID in front) or "
            "api.auth: api_key")
    if not 30 <= spec.monitoring.log_retention_days <= 730:
        raise UnsupportedOnCloud(
            "monitoring.log_retention_days", "azure",
            "Log Analytics keeps logs 30 to 730 days",
            "set monitoring.log_retention_days between 30 and 730")
    if spec.generator.min_instances and packaging == "source" \
            and spec.generator.concurrency is not None \
            and spec.generator.min_instances > spec.generator.concurrency:
        raise UnsupportedOnCloud(
            "generator.min_instances", "azure", "more always-ready instances than the maximum",
            "set generator.min_instances at most generator.concurrency")
    if spec.generator.concurrency is not None and packaging == "container" \
            and spec.generator.concurrency > 1000:
        raise UnsupportedOnCloud("generator.concurrency", "azure",
                                 "Container Apps run at most 1000 replicas", "set at most 1000")


def short_name(text: str, length: int = 12) -> str:
    """An action group short name (at most 12 characters, letters and digits)."""
    return re.sub(r"[^A-Za-z0-9]", "", text)[:length] or "synth"
