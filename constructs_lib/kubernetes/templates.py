"""What the platform's pods run: the Job template of the `k8s://` runner, and the
arguments of the bucket setup and Secret bootstrap Jobs (pure functions, no provider).

The Job template the service's `k8s://` runner starts training and sampling from:

`JobRunner` publishes it in a ConfigMap mounted into the API pods; the runner
(`synthdata_service.jobs.kubernetes`) copies it for each job, names the copy, labels it
with the job id and sets the container's arguments (`run-job <id>`, or `run-part <id>`
in an Indexed Job of N pods, then `join-parts <id>`). Everything else - service account,
image, environment, requests and limits, retries, time to live, the security context -
is decided here, by the platform, and never by the service at run time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .defaults import PodSettings, pod_spec, resources

__all__ = [
    "JOB_COMMAND",
    "TEMPLATE_FILE",
    "TEMPLATE_MOUNT",
    "ensure_secrets_arguments",
    "job_template",
    "setup_arguments",
]

#: The worker entry point every Job container runs; the runner appends the subcommand.
JOB_COMMAND = ("python", "-m", "synthdata_service.jobs.kubernetes")
TEMPLATE_MOUNT = "/etc/synthdata/jobs"
TEMPLATE_FILE = "template.json"


def job_template(*, namespace: str, name_prefix: str, labels: dict[str, str],
                 pod: PodSettings, memory_mb: int, cpu_millis: int, max_attempts: int,
                 ttl_seconds: int) -> dict[str, Any]:
    """A batch/v1 Job (without name and arguments) that runs one job of the service.

    `max_attempts` pods are tried (backoffLimit = attempts - 1); a pod evicted by a node
    drain or preemption does not count as an attempt (podFailurePolicy ignores
    `DisruptionTarget`), a pod whose container failed with exit code 3 (a caller error:
    the job is recorded as failed and retrying would fail again) ends the Job at once.
    Finished Jobs are deleted after `ttl_seconds`.
    """
    cpu = f"{cpu_millis}m"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"namespace": namespace, "generateName": f"{name_prefix}-",
                     "labels": dict(labels)},
        "spec": {
            "backoffLimit": max_attempts - 1,
            "ttlSecondsAfterFinished": ttl_seconds,
            "podFailurePolicy": {"rules": [
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget",
                                                     "status": "True"}]},
                {"action": "FailJob", "onExitCodes": {"containerName": "job",
                                                      "operator": "In", "values": [3]}},
            ]},
            "template": {
                "metadata": {"labels": dict(pod.labels), "annotations": dict(pod.annotations)},
                "spec": pod_spec(pod, restart_policy="Never", container={
                    "name": "job",
                    "command": list(JOB_COMMAND),
                    "resources": resources(memory_mb, cpu, cpu_limit=cpu),
                }),
            },
        },
    }


def setup_arguments(*, storage_url: str, versioned: bool, retention_days: int,
                    noncurrent_days: int, samples_prefix: str, encryption: str,
                    access_logs: bool, log_retention_days: int, block_public_access: bool,
                    abort_multipart_days: int, removal_policy: str) -> list[str]:
    """The setup Job's arguments: every bucket setting, in one readable place."""
    return [
        "--url", storage_url,
        "--versioning" if versioned else "--no-versioning",
        "--samples-prefix", samples_prefix,
        "--retention-days", str(retention_days),
        "--noncurrent-days", str(noncurrent_days),
        "--abort-multipart-days", str(abort_multipart_days),
        "--encryption", encryption,
        "--access-logs" if access_logs else "--no-access-logs",
        "--log-retention-days", str(log_retention_days),
        "--block-public-access" if block_public_access else "--allow-public-access",
        "--removal-policy", removal_policy,
    ]


def ensure_secrets_arguments(namespaces: Sequence[str],
                             secrets: Mapping[str, Mapping[str, str]]) -> list[str]:
    """`ensure-secrets` arguments: the namespaces every Secret must exist in (with the same
    values), then `--secret NAME KEY=GENERATOR ...` per Secret."""
    args: list[str] = []
    for namespace in namespaces:
        args += ["--namespace", namespace]
    for name, keys in sorted(secrets.items()):
        args += ["--secret", name, *(f"{k}={g}" for k, g in sorted(keys.items()))]
    return args
