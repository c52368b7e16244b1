"""`JobRunner` on Kubernetes: training and large samples as Kubernetes Jobs.

The construct publishes the Job template (`templates.job_template`) in a ConfigMap, gives
the Jobs' pods their own service account (workload identity annotations, no API token),
and defines the Role a service account needs to start and watch them. `grant_submit`
binds that Role to a grantee's service account in the grantee's scope;
`ServerlessGenerator` mounts the template and sets `SYNTH_JOBS_URL` to `jobs_url`:

    k8s://<namespace>?template=/etc/synthdata/jobs/template.json&parallelism=N&part_rows=M

The service's runner (`synthdata_service.jobs.kubernetes`) starts one Job per job, an
Indexed Job of ceil(rows / part_rows) pods (at most `parallelism` at once) for a sample
above `part_rows` rows, followed by a join Job; progress and completion travel through the
metadata store, so an API pod that restarts mid-job loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from cdktn_provider_kubernetes.manifest import Manifest
from constructs import Construct

from ..contract import RuntimeContract, merge_environment
from ..naming import kubernetes_labels
from ..spec import PlatformSpec
from ..types import PhysicalNames
from . import identity
from .bucket import SecureBucket
from .defaults import (
    PodSettings,
    content_hash,
    metadata,
    refuse_cloud_arguments,
    service_environment,
)
from .image import service_image
from .metadata_store import MetadataStore
from .namespace import PlatformNamespace, kube_object, object_name, resolve_namespace
from .secrets import PepperSecret
from .templates import TEMPLATE_FILE, TEMPLATE_MOUNT, job_template
from .workload import Workload, as_workload

__all__ = ["JobRunner", "SUBMIT_RULES"]

#: What starting and following Jobs takes: nothing else (no pods/exec, no Secrets).
SUBMIT_RULES = [
    {"apiGroups": ["batch"], "resources": ["jobs"],
     "verbs": ["create", "get", "list", "watch", "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
]


class JobRunner(Construct):
    """Kubernetes Jobs for the service's long work.

    Public attributes: `jobs_url`, `identity` (`Workload`: the Jobs' service account and
    pod labels), `template` (the Job template dict), `template_config_map`,
    `service_account`, `role` (`kubernetes_manifest` resources), `volumes` / `mounts`
    (what a submitting pod mounts to read the template), `runtime_environment`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        bucket: SecureBucket,
        metadata_store: MetadataStore,
        api_keys_secret: PepperSecret,
        image: str | None = None,
        encryption_key: Any = None,
        vpc: Any = None,
        vpc_subnets: Any = None,
        environment: Mapping[str, str] | None = None,
        physical_names: PhysicalNames | str | None = None,
        namespace: PlatformNamespace | str | None = None,
        pod_env: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Arguments (all keyword-only):

        spec: `jobs.*` (memory, CPU, attempts, concurrency) and `kubernetes.*` (TTL, rows
            per sample part) come from it.
        bucket / metadata_store / api_keys_secret: what the jobs read and write.
        image: the service image. Default: as `SecureBucket`'s.
        encryption_key / vpc / vpc_subnets: not accepted on Kubernetes (the bucket's key
            is the bucket's; the network is the cluster's: `network.vpc` restricts the
            pods' egress to `network.cidr` instead).
        environment: further variables (may not replace the contract's).
        physical_names / namespace: as for `SecureBucket`.
        pod_env: further env entries (Secret references) the jobs need.
        """
        super().__init__(scope, id)
        refuse_cloud_arguments("JobRunner", encryption_key=encryption_key, vpc=vpc,
                               vpc_subnets=vpc_subnets)
        if not spec.jobs.long_running:
            raise ValueError("jobs.long_running is off: the platform runs jobs inline in the "
                             "API pods and creates no JobRunner")
        names_mode = PhysicalNames.resolve(physical_names)
        jobs = spec.jobs
        self.spec = spec
        self.namespace = resolve_namespace(self, spec, namespace, names_mode)
        ns = self.namespace.name
        labels = {**kubernetes_labels(spec), "app.kubernetes.io/part-of": "synthdata"}
        account = object_name(self, "ServiceAccount", spec, names_mode, "job_service_account")
        prefix = object_name(self, "Job", spec, names_mode, "job_template")
        pod_labels = {**labels, "app.kubernetes.io/component": "job",
                      **identity.pod_labels(spec)}
        self.identity = Workload(self, ns, account, pod_labels)

        self.jobs_url: str = "k8s://" + ns + "?" + urlencode({
            "template": f"{TEMPLATE_MOUNT}/{TEMPLATE_FILE}",
            "parallelism": jobs.worker_concurrency,
            "part_rows": spec.kubernetes.sample_part_rows,
        })
        contract = RuntimeContract.for_spec(
            spec, storage_url=bucket.storage_url, metadata_url=metadata_store.metadata_url,
            api_keys_secret=api_keys_secret.reference, jobs_url=self.jobs_url,
        ).to_env()
        self.runtime_environment = merge_environment(contract, environment)
        env = service_environment({**self.runtime_environment, "HOME": "/tmp"}, bucket,
                                  metadata_store, api_keys_secret, extra=pod_env)
        pod = PodSettings(
            image=service_image(spec, image), service_account=account, env=env,
            labels=pod_labels, image_pull_secrets=spec.kubernetes.image_pull_secrets,
            volumes=list(metadata_store.volumes), mounts=list(metadata_store.mounts))
        self.template: dict[str, Any] = job_template(
            namespace=ns, name_prefix=prefix[:40], labels={**labels,
                                                           "app.kubernetes.io/component": "job"},
            pod=pod, memory_mb=jobs.memory_mb, cpu_millis=jobs.cpu * 1000 // 1024,
            max_attempts=jobs.max_attempts, ttl_seconds=spec.kubernetes.job_ttl_seconds)

        depends = self.namespace.depends
        self.service_account: Manifest = kube_object(self, "ServiceAccount", {
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": metadata(account, labels, namespace=ns,
                                 annotations=identity.service_account_annotations(spec)),
            "automountServiceAccountToken": False,
        }, depends_on=depends)
        config_name = f"{prefix[:50]}-template"
        self.template_config_map: Manifest = kube_object(self, "Template", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": metadata(config_name, labels, namespace=ns),
            "data": {TEMPLATE_FILE: json.dumps(self.template, indent=1, sort_keys=True)},
        }, depends_on=depends)
        self._role_name = f"{prefix[:50]}-submit"
        self.role: Manifest = kube_object(self, "SubmitRole", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": metadata(self._role_name, labels, namespace=ns),
            "rules": SUBMIT_RULES,
        }, depends_on=depends)
        # A template change restarts the API pods (their mounted copy would lag otherwise).
        self.template_hash = content_hash(self.template)
        self.volumes = [{"name": "job-template", "configMap": {"name": config_name}}]
        self.mounts = [{"name": "job-template", "mountPath": TEMPLATE_MOUNT, "readOnly": True}]
        for store in (bucket, metadata_store):
            store.grant_read_write(self.identity)

    def grant_submit(self, grantee: Any) -> Manifest:
        """Let `grantee`'s service account start, follow and delete this runner's Jobs (a
        RoleBinding in the grantee's scope)."""
        workload = as_workload(grantee)
        return kube_object(
            workload.scope, f"JobSubmit-{content_hash(self.node.path)}",
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": metadata(f"{self._role_name[:40]}-{content_hash(workload.key)}",
                                  kubernetes_labels(self.spec), namespace=self.namespace.name),
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                         "name": self._role_name},
             "subjects": [{"kind": "ServiceAccount", "name": workload.service_account,
                           "namespace": workload.namespace}]},
            depends_on=[self.role],
        )

