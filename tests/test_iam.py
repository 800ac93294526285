"""IAM on the local stack: the policies in policies/ decide every call, as on AWS.

The notebooks run as the learner (an IAM user with policies/learner.json); training jobs act as
the execution role (training-job-role.json and studio-space.json, execution-role-trust.json) and
CodeBuild builds as the CodeBuild role (codebuild-role.json, codebuild-role-trust.json). Here a
statement the series needs is taken out of a policy, and the call that needs it fails with
AccessDenied; tests/test_series.py proves the same for every statement.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from sagemaker.core.helper.iam_role_resolver import RoleValidationError, resolve_and_validate_role

from sagemaker_snowpark import connection
from sagemaker_snowpark.errors import TutorialError
from sagemaker_snowpark.images import build_and_push
from snowpark_local import accounts, stack
from snowpark_local.accounts import LEARNER_USER
from snowpark_local.aws.iam import policy_document

POLICIES = Path(__file__).resolve().parent.parent / "policies"


def administrator(service: str):
    """A client of the account's administrator, whoever the test acts as."""
    keys = stack.administrator_keys(Path(os.environ["SNOWPARK_LOCAL_STATE"]))
    return boto3.client(
        service,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
    )


def document(name: str, without: str | None = None) -> str:
    policy = json.loads(policy_document(name))
    kept = [s for s in policy["Statement"] if s["Sid"] != without]
    assert without is None or len(kept) == len(policy["Statement"]) - 1, without
    return json.dumps({**policy, "Statement": kept})


@contextmanager
def learner_policy_without(sid: str):
    """The learner's policy without one statement, restored afterwards (as the administrator)."""
    iam = administrator("iam")
    iam.put_user_policy(
        UserName=LEARNER_USER, PolicyName="learner", PolicyDocument=document("learner.json", sid)
    )
    try:
        yield
    finally:
        iam.put_user_policy(
            UserName=LEARNER_USER, PolicyName="learner", PolicyDocument=document("learner.json")
        )


@contextmanager
def role_policy_without(policy: str, sid: str):
    iam = administrator("iam")
    name = policy.removesuffix(".json")
    role = accounts.CODEBUILD_ROLE_NAME if name == "codebuild-role" else accounts.ROLE_NAME
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document(policy, sid))
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document(policy))


def error_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def test_the_stack_no_longer_turns_the_sdks_role_check_off(state_dir):
    assert "SAGEMAKER_VALIDATE_ROLE" not in stack.client_environment(state_dir)
    assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ


def test_the_learner_is_the_iam_user_with_learner_json(learner):
    caller = boto3.client("sts").get_caller_identity()["Arn"]
    assert caller.endswith(f":user/{LEARNER_USER}")
    with pytest.raises(ClientError) as denied:
        boto3.client("iam").delete_role(RoleName=accounts.ROLE_NAME)
    assert error_code(denied.value) == "AccessDenied"


def test_a_secret_outside_the_policy_is_denied_and_question_marks_match_one_character(learner):
    secrets = boto3.client("secretsmanager")
    with pytest.raises(ClientError) as denied:
        secrets.create_secret(Name="someone-elses/secret", SecretString="{}")
    assert error_code(denied.value) == "AccessDeniedException"
    assert "secretsmanager:CreateSecret" in str(denied.value)
    iam = boto3.client("iam")
    base = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sagemaker-snowpark/snowflake"
    results = iam.simulate_principal_policy(
        PolicySourceArn=os.environ["SAGEMAKER_ROLE_ARN"],
        ActionNames=["secretsmanager:GetSecretValue"],
        ResourceArns=[f"{base}-AbCd12", f"{base}-AbCd123", f"{base}2-AbCd12"],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "implicitDeny", "implicitDeny"]


@contextmanager
def learner_policy_with(*statements: dict):
    """The learner's policy and these statements, restored afterwards (as the administrator)."""
    iam = administrator("iam")
    policy = json.loads(document("learner.json"))
    policy["Statement"] += list(statements)
    iam.put_user_policy(
        UserName=LEARNER_USER, PolicyName="learner", PolicyDocument=json.dumps(policy)
    )
    try:
        yield
    finally:
        iam.put_user_policy(
            UserName=LEARNER_USER, PolicyName="learner", PolicyDocument=document("learner.json")
        )


