"""infrastructure/tutorial.yaml: linted, the same policies as policies/, deployed and deleted on
the local stack's CloudFormation, and the walk-through on what it made."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import nbformat
import pytest

from sagemaker_snowpark import cleanup, images, infrastructure
from sagemaker_snowpark.errors import TutorialError
from sagemaker_snowpark.infrastructure import SPACE
from snowpark_local import accounts, seed, stack
from snowpark_local import series as tutorial
from snowpark_local.accounts import LEARNER_USER
from snowpark_local.aws import cloudformation
from snowpark_local.aws.iam import policy_document

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infrastructure" / "tutorial.yaml"
REGION = "us-east-1"


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
    for path in (ROOT / "policies").glob("*.json"):  # each file once: each role its own trust
        assert template.count(f"# policies/{path.name}\n") == 1, path.name


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


# --- The Rules section, checked as CloudFormation checks it (moto ignores it)

_RULES_TEMPLATE = """
Parameters:
  Subnets: {Type: CommaDelimitedList, Default: ""}
Rules:
  NeedsSubnets:
    Assertions:
      - Assert: %s
        AssertDescription: Give Subnets.
Resources:
  Bucket: {Type: AWS::S3::Bucket}
"""


@pytest.mark.parametrize("call", ["create_stack", "create_change_set", "validate_template"])
def test_rules_refuse_a_function_cloudformation_does_not_allow_there(call, unique):
    cfn = boto3.client("cloudformation", region_name=REGION)
    body = _RULES_TEMPLATE % '!Not [!Equals [!Join ["", !Ref Subnets], ""]]'
    arguments = {"TemplateBody": body}
    if call != "validate_template":
        arguments["StackName"] = f"rules-{unique}"
    if call == "create_change_set":
        arguments.update(ChangeSetName="deploy", ChangeSetType="CREATE")
    with pytest.raises(cfn.exceptions.ClientError) as error:
        getattr(cfn, call)(**arguments)
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert "Fn::Join is not supported in the Rules section" in str(error.value)


@pytest.mark.parametrize(
    "subnets, created", [("", False), ("subnet-1,,subnet-2", False), ("subnet-1,subnet-2", True)]
)
def test_rules_assertions_stop_the_stack_with_their_description(subnets, created, unique):
    cfn = boto3.client("cloudformation", region_name=REGION)
    body = _RULES_TEMPLATE % '!Not [!Contains [!Ref Subnets, ""]]'
    parameters = [{"ParameterKey": "Subnets", "ParameterValue": subnets}] if subnets else []
    name = f"rules-{unique}"
    if created:
        cfn.create_stack(StackName=name, TemplateBody=body, Parameters=parameters)
        cfn.delete_stack(StackName=name)
        return
    with pytest.raises(cfn.exceptions.ClientError) as error:
        cfn.create_stack(StackName=name, TemplateBody=body, Parameters=parameters)
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert error.value.response["Error"]["Message"] == "Give Subnets."


def test_the_template_refuses_a_new_domain_without_a_network():
    cfn = boto3.client("cloudformation", region_name=REGION)
    with pytest.raises(cfn.exceptions.ClientError) as error:
        cloudformation.deploy(cfn, "tutorial-no-network", {"RepositoryUrl": "https://x/y.git"})
    assert error.value.response["Error"]["Message"] == (
        "A new domain needs VpcId and SubnetIds (or give ExistingDomainId)."
    )


# --- The template deployed on the local stack (server mode, as the notebooks reach it): the stack
# started with SNOWPARK_LOCAL_SEED=template makes no role, bucket or learner policy of its own; an
# administrator deploys the template (a new domain in the default VPC) and attaches its learner
# policy to the learner, and the notebooks' environment is the stack's outputs.

STACK = seed.TEMPLATE_STACK
TEAM_DOMAIN = f"d-{accounts.DOMAIN_NAME}"  # the account's own domain, seeded before the template


@pytest.fixture(scope="module")
def template_stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(seed.SEED_VARIABLE, "template")
        stack.up(base / "state")
    try:
        yield base
    finally:
        stack.down(base / "state")


def test_the_stack_refuses_an_unknown_seed(monkeypatch):
    monkeypatch.setenv(seed.SEED_VARIABLE, "templates")
    with pytest.raises(TutorialError) as error:
        seed.seed()
    assert str(error.value) == (
        "SNOWPARK_LOCAL_SEED='templates' is not a way to seed the local stack: use policies or "
        "template."
    )


@pytest.fixture
def administrator(template_stack, environment_of):
    """The template stack's administrator (who deploys templates), with a boto3 session."""
    with environment_of(template_stack / "state", template_stack, administrator=True):
        yield boto3.session.Session()


