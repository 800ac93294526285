"""Find and delete what the series created, and only that. Every function is safe to run twice."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

from . import settings, studio
from .images import codebuild_project, source_key

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


@dataclass(frozen=True)
class SeriesResources:
    """The names the notebooks use (their parameters cells hold the same defaults)."""

    bucket: str
    domain_id: str
    secret_name: str = "sagemaker-snowpark/snowflake"
    user_profile: str | None = None  # the learner's Studio user profile; found when None
    studio_image: str = "snowpark-kernel"
    app_image_configs: tuple[str, ...] = (
        "snowpark-kernel-jupyterlab",
        "snowpark-kernel-kernelgateway",
    )
    repositories: tuple[str, ...] = ("sagemaker-snowpark-kernel", "sagemaker-snowpark-training")
    training_output_prefix: str = "sagemaker-snowpark/training/"
    training_job_prefix: str = "snowpark-maintenance"
    processing_output_prefix: str = "sagemaker-snowpark/scoring/"
    processing_job_prefix: str = "snowpark-maintenance-scoring"
    predictions_table: str = "MAINTENANCE_PREDICTIONS"
    readings_table: str = "MAINTENANCE_READINGS"
    # Notebook 06's predictions, and the table it loads a CSV file into, by their default names.
    own_tables: tuple[str, ...] = ("OWN_PREDICTIONS", "OWN_TABLE")

    @property
    def codebuild_projects(self) -> tuple[str, ...]:
        return tuple(codebuild_project(r) for r in self.repositories)

    @property
    def s3_prefixes(self) -> tuple[str, ...]:
        sources = tuple(source_key(p) for p in self.codebuild_projects)
        return (*sources, self.training_output_prefix, self.processing_output_prefix)


def _missing(error: ClientError, *codes: str) -> bool:
    return error.response["Error"]["Code"] in codes


def _all(client, operation: str, key: str, **kwargs) -> list[dict]:
    """Every item of a paged list call (AWS answers 10 or 100 a page by default)."""
    pages = client.get_paginator(operation).paginate(**kwargs)
    return [item for page in pages for item in page[key]]


def _s3_keys(bucket: str, prefix: str) -> list[str]:
    pages = (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _log_streams(prefix: str, group: str = TRAINING_LOG_GROUP) -> list[str]:
    logs = boto3.client("logs")
    try:
        pages = logs.get_paginator("describe_log_streams").paginate(
            logGroupName=group, logStreamNamePrefix=prefix
        )
        return [s["logStreamName"] for page in pages for s in page["logStreams"]]
    except ClientError as error:
        if _missing(error, "ResourceNotFoundException"):
            return []
        raise


def inventory(names: SeriesResources) -> dict[str, list[str]]:
    """What of the series exists now, by kind; an empty list means nothing is left."""
    sagemaker, ecr = boto3.client("sagemaker"), boto3.client("ecr")
    found: dict[str, list[str]] = {}
    found["Studio domain entry"] = [
        i["ImageName"]
        for i in studio.custom_images(names.domain_id, sagemaker=sagemaker)
        if i["ImageName"] == names.studio_image
    ]
    profile = _user_profile(names)
    found["Studio user profile entry"] = (
        [
            i["ImageName"]
            for i in studio.profile_custom_images(names.domain_id, profile, sagemaker=sagemaker)
            if i["ImageName"] == names.studio_image
        ]
        if profile
        else []
    )
    found["SageMaker image"] = [
        i["ImageName"]
        for i in _all(sagemaker, "list_images", "Images", NameContains=names.studio_image)
        if i["ImageName"] == names.studio_image
    ]
    found["App image configs"] = [
        c["AppImageConfigName"]
        for c in _all(sagemaker, "list_app_image_configs", "AppImageConfigs")
        if c["AppImageConfigName"] in names.app_image_configs
    ]
    found["ECR repositories"] = [
        r["repositoryName"]
        for r in _all(ecr, "describe_repositories", "repositories")
        if r["repositoryName"] in names.repositories
    ]
    codebuild = boto3.client("codebuild")
    found["CodeBuild projects"] = [
        p["name"]
        for p in codebuild.batch_get_projects(names=list(names.codebuild_projects))["projects"]
    ]
    found["S3 objects"] = [k for p in names.s3_prefixes for k in _s3_keys(names.bucket, p)]
    found["Training job log streams"] = _log_streams(names.training_job_prefix)
    found["Processing job log streams"] = _log_streams(
        names.processing_job_prefix, PROCESSING_LOG_GROUP
    )
    found["Build log groups"] = [
        g["logGroupName"]
        for p in names.codebuild_projects
        for g in boto3.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/codebuild/{p}")[
            "logGroups"
        ]
    ]
    secrets = boto3.client("secretsmanager")
    try:
        secret = secrets.describe_secret(SecretId=names.secret_name)
        found["Secret"] = [] if secret.get("DeletedDate") else [names.secret_name]
    except ClientError as error:
        if not _missing(error, "ResourceNotFoundException"):
            raise
        found["Secret"] = []
    return found


def _user_profile(names: SeriesResources) -> str | None:
    return names.user_profile or settings.studio_user_profile(names.domain_id)


def detach_studio_image(names: SeriesResources) -> list[str]:
    done = []
    profile = _user_profile(names)
    if profile and studio.detach_from_user_profile(names.domain_id, profile, names.studio_image):
        done.append(f"removed {names.studio_image} from user profile {profile}")
    before = studio.custom_images(names.domain_id)
    after = studio.detach_from_domain(names.domain_id, names.studio_image)
    if after != before:
        done.append(f"removed {names.studio_image} from domain {names.domain_id}")
    return done


def delete_studio_image(names: SeriesResources) -> list[str]:
    sagemaker = boto3.client("sagemaker")
    done = []
    for config in names.app_image_configs:
        try:
            sagemaker.delete_app_image_config(AppImageConfigName=config)
            done.append(f"deleted app image config {config}")
        except ClientError as error:
            if not _missing(error, "ResourceNotFound"):
                raise
    # Its versions go with it; the deletion is asynchronous, so this waits until it is gone.
    if studio.delete_image(names.studio_image, sagemaker):
        done.append(f"deleted SageMaker image {names.studio_image} and its versions")
    return done


def delete_repositories(names: SeriesResources) -> list[str]:
    ecr, done = boto3.client("ecr"), []
    for repository in names.repositories:
        try:
            ecr.delete_repository(repositoryName=repository, force=True)  # with its images
            done.append(f"deleted ECR repository {repository} and its images")
        except ClientError as error:
            if not _missing(error, "RepositoryNotFoundException"):
                raise
    return done


def delete_builds(names: SeriesResources) -> list[str]:
    codebuild, logs, done = boto3.client("codebuild"), boto3.client("logs"), []
    for project in names.codebuild_projects:
        if codebuild.batch_get_projects(names=[project])["projects"]:
            codebuild.delete_project(name=project)
            done.append(f"deleted CodeBuild project {project}")
        try:
            logs.delete_log_group(logGroupName=f"/aws/codebuild/{project}")
            done.append(f"deleted log group /aws/codebuild/{project}")
        except ClientError as error:
            if not _missing(error, "ResourceNotFoundException"):
                raise
    return done


def delete_s3_objects(names: SeriesResources) -> list[str]:
    s3, done = boto3.client("s3"), []
    for prefix in names.s3_prefixes:
        keys = _s3_keys(names.bucket, prefix)
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys a call
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            s3.delete_objects(Bucket=names.bucket, Delete={"Objects": batch, "Quiet": True})
        if keys:
            done.append(f"deleted {len(keys)} object(s) under s3://{names.bucket}/{prefix}")
    return done


def delete_training_logs(names: SeriesResources) -> list[str]:
    """The log streams of the training jobs (notebooks 04 and 06) and the scoring jobs (05 and 06),
    whose names all start with the prefixes the learner's policy allows."""
    logs, done = boto3.client("logs"), []
    for kind, prefix, group in (
        ("training", names.training_job_prefix, TRAINING_LOG_GROUP),
        ("processing", names.processing_job_prefix, PROCESSING_LOG_GROUP),
    ):
        streams = _log_streams(prefix, group)
        for stream in streams:
            logs.delete_log_stream(logGroupName=group, logStreamName=stream)
        if streams:
            done.append(f"deleted {len(streams)} {kind} log stream(s)")
    return done


