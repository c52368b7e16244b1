"""Per-cloud workload identity: the same workload on EKS, GKE and AKS, no static keys.

`spec.kubernetes.workload_identity.provider` picks how the pods get cloud credentials:

* `none`: the storage Secret's access keys (MinIO, any S3-compatible store).
* `eks_irsa`: service accounts annotated `eks.amazonaws.com/role-arn`; a projected token
  is exchanged at STS (AssumeRoleWithWebIdentity).
* `eks_pod_identity`: nothing annotated (the association is made on the AWS side); the
  EKS Pod Identity Agent at 169.254.170.23 hands out credentials.
* `gke`: service accounts annotated `iam.gke.io/gcp-service-account` (optional); the GKE
  metadata server at 169.254.169.254 hands out tokens.
* `aks`: service accounts annotated `azure.workload.identity/client-id`, pods labelled
  `azure.workload.identity/use`; a projected token is exchanged at Entra ID.

The cloud side (the IAM role's trust policy, the Google service account's
`roles/iam.workloadIdentityUser` binding, the managed identity's federated credential) is
made where that cloud's resources are managed; `cloud_bindings` says exactly what to bind.
"""

from __future__ import annotations

from typing import Any

from ..spec import PlatformSpec
from .defaults import ports

__all__ = ["cloud_bindings", "egress_rules", "pod_labels", "service_account_annotations",
           "storage_scheme", "uses_static_keys"]


def _provider(spec: PlatformSpec) -> str:
    return spec.kubernetes.workload_identity.provider


def uses_static_keys(spec: PlatformSpec) -> bool:
    """True when the pods authenticate to the bucket with access keys from a Secret."""
    return _provider(spec) == "none"


def storage_scheme(spec: PlatformSpec) -> str:
    """The runtime contract's storage scheme on this cluster: gs:// on GKE with workload
    identity, az:// on AKS, s3:// everywhere else (S3, MinIO, any S3-compatible store)."""
    return {"gke": "gs", "aks": "az"}.get(_provider(spec), "s3")


def service_account_annotations(spec: PlatformSpec) -> dict[str, str]:
    identity = spec.kubernetes.workload_identity
    if identity.provider == "eks_irsa":
        return {"eks.amazonaws.com/role-arn": identity.aws_role_arn or "",
                "eks.amazonaws.com/sts-regional-endpoints": "true"}
    if identity.provider == "gke" and identity.gcp_service_account:
        return {"iam.gke.io/gcp-service-account": identity.gcp_service_account}
    if identity.provider == "aks":
        return {"azure.workload.identity/client-id": identity.azure_client_id or ""}
    return {}


def pod_labels(spec: PlatformSpec) -> dict[str, str]:
    """Labels the identity's admission webhook keys on (Azure's injects the token)."""
    return {"azure.workload.identity/use": "true"} if _provider(spec) == "aks" else {}


def egress_rules(spec: PlatformSpec) -> list[dict[str, Any]]:
    """NetworkPolicy egress the pods need to obtain credentials (beyond HTTPS)."""
    provider = _provider(spec)
    if provider == "gke":  # the GKE metadata server (Dataplane V2 also listens on 988)
        return [{"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": ports(80, 988)}]
    if provider == "eks_pod_identity":
        return [{"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": ports(80)}]
    return []


def cloud_bindings(spec: PlatformSpec, namespace: str,
                   service_accounts: list[str]) -> list[str]:
    """What to bind on the cloud side so these service accounts get the identity."""
    identity = spec.kubernetes.workload_identity
    subjects = [f"system:serviceaccount:{namespace}:{sa}" for sa in service_accounts]
    if identity.provider == "eks_irsa":
        return [f"IAM role {identity.aws_role_arn}: trust the cluster's OIDC provider for "
                f"sub = {', '.join(subjects)} (sts:AssumeRoleWithWebIdentity)"]
    if identity.provider == "eks_pod_identity":
        return [f"aws eks create-pod-identity-association --namespace {namespace} "
                f"--service-account {sa} --role-arn {identity.aws_role_arn} --cluster-name "
                "<cluster>" for sa in service_accounts]
    if identity.provider == "gke":
        if identity.gcp_service_account:
            return [f"gcloud iam service-accounts add-iam-policy-binding "
                    f"{identity.gcp_service_account} --role roles/iam.workloadIdentityUser "
                    f"--member 'serviceAccount:<project>.svc.id.goog[{namespace}/{sa}]'"
                    for sa in service_accounts]
        return [f"grant roles/storage.objectUser on the bucket to principal://iam.googleapis"
                f".com/projects/<number>/locations/global/workloadIdentityPools/<project>"
                f".svc.id.goog/subject/ns/{namespace}/sa/{sa}" for sa in service_accounts]
    if identity.provider == "aks":
        return [f"az identity federated-credential create --identity-name <identity of "
                f"{identity.azure_client_id}> --issuer <cluster OIDC issuer> --subject {s}"
                for s in subjects]
    return []
