"""SageMaker training jobs on the local stack: CreateTrainingJob that really runs the job (through
WORKERS.training), StopTrainingJob, and ListTrainingJobs sorted and paged as AWS documents (moto
ignores SortBy and SortOrder, and pages before it filters)."""

from __future__ import annotations

import copy

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from snowpark_local.aws.iam import role_trusts
from snowpark_local.aws.sagemaker.requests import (
    list_jobs,
    validate_request,
)
from snowpark_local.patch import Patch, upstream
from snowpark_local.workers import WORKERS

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def training_job(account: str, region: str, name: str):
    """moto's record of a training job, or None (e.g. after /moto-api/reset)."""
    return sagemaker_backends[account][region].training_jobs.get(name)


def create_training_job(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("TrainingJobName")
    if name in self.sagemaker_backend.training_jobs:
        raise ResourceInUseException(f"Training job {name} already exists.")
    role = self._get_param("RoleArn")
    if not role_trusts(self.current_account, role, "sagemaker.amazonaws.com"):
        raise ValidationError(
            f"Could not assume role {role}. Please ensure that the role exists and allows "
            "principal 'sagemaker.amazonaws.com' to assume the role."
        )
    # moto drops Environment and overwrites the metric definitions in place; keep a copy.
    requested = copy.deepcopy(self._get_param("AlgorithmSpecification"))
    result = upstream(SageMakerResponse, "create_training_job")(self)
    job = self.sagemaker_backend.training_jobs[name]
    job.environment = self._get_param("Environment") or {}
    job.algorithm_specification = requested
    job.training_job_status, job.secondary_status = "InProgress", "Starting"
    job.secondary_status_transitions = [
        {"Status": "Starting", "StartTime": utcnow(), "StatusMessage": "Preparing the job"}
    ]
    job.training_start_time, job.training_end_time = None, None
    job.final_metric_data_list = None
    job.model_artifacts = None
    WORKERS.training.start(self.current_account, self.region, name)
    return result


def stop_training_job(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("TrainingJobName")
    job = self.sagemaker_backend.training_jobs.get(name)
    if job is None:
        raise ResourceNotFound(f"Training job {name} does not exist.")
    if job.training_job_status != "InProgress":
        raise ValidationError(
            f"The training job {name} is {job.training_job_status} and cannot be stopped."
        )
    job.training_job_status, job.secondary_status = "Stopping", "Stopping"
    WORKERS.training.stop(self.current_account, self.region, name)
    return EmptyResult()


def list_training_jobs(self: SageMakerResponse) -> ActionResult:
    params = validate_request(self, "ListTrainingJobs")
    jobs = list(self.sagemaker_backend.training_jobs.values())
    if params.get("WarmPoolStatusEquals") or params.get("TrainingPlanArnEquals"):
        jobs = []  # no job of the local stack has a warm pool or a training plan
    # The reference gives SortOrder's default as Ascending, but its note on StatusEquals
    # describes a call without one as listing "from the most current to the oldest".
    return list_jobs(
        params,
        jobs,
        name="training_job_name",
        status="training_job_status",
        key="TrainingJobSummaries",
        summary=_training_summary,
        default_order="Descending",
        status_after_paging=True,
    )


def _training_summary(job) -> dict:
    summary = {
        "TrainingJobName": job.training_job_name,
        "TrainingJobArn": job.arn,
        "CreationTime": job.creation_time,
        "TrainingEndTime": job.training_end_time,
        "LastModifiedTime": job.last_modified_time,
        "TrainingJobStatus": job.training_job_status,
        "SecondaryStatus": job.secondary_status,
    }
    return {key: value for key, value in summary.items() if value is not None}


# --- What this module changes in moto, for the registry (snowpark_local/patches.py)

PATCHES: list[Patch] = [
    Patch(
        SageMakerResponse,
        "create_training_job",
        create_training_job,
        "moto runs nothing and drops Environment; the stack's runtime runs the job",
    ),
    Patch(
        SageMakerResponse,
        "stop_training_job",
        stop_training_job,
        "moto has no StopTrainingJob",
        kind="add",
    ),
    Patch(
        SageMakerResponse,
        "list_training_jobs",
        list_training_jobs,
        "moto ignores SortBy and SortOrder, and pages before it filters",
    ),
]
