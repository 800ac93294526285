"""SageMaker Processing jobs on the local stack: the requests, checked as AWS checks them, and the
handlers (CreateProcessingJob, StopProcessingJob, ListProcessingJobs); the job itself runs in
jobs/processing.py.

moto 5.2.5 records a processing job and calls it Completed at once, running nothing, keeping no
ProcessingResources or Environment, checking nothing but the shapes. This module patches its
handlers (CreateProcessingJob, DescribeProcessingJob through moto's record, ListProcessingJobs,
StopProcessingJob) and runs the job with the training runtime's machinery, on one instance:

- the request is checked as AWS checks it: botocore's model (required members, names, limits),
  LocalPath under /opt/ml/processing/, unique input and output names, a role SageMaker may
  assume (and iam:PassRole, in aws/iam.py);
- each S3 input (S3Prefix, File mode) is downloaded to its LocalPath, and each output's
  LocalPath exists when the program starts; /opt/ml/config holds processingjobconfig.json and
  resourceconfig.json;
- the program is the image's `ContainerEntrypoint` with `ContainerArguments`, the job's
  `Environment` and a session of its execution role. In `docker` mode that is
  `docker run --entrypoint ... IMAGE ...` with /opt/ml mounted; in `process` mode the entrypoint's
  program is the file of that name beside the image's Dockerfile (as `train` for training jobs),
  run with SAGEMAKER_BASE_DIR naming the folder that stands for /opt/ml;
- its output goes to CloudWatch Logs `/aws/sagemaker/ProcessingJobs`, stream
  `<job>/algo-1-<epoch>`; exit code 0 makes the job Completed (then the outputs are uploaded to
  S3), any other Failed with AWS's "AlgorithmError: See job logs for more information"; the first
  KB of /opt/ml/output/message becomes ExitMessage (not UTF-8: a ClientError failure);
- StopProcessingJob makes it Stopping, sends SIGTERM, SIGKILL after the grace period, then Stopped;
  so does reaching StoppingCondition.MaxRuntimeInSeconds ("the processing job is stopped", with no
  FailureReason).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import FakeProcessingJob, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from snowpark_local.aws.iam import role_trusts
from snowpark_local.aws.sagemaker.requests import list_jobs, validate_request
from snowpark_local.patch import Patch, upstream
from snowpark_local.workers import WORKERS

CONTAINER_PATH = PurePosixPath("/opt/ml/processing")


def processing_job(account: str, region: str, name: str) -> FakeProcessingJob | None:
    """moto's record of a processing job, or None (e.g. after /moto-api/reset)."""
    return sagemaker_backends[account][region].processing_jobs.get(name)


# --- The request, checked as AWS checks it


