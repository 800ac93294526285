"""Fixtures of the unit tests; the session's local stack is started by the root conftest.py."""

from __future__ import annotations

import io
import json
import os
import tarfile
import textwrap
import uuid
from contextlib import contextmanager
from pathlib import Path

import boto3
import docker_engine
import pytest

from sagemaker_snowpark.images import build_and_push
from snowpark_local import stack
from snowpark_local.aws.iam import policy_document


@pytest.fixture(scope="session")
def state_dir() -> Path:
    """The state folder of the session's stack (started by the root conftest.py)."""
    if "SNOWPARK_LOCAL_STATE" not in os.environ:
        pytest.fail("This test uses the local stack, which a run of `unit` tests does not start.")
    return Path(os.environ["SNOWPARK_LOCAL_STATE"])


@pytest.fixture
def unique() -> str:
    """A short unique suffix, so tests never collide with each other or with the notebooks."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def bucket() -> str:
    return os.environ["SAGEMAKER_BUCKET"]


def _as_administrator(state: Path) -> None:
    for key, value in stack.administrator_keys(state).items():
        os.environ[key] = value
    # Their builds act as the role each test passes, not the tutorial's CodeBuild role.
    os.environ.pop("SAGEMAKER_CODEBUILD_ROLE_ARN", None)
    boto3.DEFAULT_SESSION = None  # boto3 keeps the credentials it first found


@pytest.fixture(scope="session", autouse=True)
def as_administrator():
    """Unit tests drive the stack as its administrator, so they may name their own resources;
    the notebooks run as the learner (policies/learner.json), and tests/test_iam.py checks the
    policies themselves. A test asks for the `learner` fixture to act as the learner. (Without
    a stack, in a run of `unit` tests, there is nobody to act as.)"""
    saved = dict(os.environ)
    if "SNOWPARK_LOCAL_STATE" in os.environ:
        _as_administrator(Path(os.environ["SNOWPARK_LOCAL_STATE"]))
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def learner(monkeypatch):
    """Act as the learner from here on (the keys the notebooks get)."""
    environment = stack.client_environment(Path(os.environ["SNOWPARK_LOCAL_STATE"]))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, environment[key])
    boto3.DEFAULT_SESSION = None
    yield environment
    boto3.DEFAULT_SESSION = None  # monkeypatch restores the administrator's keys after this


@pytest.fixture(scope="session")
def tutorial_role_arn() -> str:
    """The execution role the notebooks use: policies/training-job-role.json and
    codebuild-role.json, trusted by SageMaker and CodeBuild."""
    return os.environ["SAGEMAKER_ROLE_ARN"]


@pytest.fixture(scope="session")
def role_arn(state_dir) -> str:
    """An execution role with every permission, for tests of the stack's mechanics, whose
    images, jobs and buckets are named outside the tutorial's policies."""
    keys = stack.administrator_keys(state_dir)
    iam = boto3.client(
        "iam",
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
    )
    # Trusted by SageMaker and CodeBuild both: the tests' jobs and builds act as this role.
    trust = json.loads(policy_document("execution-role-trust.json"))
    trust["Statement"] += json.loads(policy_document("codebuild-role-trust.json"))["Statement"]
    name = "StackTestRole"
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        iam.put_role_policy(
            RoleName=name,
            PolicyName="everything",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
        )
    return role["Arn"]


@pytest.fixture(scope="session")
def program_image(tmp_path_factory, bucket, role_arn):
    """Build (through the stack's CodeBuild) an image whose `train` program is the given text."""

    def build(program: str) -> str:
        context = tmp_path_factory.mktemp("image")
        (context / "box").mkdir()
        (context / "box" / "Dockerfile").write_text("FROM scratch\nCOPY box/train /usr/bin/train\n")
        train = context / "box" / "train"
        train.write_text("#!/usr/bin/env python3\n" + textwrap.dedent(program))
        train.chmod(0o755)
        repository = "test-programs"
        return build_and_push(
            context, ["box"], "box/Dockerfile", repository, bucket, role_arn, echo=lambda _: None
        ).uri

    return build


@pytest.fixture(scope="session")
def s3_tar():
    """`s3_tar("s3://bucket/key.tar.gz")`: the archive's files, name to bytes."""

    def read(uri: str) -> dict[str, bytes]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as archive:
            files = [m for m in archive.getmembers() if m.isfile()]
            return {m.name: archive.extractfile(m).read() for m in files}

    return read


@pytest.fixture
def sagemaker_client():
    return boto3.client("sagemaker")


@pytest.fixture(scope="session")
def environment_of():
    """`with environment_of(state, artifacts):` switches os.environ to the stack at `state` (and
    the notebooks' artifacts folder) while notebook kernels start: they inherit it. With
    `administrator=True` the test acts as that stack's administrator instead of the learner."""

    @contextmanager
    def switched(state: Path, artifacts: Path, administrator: bool = False):
        saved = dict(os.environ)
        try:
            stack.apply_environment(stack.client_environment(state))
            if administrator:  # for a test's own probes and resources, not the notebooks
                _as_administrator(state)
            os.environ["TUTORIAL_ARTIFACTS"] = str(artifacts)
            boto3.DEFAULT_SESSION = None  # boto3 keeps the credentials it first found
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)
            boto3.DEFAULT_SESSION = None

    return switched


@pytest.fixture(scope="session")
def engine():
    """The Docker engine of the docker-marked tests: started once for the whole session."""
    yield from docker_engine.engine()
