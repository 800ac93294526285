"""The IAM policies in policies/: valid documents, and least privilege where it matters."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from snowpark_local import accounts
from snowpark_local.aws.iam import policy_document, trusts

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)

POLICIES = Path(__file__).resolve().parent.parent / "policies"
# Actions AWS only grants on "*" (no resource-level permissions), or listings.
STAR_ONLY = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "ecr:DescribeRepositories",
    "logs:DescribeLogGroups",
    "sagemaker:ListDomains",
    "sagemaker:ListImages",
    "sagemaker:ListAppImageConfigs",
    "sagemaker:ListTrainingJobs",
    "sagemaker:ListProcessingJobs",
    "sagemaker:ListUserProfiles",
    "sagemaker:ListSpaces",
    "sagemaker:ListApps",
    # What a training job in a VPC needs; EC2 has no resource level for most of them.
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
}


def statements(name: str) -> list[dict]:
    return json.loads((POLICIES / name).read_text())["Statement"]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@pytest.mark.stack
@pytest.mark.parametrize(
    "name", ["training-job-role.json", "codebuild-role.json", "learner.json", "studio-space.json"]
)
def test_each_policy_is_a_valid_iam_policy_without_wildcard_actions(name, unique):
    document = policy_document(name)  # placeholders filled, as the stack and the template do
    # moto checks the policy grammar as IAM does (version, effects, actions, resources).
    created = boto3.client("iam").create_policy(
        PolicyName=f"{name.removesuffix('.json')}-{unique}", PolicyDocument=document
    )
    assert created["Policy"]["Arn"].endswith(f"-{unique}")
    for statement in statements(name):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            assert ":" in action and "*" not in action, action
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= STAR_ONLY, statement["Sid"]


@pytest.mark.stack
@pytest.mark.parametrize(
    "name, service",
    [
        ("execution-role-trust.json", "sagemaker.amazonaws.com"),
        ("codebuild-role-trust.json", "codebuild.amazonaws.com"),
    ],
)
def test_each_role_trusts_one_service_and_only_for_its_own_account(name, service, unique):
    trust = policy_document(name)
    boto3.client("iam").create_role(RoleName=f"trust-{unique}", AssumeRolePolicyDocument=trust)
    (statement,) = json.loads(trust)["Statement"]
    assert statement["Principal"] == {"Service": service}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": accounts.ACCOUNT_ID}}
    assert trusts(trust, service, accounts.ACCOUNT_ID)
    assert not trusts(trust, service, "210987654321")  # acting for another account
    other = (
        "codebuild.amazonaws.com" if service.startswith("sagemaker") else "sagemaker.amazonaws.com"
    )
    assert not trusts(trust, other, accounts.ACCOUNT_ID)


def test_the_training_role_reads_only_the_tutorial_secret():
    secret_statements = [
        s
        for s in statements("training-job-role.json")
        if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))
    ]
    assert len(secret_statements) == 1
    (statement,) = secret_statements
    assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
    assert as_list(statement["Resource"]) == [
        "arn:aws:secretsmanager:*:*:secret:sagemaker-snowpark/snowflake-??????"
    ]


def test_the_training_role_writes_only_its_prefix_and_pulls_only_its_image():
    by_sid = {s["Sid"]: s for s in statements("training-job-role.json")}
    written = by_sid["WriteTheModelAndOutput"]["Resource"]
    assert [r.split(":::sagemaker-*/")[1] for r in written] == [
        "sagemaker-snowpark/training/*",
        "sagemaker-snowpark/scoring/*",  # the scoring job's summary
    ]
    assert by_sid["PullTheTrainingImage"]["Resource"].endswith(
        ":repository/sagemaker-snowpark-training"
    )
    assert [r.split(":log-group:")[1] for r in by_sid["WriteTheJobLogs"]["Resource"]] == [
        "/aws/sagemaker/TrainingJobs*",  # the group itself and its streams, as the SDK grants
        "/aws/sagemaker/ProcessingJobs*",
    ]
    # A scoring job reads the trained model, and lists only where the models are.
    assert by_sid["ReadTheModelToScore"]["Resource"].endswith("/sagemaker-snowpark/training/*")
    assert by_sid["FindTheModelToScore"]["Condition"] == {
        "StringLike": {"s3:prefix": "sagemaker-snowpark/training/*"}
    }
