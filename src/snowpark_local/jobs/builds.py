"""CodeBuild builds for the local stack: what `docker build` + `docker push` would leave in ECR.

A build reads its source zip from S3 (the project's S3 source), checks the Dockerfile and the
target ECR repository, and pushes a manifest whose digest is the source's SHA-256, so the same
source always gives the same image. In `process` mode nothing is built: the training runtime runs
the `train` program beside the Dockerfile, from this very source. In `docker` mode a training
image (a Dockerfile with a `train` program beside it) is built for real with `docker build`;
other images (the Studio kernel image) are recorded only.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from moto.core.utils import iso_8601_datetime_with_milliseconds

from snowpark_local.aws.ecr import put_ecr_image
from snowpark_local.aws.iam import role_allows
from snowpark_local.aws.store import put_log_lines, read_s3_object

from . import docker


@dataclass(frozen=True)
class BuiltImage:
    """An image the stack built: its source tree, the Dockerfile's path inside it, and the local
    Docker image built from them (docker mode only)."""

    source_dir: Path
    dockerfile: str
    docker_image: str | None = None

    @property
    def train_program(self) -> Path:
        return self.source_dir / Path(self.dockerfile).parent / "train"


class ImageBuilder:
    """Runs CodeBuild builds in threads; `images` maps an image digest to what was built."""

    def __init__(self, state_dir: Path, mode: str = "process"):
        self.mode = mode
        self.builds_dir = state_dir / "builds"
        self.images: dict[str, BuiltImage] = {}
        self._threads: list[threading.Thread] = []

    def start(self, account: str, region: str, build: dict) -> None:
        thread = threading.Thread(
            target=self._run,
            args=(account, region, build),
            name=f"build-{build['id']}",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()

    def join(self, timeout: float = 10.0) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def _run(self, account: str, region: str, build: dict) -> None:
        logs = build["logs"]

        def log(line: str) -> None:  # at once, so that a long docker build streams
            put_log_lines(account, region, logs["groupName"], logs["streamName"], [line])

        variables = {v["name"]: v["value"] for v in build["environment"]["environmentVariables"]}
        repository = variables.get("IMAGE_REPO_NAME", "")
        tag = variables.get("IMAGE_TAG", "latest")
        dockerfile = variables.get("DOCKERFILE", "Dockerfile")
        location = build["source"].get("location", "")
        bucket, _, key = location.partition("/")
        log(f"[Container] local stack: build {build['id']}")
        log(f"[Container] DOWNLOAD_SOURCE s3://{location}")

        outcome, phase, reason = "SUCCEEDED", "POST_BUILD", None
        role = build.get("serviceRole", "")
        source = read_s3_object(account, bucket, key) if key else None
        if reason := _role_cannot_build(account, region, role, logs["groupName"], bucket, key):
            phase = "DOWNLOAD_SOURCE" if "CLIENT_ERROR" in reason else "PROVISIONING"
        elif source is None:
            phase, reason = "DOWNLOAD_SOURCE", f"CLIENT_ERROR: no source found at s3://{location}"
        else:
            digest = "sha256:" + hashlib.sha256(source).hexdigest()
            source_dir = self.builds_dir / digest.split(":")[1][:16]
            try:
                _extract(source, source_dir)
            except zipfile.BadZipFile:
                phase, reason = (
                    "DOWNLOAD_SOURCE",
                    f"CLIENT_ERROR: s3://{location} is not a zip file",
                )
            if reason is None and not (source_dir / dockerfile).is_file():
                phase = "BUILD"
                reason = f"COMMAND_EXECUTION_ERROR: {dockerfile} not found in the source"
            if reason is None:
                log(f"[Container] BUILD docker build -f {dockerfile} -t {repository}:{tag} .")
                phase = "BUILD"
                docker_image, reason = self._docker_build(
                    source_dir, dockerfile, f"{repository}:{tag}", log
                )
            if reason is None:
                phase = "POST_BUILD"
                reason = _role_cannot_push(account, region, role, repository)
            if reason is None:
                pushed = put_ecr_image(account, region, repository, tag, digest)
                if pushed is None:
                    reason = (
                        f"COMMAND_EXECUTION_ERROR: name unknown: the repository with name "
                        f"'{repository}' does not exist in the registry"
                    )
                else:
                    self.images[pushed] = BuiltImage(source_dir, dockerfile, docker_image)
                    log(f"[Container] POST_BUILD pushed {repository}:{tag}")
                    log(f"[Container] POST_BUILD digest {pushed}")
        if reason is not None:
            outcome = "FAILED"
            log(f"[Container] Phase {phase} failed: {reason}")
        _finish(build, outcome, phase, reason)

    def _docker_build(self, source_dir: Path, dockerfile: str, tag: str, log):
        """(the local Docker image or None, the failure reason or None), as the mode decides."""
        if not (source_dir / Path(dockerfile).parent / "train").is_file():
            log(
                "[Container] local stack: not a training image (no train program beside its "
                "Dockerfile): recorded, not built"
            )
            return None, None
        if self.mode != "docker":
            # Two lines: a notebook shows each at a readable width.
            log("[Container] local stack (process mode): the image is recorded from its source;")
            log("[Container] a training job with it runs its train program as a process")
            return None, None
        if docker.image_exists(tag):
            log(f"[Container] local stack: {tag} was built before from this source: reused")
            return tag, None
        code = docker.build(source_dir, dockerfile, tag, lambda line: log(f"[Container] {line}"))
        if code != 0:
            return None, f"COMMAND_EXECUTION_ERROR: docker build exited with code {code}"
        return tag, None


def _extract(source: bytes, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(io.BytesIO(source)) as archive:
        archive.extractall(partial)
        # extractall drops the modes stored in the zip; unzip keeps them, and so does CodeBuild.
        for info in archive.infolist():
            if not info.is_dir() and (info.external_attr >> 16) & 0o111:
                (partial / info.filename).chmod(0o755)
    partial.rename(target)


def _finish(build: dict, outcome: str, failed_phase: str, reason: str | None) -> None:
    now = iso_8601_datetime_with_milliseconds()
    phases = ["PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD"]
    for entry in build["phases"]:
        entry.setdefault("phaseStatus", "SUCCEEDED")
    for phase in phases:
        failed = outcome == "FAILED" and phase == failed_phase
        entry = {
            "phaseType": phase,
            "phaseStatus": "FAILED" if failed else "SUCCEEDED",
            "startTime": now,
            "endTime": now,
            "durationInSeconds": 0,
        }
        if failed:
            entry["contexts"] = [{"statusCode": reason.split(":")[0], "message": reason}]
        build["phases"].append(entry)
        if failed:
            break
    build["phases"].append({"phaseType": "COMPLETED", "startTime": now})
    build["endTime"] = now
    build["currentPhase"] = "COMPLETED"
    build["buildComplete"] = True
    build["buildStatus"] = outcome  # last: a reader that sees the outcome sees the rest too


def _role_cannot_build(account, region, role, group, bucket, key) -> str | None:
    """What CodeBuild reports when its service role may not write the build's logs or read its
    source (AWS documents logs, s3:GetObject and the bucket's ACL and location for these roles)."""
    stream = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:*"
    if not all(
        role_allows(account, role, action, stream)
        for action in ("logs:CreateLogStream", "logs:PutLogEvents")
    ):
        return (
            f"ACCESS_DENIED: Service role {role} does not allow AWS CodeBuild to create Amazon "
            f"CloudWatch Logs log streams for build in log group {group}"
        )
    needs = [("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")] + [
        (action, f"arn:aws:s3:::{bucket}") for action in ("s3:GetBucketAcl", "s3:GetBucketLocation")
    ]
    for action, resource in needs:
        if not role_allows(account, role, action, resource):
            return (
                f"CLIENT_ERROR: AccessDenied: service role {role} may not {action} on {resource} "
                "for primary source"
            )
    return None


def _role_cannot_push(account, region, role, repository) -> str | None:
    arn = f"arn:aws:ecr:{region}:{account}:repository/{repository}"
    needs = [("ecr:GetAuthorizationToken", "*")] + [
        (action, arn)
        for action in (
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
        )
    ]
    for action, resource in needs:
        if not role_allows(account, role, action, resource):
            return (
                f"COMMAND_EXECUTION_ERROR: denied: User: {role} is not authorized to perform: "
                f"{action} on resource: {resource}"
            )
    return None