def _assert_roles_carry_the_policy_files(iam, domain_id: str) -> None:
    policies = {
        p.name: json.loads(policy_document(p.name, domain_id))
        for p in (ROOT / "policies").glob("*.json")
    }
    role = iam.get_role(RoleName=accounts.ROLE_NAME)["Role"]
    assert role["AssumeRolePolicyDocument"] == policies["execution-role-trust.json"]
    build_role = iam.get_role(RoleName=accounts.CODEBUILD_ROLE_NAME)["Role"]
    assert build_role["AssumeRolePolicyDocument"] == policies["codebuild-role-trust.json"]
    inline = iam.get_role_policy(RoleName=accounts.ROLE_NAME, PolicyName="training-job-role")
    assert inline["PolicyDocument"] == policies["training-job-role.json"]
    studio = iam.get_role_policy(RoleName=accounts.ROLE_NAME, PolicyName="studio-space")
    assert studio["PolicyDocument"] == policies["studio-space.json"]
    build = iam.get_role_policy(RoleName=accounts.CODEBUILD_ROLE_NAME, PolicyName="codebuild-role")
    assert build["PolicyDocument"] == policies["codebuild-role.json"]
    attached = iam.list_attached_role_policies(RoleName=accounts.ROLE_NAME)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["SageMakerSnowparkLearner"]
    version = iam.get_policy(PolicyArn=attached[0]["PolicyArn"])["Policy"]["DefaultVersionId"]
    learner = iam.get_policy_version(PolicyArn=attached[0]["PolicyArn"], VersionId=version)
    assert learner["PolicyVersion"]["Document"] == policies["learner.json"]


def test_the_template_made_what_the_notebooks_use(template_stack, administrator):
    outputs = infrastructure.stack_outputs(STACK, administrator.client("cloudformation"))
    env = infrastructure.environment(outputs)
    roles = f"arn:aws:iam::{accounts.ACCOUNT_ID}:role"
    assert env == {
        "AWS_REGION": REGION,
        "SAGEMAKER_ROLE_ARN": f"{roles}/{accounts.ROLE_NAME}",
        "SAGEMAKER_CODEBUILD_ROLE_ARN": f"{roles}/{accounts.CODEBUILD_ROLE_NAME}",
        "SAGEMAKER_BUCKET": f"sagemaker-snowpark-{accounts.ACCOUNT_ID}-{REGION}",
        "SAGEMAKER_DOMAIN_ID": "d-sagemaker-snowpark",
        "SAGEMAKER_USER_PROFILE": "learner",
    }
    notebooks_env = stack.client_environment(template_stack / "state")
    assert {k: notebooks_env[k] for k in env} == env
    iam = administrator.client("iam")
    _assert_roles_carry_the_policy_files(iam, env["SAGEMAKER_DOMAIN_ID"])
    # The learner (a laptop learner here) has the template's policy and nothing else.
    assert iam.list_user_policies(UserName=LEARNER_USER)["PolicyNames"] == []
    attached = iam.list_attached_user_policies(UserName=LEARNER_USER)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["SageMakerSnowparkLearner"]
    ec2 = administrator.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    sagemaker = administrator.client("sagemaker")
    domain = sagemaker.describe_domain(DomainId=env["SAGEMAKER_DOMAIN_ID"])
    assert domain["VpcId"] == vpc["VpcId"] and domain["SubnetIds"]
    assert domain["DefaultUserSettings"]["ExecutionRole"] == env["SAGEMAKER_ROLE_ARN"]
    profile = sagemaker.describe_user_profile(
        DomainId=env["SAGEMAKER_DOMAIN_ID"], UserProfileName="learner"
    )
    assert profile["UserSettings"]["ExecutionRole"] == env["SAGEMAKER_ROLE_ARN"]
    space = sagemaker.describe_space(DomainId=env["SAGEMAKER_DOMAIN_ID"], SpaceName=SPACE)
    assert space["OwnershipSettings"] == {"OwnerUserProfileName": "learner"}
    lifecycle = space["SpaceSettings"]["JupyterLabAppSettings"]["DefaultResourceSpec"]
    config = sagemaker.describe_studio_lifecycle_config(
        StudioLifecycleConfigName=lifecycle["LifecycleConfigArn"].rsplit("/", 1)[-1]
    )
    script = base64.b64decode(config["StudioLifecycleConfigContent"]).decode()
    assert f"SAGEMAKER_BUCKET={env['SAGEMAKER_BUCKET']}" in script
    administrator.client("s3").head_bucket(Bucket=env["SAGEMAKER_BUCKET"])


