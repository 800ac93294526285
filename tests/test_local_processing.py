"""The local stack's processing jobs: run as SageMaker Processing runs a BYOC image, driven
through the SageMaker Python SDK v3 like the scoring notebook, and through boto3 for the edges."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from docker_engine import docker_mode_stack
from sagemaker.core.processing import Processor
from sagemaker.core.shapes import (
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
)

from sagemaker_snowpark import jobs
from sagemaker_snowpark.errors import TutorialError
from sagemaker_snowpark.images import build_and_push
from snowpark_local import accounts, stack
from snowpark_local.accounts import LEARNER_USER
from snowpark_local.aws.iam import decide, policy_document
from snowpark_local.jobs.processing import ALGORITHM_ERROR, PROCESSING_LOG_GROUP

# A stand-in for the image's `score` program: reads its input, writes an output and a message
# file, and exits as its first argument says.
SCORE = """\
#!/usr/bin/env python3
import json, os, signal, sys, time
from pathlib import Path

base = Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))
mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
print(f"base={base}")
config = json.loads((base / "config" / "processingjobconfig.json").read_text())
resources = json.loads((base / "config" / "resourceconfig.json").read_text())
print(f"job={config['ProcessingJobName']} host={resources['current_host']} args={sys.argv[1:]}")
print(f"greeting={os.environ.get('GREETING')}")
message = base / "output" / "message"
if mode == "whoami":
    import boto3
    print("caller=" + boto3.client("sts").get_caller_identity()["Arn"])
if mode == "fail":
    message.write_text("Table MAINTENANCE_READINGS is missing: run notebook 03 first.")
    print("failing", flush=True)
    sys.exit(1)
if mode == "binary":
    message.write_bytes(b"\\xff\\xfe not text")
    sys.exit(0)
if mode == "long":
    message.write_text("\\u00e9" * 600)  # 1200 bytes of UTF-8
    sys.exit(0)
if mode == "sleep":
    def stop(*_):
        print("SIGTERM received, stopping", flush=True)
        message.write_text("stopped before scoring")
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print("sleeping", flush=True)
    time.sleep(120)
model = json.loads((base / "processing" / "model" / "model.json").read_text())
predictions = base / "processing" / "predictions"
predictions.mkdir(parents=True, exist_ok=True)  # SageMaker makes it when it is an output
(predictions / "predictions.csv").write_text(f"machine,probability\\n1,{model['weight'] / 4}\\n")
(predictions / "nested").mkdir()
(predictions / "nested" / "summary.txt").write_text("rows_scored=1")
print("rows_scored=1")
message.write_text("rows_scored=1 flagged_share=0.0")
"""

TERMINAL = ("Completed", "Failed", "Stopped")


def build_image(context, bucket: str, role_arn: str, repository: str) -> str:
    box = context / "box"
    box.mkdir(parents=True, exist_ok=True)
    (box / "Dockerfile").write_text(
        "ARG BASE_IMAGE=python:3.11-slim-bookworm\nFROM ${BASE_IMAGE}\n"
        "COPY box/train box/score /usr/local/bin/\n"
    )
    (box / "train").write_text("#!/usr/bin/env python3\nprint('train')\n")
    (box / "score").write_text(SCORE)
    for program in ("train", "score"):
        (box / program).chmod(0o755)
    return build_and_push(
        context, ["box"], "box/Dockerfile", repository, bucket, role_arn, echo=lambda _: None
    ).uri


@pytest.fixture(scope="module")
def image(tmp_path_factory, bucket, role_arn):
    return build_image(
        tmp_path_factory.mktemp("processing-image"), bucket, role_arn, "test-programs"
    )


@pytest.fixture(scope="module")
def tutorial_image(tmp_path_factory, bucket, role_arn):
    """The stand-in in the repository the tutorial's role may pull from."""
    context = tmp_path_factory.mktemp("processing-image")
    return build_image(context, bucket, role_arn, "sagemaker-snowpark-training")


@pytest.fixture(scope="module")
def model_prefix(bucket) -> str:
    prefix = "processing-tests/model"
    body = json.dumps({"weight": 2}).encode()
    boto3.client("s3").put_object(Bucket=bucket, Key=f"{prefix}/model.json", Body=body)
    return prefix


