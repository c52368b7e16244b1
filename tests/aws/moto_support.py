"""What the local AWS (moto) lacks for our stacks, added to the emulator for the tests,
and the asset publishing `cdk deploy` does before it creates a stack.

moto 5.2's CloudFormation skips `AWS::SecretsManager::Secret` (a `Ref` to it resolves to
nothing, so the policies that grant the secret fail to create) and mis-reads CloudFormation
tags on `AWS::KMS::Key`. It runs a custom resource by invoking its Lambda, which needs
Docker: CDK's `Custom::S3AutoDeleteObjects` (a bucket with `RemovalPolicy.DESTROY`) would
never finish. These are emulator gaps, not template problems: we teach moto the missing
resources - a real secret in its Secrets Manager backend; the auto-delete resource doing
what CDK's handler does (nothing on create, delete every object version of its bucket on
delete) - instead of changing the template under test. `install()` is idempotent.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.kms import models as kms_models
from moto.s3.models import s3_backends
from moto.secretsmanager.models import secretsmanager_backends

ACCOUNT = "123456789012"  # moto's default account

_installed = False


class CfnSecret(CloudFormationModel):
    """`AWS::SecretsManager::Secret` for moto's CloudFormation: `Ref` is the secret's ARN."""

    def __init__(self, arn: str, name: str):
        self.arn = arn
        self.name = name

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id",)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any):
        props = cloudformation_json.get("Properties", {})
        backend = secretsmanager_backends[account_id][region_name]
        value = props.get("SecretString")
        generate = props.get("GenerateSecretString")
        if value is None and generate is not None:
            value = backend.get_random_password(
                password_length=int(generate.get("PasswordLength", 32)),
                exclude_characters=generate.get("ExcludeCharacters", ""),
                exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                include_space=bool(generate.get("IncludeSpace", False)),
                require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
            )
            value = json.loads(value)["RandomPassword"]  # the backend answers as the API
        name = props.get("Name") or resource_name
        created = json.loads(backend.create_secret(
            name=name, secret_string=value, secret_binary=None,
            description=props.get("Description"), tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"), client_request_token=None,
            replica_regions=[], force_overwrite=False,
        ))
        return cls(created["ARN"], created["Name"])

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str) -> None:
        backend = secretsmanager_backends[account_id][region_name]
        backend.delete_secret(resource_name, recovery_window_in_days=None,
                              force_delete_without_recovery=True)


class CfnAutoDeleteObjects(CloudFormationModel):
    """CDK's `Custom::S3AutoDeleteObjects`, doing what its Lambda handler does."""

    def __init__(self, bucket_name: str):
        self.bucket_name = bucket_name

    @property
    def physical_resource_id(self) -> str:
        return f"auto-delete-{self.bucket_name}"

    @staticmethod
    def cloudformation_type() -> str:
        return "Custom::S3AutoDeleteObjects"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any):
        return cls(cloudformation_json["Properties"]["BucketName"])

    def delete(self, account_id: str, region_name: str) -> None:
        backend = s3_backends[account_id]["aws"]
        while True:
            versions, _, markers, _, _ = backend.list_object_versions(self.bucket_name)
            if not versions and not markers:
                return
            for item in [*versions, *markers]:
                backend.delete_object(self.bucket_name, item.name, version_id=item.version_id)


def _custom_resources_as_models() -> None:
    original = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str):
        if resource_type == CfnAutoDeleteObjects.cloudformation_type():
            return CfnAutoDeleteObjects
        return original(resource_type)

    parsing.resource_class_from_type = resource_class_from_type


def publish_file_assets(outdir: Path, stack: str, s3_client, *, account: str = ACCOUNT,
                        region: str = "eu-west-1") -> list[str]:
    """Upload the stack's file assets (zipped directories, files) to the bucket and key
    its asset manifest names, as `cdk deploy` does; returns the keys."""
    manifest = json.loads((Path(outdir) / f"{stack}.assets.json").read_text())
    published = []
    for asset in manifest.get("files", {}).values():
        source = Path(outdir) / asset["source"]["path"]
        if asset["source"].get("packaging") == "zip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(source.rglob("*")):
                    if path.is_file():
                        archive.write(path, path.relative_to(source).as_posix())
            body = buffer.getvalue()
        else:
            body = source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = destination["bucketName"].replace("${AWS::AccountId}", account).replace(
                "${AWS::Region}", region).replace("${AWS::Partition}", "aws")
            try:
                s3_client.head_bucket(Bucket=bucket)
            except s3_client.exceptions.ClientError:
                s3_client.create_bucket(Bucket=bucket, CreateBucketConfiguration={
                    "LocationConstraint": region})
            s3_client.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)
            published.append(destination["objectKey"])
    return published


def _kms_create_key_accepting_cloudformation_tags() -> None:
    original = kms_models.KmsBackend.create_key

    def create_key(self, policy, key_usage, key_spec, description, tags, *args, **kwargs):
        if tags:
            tags = [{"TagKey": t.get("TagKey", t.get("Key")),
                     "TagValue": t.get("TagValue", t.get("Value"))} for t in tags]
        return original(self, policy, key_usage, key_spec, description, tags, *args, **kwargs)

    kms_models.KmsBackend.create_key = create_key


def install() -> None:
    global _installed
    if _installed:
        return
    _kms_create_key_accepting_cloudformation_tags()
    _custom_resources_as_models()
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    _installed = True
