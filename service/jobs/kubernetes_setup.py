"""One-shot setup the Kubernetes platform runs as Jobs before the service starts.

    python -m synthdata_service.jobs.kubernetes setup-bucket --url s3://b/data?region=.. ...
    python -m synthdata_service.jobs.kubernetes ensure-secrets --namespace ns \\
        --secret NAME KEY=hex:32 [KEY=GENERATOR ...] [--secret ...]

`setup-bucket` creates the bucket when it is missing and applies the spec's settings
through the storage API - the same calls on AWS S3 and on MinIO (and the GCS JSON API for
gs://): versioning, lifecycle (samples expire under `<prefix>/samples/`, old versions, stale
multipart uploads, expired delete markers), default encryption (SSE-KMS with the
customer-managed key, else the store's own), public access blocked, access logs to
`<bucket>-logs`. It is idempotent: every run leaves the same settings.

`ensure-secrets` creates each Secret with random values when it does not exist and adds
keys that are missing, in every namespace given (the same values everywhere); it never
changes a value that exists, and never prints one.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import secrets as random
import string
import sys
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["add_commands", "ensure_secrets", "generate", "setup_bucket"]

_log = logging.getLogger("synthdata_service.jobs.kubernetes")
_NOT_SUPPORTED = ("NotImplemented", "NotImplementedError", "XNotImplemented",
                  "MethodNotAllowed")


class SetupError(Exception):
    """A setting the store refuses; the message names it and the fix."""


# -- setup-bucket --------------------------------------------------------------------------


def setup_bucket(url: str, *, versioning: bool, samples_prefix: str, retention_days: int,
                 noncurrent_days: int, abort_multipart_days: int, encryption: str,
                 access_logs: bool, log_retention_days: int, block_public_access: bool,
                 removal_policy: str) -> dict[str, Any]:
    """Apply the settings to the bucket of `url`; return what was applied."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    prefix = unquote(parts.path).strip("/")
    samples = f"{prefix}/{samples_prefix.strip('/')}/" if prefix else \
        f"{samples_prefix.strip('/')}/"
    settings = dict(versioning=versioning, samples=samples, retention_days=retention_days,
                    noncurrent_days=noncurrent_days, abort_days=abort_multipart_days,
                    encryption=encryption, kms_key=query.get("kms_key"),
                    access_logs=access_logs, log_days=log_retention_days,
                    block_public_access=block_public_access, removal_policy=removal_policy)
    if encryption == "customer_managed" and not settings["kms_key"]:
        raise SetupError("storage.encryption is customer_managed but the storage URL names no "
                         "kms_key: set kubernetes.storage.kms_key or the Secret's kms_key")
    if parts.scheme == "s3":
        return _setup_s3(parts.netloc, query.get("region"), settings)
    if parts.scheme == "gs":
        return _setup_gcs(parts.netloc, settings)
    raise SetupError(f"setup-bucket does not handle {parts.scheme}:// storage; create the "
                     "bucket with its cloud's SecureBucket and set kubernetes.storage."
                     "configure: false")


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _setup_s3(bucket: str, region: str | None, settings: dict[str, Any]) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    custom = bool(os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
    s3 = boto3.session.Session().client("s3", region_name=region, config=Config(
        s3={"addressing_style": "path"} if custom else {}, retries={"max_attempts": 5}))
    applied: dict[str, Any] = {"bucket": bucket}
    _ensure_s3_bucket(s3, bucket, region)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={
        "Status": "Enabled" if settings["versioning"] else "Suspended"})
    applied["versioning"] = settings["versioning"]
    applied["public_access_blocked"] = _block_public_access(s3, bucket, settings)
    if settings["encryption"] == "customer_managed":
        rule = {"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": settings["kms_key"]},
            "BucketKeyEnabled": True}
    else:
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    s3.put_bucket_encryption(Bucket=bucket,
                             ServerSideEncryptionConfiguration={"Rules": [rule]})
    applied["encryption"] = settings["encryption"]
    rules = [
        {"ID": "synthdata-expire-samples", "Status": "Enabled",
         "Filter": {"Prefix": settings["samples"]},
         "Expiration": {"Days": settings["retention_days"]}},
        {"ID": "synthdata-expire-old-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": settings["noncurrent_days"]}},
        {"ID": "synthdata-abort-multipart", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": settings["abort_days"]}},
        {"ID": "synthdata-expired-delete-markers", "Status": "Enabled",
         "Filter": {"Prefix": ""}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                          LifecycleConfiguration={"Rules": rules})
    applied["lifecycle"] = [r["ID"] for r in rules]
    applied["access_logs"] = _access_logs(s3, bucket, region, settings)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
        {"Key": "managed-by", "Value": "synthdata-constructs"},
        {"Key": "synthdata:removal-policy", "Value": settings["removal_policy"]}]})
    return applied