def _check_request(params: dict) -> None:
    cluster = params["ProcessingResources"]["ClusterConfig"]
    for member in ("InstanceType", "InstanceCount"):
        if member not in cluster:
            raise ValidationError(
                f"ProcessingResources.ClusterConfig.{member} is required: name the instance "
                "type and count the job runs on."
            )
    if cluster["InstanceCount"] != 1:
        raise ValidationError(
            f"InstanceCount {cluster['InstanceCount']}: the local stack runs processing jobs on "
            "one instance; set instance_count=1."
        )
    inputs = params.get("ProcessingInputs") or []
    outputs = (params.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    for kind, items, key in (("input", inputs, "InputName"), ("output", outputs, "OutputName")):
        names = [item[key] for item in items]
        if duplicated := sorted({n for n in names if names.count(n) > 1}):
            raise ValidationError(
                f"{key} {duplicated[0]!r} is used by more than one processing {kind}: give each "
                f"{kind} a name of its own."
            )
    paths = []
    for item in inputs:
        source = item.get("S3Input")
        if item.get("DatasetDefinition") or not source:
            raise ValidationError(
                f"Processing input {item['InputName']!r}: the local stack downloads S3Input "
                "inputs only; give it an S3Input."
            )
        _check_local_path(source.get("LocalPath"), f"input {item['InputName']!r}")
        unsupported = {
            "S3DataType": ("S3Prefix", source["S3DataType"]),
            "S3InputMode": ("File", source.get("S3InputMode", "File")),
            "S3CompressionType": ("None", source.get("S3CompressionType", "None")),
        }
        for member, (supported, value) in unsupported.items():
            if value != supported:
                raise ValidationError(
                    f"Processing input {item['InputName']!r}: {member} {value} is not supported "
                    f"by the local stack; use {supported}."
                )
        paths.append(source["LocalPath"])
    for item in outputs:
        target = item.get("S3Output")
        if item.get("FeatureStoreOutput") or not target:
            raise ValidationError(
                f"Processing output {item['OutputName']!r}: the local stack uploads S3Output "
                "outputs only; give it an S3Output."
            )
        _check_local_path(target.get("LocalPath"), f"output {item['OutputName']!r}")
        if target["S3UploadMode"] != "EndOfJob":
            raise ValidationError(
                f"Processing output {item['OutputName']!r}: S3UploadMode "
                f"{target['S3UploadMode']} is not supported by the local stack; use EndOfJob."
            )
        paths.append(target["LocalPath"])
    normalized = [PurePosixPath(p) for p in paths]
    for index, path in enumerate(normalized):
        for other in normalized[index + 1 :]:
            if path == other or path in other.parents or other in path.parents:
                raise ValidationError(
                    f"LocalPath {path} and {other} overlap: give each processing input and "
                    "output a folder of its own."
                )


def _check_local_path(path: str | None, what: str) -> None:
    if not path:
        raise ValidationError(
            f"Processing {what} has no LocalPath; it is required unless AppManaged is true."
        )
    pure = PurePosixPath(path)
    if not (pure.is_absolute() and CONTAINER_PATH in pure.parents) or ".." in pure.parts:
        raise ValidationError(
            f"Processing {what}: LocalPath {path!r} must be an absolute path that begins with "
            f"{CONTAINER_PATH}/ (e.g. {CONTAINER_PATH}/input)."
        )


# --- The handlers


def create_processing_job(self: SageMakerResponse) -> ActionResult:
    params = validate_request(self, "CreateProcessingJob")
    name = params["ProcessingJobName"]
    jobs = self.sagemaker_backend.processing_jobs
    if name in jobs:
        raise ResourceInUseException(
            f"Processing job names must be unique within an AWS account and region, and a "
            f"processing job with this name already exists ({jobs[name].arn})."
        )
    _check_request(params)
    role = params["RoleArn"]
    if not role_trusts(self.current_account, role, "sagemaker.amazonaws.com"):
        raise ValidationError(
            f"Could not assume role {role}. Please ensure that the role exists and allows "
            "principal 'sagemaker.amazonaws.com' to assume the role."
        )
    result = upstream(SageMakerResponse, "create_processing_job")(self)
    job = jobs[name]
    # moto keeps neither of these, and calls the job Completed at once.
    job.processing_resources = params["ProcessingResources"]
    job.environment = params.get("Environment") or {}
    job.processing_job_status = "InProgress"
    # Every attribute the runtime sets exists from here on: describe reads them concurrently.
    job.processing_start_time = job.processing_end_time = None
    job.exit_message = job.failure_reason = None
    WORKERS.processing.start(self.current_account, self.region, name)
    return result


def stop_processing_job(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("ProcessingJobName")
    job = self.sagemaker_backend.processing_jobs.get(name)
    if job is None:
        arn = FakeProcessingJob.arn_formatter(name, self.current_account, self.region)
        raise ValidationError(f"Could not find processing job '{arn}'.")
    if job.processing_job_status != "InProgress":
        raise ValidationError(
            f"The processing job {name} is {job.processing_job_status} and cannot be stopped."
        )
    job.processing_job_status, job.last_modified_time = "Stopping", utcnow()
    WORKERS.processing.stop(self.current_account, self.region, name)
    return EmptyResult()


def list_processing_jobs(self: SageMakerResponse) -> ActionResult:
    params = validate_request(self, "ListProcessingJobs")
    # ListProcessingJobs' documented defaults: CreationTime, Ascending; filters before paging.
    return list_jobs(
        params,
        list(self.sagemaker_backend.processing_jobs.values()),
        name="processing_job_name",
        status="processing_job_status",
        key="ProcessingJobSummaries",
        summary=_summary,
        default_order="Ascending",
    )


def _summary(job: FakeProcessingJob) -> dict:
    summary = {
        "ProcessingJobName": job.processing_job_name,
        "ProcessingJobArn": job.arn,
        "CreationTime": job.creation_time,
        "ProcessingEndTime": job.processing_end_time,
        "LastModifiedTime": job.last_modified_time,
        "ProcessingJobStatus": job.processing_job_status,
        "FailureReason": job.failure_reason,
        "ExitMessage": job.exit_message,
    }
    return {key: value for key, value in summary.items() if value is not None}


# --- What this module changes in moto, for the registry (snowpark_local/patches.py)

PATCHES: list[Patch] = [
    Patch(
        SageMakerResponse,
        "create_processing_job",
        create_processing_job,
        "moto runs nothing, calls the job Completed at once, keeps no resources or Environment",
    ),
    Patch(
        SageMakerResponse,
        "stop_processing_job",
        stop_processing_job,
        "moto marks any job Stopped at once; the stack's runtime stops the job's program",
    ),
    Patch(
        SageMakerResponse,
        "list_processing_jobs",
        list_processing_jobs,
        "moto ignores SortBy and SortOrder, and pages before it filters",
    ),
]
