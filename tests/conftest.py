"""The test session runs against its own local stack, started before the first test.

nbval's kernels are separate processes that pytest fixtures cannot reach, but they inherit this
process's environment: so the stack starts in pytest_configure and its environment goes into
os.environ before any notebook is collected.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
import uuid
from pathlib import Path

import boto3
import pytest

from sagemaker_snowpark.images import build_and_push
from sagemaker_snowpark.local import stack

ROOT = Path(__file__).resolve().parent.parent
_session_dir: Path | None = None


def pytest_configure(config):
    global _session_dir
    _session_dir = Path(tempfile.mkdtemp(prefix="snowpark-tests-"))
    # A learner's own parameters must not change what the committed notebooks produce.
    for name in [k for k in os.environ if k.startswith("TUTORIAL_")]:
        del os.environ[name]
    os.environ["TUTORIAL_ARTIFACTS"] = str(_session_dir / "artifacts")
    stack.up(_session_dir / "state")
    stack.apply_environment(stack.client_environment(_session_dir / "state"))


def pytest_unconfigure(config):
    if _session_dir is not None:
        stack.down(_session_dir / "state")
        shutil.rmtree(_session_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def state_dir() -> Path:
    return _session_dir / "state"


@pytest.fixture
def unique() -> str:
    """A short unique suffix, so tests never collide with each other or with the notebooks."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def bucket() -> str:
    return os.environ["SAGEMAKER_BUCKET"]


@pytest.fixture(scope="session")
def role_arn() -> str:
    return os.environ["SAGEMAKER_ROLE_ARN"]


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


@pytest.fixture
def sagemaker_client():
    return boto3.client("sagemaker")