def request(name, image, role, bucket, model_prefix, *arguments, **overrides) -> dict:
    """A CreateProcessingJob request as the SDK sends it: one model input, one output."""
    return {
        "ProcessingJobName": name,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 30,
            }
        },
        "AppSpecification": {
            "ImageUri": image,
            "ContainerEntrypoint": ["score"],
            "ContainerArguments": list(arguments or ["ok"]),
        },
        "RoleArn": role,
        "Environment": {"GREETING": "hello"},
        "ProcessingInputs": [
            {
                "InputName": "model",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/{model_prefix}",
                    "LocalPath": "/opt/ml/processing/model",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "predictions",
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/processing-tests/output/{name}",
                        "LocalPath": "/opt/ml/processing/predictions",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        **overrides,
    }


def finished(sagemaker, name: str, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while True:
        job = sagemaker.describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] in TERMINAL:
            return job
        assert time.time() < deadline, f"{name} is still {job['ProcessingJobStatus']}"
        time.sleep(0.2)


def log_of(name: str) -> str:
    logs = boto3.client("logs")
    streams = logs.describe_log_streams(
        logGroupName=PROCESSING_LOG_GROUP, logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert [s["logStreamName"].rsplit("-", 1)[0] for s in streams] == [f"{name}/algo-1"]
    events = logs.get_log_events(
        logGroupName=PROCESSING_LOG_GROUP, logStreamName=streams[0]["logStreamName"]
    )["events"]
    return "\n".join(e["message"] for e in events)


def s3_keys(bucket: str, prefix: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_the_sdk_runs_a_byoc_processing_job_and_streams_its_logs(
    image, bucket, role_arn, model_prefix, unique, capsys
):
    """Exactly what the scoring notebook does: Processor with the image and its `score`
    program, the model as an input, run(wait=True, logs=True)."""
    processor = Processor(
        role=role_arn,
        image_uri=image,
        entrypoint=["score"],
        instance_count=1,
        instance_type="ml.m5.large",
        env={"GREETING": "hello"},
        base_job_name="processing-test",
        max_runtime_in_seconds=3600,
    )
    output = f"s3://{bucket}/processing-tests/sdk-{unique}"
    processor.run(
        inputs=[
            ProcessingInput(
                input_name="model",
                s3_input=ProcessingS3Input(
                    s3_uri=f"s3://{bucket}/{model_prefix}",
                    local_path="/opt/ml/processing/model",
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            )
        ],
        outputs=[
            ProcessingOutput(
                output_name="predictions",
                s3_output=ProcessingS3Output(
                    s3_uri=output,
                    local_path="/opt/ml/processing/predictions",
                    s3_upload_mode="EndOfJob",
                ),
            )
        ],
        arguments=["ok"],
        wait=True,
        logs=True,
    )
    name = processor.latest_job.processing_job_name
    shown = capsys.readouterr().out
    assert f"job={name} host=algo-1 args=['ok']" in shown and "rows_scored=1" in shown
    # Process mode: /opt/ml is the job's own folder, named by SAGEMAKER_BASE_DIR.
    assert f"/jobs/_processing/{name}/algo-1\n" in shown
    job = boto3.client("sagemaker").describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobStatus"] == "Completed"
    assert job["ExitMessage"] == "rows_scored=1 flagged_share=0.0"
    assert "FailureReason" not in job
    assert job["Environment"] == {"GREETING": "hello"}
    assert job["AppSpecification"]["ContainerEntrypoint"] == ["score"]
    assert job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    # The request carries the limit (without one, SageMaker allows a day).
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert job["ProcessingStartTime"] <= job["ProcessingEndTime"]
    prefix = output.removeprefix(f"s3://{bucket}/")
    assert s3_keys(bucket, prefix) == [
        f"{prefix}/nested/summary.txt",
        f"{prefix}/predictions.csv",
    ]
    body = boto3.client("s3").get_object(Bucket=bucket, Key=f"{prefix}/predictions.csv")
    assert body["Body"].read() == b"machine,probability\n1,0.5\n"


def test_jobs_run_processing_prints_each_line_once_and_raises_the_exit_message(
    image, bucket, role_arn, model_prefix, capsys
):
    """The scoring notebook's way: plain log lines, and a failure as the program's one line."""
    processor = Processor(
        role=role_arn,
        image_uri=image,
        entrypoint=["score"],
        instance_count=1,
        instance_type="ml.m5.large",
        base_job_name="processing-jobs-run",
    )
    model = ProcessingInput(
        input_name="model",
        s3_input=ProcessingS3Input(
            s3_uri=f"s3://{bucket}/{model_prefix}",
            local_path="/opt/ml/processing/model",
            s3_data_type="S3Prefix",
            s3_input_mode="File",
        ),
    )
    job = jobs.run_processing(processor, poll_seconds=0.5, inputs=[model], arguments=["ok"])
    name = job["ProcessingJobName"]
    shown = capsys.readouterr().out.splitlines()
    assert shown[0] == f"Processing job {name} started."
    assert shown[-1] == f"Processing job {name}: Completed."
    assert shown.count("rows_scored=1") == 1  # once, with no stream name before it
    with pytest.raises(TutorialError) as failed:
        jobs.run_processing(processor, poll_seconds=0.5, inputs=[model], arguments=["fail"])
    failed_name = processor.latest_job.processing_job_name
    assert str(failed.value) == (
        f"Processing job {failed_name} is Failed: "
        "Table MAINTENANCE_READINGS is missing: run notebook 03 first."
    )


def test_the_job_acts_as_a_session_of_its_role_with_its_environment(
    image, bucket, role_arn, model_prefix, unique, sagemaker_client
):
    name = f"processing-whoami-{unique}"
    sagemaker_client.create_processing_job(
        **request(name, image, role_arn, bucket, model_prefix, "whoami")
    )
    assert finished(sagemaker_client, name)["ProcessingJobStatus"] == "Completed"
    log = log_of(name)
    role_name = role_arn.rsplit("/", 1)[1]
    assert f"caller=arn:aws:sts::{role_arn.split(':')[4]}:assumed-role/{role_name}/" in log
    assert "greeting=hello" in log


def test_a_failing_program_fails_the_job_with_its_message_and_uploads_nothing(
    image, bucket, role_arn, model_prefix, unique, sagemaker_client
):
    name = f"processing-fail-{unique}"
    sagemaker_client.create_processing_job(
        **request(name, image, role_arn, bucket, model_prefix, "fail")
    )
    job = finished(sagemaker_client, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert (
        job["FailureReason"]
        == ALGORITHM_ERROR
        == ("AlgorithmError: See job logs for more information")
    )
    assert job["ExitMessage"] == "Table MAINTENANCE_READINGS is missing: run notebook 03 first."
    assert "failing" in log_of(name)
    assert s3_keys(bucket, f"processing-tests/output/{name}") == []
    summary = sagemaker_client.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert [(s["ProcessingJobStatus"], s["FailureReason"]) for s in summary] == [
        ("Failed", ALGORITHM_ERROR)
    ]


def test_a_message_that_is_not_utf8_is_a_client_error(
    image, bucket, role_arn, model_prefix, unique, sagemaker_client
):
    name = f"processing-binary-{unique}"
    sagemaker_client.create_processing_job(
        **request(name, image, role_arn, bucket, model_prefix, "binary")
    )
    job = finished(sagemaker_client, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: /opt/ml/output/message is not UTF-8")
    assert "ExitMessage" not in job


def test_the_exit_message_is_the_first_kilobyte(
    image, bucket, role_arn, model_prefix, unique, sagemaker_client
):
    name = f"processing-long-{unique}"
    sagemaker_client.create_processing_job(
        **request(name, image, role_arn, bucket, model_prefix, "long")
    )
    job = finished(sagemaker_client, name)
    assert job["ProcessingJobStatus"] == "Completed"
    assert job["ExitMessage"] == "\u00e9" * 512  # 1024 bytes


def test_stopping_sends_sigterm_and_ends_stopped(
    image, bucket, role_arn, model_prefix, unique, sagemaker_client
):
    name = f"processing-stop-{unique}"
    sagemaker_client.create_processing_job(
        **request(name, image, role_arn, bucket, model_prefix, "sleep")
    )
    deadline = time.time() + 30
    while "sleeping" not in _log_text(name):
        assert time.time() < deadline, "the program never started"
        time.sleep(0.2)
    sagemaker_client.stop_processing_job(ProcessingJobName=name)
    status = sagemaker_client.describe_processing_job(ProcessingJobName=name)
    assert status["ProcessingJobStatus"] in ("Stopping", "Stopped")
    job = finished(sagemaker_client, name)
    assert job["ProcessingJobStatus"] == "Stopped"
    assert job["ExitMessage"] == "stopped before scoring"
    assert "SIGTERM received, stopping" in log_of(name)
    with pytest.raises(ClientError, match="is Stopped and cannot be stopped"):
        sagemaker_client.stop_processing_job(ProcessingJobName=name)


def test_max_runtime_sends_sigterm_and_ends_stopped(
    image, bucket, role_arn, model_prefix, unique, sagemaker_client
):
    """At MaxRuntimeInSeconds "the processing job is stopped": SIGTERM, then Stopped with no
    FailureReason (a failed job has one), and nothing uploaded."""
    name = f"processing-timeout-{unique}"
    sagemaker_client.create_processing_job(
        **request(
            name,
            image,
            role_arn,
            bucket,
            model_prefix,
            "sleep",
            StoppingCondition={"MaxRuntimeInSeconds": 2},
        )
    )
    started = time.time()
    job = finished(sagemaker_client, name)
    assert time.time() - started < 30  # the program sleeps 120 s unless it is stopped
    assert job["ProcessingJobStatus"] == "Stopped"
    assert "FailureReason" not in job
    assert job["ExitMessage"] == "stopped before scoring"
    assert job["ProcessingEndTime"] - job["ProcessingStartTime"] >= timedelta(seconds=2)
    assert "SIGTERM received, stopping" in log_of(name)
    assert s3_keys(bucket, f"processing-tests/output/{name}") == []


def _log_text(name: str) -> str:
    try:
        return log_of(name)
    except (AssertionError, ClientError):  # no stream yet
        return ""


def test_a_missing_input_or_program_is_a_client_error(
    image, bucket, role_arn, model_prefix, unique, sagemaker_client
):
    name = f"processing-noinput-{unique}"
    sagemaker_client.create_processing_job(
        **request(name, image, role_arn, bucket, "processing-tests/nothing-here")
    )
    job = finished(sagemaker_client, name)
    assert job["FailureReason"].startswith("ClientError: No S3 objects found under S3 URL")
    name = f"processing-noprogram-{unique}"
    base = request(name, image, role_arn, bucket, model_prefix)
    app = {**base["AppSpecification"], "ContainerEntrypoint": ["predict"]}
    sagemaker_client.create_processing_job(**{**base, "AppSpecification": app})
    job = finished(sagemaker_client, name)
    assert job["FailureReason"].startswith("ClientError: the image has no program 'predict'")


def _with_input(base: dict, **s3_input) -> dict:
    [item] = base["ProcessingInputs"]
    return {**base, "ProcessingInputs": [{**item, "S3Input": {**item["S3Input"], **s3_input}}]}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: _with_input(r, LocalPath="/opt/ml/model"), "must be an absolute path that"),
        (
            lambda r: _with_input(r, LocalPath="/opt/ml/processing/../model"),
            "must be an absolute path that",
        ),
        (lambda r: _with_input(r, S3InputMode="Pipe"), "S3InputMode Pipe is not supported"),
        (
            lambda r: {**r, "ProcessingInputs": r["ProcessingInputs"] * 2},
            "InputName 'model' is used by more than one processing input",
        ),
        (
            lambda r: _with_input(r, LocalPath="/opt/ml/processing/predictions/model"),
            "overlap",
        ),
        (lambda r: {**r, "ProcessingJobName": "bad_name"}, "does not match the pattern"),
        (
            lambda r: {k: v for k, v in r.items() if k != "AppSpecification"},
            'Missing required parameter in input: "AppSpecification"',
        ),
        (
            lambda r: {
                **r,
                "ProcessingResources": {"ClusterConfig": {"VolumeSizeInGB": 30}},
            },
            "InstanceType is required",
        ),
    ],
)
def test_bad_requests_are_rejected_as_aws_rejects_them(
    change, message, image, bucket, role_arn, model_prefix, unique, sagemaker_client
):
    name = f"processing-bad-{unique}"
    bad = change(request(name, image, role_arn, bucket, model_prefix))
    # The client checks what botocore's model checks; the stack checks the same, and the rest.
    client = boto3.client("sagemaker", config=botocore_unvalidated())
    with pytest.raises(ClientError, match="ValidationException") as error:
        client.create_processing_job(**bad)
    assert message in str(error.value)
    names = sagemaker_client.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert names == []


def botocore_unvalidated():
    from botocore.config import Config

    return Config(parameter_validation=False)


def test_a_name_is_used_once_and_the_role_must_trust_sagemaker(
    image, bucket, role_arn, model_prefix, unique, sagemaker_client
):
    name = f"processing-twice-{unique}"
    sagemaker_client.create_processing_job(**request(name, image, role_arn, bucket, model_prefix))
    with pytest.raises(ClientError, match="ResourceInUse"):
        sagemaker_client.create_processing_job(
            **request(name, image, role_arn, bucket, model_prefix)
        )
    finished(sagemaker_client, name)
    iam = boto3.client("iam")
    untrusted = iam.create_role(
        RoleName=f"untrusted-{unique}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    other = f"processing-untrusted-{unique}"
    with pytest.raises(ClientError, match="Could not assume role"):
        sagemaker_client.create_processing_job(
            **request(other, image, untrusted, bucket, model_prefix)
        )


def test_listing_filters_sorts_and_pages(
    image, bucket, role_arn, model_prefix, unique, sagemaker_client
):
    names = [f"processing-list-{unique}-{i}" for i in range(3)]
    for name in names:
        sagemaker_client.create_processing_job(
            **request(name, image, role_arn, bucket, model_prefix)
        )
    for name in names:
        finished(sagemaker_client, name)
    listed = lambda **kw: sagemaker_client.list_processing_jobs(  # noqa: E731
        NameContains=f"processing-list-{unique}", **kw
    )
    summaries = listed()["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in summaries] == names  # CreationTime, Ascending
    assert [s["ProcessingJobStatus"] for s in summaries] == ["Completed"] * 3
    descending = listed(SortBy="Name", SortOrder="Descending")["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in descending] == names[::-1]
    first = listed(MaxResults=2)
    second = listed(MaxResults=2, NextToken=first["NextToken"])
    pages = first["ProcessingJobSummaries"] + second["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in pages] == names and "NextToken" not in second
    assert listed(StatusEquals="Failed")["ProcessingJobSummaries"] == []
    later = datetime.now(UTC) + timedelta(hours=1)
    assert listed(CreationTimeAfter=later)["ProcessingJobSummaries"] == []
    assert len(listed(CreationTimeBefore=later)["ProcessingJobSummaries"]) == 3
    with pytest.raises(ClientError, match="NextToken"):
        listed(NextToken="not-a-token")


def test_the_learner_runs_a_scoring_job_with_the_tutorial_role_only(
    tutorial_image, learner, bucket, tutorial_role_arn, role_arn, unique, state_dir
):
    """policies/learner.json and training-job-role.json: what a scoring job needs, no more."""
    sagemaker = boto3.client("sagemaker")
    s3 = boto3.client("s3")
    prefix = f"sagemaker-snowpark/training/snowpark-maintenance-{unique}/output"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/model.json", Body=b'{"weight": 2}')
    name = f"snowpark-maintenance-scoring-{unique}"
    job = request(name, tutorial_image, tutorial_role_arn, bucket, prefix)
    del job["ProcessingOutputConfig"]  # the predictions go to Snowflake, not S3
    sagemaker.create_processing_job(**job)
    done = finished(sagemaker, name)
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    assert "rows_scored=1" in log_of(name)  # the learner reads the job's logs
    with pytest.raises(ClientError, match="AccessDenied"):  # a job named outside the policy
        sagemaker.create_processing_job(
            **request(f"other-{unique}", tutorial_image, tutorial_role_arn, bucket, prefix)
        )
    with pytest.raises(ClientError, match="iam:PassRole"):  # a role the learner may not pass
        sagemaker.create_processing_job(
            **request(f"snowpark-maintenance-x-{unique}", tutorial_image, role_arn, bucket, prefix)
        )
    listed = sagemaker.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in listed] == [name]
    # Each statement added for scoring jobs was needed by one of the requests above.
    requests = [
        json.loads(line)
        for line in stack.StackFiles(state_dir).authorizations.read_text().splitlines()
    ]
    for policy, principal, sids in (
        ("learner.json", f":user/{LEARNER_USER}", ["ProcessingJobs"]),
        (
            "training-job-role.json",
            f":role/{accounts.ROLE_NAME}",
            ["FindTheModelToScore", "ReadTheModelToScore"],
        ),
    ):
        document = json.loads(policy_document(policy))
        made = [
            r for r in requests if r["principal"].endswith(principal) and unique in json.dumps(r)
        ]
        for sid in sids:
            rest = {**document, "Statement": [s for s in document["Statement"] if s["Sid"] != sid]}
            assert any(
                decide([json.dumps(rest)], r["action"], r["resource"], r["context"]) != "allowed"
                for r in made
            ), f"{policy} {sid} was not needed"


@pytest.mark.docker
def test_docker_mode_runs_the_entrypoint_in_a_container_of_the_image(
    engine,
    tmp_path_factory,
    environment_of,
    unique,
):
    """`docker run --entrypoint score IMAGE ok` with the job's tree on /opt/ml."""
    base = tmp_path_factory.mktemp("docker-processing")
    with docker_mode_stack(engine, base / "state") as state:
        with environment_of(state, base / "artifacts", administrator=True):
            iam = boto3.client("iam")
            role = iam.create_role(
                RoleName="DockerProcessingRole",
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {
                                    "Service": [
                                        "sagemaker.amazonaws.com",
                                        "codebuild.amazonaws.com",
                                    ]
                                },
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )["Role"]["Arn"]
            everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
            iam.put_role_policy(
                RoleName="DockerProcessingRole",
                PolicyName="everything",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
            )
            bucket = os.environ["SAGEMAKER_BUCKET"]
            uri = build_image(base / "context", bucket, role, "test-programs")
            s3 = boto3.client("s3")
            s3.put_object(Bucket=bucket, Key="models/model.json", Body=b'{"weight": 2}')
            sagemaker = boto3.client("sagemaker")
            name = f"processing-docker-{unique}"
            sagemaker.create_processing_job(**request(name, uri, role, bucket, "models"))
            job = finished(sagemaker, name, timeout=300)
            log = log_of(name)
            assert job["ProcessingJobStatus"] == "Completed", log
            assert job["ExitMessage"] == "rows_scored=1 flagged_share=0.0"
            assert "base=/opt/ml" in log and f"job={name} host=algo-1 args=['ok']" in log
            prefix = f"processing-tests/output/{name}"
            assert s3_keys(bucket, prefix) == [
                f"{prefix}/nested/summary.txt",
                f"{prefix}/predictions.csv",
            ]


QUOTA = (
    "The account-level service limit 'ml.m5.large for training job usage' is 1 Instances, with "
    "current utilization of 0 Instances and a request delta of 2 Instances. Please use AWS "
    "Service Quotas to request an increase for this quota."
)


class Refused:
    """A trainer or processor whose job SageMaker refuses, as CreateTrainingJob does when a
    quota is too low (the SDK passes the ClientError on)."""

    def _refuse(self, **_):
        error = {"Code": "ResourceLimitExceeded", "Message": QUOTA}
        raise ClientError({"Error": error}, "CreateTrainingJob")

    train = run = _refuse


def test_a_job_a_quota_refuses_is_one_line_naming_the_quota():
    for kind, start in (("training", jobs.run), ("processing", jobs.run_processing)):
        with pytest.raises(TutorialError) as error:
            start(Refused())
        assert str(error.value) == (
            f"SageMaker refused the {kind} job: {QUOTA} See docs/real-accounts.md, AWS quotas of "
            "a new account."
        )