def _ensure_s3_bucket(s3, bucket: str, region: str | None) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except Exception as exc:  # noqa: BLE001 - 404 means create it; anything else is raised
        if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    create: dict[str, Any] = {"Bucket": bucket}
    if region and region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**create)
        _log.info("created bucket %s", bucket)
    except Exception as exc:  # noqa: BLE001
        if _code(exc) != "BucketAlreadyOwnedByYou":
            raise


def _block_public_access(s3, bucket: str, settings: dict[str, Any]) -> bool:
    if not settings["block_public_access"]:
        return False
    try:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    except Exception as exc:  # noqa: BLE001
        if _code(exc) not in _NOT_SUPPORTED:
            raise
        # MinIO has no public access block: a bucket is private unless a policy opens it,
        # so no bucket policy may exist.
        s3.delete_bucket_policy(Bucket=bucket)
    return True


def _access_logs(s3, bucket: str, region: str | None, settings: dict[str, Any]) -> bool:
    if not settings["access_logs"]:
        try:
            s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
        except Exception as exc:  # noqa: BLE001 - nothing to turn off where unsupported
            if _code(exc) not in _NOT_SUPPORTED:
                raise
        return False
    log_bucket = f"{bucket}-logs"
    _ensure_s3_bucket(s3, log_bucket, region)
    s3.put_public_access_block(Bucket=log_bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket=log_bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_lifecycle_configuration(Bucket=log_bucket, LifecycleConfiguration={
        "Rules": [{"ID": "synthdata-expire-logs", "Status": "Enabled", "Filter": {"Prefix": ""},
                   "Expiration": {"Days": settings["log_days"]}}]})
    # S3 delivers access logs as the logging service principal, allowed by bucket policy.
    s3.put_bucket_policy(Bucket=log_bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "S3ServerAccessLogsPolicy", "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{log_bucket}/*",
            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
        }],
    }))
    try:
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {
            "TargetBucket": log_bucket, "TargetPrefix": f"{bucket}/"}})
    except Exception as exc:  # noqa: BLE001
        if _code(exc) in _NOT_SUPPORTED:
            raise SetupError("this S3-compatible store has no bucket access logs (MinIO "
                             "sends its audit log to a webhook instead): set "
                             "storage.access_logs: false") from None
        raise
    return True


def _setup_gcs(bucket_name: str, settings: dict[str, Any]) -> dict[str, Any]:
    from google.cloud import storage

    client = storage.Client()
    bucket = client.lookup_bucket(bucket_name) or client.create_bucket(bucket_name)
    bucket.versioning_enabled = settings["versioning"]
    bucket.iam_configuration.uniform_bucket_level_access_enabled = True
    if settings["block_public_access"]:
        bucket.iam_configuration.public_access_prevention = "enforced"
    bucket.lifecycle_rules = [
        {"action": {"type": "Delete"},
         "condition": {"age": settings["retention_days"], "matchesPrefix": [settings["samples"]],
                       "isLive": True}},
        {"action": {"type": "Delete"},
         "condition": {"daysSinceNoncurrentTime": settings["noncurrent_days"], "isLive": False}},
        {"action": {"type": "AbortIncompleteMultipartUpload"},
         "condition": {"age": settings["abort_days"]}},
    ]
    bucket.default_kms_key_name = (settings["kms_key"]
                                   if settings["encryption"] == "customer_managed" else None)
    if settings["access_logs"]:
        log_bucket = f"{bucket_name}-logs"
        logs = client.lookup_bucket(log_bucket) or client.create_bucket(log_bucket)
        logs.lifecycle_rules = [{"action": {"type": "Delete"},
                                 "condition": {"age": settings["log_days"]}}]
        logs.patch()
        bucket.enable_logging(log_bucket, object_prefix=bucket_name)
    else:
        bucket.disable_logging()
    bucket.labels = {**(bucket.labels or {}), "managed-by": "synthdata-constructs",
                     "synthdata-removal-policy": settings["removal_policy"]}
    bucket.patch()
    return {"bucket": bucket_name, "versioning": settings["versioning"],
            "encryption": settings["encryption"], "access_logs": settings["access_logs"],
            "public_access_blocked": settings["block_public_access"]}


# -- ensure-secrets ------------------------------------------------------------------------

_ALNUM = string.ascii_letters + string.digits


def generate(generator: str, values: dict[str, str]) -> str:
    """A value for one key: `hex:N`, `alnum:N`, `literal:V`, `copy:KEY`, `minio-kms:NAME`."""
    kind, _, argument = generator.partition(":")
    if kind == "hex":
        return random.token_hex(int(argument))
    if kind == "alnum":
        return "".join(random.choice(_ALNUM) for _ in range(int(argument)))
    if kind == "literal":
        return argument
    if kind == "copy":
        return values[argument]
    if kind == "minio-kms":
        key = base64.b64encode(random.token_bytes(32)).decode()
        return f"export MINIO_KMS_SECRET_KEY={argument}:{key}\n"
    raise ValueError(f"unknown generator {generator!r}")


