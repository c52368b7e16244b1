"""`SyntheticDataPlatform` on GCP: the whole platform from one `PlatformSpec`.

Composes `SecureBucket`, `MetadataStore` (encrypted with the bucket's key), the pepper
secret in Secret Manager and the `ServerlessGenerator`, and publishes the values an
operator needs as Terraform outputs. `gcs_backend` gives a stack the explicit state
backend the platform's docs describe.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cdktn import GcsBackend, TerraformOutput, TerraformStack
from cdktn_provider_google.secret_manager_secret import (
    SecretManagerSecret,
    SecretManagerSecretReplication,
    SecretManagerSecretReplicationUserManaged,
    SecretManagerSecretReplicationUserManagedReplicas,
)
from constructs import Construct

from ..naming import gcp_labels, gcp_names, gcp_region
from ..spec import PlatformSpec
from .apis import enable_apis
from .bucket import SecureBucket
from .defaults import required_apis
from .generator import ServerlessGenerator
from .metadata_store import MetadataStore

__all__ = ["SyntheticDataPlatform", "gcs_backend", "pepper_secret"]


def pepper_secret(scope: Construct, id: str, *, spec: PlatformSpec) -> SecretManagerSecret:
    """The Secret Manager secret that will hold the API-key pepper - the container only.

    No version is created here, so no secret value ever reaches the synthesized JSON or
    the Terraform state; the operator adds the first version once (see the
    `pepper_bootstrap_command` output and docs/gcp.md). Replicated only in the platform's
    region; deletion-protected unless the removal policy is 'destroy'.
    """
    project = spec.gcp.project
    return SecretManagerSecret(
        scope, id,
        project=project,
        secret_id=gcp_names(spec).secret,
        labels=gcp_labels(spec),
        replication=SecretManagerSecretReplication(
            user_managed=SecretManagerSecretReplicationUserManaged(
                replicas=[SecretManagerSecretReplicationUserManagedReplicas(
                    location=gcp_region(spec))],
            ),
        ),
        deletion_protection=spec.removal_policy != "destroy",
        depends_on=enable_apis(scope, project, required_apis(spec, "secrets")),
    )


def gcs_backend(stack: TerraformStack, spec: PlatformSpec) -> GcsBackend:
    """Keep the stack's state in the GCS bucket named for the spec (`gcp_names(spec)
    .state_bucket`), one prefix per platform and environment. The bucket must exist
    before `terraform init` (docs/gcp.md shows the one-time command)."""
    return GcsBackend(
        stack,
        bucket=gcp_names(spec).state_bucket,
        prefix=f"synthdata/{spec.name}/{spec.environment}",
    )


class SyntheticDataPlatform(Construct):
    """The synthetic data platform on Google Cloud.

    Public attributes: `spec`, `bucket` (`SecureBucket`), `metadata_store`
    (`MetadataStore`), `api_keys_secret` (`SecretManagerSecret`), `generator`
    (`ServerlessGenerator`), `endpoint_url`, `outputs` (name -> `TerraformOutput`).
    One platform per stack: its outputs have fixed names.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PlatformSpec,
        invoker_members: Sequence[str] = (),
        ingress: str = "all",
        source_dir: str | Path | None = None,
    ) -> None:
        """Arguments (all keyword-only):

        spec: the platform spec; every resource, name, label and limit derives from it.
        invoker_members: IAM members allowed to call the generator. Default: none (see
            `ServerlessGenerator`); `allUsers` / `allAuthenticatedUsers` are refused.
        ingress: 'all' or 'internal-and-cloud-load-balancing'. Default: 'all' (IAM
            still required).
        source_dir: the service source deployed with 'source' packaging. Default: the
            repository's `service/` directory.
        """
        super().__init__(scope, id)
        self.spec = spec
        self.bucket = SecureBucket(self, "Bucket", spec=spec)
        self.metadata_store = MetadataStore(
            self, "MetadataStore", spec=spec, encryption_key=self.bucket.encryption_key,
        )
        self.api_keys_secret = pepper_secret(self, "ApiKeysSecret", spec=spec)
        self.generator = ServerlessGenerator(
            self, "Generator",
            spec=spec,
            bucket=self.bucket,
            metadata_store=self.metadata_store,
            api_keys_secret=self.api_keys_secret,
            invoker_members=invoker_members,
            ingress=ingress,
            source_dir=source_dir,
        )
        self.endpoint_url: str = self.generator.endpoint_url
        secret_id = gcp_names(spec).secret
        values = {
            "endpoint_url": ("HTTPS base URL of the generator", self.endpoint_url),
            "bucket_name": ("Data bucket", self.bucket.bucket_name),
            "storage_url": ("SYNTH_STORAGE_URL", self.bucket.storage_url),
            "metadata_url": ("SYNTH_METADATA_URL", self.metadata_store.metadata_url),
            "api_keys_secret": ("SYNTH_API_KEYS_SECRET", self.api_keys_secret.id),
            "service_account": ("Runtime identity", self.generator.identity.email),
            "pepper_bootstrap_command": (
                "Run once after the first apply: stores a random pepper as the secret's "
                "first version",
                f"openssl rand -base64 48 | gcloud secrets versions add {secret_id} "
                f"--project={spec.gcp.project} --data-file=-",
            ),
        }
        if self.generator.image is not None:
            values["image"] = ("Image the generator runs (push it before the service "
                               "starts)", self.generator.image)
        self.outputs: dict[str, TerraformOutput] = {}
        for name, (description, value) in values.items():
            output = TerraformOutput(self, name, value=value, description=description)
            output.override_logical_id(name)
            self.outputs[name] = output
