"""infrastructure/tutorial.yaml: linted, the same policies as policies/, deployed and deleted on
the local stack's CloudFormation, and the walk-through on what it made."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import boto3
import nbformat
import pytest
from moto import mock_aws
from moto.sagemaker.responses import SageMakerResponse

from sagemaker_snowpark import infrastructure, tutorial
from sagemaker_snowpark.errors import TutorialError
from sagemaker_snowpark.local import aws, cloudformation

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infrastructure" / "tutorial.yaml"
REGION = "us-east-1"
NEW_DOMAIN = {"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0123456789abcdef0"}


def test_template_is_cfn_lint_clean():
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_template_policies_are_the_files_in_policies():
    template = TEMPLATE.read_text()
    assert infrastructure.render(template) == template, (
        "infrastructure/tutorial.yaml differs from policies/: run "
        "python -m sagemaker_snowpark.infrastructure render"
    )
    assert template.count("# policies/") == 5


def test_render_copies_a_changed_policy(tmp_path):
    for path in (ROOT / "policies").glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    learner = json.loads((tmp_path / "learner.json").read_text())
    learner["Statement"].append(
        {"Sid": "ProcessingJobs", "Effect": "Allow", "Action": "sagemaker:CreateProcessingJob",
         "Resource": "*"}
    )  # fmt: skip
    (tmp_path / "learner.json").write_text(json.dumps(learner))
    rendered = infrastructure.render(TEMPLATE.read_text(), tmp_path)
    assert '"Sid": "ProcessingJobs"' in rendered
    assert infrastructure.render(rendered, tmp_path) == rendered


def _deploy(cfn, name: str, parameters: dict[str, str]) -> dict:
    """As `aws cloudformation deploy` does: a change set, executed."""
    cfn.create_change_set(
        StackName=name,
        ChangeSetName="deploy",
        ChangeSetType="CREATE",
        TemplateBody=TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    cfn.execute_change_set(StackName=name, ChangeSetName="deploy")
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


@pytest.fixture
def moto_account(monkeypatch):
    """moto in this process, with the stack's CloudFormation extensions."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name, handler in aws._SAGEMAKER_ACTIONS.items():  # ListApps among them
        monkeypatch.setattr(SageMakerResponse, name, handler, raising=False)
    with mock_aws():
        cloudformation.install()
        yield boto3.session.Session(region_name=REGION)


def test_new_domain_stack_creates_the_prerequisites_and_deletes_to_nothing(moto_account):
    cfn = moto_account.client("cloudformation")
    stack = _deploy(cfn, "sagemaker-snowpark", {"RepositoryUrl": "https://example.com/r.git",
                                                **NEW_DOMAIN})  # fmt: skip
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    env = infrastructure.environment(stack["Outputs"])
    account = moto_account.client("sts").get_caller_identity()["Account"]
    roles = f"arn:aws:iam::{account}:role"
    assert env == {
        "AWS_REGION": REGION,
        "SAGEMAKER_ROLE_ARN": f"{roles}/SageMakerSnowparkTutorialRole",
        "SAGEMAKER_CODEBUILD_ROLE_ARN": f"{roles}/SageMakerSnowparkCodeBuildRole",
        "SAGEMAKER_BUCKET": f"sagemaker-snowpark-{account}-{REGION}",
        "SAGEMAKER_DOMAIN_ID": "d-sagemaker-snowpark",
    }
    iam = moto_account.client("iam")
    policies = {p.name: json.loads(p.read_text()) for p in (ROOT / "policies").glob("*.json")}
    role = iam.get_role(RoleName="SageMakerSnowparkTutorialRole")["Role"]
    assert role["AssumeRolePolicyDocument"] == policies["execution-role-trust.json"]
    inline = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="training-job-role")
    assert inline["PolicyDocument"] == policies["training-job-role.json"]
    build = iam.get_role_policy(
        RoleName="SageMakerSnowparkCodeBuildRole", PolicyName="codebuild-role"
    )
    assert build["PolicyDocument"] == policies["codebuild-role.json"]
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["SageMakerSnowparkLearner"]
    version = iam.get_policy(PolicyArn=attached[0]["PolicyArn"])["Policy"]["DefaultVersionId"]
    learner = iam.get_policy_version(PolicyArn=attached[0]["PolicyArn"], VersionId=version)
    assert learner["PolicyVersion"]["Document"] == policies["learner.json"]
    sagemaker = moto_account.client("sagemaker")
    domain = sagemaker.describe_domain(DomainId=env["SAGEMAKER_DOMAIN_ID"])
    assert domain["DefaultUserSettings"]["ExecutionRole"] == env["SAGEMAKER_ROLE_ARN"]
    s3 = moto_account.client("s3")
    s3.head_bucket(Bucket=env["SAGEMAKER_BUCKET"])

    # A bucket that holds objects cannot be deleted: the stack stays, DELETE_FAILED, saying why.
    s3.put_object(Bucket=env["SAGEMAKER_BUCKET"], Key="sagemaker-snowpark/training/x", Body=b"x")
    cfn.delete_stack(StackName="sagemaker-snowpark")
    failed = cfn.describe_stacks(StackName="sagemaker-snowpark")["Stacks"][0]
    assert failed["StackStatus"] == "DELETE_FAILED"
    events = cfn.describe_stack_events(StackName="sagemaker-snowpark")["StackEvents"]
    reasons = [e.get("ResourceStatusReason") or "" for e in events]
    assert any("not empty" in reason for reason in reasons), reasons

    # The documented delete command empties the bucket first, then nothing is left.
    messages = []
    infrastructure.delete("sagemaker-snowpark", moto_account, echo=messages.append)
    assert "Emptied" in messages[0]
    assert s3.list_buckets()["Buckets"] == []
    assert sagemaker.list_domains()["Domains"] == []
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith("SageMakerSnowpark")]
    assert iam.list_policies(Scope="Local")["Policies"] == []