@pytest.mark.series
def test_the_series_runs_on_what_the_template_made(template_stack, environment_of):
    """The whole series, the clean-up last, as the learner with the template's policy, on its
    roles, bucket and domain. Notebook 06 is left out: it runs notebook 04's image again, as the
    same learner and role, with jobs named within the same grants, so the template's resources
    meet nothing new there; tests/test_series.py runs it twice, and make test's time is short."""
    base = template_stack
    passphrase = base / "passphrase.txt"
    passphrase.write_text("template passphrase 4242")
    with environment_of(base / "state", base / "artifacts"):
        os.environ["SNOWFLAKE_PRIVATE_KEY_PASSPHRASE_FILE"] = str(passphrase)
        env = dict(os.environ)
        series = tutorial.notebooks(ROOT / "notebooks")
        clean_up = tutorial.clean_up_notebook(series)
        for path in series:
            if path != clean_up and path.name != "06_your_own_table.ipynb":
                tutorial.execute(path, base / "ran" / path.name)
    names = cleanup.SeriesResources(
        bucket=env["SAGEMAKER_BUCKET"], domain_id=env["SAGEMAKER_DOMAIN_ID"]
    )
    with environment_of(base / "state", base, administrator=True):
        sagemaker = boto3.client("sagemaker")
        domain = sagemaker.describe_domain(DomainId=names.domain_id)
        images = domain["DefaultUserSettings"]["JupyterLabAppSettings"]["CustomImages"]
        assert [i["ImageName"] for i in images] == ["snowpark-kernel"]
        jobs = sagemaker.list_training_jobs(NameContains="snowpark-maintenance")
        described = [
            sagemaker.describe_training_job(TrainingJobName=j["TrainingJobName"])
            for j in jobs["TrainingJobSummaries"]
        ]
        assert len(described) == 2
        for job in described:
            assert job["TrainingJobStatus"] == "Completed"
            assert job["RoleArn"] == env["SAGEMAKER_ROLE_ARN"]
            output = job["ModelArtifacts"]["S3ModelArtifacts"]
            assert output.startswith(f"s3://{names.bucket}/sagemaker-snowpark/training/")
        assert all(cleanup.inventory(names).values())
    with environment_of(base / "state", base / "artifacts"):
        tutorial.execute(clean_up, base / "ran" / clean_up.name)
    with environment_of(base / "state", base, administrator=True):
        assert not any(cleanup.inventory(names).values())


