"""Build a container image with AWS CodeBuild and push it to Amazon ECR, idempotently.

The notebooks build two images this way: the Studio kernel image (notebook 01) and the training
image (notebook 04). The source is zipped reproducibly and tagged with its own hash, so a second
run finds the image already in ECR and builds nothing.
"""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from . import settings
from .errors import TutorialError

CODEBUILD_IMAGE = "aws/codebuild/standard:7.0"
# general1.medium: 4 vCPUs, 7 GB of memory; snowpark_local.series.REAL_COST prices its minutes.
BUILD_COMPUTE_TYPE = "BUILD_GENERAL1_MEDIUM"
BUILDSPEC = """version: 0.2
phases:
  pre_build:
    commands:
      - REGISTRY=$AWS_ACCOUNT_ID.dkr.ecr.$AWS_DEFAULT_REGION.amazonaws.com
      - aws ecr get-login-password | docker login --username AWS --password-stdin $REGISTRY
  build:
    commands:
      - docker build -f $DOCKERFILE -t $REGISTRY/$IMAGE_REPO_NAME:$IMAGE_TAG .
  post_build:
    commands:
      - docker push $REGISTRY/$IMAGE_REPO_NAME:$IMAGE_TAG
"""
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same files always give the same zip
_SKIPPED = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".DS_Store"}


def codebuild_project(repository: str) -> str:
    """The CodeBuild project that builds the repository's image."""
    return f"{repository}-build"


def source_key(project: str) -> str:
    """Where the project's source zip lives in the bucket."""
    return f"codebuild/{project}/source.zip"


@dataclass(frozen=True)
class BuiltImage:
    uri: str
    digest: str
    built_now: bool  # False when ECR already had this exact source's image


def source_bundle(project_root: Path, paths: list[str], dockerfile: str) -> bytes:
    """A zip of `paths` (files or folders under project_root) plus a buildspec.yml.

    Entries are sorted, dated 1980-01-01 and carry only the executable bit, so the bundle and its
    hash change only when the content does.
    """
    files: list[tuple[str, Path]] = []
    for relative in paths:
        path = project_root / relative
        if path.is_file():
            files.append((relative, path))
        elif path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not _SKIPPED.intersection(child.parts):
                    files.append((child.relative_to(project_root).as_posix(), child))
        else:
            raise TutorialError(
                f"{path} is missing: run the notebook from a clone of the repository."
            )
    if not any(name == dockerfile for name, _ in files):
        raise TutorialError(f"{dockerfile} is not among the files to build: {paths}.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = sorted(files) + [("buildspec.yml", None)]
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            executable = path is not None and path.stat().st_mode & 0o111
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, BUILDSPEC if path is None else path.read_bytes())
    return buffer.getvalue()


def ensure_ecr_repository(name: str, ecr=None) -> str:
    """Create the ECR repository if it is missing; returns its URI."""
    ecr = ecr or boto3.client("ecr")
    try:
        return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise
    created = ecr.create_repository(
        repositoryName=name, imageScanningConfiguration={"scanOnPush": True}
    )
    return created["repository"]["repositoryUri"]


def _existing_image(ecr, repository: str, tag: str) -> str | None:
    try:
        images = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ImageNotFoundException":
            return None
        raise
    return images["imageDetails"][0]["imageDigest"]


def _ensure_project(codebuild, name: str, source: str, role_arn: str, variables: dict) -> None:
    definition = dict(
        name=name,
        description="Builds a sagemaker-snowpark tutorial image and pushes it to Amazon ECR",
        source={"type": "S3", "location": source},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": CODEBUILD_IMAGE,
            "computeType": BUILD_COMPUTE_TYPE,
            "privilegedMode": True,  # docker build needs it
            "environmentVariables": [
                {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables.items()
            ],
        },
        serviceRole=role_arn,
        timeoutInMinutes=60,
    )
    if codebuild.batch_get_projects(names=[name])["projects"]:
        codebuild.update_project(**definition)
    else:
        codebuild.create_project(**definition)


