"""Each secure default of the AWS platform, asserted on the synthesized templates.

A test here fails if a default is lost. The templates come from the session fixtures
(synthesized once); the expected values come from the example specs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constructs_lib import PlatformSpec, contract
from constructs_lib.aws.generator import API_HANDLER

ROOT = Path(__file__).resolve().parents[2]
DEV, PROD = "synth-synthdemo-dev", "synth-synthdemo-prod"
SPECS = {DEV: PlatformSpec.from_file(ROOT / "examples/dev.yaml"),
         PROD: PlatformSpec.from_file(ROOT / "examples/prod.yaml")}
STACKS = pytest.mark.parametrize("stack", [DEV, PROD])


def data_bucket(app, stack):
    buckets = app.resources(stack, "AWS::S3::Bucket")
    [bucket] = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    return bucket


def image_functions(app, stack):
    """The service's functions (CDK's own auto-delete provider is a zip function)."""
    return {k: f for k, f in app.resources(stack, "AWS::Lambda::Function").items()
            if f["Properties"].get("PackageType") == "Image"}


def api_function(app, stack):
    [function] = [f for f in image_functions(app, stack).values()
                  if f["Properties"]["ImageConfig"]["Command"] == [API_HANDLER]]
    return function


def platform_resources(app, stack, type_):
    """Resources of `type_` that the platform created (not CDK's stack-wide helpers)."""
    return app.under(stack, f"{stack}/Synth", type_)


def statements(resource):
    return resource["Properties"]["PolicyDocument"]["Statement"]


# -- S3 ----------------------------------------------------------------------------------

@STACKS
def test_data_bucket_is_encrypted_with_the_platform_kms_key(aws_app, stack):
    [rule] = data_bucket(aws_app, stack)["Properties"]["BucketEncryption"][
        "ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    key_ref = rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    assert aws_app.templates[stack]["Resources"][key_ref]["Type"] == "AWS::KMS::Key"
    assert rule["BucketKeyEnabled"] is True


@STACKS
def test_every_bucket_blocks_public_access(aws_app, stack):
    for bucket in aws_app.resources(stack, "AWS::S3::Bucket").values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
        assert bucket["Properties"]["OwnershipControls"]["Rules"] == [
            {"ObjectOwnership": "BucketOwnerEnforced"}]


@STACKS
def test_every_bucket_policy_denies_plain_http_and_old_tls(aws_app, stack):
    policies = aws_app.resources(stack, "AWS::S3::BucketPolicy")
    assert len(policies) == len(aws_app.resources(stack, "AWS::S3::Bucket"))
    for policy in policies.values():
        denies = [s for s in statements(policy) if s["Effect"] == "Deny"]
        conditions = [s["Condition"] for s in denies]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


@STACKS
def test_every_bucket_is_versioned(aws_app, stack):
    for bucket in aws_app.resources(stack, "AWS::S3::Bucket").values():
        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


@STACKS
def test_data_bucket_logs_access_to_the_log_bucket(aws_app, stack):
    logging = data_bucket(aws_app, stack)["Properties"]["LoggingConfiguration"]
    target = logging["DestinationBucketName"]["Ref"]
    assert aws_app.templates[stack]["Resources"][target]["Type"] == "AWS::S3::Bucket"
    log_policy = [p for p in aws_app.resources(stack, "AWS::S3::BucketPolicy").values()
                  if p["Properties"]["Bucket"] == {"Ref": target}][0]
    assert any(s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
               for s in statements(log_policy))


@STACKS
def test_lifecycle_follows_the_spec_retention(aws_app, stack):
    spec = SPECS[stack]
    rules = {r["Id"]: r for r in
             data_bucket(aws_app, stack)["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-samples"]["ExpirationInDays"] == spec.storage.retention_days
    assert rules["expire-samples"]["Prefix"] == "data/samples/"
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": spec.storage.noncurrent_version_days}
    assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1}


def test_removal_policy_follows_the_spec(aws_app):
    dev_bucket = data_bucket(aws_app, DEV)
    prod_bucket = data_bucket(aws_app, PROD)
    assert dev_bucket["DeletionPolicy"] == "Delete"
    assert prod_bucket["DeletionPolicy"] == "Retain"
    assert aws_app.one(PROD, "AWS::DynamoDB::Table")["DeletionPolicy"] == "Retain"
    assert aws_app.one(PROD, "AWS::KMS::Key")["DeletionPolicy"] == "Retain"


# -- DynamoDB ------------------------------------------------------------------------------

@STACKS
def test_table_has_pitr_kms_encryption_and_on_demand_billing(aws_app, stack):
    props = aws_app.one(stack, "AWS::DynamoDB::Table")["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    assert "KMSMasterKeyId" in props["SSESpecification"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_table_deletion_protection_is_on_in_prod_only(aws_app):
    assert aws_app.one(PROD, "AWS::DynamoDB::Table")["Properties"][
        "DeletionProtectionEnabled"] is True
    assert aws_app.one(DEV, "AWS::DynamoDB::Table")["Properties"].get(
        "DeletionProtectionEnabled") in (None, False)


# -- KMS, secret ---------------------------------------------------------------------------

@STACKS
def test_one_rotating_platform_key(aws_app, stack):
    key = aws_app.one(stack, "AWS::KMS::Key")["Properties"]
    assert key["EnableKeyRotation"] is True


@STACKS
def test_pepper_secret_is_generated_and_kms_encrypted(aws_app, stack):
    secret = aws_app.one(stack, "AWS::SecretsManager::Secret")["Properties"]
    assert "GenerateSecretString" in secret
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32
    assert "SecretString" not in secret
    assert "KmsKeyId" in secret


@STACKS
def test_no_secret_value_appears_in_the_template(aws_app, stack):
    text = json.dumps(aws_app.templates[stack])
    assert '"SecretString"' not in text
    assert "BEGIN PRIVATE KEY" not in text


# -- Lambda --------------------------------------------------------------------------------

@STACKS
def test_function_runs_the_service_image_with_spec_limits(aws_app, stack):
    spec = SPECS[stack]
    props = api_function(aws_app, stack)["Properties"]
    assert props["PackageType"] == "Image"
    assert props["ImageConfig"]["Command"] == ["synthdata_service.handlers.aws_lambda.handler"]
    assert props["MemorySize"] == spec.generator.memory_mb
    assert props["Timeout"] == spec.generator.timeout_seconds
    assert props.get("ReservedConcurrentExecutions") == spec.generator.concurrency


def test_a_dev_stack_reserves_no_concurrency_so_it_deploys_into_a_new_account(aws_app):
    # A new account's quota is 10 and AWS keeps 10 unreserved: nothing can be reserved.
    for function in aws_app.resources(DEV, "AWS::Lambda::Function").values():
        assert "ReservedConcurrentExecutions" not in function["Properties"]


@STACKS
def test_workers_are_bounded_by_their_event_sources_maximum_concurrency(aws_app, stack):
    spec = SPECS[stack]
    maxima = sorted(m["Properties"]["ScalingConfig"]["MaximumConcurrency"]
                    for m in aws_app.resources(stack, "AWS::Lambda::EventSourceMapping").values())
    assert maxima == sorted([2, spec.jobs.worker_concurrency])


def test_instances_kept_warm_are_provisioned_on_the_alias_the_api_invokes(aws_app):
    spec = SPECS[PROD]
    [(alias_id, alias)] = aws_app.resources(PROD, "AWS::Lambda::Alias").items()
    assert alias["Properties"]["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": spec.generator.min_instances}
    integration = aws_app.one(PROD, "AWS::ApiGatewayV2::Integration")["Properties"]
    assert integration["IntegrationUri"] == {"Ref": alias_id}
    assert aws_app.resources(DEV, "AWS::Lambda::Alias") == {}  # dev keeps none warm


@STACKS
def test_function_has_tracing_dlq_encrypted_env_and_its_own_log_group(aws_app, stack):
    props = api_function(aws_app, stack)["Properties"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    dlq = props["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
    assert aws_app.templates[stack]["Resources"][dlq]["Type"] == "AWS::SQS::Queue"
    assert "KmsKeyArn" in props
    group = props["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = aws_app.templates[stack]["Resources"][group]["Properties"]
    assert log_group["RetentionInDays"] == SPECS[stack].monitoring.log_retention_days
    assert "KmsKeyId" in log_group


@STACKS
def test_function_gets_the_runtime_contract(aws_app, stack):
    spec = SPECS[stack]
    env = api_function(aws_app, stack)["Properties"]["Environment"]["Variables"]
    assert env[contract.MAX_ROWS] == str(spec.generator.max_rows)
    assert env[contract.MAX_UPLOAD_MB] == str(spec.generator.max_upload_mb)
    assert env[contract.SYNTHESIZERS] == ",".join(spec.generator.synthesizers)
    jobs = json.dumps(env[contract.JOBS_URL])
    assert jobs.startswith('{"Fn::Join": ["", ["sqs://sqs.", {"Ref": "AWS::Region"}')
    assert "worker_timeout=900" in jobs and "&ecs_cluster=" in jobs
    storage = json.dumps(env[contract.STORAGE_URL])
    assert storage.startswith('{"Fn::Join": ["", ["s3://"') and '"/data?kms_key="' in storage
    assert json.dumps(env[contract.METADATA_URL]).startswith('{"Fn::Join": ["", ["dynamodb://"')
    assert list(env[contract.API_KEYS_SECRET]) == ["Ref"]


@STACKS
def test_queues_are_encrypted_and_tls_only(aws_app, stack):
    for queue in aws_app.resources(stack, "AWS::SQS::Queue").values():
        assert "KmsMasterKeyId" in queue["Properties"]
    for policy in aws_app.resources(stack, "AWS::SQS::QueuePolicy").values():
        assert any(s["Effect"] == "Deny" and s["Condition"] ==
                   {"Bool": {"aws:SecureTransport": "false"}} for s in statements(policy))


# -- IAM -----------------------------------------------------------------------------------

def all_statements(app, stack):
    for policy in app.resources(stack, "AWS::IAM::Policy").values():
        yield from statements(policy)
    for role in app.resources(stack, "AWS::IAM::Role").values():
        for inline in role["Properties"].get("Policies", []):
            yield from inline["PolicyDocument"]["Statement"]


@STACKS
def test_no_iam_statement_uses_a_wildcard_action(aws_app, stack):
    for statement in all_statements(aws_app, stack):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]
        assert not [a for a in actions if "*" in a], statement


@STACKS
def test_wildcard_resources_are_only_those_without_resource_permissions(aws_app, stack):
    for statement in all_statements(aws_app, stack):
        if statement["Resource"] == "*":
            actions = statement["Action"]
            actions = {actions} if isinstance(actions, str) else set(actions)
            assert actions <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords",
                               "ecr:GetAuthorizationToken"}


@STACKS
def test_roles_carry_no_managed_policies(aws_app, stack):
    roles = platform_resources(aws_app, stack, "AWS::IAM::Role")
    assert len(roles) >= 5
    for role in roles.values():
        assert not role["Properties"].get("ManagedPolicyArns")


@STACKS
def test_object_grants_are_scoped_to_the_service_prefix(aws_app, stack):
    s3_object = [s for s in all_statements(aws_app, stack) if "s3:PutObject" in s["Action"]]
    assert s3_object and all(json.dumps(s["Resource"]).endswith('"/data/*"]]}')
                             for s in s3_object)


# -- endpoint ------------------------------------------------------------------------------

@STACKS
def test_api_stage_is_throttled_from_the_spec_and_access_logged(aws_app, stack):
    spec = SPECS[stack]
    stage = aws_app.one(stack, "AWS::ApiGatewayV2::Stage")["Properties"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == spec.api.rate_limit_per_second
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == spec.api.burst
    log_format = json.loads(stage["AccessLogSettings"]["Format"])
    assert {"requestId", "status", "ip"} <= set(log_format)
    assert not any("authorization" in v.lower() for v in log_format.values())


def test_api_key_auth_leaves_authentication_to_the_service(aws_app):
    route = aws_app.one(DEV, "AWS::ApiGatewayV2::Route")["Properties"]
    assert route["AuthorizationType"] == "NONE"


def test_iam_auth_requires_signed_callers(aws_variants):
    route = aws_variants.one("synth-variant-dev", "AWS::ApiGatewayV2::Route")["Properties"]
    assert route["AuthorizationType"] == "AWS_IAM"


# -- alarms, tags, outputs -----------------------------------------------------------------

@STACKS
def test_alarms_on_errors_throttles_and_duration_notify_the_topic(aws_app, stack):
    alarms = aws_app.resources(stack, "AWS::CloudWatch::Alarm")
    assert sorted(a["Properties"]["MetricName"] for a in alarms.values()) == [
        "Duration", "Errors", "Throttles"]
    topic = next(iter(aws_app.resources(stack, "AWS::SNS::Topic")))
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
    duration = [a for a in alarms.values() if a["Properties"]["MetricName"] == "Duration"][0]
    spec = SPECS[stack]
    assert duration["Properties"]["Threshold"] == round(
        spec.generator.timeout_seconds * 1000 * spec.monitoring.latency_threshold_ratio)


def test_alarm_emails_subscribe_to_the_encrypted_topic(aws_app):
    subs = aws_app.resources(PROD, "AWS::SNS::Subscription")
    assert [s["Properties"]["Endpoint"] for s in subs.values()] == ["synth-oncall@example.com"]
    assert "KmsMasterKeyId" in aws_app.one(PROD, "AWS::SNS::Topic")["Properties"]


TAGGED = ["AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::KMS::Key",
          "AWS::SecretsManager::Secret", "AWS::SQS::Queue", "AWS::IAM::Role",
          "AWS::Logs::LogGroup", "AWS::SNS::Topic"]


@STACKS
@pytest.mark.parametrize("type_", TAGGED)
def test_resources_are_tagged_from_the_spec(aws_app, stack, type_):
    spec = SPECS[stack]
    resources = platform_resources(aws_app, stack, type_)
    assert resources
    for resource in resources.values():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
        assert tags["owner"] == spec.tags.owner
        assert tags["cost-centre"] == spec.tags.cost_centre
        assert tags["synthdata:environment"] == spec.environment


@STACKS
def test_the_ready_made_stacks_publish_the_platform_outputs(aws_app, stack):
    assert set(aws_app.templates[stack]["Outputs"]) == {
        "SynthEndpointUrl", "SynthBucketName", "SynthStorageUrl", "SynthMetadataUrl",
        "SynthApiKeysSecret", "SynthJobsUrl", "SynthIdentity"}


# -- variants ------------------------------------------------------------------------------

def test_provider_managed_encryption_creates_no_key(aws_variants):
    stack = "synth-variant-dev"
    assert not aws_variants.resources(stack, "AWS::KMS::Key")
    bucket = data_bucket(aws_variants, stack)
    [rule] = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_private_network_has_no_internet_route_and_uses_endpoints(aws_variants):
    stack = "synth-variant-dev"
    assert not aws_variants.resources(stack, "AWS::EC2::InternetGateway")
    assert not aws_variants.resources(stack, "AWS::EC2::NatGateway")
    endpoints = aws_variants.resources(stack, "AWS::EC2::VPCEndpoint")
    assert len(endpoints) == 10  # S3, DynamoDB gateways; 8 interface endpoints
    assert aws_variants.resources(stack, "AWS::EC2::FlowLog")
    function = api_function(aws_variants, stack)["Properties"]
    assert function["VpcConfig"]["SubnetIds"]


# -- background jobs -----------------------------------------------------------------------

def job_queue(app, stack):
    """The queue the API's SYNTH_JOBS_URL names."""
    jobs_url = api_function(app, stack)["Properties"]["Environment"]["Variables"][
        contract.JOBS_URL]
    [queue] = [q for k, q in app.resources(stack, "AWS::SQS::Queue").items()
               if {"Fn::GetAtt": [k, "QueueName"]} in jobs_url["Fn::Join"][1]]
    return queue["Properties"]


@STACKS
def test_job_queue_dead_letters_after_the_spec_attempts(aws_app, stack):
    spec = SPECS[stack]
    queue = job_queue(aws_app, stack)
    assert queue["RedrivePolicy"]["maxReceiveCount"] == spec.jobs.max_attempts
    assert queue["VisibilityTimeout"] == 6 * spec.jobs.worker_timeout_seconds
    assert "KmsMasterKeyId" in queue


@STACKS
def test_worker_and_dead_letter_handler_consume_one_message_at_a_time(aws_app, stack):
    mappings = aws_app.resources(stack, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 2
    for mapping in mappings.values():
        assert mapping["Properties"]["BatchSize"] == 1
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    commands = sorted(f["Properties"]["ImageConfig"]["Command"][0] for f in
                      image_functions(aws_app, stack).values())
    assert commands == ["synthdata_service.handlers.aws_lambda.handler",
                        "synthdata_service.handlers.aws_worker.dead_letter_handler",
                        "synthdata_service.handlers.aws_worker.handler",
                        "synthdata_service.handlers.aws_worker.task_stopped_handler"]


@STACKS
def test_stopped_job_tasks_are_reported_to_their_handler(aws_app, stack):
    rule = aws_app.one(stack, "AWS::Events::Rule")["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.ecs"]
    assert pattern["detail-type"] == ["ECS Task State Change"]
    assert pattern["detail"]["lastStatus"] == ["STOPPED"]
    assert list(pattern["detail"]["clusterArn"][0]) == ["Fn::GetAtt"]
    [target] = rule["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 4


@STACKS
def test_long_jobs_run_as_hardened_fargate_tasks(aws_app, stack):
    spec = SPECS[stack]
    task = aws_app.one(stack, "AWS::ECS::TaskDefinition")["Properties"]
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    assert (task["Cpu"], task["Memory"]) == (str(spec.jobs.cpu), str(spec.jobs.memory_mb))
    [container] = task["ContainerDefinitions"]
    assert container["ReadonlyRootFilesystem"] is True
    assert container["User"] == "1000"
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert "ecs_cluster" not in json.dumps(env[contract.JOBS_URL])  # tasks start no tasks


@STACKS
def test_the_api_may_start_only_the_job_task_and_pass_only_its_roles(aws_app, stack):
    run_task = [s for s in all_statements(aws_app, stack) if s["Action"] == "ecs:RunTask"]
    assert len(run_task) == 2  # the API and the worker (a job that outgrew the worker)
    for statement in run_task:
        assert list(statement["Resource"]) == ["Ref"]
        assert "ecs:cluster" in statement["Condition"]["ArnEquals"]
    pass_role = [s for s in all_statements(aws_app, stack) if s["Action"] == "iam:PassRole"]
    assert len(pass_role) == 2
    for statement in pass_role:
        assert len(statement["Resource"]) == 2
        assert statement["Condition"] == {
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


@STACKS
def test_the_default_job_network_needs_no_nat_and_no_interface_endpoint(aws_app, stack):
    # Eight interface endpoints in two zones cost about $115-130 a month idle; public
    # subnets, gateway endpoints and an internet gateway cost nothing while no task runs.
    assert not aws_app.resources(stack, "AWS::EC2::NatGateway")
    endpoints = aws_app.resources(stack, "AWS::EC2::VPCEndpoint").values()
    assert sorted(e["Properties"]["VpcEndpointType"] for e in endpoints) == [
        "Gateway", "Gateway"]
    assert sorted(json.dumps(e["Properties"]["ServiceName"]) for e in endpoints) == [
        '{"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".dynamodb"]]}',
        '{"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}']
    for subnet in aws_app.resources(stack, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


@STACKS
def test_job_tasks_get_a_public_ip_and_a_group_that_admits_nothing(aws_app, stack):
    jobs_url = json.dumps(api_function(aws_app, stack)["Properties"]["Environment"][
        "Variables"][contract.JOBS_URL])
    assert "&ecs_public_ip=true" in jobs_url
    groups = aws_app.resources(stack, "AWS::EC2::SecurityGroup").values()
    assert groups
    for group in groups:
        assert "SecurityGroupIngress" not in group["Properties"]
        assert [(r["IpProtocol"], r["FromPort"], r["ToPort"], r["CidrIp"])
                for r in group["Properties"]["SecurityGroupEgress"]] == [
            ("tcp", 443, 443, "0.0.0.0/0")]


@STACKS
def test_functions_stay_out_of_the_job_network(aws_app, stack):
    for function in image_functions(aws_app, stack).values():
        assert "VpcConfig" not in function["Properties"]
