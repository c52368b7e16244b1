"""Secrets whose values are generated inside the cluster, never by Terraform.

`GeneratedSecrets` runs a small Job (the service image, `python -m
synthdata_service.jobs.kubernetes ensure-secrets`) that creates each named Secret with
random values if it does not exist, and adds keys that are missing - it never changes a
value that exists. So generated credentials (the API-key pepper, the in-cluster MinIO's
keys) exist only in Secrets: not in the synthesized JSON, not in Terraform state, not in
a Helm release's values. Its service account may create Secrets in its namespace and
read or patch only the ones it manages.

`PepperSecret` is the platform's `api_keys_secret`: the Secret holding the key-hashing
pepper, handed to the service as `SYNTH_API_KEYS_SECRET=env://SYNTH_API_KEY_PEPPER` with
the variable read from the Secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from cdktn_provider_kubernetes.manifest import Manifest
from constructs import Construct

from ..naming import kubernetes_labels
from ..spec import PlatformSpec
from .defaults import PodSettings, content_hash, env_secret, metadata, pod_spec, resources
from .image import service_image
from .namespace import PlatformNamespace, kube_object
from .templates import ensure_secrets_arguments

__all__ = ["GENERATORS", "GeneratedSecrets", "PepperSecret"]

PEPPER_VARIABLE = "SYNTH_API_KEY_PEPPER"
PEPPER_KEY = "pepper"
#: How a key's value is made: `hex:N` (N random bytes, hex), `alnum:N` (N characters),
#: `literal:V`, `copy:KEY` (the value of another key of the same Secret), `minio-kms:NAME`
#: (the `config.env` MinIO's chart reads: `export MINIO_KMS_SECRET_KEY=NAME:<32 random bytes,
#: base64>`).
GENERATORS = ("hex", "alnum", "literal", "copy", "minio-kms")
_COMMAND = ("python", "-m", "synthdata_service.jobs.kubernetes", "ensure-secrets")


class GeneratedSecrets(Construct):
    """Secrets with values generated in the cluster, by a Job.

    Public attributes: `names` (the Secrets), `job`, `service_account`, `roles`,
    `role_bindings` (`kubernetes_manifest` resources), `manifest` (the Job as a dict).
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec,
                 namespaces: Sequence[PlatformNamespace], name: str,
                 secrets: Mapping[str, Mapping[str, str]], image: str | None = None) -> None:
        """namespaces: where the Secrets live (the Job runs in the first). name: base name
        of the Job, its service account and Roles. secrets: Secret name -> key ->
        generator (`GENERATORS`)."""
        super().__init__(scope, id)
        for keys in secrets.values():
            for key, generator in keys.items():
                if generator.split(":", 1)[0] not in GENERATORS or ":" not in generator:
                    raise ValueError(f"secret key {key!r}: unknown generator {generator!r}; "
                                     f"use one of {', '.join(GENERATORS)} as 'kind:argument'")
        self.names = sorted(secrets)
        home = namespaces[0]
        ns = home.name
        labels = {**kubernetes_labels(spec), "app.kubernetes.io/component": "bootstrap",
                  "app.kubernetes.io/part-of": "synthdata"}
        self.service_account: Manifest = kube_object(self, "ServiceAccount", {
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": metadata(name, labels, namespace=ns),
            "automountServiceAccountToken": False,
        }, depends_on=home.depends)
        self.roles: list[Manifest] = []
        self.role_bindings: list[Manifest] = []
        for index, namespace in enumerate(namespaces):
            suffix = "" if index == 0 else str(index)
            role = kube_object(self, f"Role{suffix}", {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": metadata(name, labels, namespace=namespace.name),
                "rules": [
                    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
                    {"apiGroups": [""], "resources": ["secrets"], "resourceNames": self.names,
                     "verbs": ["get", "patch"]},
                ],
            }, depends_on=namespace.depends)
            self.roles.append(role)
            self.role_bindings.append(kube_object(self, f"RoleBinding{suffix}", {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": metadata(name, labels, namespace=namespace.name),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                            "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
            }, depends_on=[role, self.service_account]))
        args = ensure_secrets_arguments([n.name for n in namespaces], secrets)
        settings = PodSettings(image=service_image(spec, image), service_account=name,
                               labels=labels,
                               image_pull_secrets=spec.kubernetes.image_pull_secrets)
        self.manifest: dict[str, Any] = {
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": metadata(f"{name[:50]}-{content_hash(args)}", labels, namespace=ns),
            "spec": {
                "backoffLimit": 6,
                "activeDeadlineSeconds": 600,
                "template": {
                    "metadata": {"labels": labels},
                    # The token is projected for this pod only: it talks to the API server.
                    "spec": pod_spec(settings, restart_policy="Never", automount_token=True,
                                     container={
                                         "name": "ensure-secrets",
                                         "command": list(_COMMAND),
                                         "args": args,
                                         "resources": resources(256, "100m", cpu_limit="250m"),
                                     }),
                },
            },
        }
        self.job: Manifest = kube_object(self, "Job", self.manifest, wait_complete=True,
                                         depends_on=self.role_bindings)


class PepperSecret(Construct):
    """The Secret holding the API-key pepper, generated in the cluster.

    Public attributes: `secret_name`, `reference` (the runtime contract's
    `SYNTH_API_KEYS_SECRET`: `env://SYNTH_API_KEY_PEPPER`), `environment` (the env entry
    reading it from the Secret), `generator` (`{key: generator}` for `GeneratedSecrets`).
    """

    def __init__(self, scope: Construct, id: str, *, secret_name: str) -> None:
        super().__init__(scope, id)
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", secret_name):
            raise ValueError(f"secret_name: {secret_name!r} is not a Secret name")
        self.secret_name = secret_name
        self.reference = f"env://{PEPPER_VARIABLE}"
        self.environment: Sequence[dict[str, Any]] = [
            env_secret(PEPPER_VARIABLE, secret_name, PEPPER_KEY)]
        self.generator = {PEPPER_KEY: "hex:32"}