def test_a_missing_secret_is_authorized_against_its_arn_without_the_suffix(learner, unique):
    """As AWS does: a grant on `name-??????` matches only a stored secret's ARN, so asking for a
    secret that does not exist yet is denied unless the bare `secret:name` is granted."""
    name = f"probe-{unique}"
    arn = f"arn:aws:secretsmanager:*:*:secret:{name}"
    suffixed = {
        "Effect": "Allow",
        "Action": "secretsmanager:DescribeSecret",
        "Resource": f"{arn}-??????",
    }
    bare = {**suffixed, "Resource": arn}
    secrets = boto3.client("secretsmanager")

    def answer() -> str:
        try:
            secrets.describe_secret(SecretId=name)
        except ClientError as error:
            return error_code(error)
        return "allowed"

    with learner_policy_with(suffixed):
        assert answer() == "AccessDeniedException"
    with learner_policy_with(bare):
        assert answer() == "ResourceNotFoundException"
    administrator("secretsmanager").create_secret(Name=name, SecretString="{}")
    try:
        with learner_policy_with(bare):
            assert answer() == "AccessDeniedException"
        with learner_policy_with(suffixed):
            assert answer() == "allowed"
    finally:
        administrator("secretsmanager").delete_secret(
            SecretId=name, ForceDeleteWithoutRecovery=True
        )


def test_the_learner_may_ask_whether_the_tutorials_secret_exists_and_nothing_more():
    statement = next(s for s in json.loads(document("learner.json"))["Statement"]
                     if s["Sid"] == "AskWhetherTheSecretExists")  # fmt: skip
    assert statement["Action"] == "secretsmanager:DescribeSecret"
    # No wildcard: a stored secret's ARN always ends in six random characters, so this grant
    # matches only the request for a secret that does not exist.
    assert statement["Resource"].endswith(":secret:sagemaker-snowpark/snowflake")


def test_without_the_secret_statement_the_learner_cannot_store_the_secret(learner, unique):
    secret = {"account": "A", "user": "U", "password": "not-used-here"}
    with learner_policy_without("TheSnowflakeSecret"):
        with pytest.raises(TutorialError, match="Not allowed to"):
            connection.store_secret("sagemaker-snowpark/snowflake", secret)


def test_passing_the_role_needs_iam_pass_role_for_that_service(learner, bucket, unique):
    sagemaker = boto3.client("sagemaker")
    request = dict(
        TrainingJobName=f"snowpark-maintenance-iam-{unique}",
        AlgorithmSpecification={
            "TrainingImage": f"{accounts.ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/missing:x",
            "TrainingInputMode": "File",
        },
        RoleArn=os.environ["SAGEMAKER_ROLE_ARN"],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/sagemaker-snowpark/training"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    with learner_policy_without("PassTheExecutionRole"):
        with pytest.raises(ClientError) as denied:
            sagemaker.create_training_job(**request)
    assert error_code(denied.value) == "AccessDeniedException"
    assert f"iam:PassRole on resource: {os.environ['SAGEMAKER_ROLE_ARN']}" in str(denied.value)
    # With the statement, the same request passes IAM (the job then fails: no such image).
    sagemaker.create_training_job(**request)


def test_the_sdk_role_check_runs_and_needs_the_vpc_and_metrics_statements(learner):
    role = os.environ["SAGEMAKER_ROLE_ARN"]
    assert resolve_and_validate_role(role) == role
    with role_policy_without("training-job-role.json", "UseTheNetworkOfAVpc"):
        with pytest.raises(RoleValidationError, match="ec2:CreateNetworkInterface"):
            resolve_and_validate_role(role)
    with role_policy_without("training-job-role.json", "PublishTheJobMetrics"):
        with pytest.raises(RoleValidationError, match="cloudwatch:PutMetricData"):
            resolve_and_validate_role(role)


def test_a_role_sagemaker_may_not_assume_cannot_run_a_job(unique, bucket):
    iam = boto3.client("iam")
    only_codebuild = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName=f"not-for-sagemaker-{unique}", AssumeRolePolicyDocument=json.dumps(only_codebuild)
    )["Role"]["Arn"]
    with pytest.raises(ClientError, match="Could not assume role"):
        boto3.client("sagemaker").create_training_job(
            TrainingJobName=f"untrusted-{unique}",
            AlgorithmSpecification={"TrainingImage": "x", "TrainingInputMode": "File"},
            RoleArn=role,
            OutputDataConfig={"S3OutputPath": f"s3://{bucket}/x"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )


def test_the_learner_may_create_the_sdks_default_bucket_and_no_other(learner, unique):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=f"sagemaker-us-east-1-{unique}")  # the SDK's name on a new account
    with pytest.raises(ClientError) as denied:
        s3.create_bucket(Bucket=f"other-{unique}")
    assert error_code(denied.value) == "AccessDenied"


def test_a_secret_over_64_kb_is_rejected(unique):
    secrets = boto3.client("secretsmanager")
    with pytest.raises(ClientError, match="less than or equal to 65536"):
        secrets.create_secret(Name=f"big-{unique}", SecretString="x" * 65537)
    secrets.create_secret(Name=f"big-{unique}", SecretString="x" * 65536)
    with pytest.raises(ClientError, match="less than or equal to 65536"):
        secrets.put_secret_value(SecretId=f"big-{unique}", SecretString="y" * 70000)