def ensure_secrets(namespaces: list[str], wanted: dict[str, dict[str, str]], *,
                   core: Any = None) -> dict[str, str]:
    """Create or complete each Secret in each namespace; return what was done per Secret
    (never a value)."""
    from kubernetes.client.exceptions import ApiException

    if core is None:
        from kubernetes import client, config

        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:  # out of the cluster: $KUBECONFIG, read now
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG"),
                                    client_configuration=configuration)
        core = client.CoreV1Api(client.ApiClient(configuration))
    done: dict[str, str] = {}
    for name, keys in wanted.items():
        existing: dict[str, dict[str, str]] = {}
        for namespace in namespaces:
            try:
                secret = core.read_namespaced_secret(name, namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                continue
            existing[namespace] = {k: base64.b64decode(v).decode()
                                   for k, v in (secret.data or {}).items()}
        values: dict[str, str] = {}
        for found in existing.values():  # keep every value that exists anywhere
            for key, value in found.items():
                values.setdefault(key, value)
        ordered = sorted(keys, key=lambda k: keys[k].startswith("copy:"))
        for key in ordered:
            if key not in values:
                values[key] = generate(keys[key], values)
        actions = []
        for namespace in namespaces:
            data = {k: base64.b64encode(values[k].encode()).decode() for k in keys}
            if namespace not in existing:
                core.create_namespaced_secret(namespace, {
                    "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": name, "labels": {
                        "app.kubernetes.io/managed-by": "synthdata-constructs"}},
                    "data": data})
                actions.append(f"created in {namespace}")
                continue
            missing = {k: v for k, v in data.items() if k not in existing[namespace]}
            if missing:
                core.patch_namespaced_secret(name, namespace, {"data": missing})
                actions.append(f"added {sorted(missing)} in {namespace}")
        done[name] = "; ".join(actions) or "complete"
    return done


# -- the command line ----------------------------------------------------------------------


def _bool_flag(parser: argparse.ArgumentParser, name: str, default: bool) -> None:
    parser.add_argument(f"--{name}", dest=name.replace("-", "_"), action="store_true",
                        default=default)
    parser.add_argument(f"--no-{name}", dest=name.replace("-", "_"), action="store_false")


def _run_setup_bucket(args: argparse.Namespace) -> int:
    try:
        applied = setup_bucket(
            args.url, versioning=args.versioning, samples_prefix=args.samples_prefix,
            retention_days=args.retention_days, noncurrent_days=args.noncurrent_days,
            abort_multipart_days=args.abort_multipart_days, encryption=args.encryption,
            access_logs=args.access_logs, log_retention_days=args.log_retention_days,
            block_public_access=args.block_public_access, removal_policy=args.removal_policy)
    except SetupError as exc:
        print(f"setup-bucket: {exc}", file=sys.stderr)
        return 3
    print(json.dumps({"applied": applied}, sort_keys=True))
    return 0


def _run_ensure_secrets(args: argparse.Namespace) -> int:
    wanted = {}
    for name, *pairs in args.secret:
        wanted[name] = dict(pair.split("=", 1) for pair in pairs)
    done = ensure_secrets(args.namespace, wanted)
    print(json.dumps(done, sort_keys=True))
    return 0


def add_commands(commands: Any) -> None:
    setup = commands.add_parser("setup-bucket", help="create the bucket and apply its settings")
    setup.add_argument("--url", required=True)
    _bool_flag(setup, "versioning", True)
    setup.add_argument("--samples-prefix", default="samples/")
    setup.add_argument("--retention-days", type=int, required=True)
    setup.add_argument("--noncurrent-days", type=int, required=True)
    setup.add_argument("--abort-multipart-days", type=int, default=7)
    setup.add_argument("--encryption", choices=("customer_managed", "provider_managed"),
                       required=True)
    _bool_flag(setup, "access-logs", True)
    setup.add_argument("--log-retention-days", type=int, default=30)
    setup.add_argument("--block-public-access", dest="block_public_access",
                       action="store_true", default=True)
    setup.add_argument("--allow-public-access", dest="block_public_access",
                       action="store_false")
    setup.add_argument("--removal-policy", choices=("retain", "destroy"), default="retain")
    setup.set_defaults(handler=_run_setup_bucket)
    ensure = commands.add_parser("ensure-secrets",
                                 help="create Secrets with generated values if missing")
    ensure.add_argument("--namespace", action="append", required=True)
    ensure.add_argument("--secret", action="append", nargs="+", required=True,
                        metavar="NAME KEY=GENERATOR")
    ensure.set_defaults(handler=_run_ensure_secrets)
