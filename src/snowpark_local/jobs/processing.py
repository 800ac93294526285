"""Processing jobs' runtime: runs a job CreateProcessingJob recorded (aws/sagemaker/processing.py)
on one instance, with the training runtime's machinery."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path, PurePosixPath

from moto.core.utils import utcnow

from snowpark_local.aws.ecr import find_ecr_image, may_pull
from snowpark_local.aws.iam import role_allows
from snowpark_local.aws.sagemaker.processing import processing_job
from snowpark_local.aws.store import list_s3_keys, read_s3_object, write_s3_object
from snowpark_local.jobs import docker
from snowpark_local.jobs.training import (
    INHERITED_VARIABLES,
    TrainingRuntime,
    _Run,
    max_runtime,
    role_session,
    start_program,
)

PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
EXIT_MESSAGE_LIMIT = 1024  # "the first 1 KB" of /opt/ml/output/message (AWS docs)
FAILURE_REASON_LIMIT = 1024
# What SageMaker answers when the program exits non-zero; the program's own words go to
# ExitMessage, through /opt/ml/output/message.
ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"
HOST = "algo-1"


class _ClientError(Exception):
    """The job's own configuration is at fault: SageMaker's ClientError."""


class ProcessingRuntime(TrainingRuntime):
    """Runs processing jobs; starting, stopping and waiting are the training runtime's."""

    def __init__(self, state_dir: Path, *args, **kwargs):
        super().__init__(state_dir, *args, **kwargs)
        # Inside jobs/ with the training jobs' trees; no training job name has an underscore.
        self.jobs_dir = state_dir / "jobs" / "_processing"

    def _run_job(self, account: str, region: str, name: str, run: _Run) -> None:
        job = processing_job(account, region, name)
        if job is None:
            return
        started = time.time()
        run.deadline = started + max_runtime(job.stopping_condition)
        job.processing_start_time = job.last_modified_time = utcnow()
        stream = f"{name}/{HOST}-{int(started)}"
        exit_message = None
        try:
            status, reason, exit_message = self._process(account, region, job, stream, run)
        except _ClientError as error:
            status, reason = "Failed", str(error)
        except Exception as error:  # the stack's own fault: report it rather than hang InProgress
            status, reason = "Failed", f"InternalServerError: local stack: {error}"
        job.exit_message = exit_message
        job.failure_reason = reason[:FAILURE_REASON_LIMIT] if reason else None
        job.processing_end_time = job.last_modified_time = utcnow()
        job.processing_job_status = status  # last: a reader that sees the status sees the rest
        with self._lock:
            self._runs.pop((account, region, name), None)

    def _process(self, account, region, job, stream, run) -> tuple[str, str | None, str | None]:
        app = job.app_specification
        built = _image(account, job.role_arn, app["ImageUri"], self.images)
        root = self.jobs_dir / job.processing_job_name / HOST  # stands for /opt/ml
        shutil.rmtree(root.parent, ignore_errors=True)
        self._prepare_tree(account, job, root)
        if run.stop_requested.is_set():
            return "Stopped", None, None
        # Without these SageMaker still runs the job, but its logs never reach CloudWatch.
        group = f"arn:aws:logs:{region}:{account}:log-group:{PROCESSING_LOG_GROUP}"
        can_log = all(
            role_allows(account, job.role_arn, action, f"{group}:log-stream:{stream}")
            for action in ("logs:CreateLogStream", "logs:PutLogEvents")
        )
        env = {**self.endpoints, **role_session(job.arn, job.role_arn, job.stopping_condition)}
        env.update(job.environment or {})
        entrypoint = app.get("ContainerEntrypoint") or []
        arguments = app.get("ContainerArguments") or []
        scratch = root.with_name(f"{HOST}.tmp")  # the instance's /tmp
        scratch.mkdir()
        if built.docker_image:  # docker mode: the real image, /opt/ml mounted
            container = f"sm-processing-{job.processing_job_name}"
            command = docker.run_command(
                built.docker_image,
                container,
                root,
                scratch,
                [HOST],
                env,
                command=[*entrypoint[1:], *arguments],
                entrypoint=entrypoint[0] if entrypoint else None,
            )
            run.containers.append(container)
        else:  # process mode: the entrypoint's program, from the image's build source
            command = [self.python, str(_program(built, entrypoint)), *entrypoint[1:], *arguments]
            env.update({k: os.environ[k] for k in INHERITED_VARIABLES if k in os.environ})
            env.update(
                {
                    # Where this process's /opt/ml is; a container sees the real /opt/ml.
                    "SAGEMAKER_BASE_DIR": str(root),
                    "PYTHONPATH": str(built.source_dir / "src"),
                    "PYTHONUNBUFFERED": "1",  # the image's ENV says so; logs stream as written
                    "TMPDIR": str(scratch),
                }
            )
        pump = start_program(
            run,
            command,
            root,
            env if not built.docker_image else None,
            (account, region, stream if can_log else None, []),
            group=PROCESSING_LOG_GROUP,
        )
        [code], _ = self._wait(run, on_timeout=lambda: _stopping(job))
        pump.join()
        docker.remove_env_file(root)
        shutil.rmtree(scratch, ignore_errors=True)
        exit_message = _exit_message(root / "output" / "message")
        if run.stop_requested.is_set():
            return "Stopped", None, exit_message
        if code != 0:
            return "Failed", ALGORITHM_ERROR, exit_message
        self._upload(account, job, root)
        return "Completed", None, exit_message

    def _prepare_tree(self, account: str, job, root: Path) -> None:
        config = root / "config"
        for folder in (config, root / "output"):
            folder.mkdir(parents=True, exist_ok=True)
        cluster = job.processing_resources["ClusterConfig"]
        (config / "resourceconfig.json").write_text(
            json.dumps({"current_host": HOST, "hosts": [HOST]})
        )
        (config / "processingjobconfig.json").write_text(
            json.dumps(
                {
                    "ProcessingJobArn": job.arn,
                    "ProcessingJobName": job.processing_job_name,
                    "AppSpecification": job.app_specification,
                    "Environment": job.environment,
                    "ProcessingInputs": job.processing_inputs or [],
                    "ProcessingOutputConfig": job.processing_output_config or {"Outputs": []},
                    "ProcessingResources": {"ClusterConfig": cluster},
                    "RoleArn": job.role_arn,
                    "StoppingCondition": {
                        "MaxRuntimeInSeconds": max_runtime(job.stopping_condition)
                    },
                }
            )
        )
        for item in job.processing_inputs or []:
            source = item["S3Input"]
            _download(account, job.role_arn, source["S3Uri"], _local(root, source["LocalPath"]))
        for item in _outputs(job):
            _local(root, item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _upload(account: str, job, root: Path) -> None:
        """Each output folder's files, under its S3Uri (S3UploadMode EndOfJob)."""
        for item in _outputs(job):
            target = item["S3Output"]
            folder = _local(root, target["LocalPath"])
            bucket, _, prefix = target["S3Uri"].removeprefix("s3://").partition("/")
            files = sorted(p for p in folder.rglob("*") if p.is_file())
            for path in files:
                key = "/".join(filter(None, [prefix.strip("/"), *path.relative_to(folder).parts]))
                if not role_allows(
                    account, job.role_arn, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}"
                ):
                    raise _ClientError(
                        f"ClientError: the execution role {job.role_arn} may not write "
                        f"s3://{bucket}/{key} (output {item['OutputName']}): grant it "
                        "s3:PutObject there"
                    )
                write_s3_object(account, bucket, key, path.read_bytes())


