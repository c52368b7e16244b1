"""`MetadataStore` on Kubernetes: PostgreSQL, its DSN's secret parts from a Secret.

The runtime contract's URL carries only what is not secret (`postgresql://host:port/db
?sslmode=verify-full&sslrootcert=...`); libpq reads the rest from variables the pods take
from the credentials Secret: `PGUSER` / `PGPASSWORD` (keys `username` / `password`), and
`PGHOST` / `PGDATABASE` (keys `host` / `dbname`) when the spec leaves them to the Secret.
That is the shape of CloudNativePG's `<cluster>-app` Secret, so the in-cluster database
(`kubernetes.on_prem.postgresql`) plugs in unchanged, and of any Secret an operator
creates with `kubectl create secret generic`.

The connection is always encrypted and, by default, the server's certificate and name are
verified (`verify-full`) against the system's CAs or the CA Secret given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from cdktn_provider_kubernetes.manifest import Manifest
from constructs import Construct

from ..naming import kubernetes_labels, kubernetes_name, kubernetes_names
from ..spec import PlatformSpec
from ..types import PhysicalNames, RemovalPolicy, UnsupportedOnCloud
from .defaults import content_hash, env_secret, network_policy, ports, warn_and_note
from .namespace import PlatformNamespace, kube_object, resolve_namespace
from .workload import as_workload

__all__ = ["MetadataStore"]

CA_MOUNT = "/etc/synthdata/postgres-ca"


class MetadataStore(Construct):
    """PostgreSQL for the service's records, reached with credentials from a Secret.

    Public attributes: `store_name` (the database, or None when the Secret names it),
    `metadata_url` (`postgresql://...`, no secret in it), `host`, `port`,
    `credentials_secret`, `namespace`, `environment` (env vars a pod needs), `volumes` and
    `mounts` (the CA Secret, when given), `encryption_key` (None: encryption at rest is
    the database's), `point_in_time_recovery` and `deletion_protection` (what this
    construct guarantees: True/False for the in-cluster database, None for one it does
    not manage), `removal_policy`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        encryption_key: Any = None,
        point_in_time_recovery: bool = True,
        deletion_protection: bool | None = None,
        removal_policy: RemovalPolicy | str | None = None,
        physical_names: PhysicalNames | str | None = None,
        store_name: str | None = None,
        store_props: Mapping[str, Any] | None = None,
        namespace: PlatformNamespace | str | None = None,
        host: str | None = None,
        port: int | None = None,
        credentials_secret: str | None = None,
        ca_secret: str | None = None,
        in_cluster_selector: Mapping[str, str] | None = None,
        managed: bool = False,
    ) -> None:
        """Arguments (all keyword-only):

        spec: the platform spec (`kubernetes.postgres`, labels).
        encryption_key: not accepted on Kubernetes: PostgreSQL's encryption at rest is
            its operator's (the volume's StorageClass, the cloud's database setting).
        point_in_time_recovery: require PITR. The in-cluster database archives its WAL
            to the bucket; an external one is its operator's (reported as unknown).
            Default: on; off warns.
        deletion_protection: refuse `terraform destroy` of the in-cluster database.
            Default: on in production.
        removal_policy: 'retain' keeps the in-cluster database's volumes when the stack
            is destroyed. Default: the spec's.
        physical_names / store_name: the database name. Default:
            `kubernetes.postgres.database`, else the Secret's `dbname`.
        store_props: libpq parameters added to the URL (`connect_timeout`,
            `application_name`, ...); `sslmode` may only be made stricter.
        namespace: where the pods that use it run. Default: as for `SecureBucket`.
        host / port: the server. Default: `kubernetes.postgres.host` (else the Secret's
            `host`) and `.port`.
        credentials_secret: Secret with `username`, `password` (and `host`, `dbname`).
            Default: `kubernetes.postgres.credentials_secret`, else derived.
        ca_secret: Secret with `ca.crt`, the CA that signed the server's certificate.
            Default: `kubernetes.postgres.ca_secret`, else the system's CAs
            (`sslrootcert=system`).
        in_cluster_selector: labels of the in-cluster database's pods (grants open the
            network path to them only). managed: this platform runs the database (set by
            `SyntheticDataPlatform` with `on_prem.postgresql`).
        """
        super().__init__(scope, id)
        settings = spec.kubernetes.postgres
        names_mode = PhysicalNames.resolve(physical_names)
        if encryption_key is not None:
            raise UnsupportedOnCloud(
                "encryption_key", "kubernetes (MetadataStore)",
                "PostgreSQL's encryption at rest is set where its volumes or instances are "
                "(an encrypted StorageClass, the cloud database's key)",
                "drop encryption_key; the connection itself is always TLS",
            )
        self.spec = spec
        self.removal_policy = RemovalPolicy.resolve(removal_policy, spec)
        self.namespace = resolve_namespace(self, spec, namespace, names_mode,
                                           removal_policy=self.removal_policy)
        self.host = host or settings.host
        self.port = port or settings.port
        self.store_name: str | None = store_name or settings.database
        self.credentials_secret = credentials_secret or (
            kubernetes_names(spec).postgres_secret if names_mode == PhysicalNames.FROM_SPEC
            or settings.credentials_secret else kubernetes_name(f"{self.node.path}/Credentials"))
        ca_secret = ca_secret or settings.ca_secret
        self.ca_secret = ca_secret
        self._in_cluster = dict(in_cluster_selector or {})
        self.encryption_key = None
        if not point_in_time_recovery:
            warn_and_note(self, "point_in_time_recovery=False", "point-in-time recovery on")
        if deletion_protection is False and spec.is_production:
            warn_and_note(self, "deletion_protection=False", "deletion protection in prod")
        if deletion_protection is None:
            deletion_protection = spec.is_production
        self.point_in_time_recovery: bool | None = point_in_time_recovery if managed else None
        self.deletion_protection: bool | None = deletion_protection if managed else None

        query: dict[str, str] = {"sslmode": settings.sslmode}
        for key, value in (store_props or {}).items():
            if key == "sslmode" and value not in ("require", "verify-ca", "verify-full"):
                raise ValueError("store_props: sslmode may only be 'require', 'verify-ca' or "
                                 "'verify-full' (the connection is always encrypted)")
            query[key] = str(value)
        query["sslrootcert"] = f"{CA_MOUNT}/ca.crt" if ca_secret else "system"
        authority = f"{self.host}:{self.port}" if self.host else ""
        self.metadata_url: str = (f"postgresql://{authority}/{self.store_name or ''}"
                                  f"?{urlencode(query)}")

        env = [env_secret("PGUSER", self.credentials_secret, "username"),
               env_secret("PGPASSWORD", self.credentials_secret, "password")]
        if not self.host:
            env.append(env_secret("PGHOST", self.credentials_secret, "host"))
        if not self.store_name:
            env.append(env_secret("PGDATABASE", self.credentials_secret, "dbname"))
        self.environment: list[dict[str, Any]] = env
        self.volumes: list[dict[str, Any]] = []
        self.mounts: list[dict[str, Any]] = []
        if ca_secret:
            self.volumes.append({"name": "postgres-ca", "secret": {
                "secretName": ca_secret, "items": [{"key": "ca.crt", "path": "ca.crt"}]}})
            self.mounts.append({"name": "postgres-ca", "mountPath": CA_MOUNT, "readOnly": True})

    def egress(self) -> list[dict[str, Any]]:
        """NetworkPolicy egress to the database."""
        if self._in_cluster:
            return [{"to": [{"podSelector": {"matchLabels": self._in_cluster}}],
                     "ports": ports(self.port)}]
        cidr = self.spec.network.cidr if self.spec.network.vpc else "0.0.0.0/0"
        return [{"to": [{"ipBlock": {"cidr": cidr}}], "ports": ports(self.port)}]

    def _grant(self, grantee: Any, kind: str) -> Manifest:
        workload = as_workload(grantee)
        name = kubernetes_name(f"{workload.scope.node.path}/{self.node.path}/{kind}")
        return kube_object(
            workload.scope, f"DatabaseAccess-{content_hash(self.node.path, kind)}",
            network_policy(name, workload.namespace, kubernetes_labels(self.spec),
                           pod_selector=workload.pod_labels, egress=self.egress()),
            depends_on=self.namespace.depends,
        )

    def grant_read(self, grantee: Any) -> Manifest:
        """Let `grantee`'s pods reach the database (a NetworkPolicy in its scope); what
        they may do there is the credentials' role."""
        return self._grant(grantee, "read")

    def grant_read_write(self, grantee: Any) -> Manifest:
        return self._grant(grantee, "read-write")

    @classmethod
    def from_store_name(cls, scope: Construct, id: str, store_name: str, *,
                        spec: PlatformSpec, host: str | None = None,
                        credentials_secret: str | None = None,
                        namespace: PlatformNamespace | str | None = None) -> MetadataStore:
        """An existing PostgreSQL database by name."""
        return cls(scope, id, spec=spec, store_name=store_name, host=host,
                   credentials_secret=credentials_secret, namespace=namespace)
