"""Run a SageMaker training or processing job from a notebook and show its log as plain lines.

The SDK's `ModelTrainer.train(wait=True, logs=True)` draws a live progress panel (in Jupyter a
widget, saved into the notebook with its terminal codes) and puts the log stream's name before
every line; `Processor.run(logs=True)` prints terminal colour codes. `run` and `run_processing`
start the job with the SDK, then print each CloudWatch Logs line of the job once, as the
container wrote it, until the job ends: the same on AWS and on the local stack.

`latest_training_job` finds notebook 04's model and image; `run_scoring` runs the image's `score`
program in a Processing job as notebook 05 does (notebook 06 uses both).
"""

from __future__ import annotations

import json
import re
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from .errors import TutorialError

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
    _start("training", lambda: trainer.train(wait=False, logs=False))
    name = job_name(trainer)
    sagemaker = boto3.client("sagemaker")
    return _follow(
        "Training",
        name,
        lambda: sagemaker.describe_training_job(TrainingJobName=name),
        lambda job: job["ResourceConfig"]["InstanceCount"],
        show_logs,
        poll_seconds,
    )


def run_processing(processor, show_logs: bool = True, poll_seconds: float = 5, **arguments):
    """Start a processing job with `processor.run(**arguments)`, print its log lines until it
    ends; DescribeProcessingJob's answer. A job that fails or is stopped raises a TutorialError
    with the program's ExitMessage (its one-line reason), else SageMaker's FailureReason."""
    _start("processing", lambda: processor.run(wait=False, logs=False, **arguments))
    name = processor.latest_job.processing_job_name
    sagemaker = boto3.client("sagemaker")
    return _follow(
        "Processing",
        name,
        lambda: sagemaker.describe_processing_job(ProcessingJobName=name),
        lambda job: job["ProcessingResources"]["ClusterConfig"]["InstanceCount"],
        show_logs,
        poll_seconds,
    )


def _start(kind: str, start: Callable[[], object]) -> None:
    """Start a job; a quota that refuses it (often ml.m5.large on a new account) is one line."""
    try:
        start()
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceLimitExceeded":
            raise
        raise TutorialError(
            f"SageMaker refused the {kind} job: {error.response['Error']['Message']} "
            "See docs/real-accounts.md, AWS quotas of a new account."
        ) from None


def _follow(kind, name, describe, instances, show_logs, poll_seconds) -> dict:
    print(f"{kind} job {name} started.", flush=True)
    logs = boto3.client("logs")
    group = f"/aws/sagemaker/{kind}Jobs"
    tokens: dict[str, str | None] = {}
    ended = False
    wait = min(0.5, poll_seconds)
    while True:
        job = describe()
        if show_logs:
            _print_new_lines(logs, group, name, instances(job), tokens)
        if ended:
            break
        # One more read after the job ends: CloudWatch may show its last lines a moment late.
        ended = job[f"{kind}JobStatus"] in FINAL_STATUSES
        time.sleep(poll_seconds if ended else wait)
        wait = min(wait * 2, poll_seconds)  # a job that fails at once is told at once
    status = job[f"{kind}JobStatus"]
    print(f"{kind} job {name}: {status}.", flush=True)
    if status != "Completed":
        reason = job.get("ExitMessage") or job.get("FailureReason") or "no reason given"
        raise TutorialError(f"{kind} job {name} is {status}: {reason.strip()}")
    return job


def _print_new_lines(logs, group: str, name: str, instances: int, tokens: dict) -> None:
    """Print the lines each of the job's log streams gained since the last call."""
    try:
        pages = logs.get_paginator("describe_log_streams").paginate(
            logGroupName=group, logStreamNamePrefix=f"{name}/"
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
                logGroupName=group, logStreamName=stream, startFromHead=True, **kwargs
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


def latest_training_job(prefix: str) -> dict:
    """DescribeTrainingJob's answer for the newest completed job named `prefix`-<time>, as
    ModelTrainer names the jobs of a base_job_name (notebook 04's one-instance job for
    "snowpark-maintenance"; its two-instance "snowpark-maintenance-2x-..." is another name)."""
    sagemaker = boto3.client("sagemaker")
    pages = sagemaker.get_paginator("list_training_jobs").paginate(
        NameContains=prefix, StatusEquals="Completed"
    )
    completed = [
        job
        for page in pages
        for job in page["TrainingJobSummaries"]
        if re.fullmatch(rf"{re.escape(prefix)}-\d+", job["TrainingJobName"])
    ]
    if not completed:
        raise TutorialError(f"No completed training job {prefix}-<time>: run notebook 04 first.")
    newest = max(completed, key=lambda job: job["CreationTime"])
    return sagemaker.describe_training_job(TrainingJobName=newest["TrainingJobName"])


def run_scoring(
    *,
    image_uri: str,
    role_arn: str,
    model_uri: str,
    job_name: str,
    arguments: dict[str, str],
    output_uri: str,
    instance_type: str = "ml.m5.large",
    max_runtime_seconds: int = 3600,
    show_logs: bool = True,
    poll_seconds: float = 5,
) -> dict:
    """Run the image's `score` program in a SageMaker Processing job, as notebook 05 does: the
    model archive copied to /opt/ml/processing/model, `arguments` as the program's options
    (`{"--source-table": ..., ...}`), its summary uploaded to `output_uri`. Prints the job's log;
    returns DescribeProcessingJob's answer (see run_processing)."""
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )

    processor = Processor(
        role=role_arn,
        image_uri=image_uri,
        entrypoint=["score"],
        instance_count=1,
        instance_type=instance_type,
        max_runtime_in_seconds=max_runtime_seconds,
    )
    model = ProcessingS3Input(
        s3_uri=model_uri,
        s3_data_type="S3Prefix",
        s3_input_mode="File",
        local_path="/opt/ml/processing/model",
    )
    summary = ProcessingS3Output(
        s3_uri=output_uri, s3_upload_mode="EndOfJob", local_path="/opt/ml/processing/output"
    )
    return run_processing(
        processor,
        show_logs=show_logs,
        poll_seconds=poll_seconds,
        job_name=job_name,
        inputs=[ProcessingInput(input_name="model", s3_input=model)],
        outputs=[ProcessingOutput(output_name="summary", s3_output=summary)],
        arguments=[text for option in arguments.items() for text in option],
    )


def scoring_summary(job: dict, download_to: Path) -> dict:
    """Download the scoring job's summary.json (its output `summary`) to `download_to`; its
    contents: rows_scored, flagged, flagged_share, threshold, ..."""
    output = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, key = f"{output}/summary.json".removeprefix("s3://").split("/", 1)
    download_to.parent.mkdir(parents=True, exist_ok=True)
    boto3.client("s3").download_file(bucket, key, str(download_to))
    return json.loads(download_to.read_text())