def _stopping(job) -> None:
    """A processing job whose time ran out is Stopping, as after StopProcessingJob."""
    job.processing_job_status, job.last_modified_time = "Stopping", utcnow()


def _outputs(job) -> list[dict]:
    return (job.processing_output_config or {}).get("Outputs") or []


def _local(root: Path, container_path: str) -> Path:
    """Where a path of the container (/opt/ml/...) is in the job's tree."""
    return root.joinpath(*PurePosixPath(container_path).relative_to("/opt/ml").parts)


def _image(account: str, role: str, uri: str, images: dict):
    """The image the stack built for `uri`, once the role may pull it (ClientError otherwise)."""
    found = find_ecr_image(uri)
    built = images.get(found.digest) if found else None
    if built is None:
        raise _ClientError(
            f"ClientError: the image {uri} does not exist in Amazon ECR; build and push it "
            "before starting the job"
        )
    if not may_pull(account, role, found):
        raise _ClientError(
            f"ClientError: the execution role {role} may not pull {uri}: grant it "
            "ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer"
        )
    return built


def _program(built, entrypoint: list[str]) -> Path:
    """Process mode: the file beside the image's Dockerfile that the entrypoint names, as the
    Dockerfile copies it onto the image's PATH (`train` is found the same way)."""
    if not entrypoint:
        raise _ClientError(
            "ClientError: in process mode the local stack runs the program that "
            "ContainerEntrypoint names (e.g. ['score']); give the job a ContainerEntrypoint"
        )
    program = built.source_dir / Path(built.dockerfile).parent / PurePosixPath(entrypoint[0]).name
    if not program.is_file():
        raise _ClientError(
            f"ClientError: the image has no program {entrypoint[0]!r}: put it beside the "
            f"Dockerfile ({built.dockerfile}) and copy it onto the image's PATH"
        )
    return program


def _download(account: str, role: str, uri: str, target: Path) -> None:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    # As S3 authorizes a listing: on the bucket, with the prefix as the s3:prefix condition key.
    context = {"s3:prefix": prefix}
    may_list = role_allows(account, role, "s3:ListBucket", f"arn:aws:s3:::{bucket}", context)
    keys = list_s3_keys(account, bucket, prefix) if may_list else []
    if not keys:
        raise _ClientError(
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
            "Please ensure that the bucket exists in the selected region, that objects exist "
            f'under that S3 prefix, and that the role "{role}" has "s3:ListBucket" permissions '
            f'on bucket "{bucket}".'
        )
    target.mkdir(parents=True, exist_ok=True)
    for key in keys:
        if not role_allows(account, role, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"):
            raise _ClientError(
                f"ClientError: the execution role {role} may not read s3://{bucket}/{key}: "
                "grant it s3:GetObject on the input"
            )
        relative = key[len(prefix) :].lstrip("/") or PurePosixPath(key).name
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(read_s3_object(account, bucket, key) or b"")


def _exit_message(path: Path) -> str | None:
    """The first KB of /opt/ml/output/message; text that is not UTF-8 fails the job."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise _ClientError(
            "ClientError: /opt/ml/output/message is not UTF-8 encoded text; write the "
            "message as UTF-8"
        ) from None
    # A character cut at the 1 KB boundary is left out rather than mangled.
    return data[:EXIT_MESSAGE_LIMIT].decode("utf-8", "ignore")