# --- The real-account runner, offline: the environment names the local stack as it would name
# a real account (endpoint, credentials, Region), and a notebook fails.


def _notebook(path: Path, source: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import os"), nbformat.v4.new_code_cell(source)]
    nbformat.write(notebook, path)


@pytest.fixture
def series(tmp_path, monkeypatch):
    """A series of four notebooks whose second fails, in a folder of its own."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    ran = tmp_path / "ran"
    record = f"open({str(ran)!r}, 'a').write(notebook_name + '\\n')"
    for name, body in [
        ("00_check", ""),
        ("01_fails", "raise RuntimeError('the build failed')"),
        ("02_never", ""),
        ("03_clean_up", "import boto3\nwho = boto3.client('sts').get_caller_identity()['Arn']"),
    ]:
        source = f"notebook_name = {name!r}\n{body}\n{record}"
        if name == "03_clean_up":
            source += f"\nopen({str(tmp_path / 'who')!r}, 'w').write(who)"
        _notebook(folder / f"{name}.ipynb", source)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_real_run_stops_at_the_failure_and_still_cleans_up(series, learner, capsys):
    with pytest.raises(TutorialError) as error:
        tutorial.real(assume_yes=True, folder=series / "notebooks")
    message = str(error.value)
    assert message.startswith(
        "01_fails.ipynb failed at code cell 2: RuntimeError: the build failed"
    )
    assert "the clean-up notebook ran" in message
    assert (series / "ran").read_text().split() == ["00_check", "03_clean_up"]
    # The clean-up reached AWS with the environment's credentials: here the stack's learner.
    assert (series / "who").read_text().endswith(":user/tutorial-learner")
    out = capsys.readouterr().out
    assert out.startswith(
        f"This runs 4 notebooks on your AWS and Snowflake accounts: {tutorial.REAL_COST}."
    )


def test_real_run_asks_first_and_runs_nothing_unless_confirmed(series):
    asked = []
    with pytest.raises(TutorialError, match="Not confirmed: nothing ran."):
        tutorial.real(
            assume_yes=False, ask=lambda q: asked.append(q) or "n", folder=series / "notebooks"
        )
    assert asked == ["Continue? [y/N] "]
    assert not (series / "ran").exists()


def test_real_run_needs_the_clean_up_notebook_last(series):
    (series / "notebooks" / "03_clean_up.ipynb").rename(series / "notebooks" / "03_tidy.ipynb")
    with pytest.raises(TutorialError, match="not a \\*_clean_up.ipynb"):
        tutorial.real(assume_yes=True, folder=series / "notebooks")
    assert not (series / "ran").exists()


# --- The GitHub Actions workflows

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def test_workflows_are_actionlint_clean():
    assert [w.name for w in WORKFLOWS] == ["real-account.yml", "test.yml"]
    lint = subprocess.run(
        [_tool("actionlint"), *map(str, WORKFLOWS)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_workflows_pass_zizmor_at_its_strictest():
    audit = subprocess.run(
        [_tool("zizmor"), "--offline", "--persona", "pedantic", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "No findings to report" in audit.stdout + audit.stderr


def test_workflows_pin_every_action_by_commit():
    for workflow in WORKFLOWS:
        for line in workflow.read_text().splitlines():
            if "uses:" in line:
                reference = line.split("uses:")[1].split("#")[0].strip()
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", reference), line