def drop_scoring_tables(session, names: SeriesResources) -> list[str]:
    """Drop the two tables notebook 05 writes (in the session's database and schema)."""
    return [
        session.sql(f"DROP TABLE IF EXISTS {table}").collect()[0][0]
        for table in (names.predictions_table, names.readings_table)
    ]


def drop_own_tables(session, names: SeriesResources) -> list[str]:
    """Drop notebook 06's tables (in the session's database and schema): it drops them itself at
    its end, so they are left only when it stopped before."""
    return [
        session.sql(f"DROP TABLE IF EXISTS {table}").collect()[0][0] for table in names.own_tables
    ]


def delete_secret(names: SeriesResources, recovery_days: int) -> list[str]:
    secrets = boto3.client("secretsmanager")
    try:
        described = secrets.describe_secret(SecretId=names.secret_name)
    except ClientError as error:
        if _missing(error, "ResourceNotFoundException"):
            return []
        raise
    if described.get("DeletedDate"):
        return []  # already scheduled by an earlier run
    secrets.delete_secret(SecretId=names.secret_name, RecoveryWindowInDays=recovery_days)
    return [
        f"scheduled secret {names.secret_name} for deletion in {recovery_days} days",
        "  (until then, `aws secretsmanager restore-secret` restores it)",
    ]


def inventory_table(found: dict[str, list[str]]):
    """An inventory as a pandas DataFrame, one row per resource (a kind with none: "none")."""
    import pandas as pd

    rows = [(kind, name) for kind, items in found.items() for name in items or ["none"]]
    return pd.DataFrame(rows, columns=["Resource", "Name"]).set_index("Resource")
