"""The namespace the platform's objects live in, and the one way an object enters a stack.

`kube_object` turns a plain manifest (built in `defaults` and the construct modules) into
a Terraform `kubernetes_manifest` resource holding exactly that manifest, so the
Terraform stack and `manifests.render` (YAML for kubectl / GitOps) apply the same objects.

A namespace is created once per stack and name: standalone constructs from one spec and a
platform share it instead of colliding. It is labelled for the 'restricted' Pod Security
Standard (enforced, audited and warned), so nothing less locked-down can run in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cdktn import TerraformResourceLifecycle, TerraformStack
from cdktn_provider_kubernetes.manifest import Manifest, ManifestWait, ManifestWaitCondition
from constructs import Construct

from ..naming import kubernetes_labels, kubernetes_name, kubernetes_names
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy
from .defaults import metadata

__all__ = ["PlatformNamespace", "kube_object", "object_name", "resolve_namespace"]

#: Namespaces by stack (its id, with the stack kept alive so the id stays its) and name.
_NAMESPACES: dict[int, tuple[Any, dict[str, PlatformNamespace]]] = {}

#: Kinds Terraform waits for before dependants are created.
_ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def kube_object(scope: Construct, id: str, manifest: Mapping[str, Any], *,
                depends_on: Sequence[Any] = (), wait_complete: bool = False,
                rollout: bool = False, prevent_destroy: bool = False) -> Manifest:
    """`manifest` as a `kubernetes_manifest` resource. `wait_complete` waits for a Job to
    finish (its dependants start after it); `rollout` waits for a Deployment to be ready;
    `prevent_destroy` makes `terraform destroy` refuse to delete it."""
    wait = None
    if wait_complete:
        wait = ManifestWait(condition=[ManifestWaitCondition(type="Complete", status="True")])
    elif rollout and manifest.get("kind") in _ROLLOUT_KINDS:
        wait = ManifestWait(rollout=True)
    # A grant made in a consumer's stack may not wait on the platform's stack: Terraform
    # orders only within a stack (the consumer's stack is applied after the platform's).
    stack = TerraformStack.of(scope).node.path
    same_stack = [d for d in depends_on if TerraformStack.of(d).node.path == stack]
    return Manifest(
        scope, id,
        manifest=dict(manifest),
        wait=wait,
        depends_on=same_stack or None,
        lifecycle=TerraformResourceLifecycle(prevent_destroy=True) if prevent_destroy else None,
    )


def object_name(scope: Construct, id: str, spec: PlatformSpec,
                physical_names: PhysicalNames, from_spec: str, *, suffix: str = "") -> str:
    """The name of an object the construct `scope` creates as `id`: generated from the
    construct path, or `kubernetes_names(spec).<from_spec>` (plus `suffix`) with
    FROM_SPEC."""
    if physical_names == PhysicalNames.FROM_SPEC:
        return getattr(kubernetes_names(spec), from_spec)[:63 - len(suffix)] + suffix
    return kubernetes_name(f"{scope.node.path}/{id}")


class PlatformNamespace(Construct):
    """A namespace (created, or an existing one named), shared by every construct of a
    stack that names it.

    Public attributes: `name`, `manifest` (the Namespace's `kubernetes_manifest`, or None
    when it exists already), `labels` (the spec's labels).
    """

    def __init__(self, scope: Construct, id: str, *, spec: PlatformSpec, name: str,
                 create: bool | None = None, removal_policy: RemovalPolicy | str | None = None,
                 pod_security: str = "restricted") -> None:
        """name: the namespace's name. create: create it (default
        `spec.kubernetes.create_namespace`). removal_policy: 'retain' makes `terraform
        destroy` refuse to delete it (deleting a namespace deletes the pepper Secret, and
        with it every API key). Default: the spec's. pod_security: the Pod Security
        Standard enforced in it. Default: 'restricted'."""
        super().__init__(scope, id)
        self.name = name
        self.labels = kubernetes_labels(spec)
        create = spec.kubernetes.create_namespace if create is None else create
        retain = RemovalPolicy.resolve(removal_policy, spec) == RemovalPolicy.RETAIN
        self.manifest: Manifest | None = None
        if create:
            labels = {
                **self.labels,
                "pod-security.kubernetes.io/enforce": pod_security,
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            }
            annotations = {"argocd.argoproj.io/sync-options": "Delete=false"} if retain else {}
            self.manifest = kube_object(
                self, "Namespace",
                {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": metadata(name, labels, annotations=annotations)},
                prevent_destroy=retain,
            )

    @property
    def depends(self) -> list[Manifest]:
        """What objects in the namespace must be created after."""
        return [self.manifest] if self.manifest is not None else []

    @classmethod
    def of(cls, scope: Construct, spec: PlatformSpec, name: str, *,
           removal_policy: RemovalPolicy | str | None = None) -> PlatformNamespace:
        """The stack's one `PlatformNamespace` named `name`, created under `scope` on first
        use (so a platform's namespace sits under the platform's path)."""
        stack = TerraformStack.of(scope)
        _stack, known = _NAMESPACES.setdefault(id(stack), (stack, {}))
        if name not in known:
            known[name] = cls(scope, "Namespace", spec=spec, name=name,
                              removal_policy=removal_policy)
        return known[name]


def resolve_namespace(scope: Construct, spec: PlatformSpec, namespace: Any,
                      physical_names: PhysicalNames, *,
                      removal_policy: RemovalPolicy | str | None = None) -> PlatformNamespace:
    """The namespace a construct puts its objects in: the one given (a `PlatformNamespace`
    or a name), else the spec's `kubernetes.namespace`, else one named from the spec
    (FROM_SPEC) or from the construct's path."""
    if isinstance(namespace, PlatformNamespace):
        return namespace
    if isinstance(namespace, str):
        name = namespace
    elif spec.kubernetes.namespace:
        name = spec.kubernetes.namespace
    else:
        name = object_name(scope, "Namespace", spec, physical_names, "namespace")
    return PlatformNamespace.of(scope, spec, name, removal_policy=removal_policy)