def test_deletion_leaves_nothing_then_the_template_joins_an_existing_domain(administrator):
    """Last in this file: it deletes the template stack the tests above use."""
    cfn = administrator.client("cloudformation")
    s3, iam = administrator.client("s3"), administrator.client("iam")
    sagemaker = administrator.client("sagemaker")
    env = infrastructure.environment(infrastructure.stack_outputs(STACK, cfn))

    # A bucket that holds objects cannot be deleted: the stack stays, DELETE_FAILED, saying why.
    s3.put_object(Bucket=env["SAGEMAKER_BUCKET"], Key="sagemaker-snowpark/training/x", Body=b"x")
    cfn.delete_stack(StackName=STACK)
    failed = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert failed["StackStatus"] == "DELETE_FAILED"
    events = cfn.describe_stack_events(StackName=STACK)["StackEvents"]
    reasons = [e.get("ResourceStatusReason") or "" for e in events]
    assert any("not empty" in reason for reason in reasons), reasons

    # The documented delete command empties the bucket first, then nothing of it is left.
    messages = []
    infrastructure.delete(STACK, administrator, echo=messages.append)
    assert "Emptied" in messages[0]
    assert s3.list_buckets()["Buckets"] == []
    assert [d["DomainId"] for d in sagemaker.list_domains()["Domains"]] == [TEAM_DOMAIN]
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith("SageMakerSnowpark")]
    assert iam.list_policies(Scope="Local")["Policies"] == []
    assert iam.list_attached_user_policies(UserName=LEARNER_USER)["AttachedPolicies"] == []

    # ExistingDomainId: the user profile and space go into the account's domain, and no domain
    # is made; deleting the stack removes them and keeps the domain as it was.
    before = sagemaker.describe_domain(DomainId=TEAM_DOMAIN)["DefaultUserSettings"]
    parameters = {
        "RepositoryUrl": accounts.TEMPLATE_REPOSITORY_URL,
        "ExistingDomainId": TEAM_DOMAIN,
    }
    outputs = cloudformation.deploy(cfn, "tutorial-existing-domain", parameters)
    assert infrastructure.environment(outputs)["SAGEMAKER_DOMAIN_ID"] == TEAM_DOMAIN
    assert [d["DomainId"] for d in sagemaker.list_domains()["Domains"]] == [TEAM_DOMAIN]
    _assert_roles_carry_the_policy_files(iam, TEAM_DOMAIN)
    profile = sagemaker.describe_user_profile(DomainId=TEAM_DOMAIN, UserProfileName="learner")
    assert profile["UserSettings"]["ExecutionRole"].endswith(f":role/{accounts.ROLE_NAME}")
    space = sagemaker.describe_space(DomainId=TEAM_DOMAIN, SpaceName=SPACE)
    assert space["OwnershipSettings"] == {"OwnerUserProfileName": "learner"}
    infrastructure.delete("tutorial-existing-domain", administrator, echo=messages.append)
    for describe in (
        lambda: sagemaker.describe_user_profile(DomainId=TEAM_DOMAIN, UserProfileName="learner"),
        lambda: sagemaker.describe_space(DomainId=TEAM_DOMAIN, SpaceName=SPACE),
    ):
        with pytest.raises(sagemaker.exceptions.ResourceNotFound):
            describe()
    assert sagemaker.describe_domain(DomainId=TEAM_DOMAIN)["DefaultUserSettings"] == before
    assert s3.list_buckets()["Buckets"] == []


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


def test_the_pages_quote_the_cost_the_runner_states():
    # tutorial.REAL_COST is the one source of the run's cost and time; the pages quote it.
    page = " ".join((ROOT / "docs" / "infrastructure.md").read_text().split())
    assert tutorial.REAL_COST in page
    readme = " ".join((ROOT / "README.md").read_text().split())
    quoted = re.findall(r"\(([^()]*\bUSD\b[^()]*)\)", readme)
    assert quoted and all(figure in tutorial.REAL_COST for figure in quoted), quoted
    # It prices the builds' compute type, which is not the cheapest.
    compute = images.BUILD_COMPUTE_TYPE.removeprefix("BUILD_").lower().replace("1_", "1.")
    assert f" on {compute} at USD 0.01 a minute" in tutorial.REAL_COST


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


def test_the_real_account_role_outlasts_the_job_and_trusts_only_its_environment():
    workflow = (ROOT / ".github" / "workflows" / "real-account.yml").read_text()
    timeout = int(re.search(r"^\s+timeout-minutes: (\d+)$", workflow, re.M)[1])
    session = int(re.search(r"^\s+role-duration-seconds: (\d+)$", workflow, re.M)[1])
    environment = re.search(r"^\s+environment: ([\w-]+)$", workflow, re.M)[1]
    # The clean-up notebook runs last: its credentials must outlast the whole job.
    assert session >= timeout * 60
    # GitHub gives a job with an environment tokens whose subject names it, not the branch.
    page = (ROOT / "docs" / "infrastructure.md").read_text()
    trust = json.loads(re.search(r"```json\n(.*?)```", page, re.S)[1])
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].endswith(
        ":oidc-provider/token.actions.githubusercontent.com"
    )
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": (
                f"repo:<owner>/<repository>:environment:{environment}"
            ),
        }
    }
    # The role must allow such a session (MaxSessionDuration is an hour unless raised).
    assert f"--max-session-duration {session}`" in page
    assert f"asks for {session} seconds" in page