# --- What AWS does as the execution role: CodeBuild and the training job

READER = """
import os, sys, boto3
base = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
try:
    boto3.client("secretsmanager").get_secret_value(SecretId="sagemaker-snowpark/snowflake")
except Exception as error:
    open(f"{base}/output/failure", "w").write(f"reading the secret: {error}")
    sys.exit(1)
open(f"{base}/model/model.txt", "w").write("read the secret")
"""


@pytest.fixture(scope="module")
def reader_image(tmp_path_factory, bucket):
    """A training image whose program only reads the tutorial's secret, built by CodeBuild as
    the tutorial's role into the tutorial's repository."""
    context = tmp_path_factory.mktemp("reader")
    (context / "box").mkdir()
    (context / "box" / "Dockerfile").write_text("FROM scratch\nCOPY box/train /usr/bin/train\n")
    (context / "box" / "train").write_text("#!/usr/bin/env python3\n" + READER)
    secrets = boto3.client("secretsmanager")
    try:
        if secrets.describe_secret(SecretId="sagemaker-snowpark/snowflake").get("DeletedDate"):
            secrets.restore_secret(SecretId="sagemaker-snowpark/snowflake")
    except secrets.exceptions.ResourceNotFoundException:
        secrets.create_secret(Name="sagemaker-snowpark/snowflake", SecretString="{}")
    return context


def build(context, bucket) -> str:
    return build_and_push(
        context,
        ["box"],
        "box/Dockerfile",
        "sagemaker-snowpark-training",
        bucket,
        f"arn:aws:iam::{accounts.ACCOUNT_ID}:role/{accounts.CODEBUILD_ROLE_NAME}",
        echo=lambda _: None,
    ).uri


def run_as_role(image: str, bucket: str, unique: str) -> dict:
    sagemaker = boto3.client("sagemaker")
    name = f"snowpark-maintenance-iam-{unique}"
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        RoleArn=os.environ["SAGEMAKER_ROLE_ARN"],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/sagemaker-snowpark/training"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 120},
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"{name} did not end")


def test_codebuild_pushes_only_with_the_push_statement(reader_image, bucket):
    with role_policy_without("codebuild-role.json", "PushTheImages"):
        with pytest.raises(TutorialError, match="not authorized to perform: ecr:"):
            build(reader_image, bucket)
    with role_policy_without("codebuild-role.json", "FindTheSourceBucket"):
        with pytest.raises(TutorialError, match="s3:GetBucketAcl"):
            build(reader_image, bucket)
    assert build(reader_image, bucket)


def test_the_job_reads_the_secret_and_writes_its_model_as_the_role(reader_image, bucket, unique):
    image = build(reader_image, bucket)
    assert run_as_role(image, bucket, f"ok-{unique}")["TrainingJobStatus"] == "Completed"

    with role_policy_without("training-job-role.json", "ReadTheSnowflakeSecret"):
        job = run_as_role(image, bucket, f"secret-{unique}")
    assert job["TrainingJobStatus"] == "Failed"
    assert "AccessDenied" in job["FailureReason"]
    assert "secretsmanager:GetSecretValue" in job["FailureReason"]

    with role_policy_without("training-job-role.json", "WriteTheModelAndOutput"):
        job = run_as_role(image, bucket, f"model-{unique}")
    assert job["TrainingJobStatus"] == "Failed"
    assert "may not write" in job["FailureReason"] and "s3:PutObject" in job["FailureReason"]

    with role_policy_without("training-job-role.json", "PullTheTrainingImage"):
        job = run_as_role(image, bucket, f"pull-{unique}")
    assert job["TrainingJobStatus"] == "Failed"
    assert "may not pull" in job["FailureReason"]


def test_the_learner_updates_only_the_tutorials_space_and_only_with_its_statement(learner):
    sagemaker = boto3.client("sagemaker")
    space = dict(DomainId=learner["SAGEMAKER_DOMAIN_ID"], SpaceName=accounts.SPACE_NAME)
    settings = sagemaker.describe_space(**space)["SpaceSettings"]
    unchanged = {"JupyterLabAppSettings": settings["JupyterLabAppSettings"]}
    sagemaker.update_space(**space, SpaceSettings=unchanged)  # what notebooks 01 and 07 do
    with pytest.raises(ClientError) as denied:
        sagemaker.update_space(**{**space, "SpaceName": "someone-elses"}, SpaceSettings=unchanged)
    assert error_code(denied.value) == "AccessDeniedException"
    with learner_policy_without("StudioSpace"):
        with pytest.raises(ClientError) as denied:
            sagemaker.update_space(**space, SpaceSettings=unchanged)
    assert "sagemaker:UpdateSpace" in str(denied.value)
