"""Run a SageMaker training job from a notebook and show its log as plain lines.

The SDK's `ModelTrainer.train(wait=True, logs=True)` draws a live progress panel (in Jupyter a
widget, saved into the notebook with its terminal codes) and puts the log stream's name before
every line. `run` starts the job with the SDK, then prints each CloudWatch Logs line of the job
once, as the container wrote it, until the job ends: the same on AWS and on the local stack.
"""

from __future__ import annotations

import json
import tarfile
import time
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from .errors import TutorialError

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
FINAL_STATUSES = ("Completed", "Failed", "Stopped")


def job_name(trainer) -> str:
    """The job `trainer.train()` started last, read from the SDK's public `output_data`, the URI
    `{s3_output_path}/{job name}/output/output.tar.gz`."""
    return trainer.output_data.rsplit("/", 3)[-3]


def run(trainer, show_logs: bool = True, poll_seconds: float = 5) -> dict:
    """Start `trainer`'s job, print its log lines until it ends; DescribeTrainingJob's answer.

    With several instances, each line starts with its host (algo-1, algo-2, ...). A job that
    fails or is stopped raises a TutorialError with SageMaker's FailureReason.
    """
    trainer.train(wait=False, logs=False)
    name = job_name(trainer)
    print(f"Training job {name} started.", flush=True)
    sagemaker, logs = boto3.client("sagemaker"), boto3.client("logs")
    tokens: dict[str, str | None] = {}
    ended = False
    while True:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        if show_logs:
            _print_new_lines(logs, name, job["ResourceConfig"]["InstanceCount"], tokens)
        if ended:
            break
        # One more read after the job ends: CloudWatch may show its last lines a moment late.
        ended = job["TrainingJobStatus"] in FINAL_STATUSES
        time.sleep(poll_seconds)
    status = job["TrainingJobStatus"]
    print(f"Training job {name}: {status}.", flush=True)
    if status != "Completed":
        reason = job.get("FailureReason", "no reason given")
        raise TutorialError(f"Training job {name} is {status}: {reason}")
    return job


def _print_new_lines(logs, name: str, instances: int, tokens: dict[str, str | None]) -> None:
    """Print the lines each of the job's log streams gained since the last call."""
    try:
        pages = logs.get_paginator("describe_log_streams").paginate(
            logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/"
        )
        streams = sorted(s["logStreamName"] for page in pages for s in page["logStreams"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return  # no job of the account has logged yet
        raise
    for stream in streams:
        host = stream.split("/", 1)[1].rsplit("-", 1)[0]  # <job>/algo-1-<epoch>
        prefix = f"{host}: " if instances > 1 else ""
        while True:
            kwargs = {"nextToken": tokens[stream]} if tokens.get(stream) else {}
            page = logs.get_log_events(
                logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True, **kwargs
            )
            for event in page["events"]:
                print(f"{prefix}{event['message'].rstrip()}", flush=True)
            # The same token back means nothing more for now.
            if page["nextForwardToken"] == tokens.get(stream):
                break
            tokens[stream] = page["nextForwardToken"]


def model_metrics(job: dict, download_to: Path) -> dict:
    """Download the job's model.tar.gz to `download_to` and return the metrics.json inside."""
    bucket, key = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").split("/", 1)
    download_to.parent.mkdir(parents=True, exist_ok=True)
    boto3.client("s3").download_file(bucket, key, str(download_to))
    with tarfile.open(download_to) as archive:
        return json.load(archive.extractfile("metrics.json"))