def wait_for_build(
    build_id: str, codebuild=None, logs=None, poll_seconds: float = 5.0, echo: Callable = print
) -> dict:
    """Wait for a CodeBuild build, echoing its CloudWatch log; raises when it does not succeed."""
    codebuild = codebuild or boto3.client("codebuild")
    logs = logs or boto3.client("logs")
    token, wait = None, 1.0
    while True:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        group, stream = build["logs"].get("groupName"), build["logs"].get("streamName")
        if group and stream:
            token = _echo_new_events(logs, group, stream, token, echo)
        if build["buildStatus"] != "IN_PROGRESS":
            if group and stream:
                _echo_new_events(logs, group, stream, token, echo)
            break
        time.sleep(wait)
        wait = min(wait * 2, poll_seconds)  # quick builds finish quickly; long ones poll less
    if build["buildStatus"] != "SUCCEEDED":
        failed = [p for p in build["phases"] if p.get("phaseStatus") not in (None, "SUCCEEDED")]
        detail = (
            failed[-1]["contexts"][0]["message"] if failed and failed[-1].get("contexts") else ""
        )
        raise TutorialError(
            f"CodeBuild build {build_id} ended {build['buildStatus']}: "
            f"{detail or 'see its log above'}. Fix the cause and run the cell again."
        )
    return build


def _echo_new_events(
    logs, group: str, stream: str, token: str | None, echo: Callable
) -> str | None:
    kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    while True:
        try:
            page = logs.get_log_events(**kwargs, **({"nextToken": token} if token else {}))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return token  # the stream appears once the build container starts
            raise
        for event in page["events"]:
            echo(event["message"].rstrip())
        if page["nextForwardToken"] == token:
            return token
        token = page["nextForwardToken"]


def build_and_push(
    project_root: Path,
    paths: list[str],
    dockerfile: str,
    repository: str,
    bucket: str,
    codebuild_role_arn: str | None = None,
    project: str | None = None,
    echo: Callable = print,
) -> BuiltImage:
    """Build `dockerfile` from `paths` with CodeBuild and push it to ECR as repository:src-<hash>.

    Re-running with unchanged files finds the image in ECR and returns it without building.
    CodeBuild acts as `codebuild_role_arn`, by default SAGEMAKER_CODEBUILD_ROLE_ARN; without
    either, this stops before anything is made.
    """
    service_role = codebuild_role_arn or settings.codebuild_role_arn()
    bundle = source_bundle(project_root, paths, dockerfile)
    tag = "src-" + hashlib.sha256(bundle).hexdigest()[:12]
    ecr = boto3.client("ecr")
    repository_uri = ensure_ecr_repository(repository, ecr)
    uri = f"{repository_uri}:{tag}"
    digest = _existing_image(ecr, repository, tag)
    if digest:
        echo(f"{uri} is already in Amazon ECR: nothing to build.")
        return BuiltImage(uri, digest, built_now=False)

    project = project or codebuild_project(repository)
    key = source_key(project)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=bundle)
    account = repository_uri.split(".", 1)[0]
    variables = {
        "AWS_ACCOUNT_ID": account,
        "IMAGE_REPO_NAME": repository,
        "IMAGE_TAG": tag,
        "DOCKERFILE": dockerfile,
    }
    codebuild = boto3.client("codebuild")
    _ensure_project(codebuild, project, f"{bucket}/{key}", service_role, variables)
    try:
        build = codebuild.start_build(
            projectName=project,
            environmentVariablesOverride=[
                {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables.items()
            ],
        )["build"]
    except ClientError as error:
        # A new account's quota of concurrent builds is often 0 (or 1, which others may fill).
        if error.response["Error"]["Code"] != "AccountLimitExceededException":
            raise
        raise TutorialError(
            f"CodeBuild refused to start the build: {error.response['Error']['Message']}. "
            "Raise the account's quota 'Concurrently running builds for Linux/Medium "
            "environment', or wait for its other builds: see docs/real-accounts.md, AWS quotas "
            "of a new account."
        ) from None
    echo(f"CodeBuild build {build['id']} started.")
    wait_for_build(build["id"], codebuild, echo=echo)
    digest = _existing_image(ecr, repository, tag)
    if digest is None:
        raise TutorialError(
            f"The build succeeded but {uri} is not in Amazon ECR; see the build log."
        )
    return BuiltImage(uri, digest, built_now=True)
