"""The local stack's training runtime, driven through the SageMaker Python SDK v3 like a learner."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid

import boto3
import pytest
from sagemaker.core.resources import TrainingJob
from sagemaker.core.shapes import MetricDefinition, StoppingCondition
from sagemaker.core.training.configs import OutputDataConfig
from sagemaker.core.utils.exceptions import FailedStatusError
from sagemaker.train import Compute, ModelTrainer

from sagemaker_snowpark import jobs
from sagemaker_snowpark.errors import TutorialError

PROGRAM = """
import json, os, signal, sys, tempfile, time
base = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
hyperparameters = json.load(open(f"{base}/input/config/hyperparameters.json"))
resources = json.load(open(f"{base}/input/config/resourceconfig.json"))
channels = json.load(open(f"{base}/input/config/inputdataconfig.json"))
print(f"host={resources['current_host']} hosts={','.join(resources['hosts'])}")
print(f"hyperparameters={json.dumps(hyperparameters, sort_keys=True)}")
print(f"greeting={os.environ.get('GREETING')} job={os.environ.get('TRAINING_JOB_NAME')}")
print(f"channels={sorted(channels)}")
print(f"tmp {resources['current_host']}={tempfile.gettempdir()}")
print(f"tracker={os.environ.get('TRACKER_HOST')}:{os.environ.get('TRACKER_PORT')}")
print(f"cpus {resources['current_host']}={sorted(os.sched_getaffinity(0))}")
mode = hyperparameters.get("mode", "ok")
if mode == "fail":
    with open(f"{base}/output/failure", "w") as failure:
        failure.write("Table MAINTENANCE_HUM is missing: run notebook 03 first.")
    sys.exit(2)
if mode == "crash":
    sys.exit(7)
if mode == "no-output":  # fails, and leaves no output/data folder behind
    import shutil
    shutil.rmtree(f"{base}/output/data")
    with open(f"{base}/output/failure", "w") as failure:
        failure.write("Table T has NULLs in 3 of 10 rows: fill or remove those rows.")
    sys.exit(1)
if mode == "second-host-fails":
    if resources["current_host"] == "algo-2":
        time.sleep(1)
        with open(f"{base}/output/failure", "w") as failure:
            failure.write("No space left on the device of /tmp: raise VolumeSizeInGB.")
        sys.exit(1)
    def stopped(*_):  # algo-1 is stopped because algo-2 failed, and says so
        with open(f"{base}/output/failure", "w") as failure:
            failure.write("Stopped by SageMaker (SIGTERM).")
        sys.exit(143)
    signal.signal(signal.SIGTERM, stopped)
    time.sleep(60)
if mode == "sleep":
    def stop(*_):
        print("SIGTERM received, stopping")
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print("sleeping", flush=True)
    time.sleep(120)
with open(f"{base}/model/model.json", "w") as model:
    json.dump({"host": resources["current_host"], "weights": [1, 2, 3]}, model)
with open(f"{base}/output/data/report.txt", "w") as report:
    report.write("evaluation report")
print("validation:roc_auc=0.875")
print("validation:roc_auc=0.9375")
"""


@pytest.fixture(scope="module")
def image(program_image):
    return program_image(PROGRAM)


@pytest.fixture
def training_log(caplog):
    """What train(logs=True) shows a learner: the sagemaker.core.resources log records."""
    caplog.set_level(logging.INFO, logger="sagemaker.core.resources")
    return lambda: "\n".join(r.getMessage() for r in caplog.records)


def trainer(image, bucket, role_arn, instance_count=1, max_runtime=3600, **hyperparameters):
    trainer = ModelTrainer(
        training_image=image,
        role=role_arn,
        # The SDK names a job by the second it starts: a job that fails at once (a missing
        # image) and the next test's job may start in the same second, so each trainer has its own.
        base_job_name=f"runtime-test-{uuid.uuid4().hex[:6]}",
        hyperparameters=hyperparameters,
        environment={"GREETING": "hello"},
        compute=Compute(instance_type="ml.m5.large", instance_count=instance_count),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/runtime-tests"),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=max_runtime),
    )
    return trainer.with_metric_definitions(
        [MetricDefinition(name="validation:roc_auc", regex=r"validation:roc_auc=([0-9.]+)")]
    )


def test_a_job_runs_the_image_program_and_stores_its_model(
    image, bucket, role_arn, training_log, s3_tar
):
    model_trainer = trainer(image, bucket, role_arn, epochs=3, mode="ok")
    model_trainer.train(wait=True, logs=True)
    job = model_trainer._latest_training_job
    described = boto3.client("sagemaker").describe_training_job(
        TrainingJobName=job.training_job_name
    )

    assert described["TrainingJobStatus"] == "Completed"
    log = training_log()
    assert "host=algo-1 hosts=algo-1" in log
    # Hyperparameters reach the program as strings, as SageMaker writes them.
    assert 'hyperparameters={"epochs": "3", "mode": "ok"}' in log
    assert f"greeting=hello job={job.training_job_name}" in log
    assert [s["Status"] for s in described["SecondaryStatusTransitions"]] == [
        "Starting",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert described["FinalMetricDataList"][0]["MetricName"] == "validation:roc_auc"
    assert described["FinalMetricDataList"][0]["Value"] == 0.9375
    assert described["BillableTimeInSeconds"] >= 1

    model = s3_tar(described["ModelArtifacts"]["S3ModelArtifacts"])
    assert json.loads(model["model.json"]) == {"host": "algo-1", "weights": [1, 2, 3]}
    output_uri = described["ModelArtifacts"]["S3ModelArtifacts"].replace(
        "model.tar.gz", "output.tar.gz"
    )
    assert s3_tar(output_uri) == {"report.txt": b"evaluation report"}


def test_a_failing_program_sets_the_failure_reason(image, bucket, role_arn):
    model_trainer = trainer(image, bucket, role_arn, mode="fail")
    with pytest.raises(
        FailedStatusError, match="Table MAINTENANCE_HUM is missing: run notebook 03"
    ):
        model_trainer.train(wait=True, logs=False)
    job = TrainingJob.get(training_job_name=model_trainer._latest_training_job.training_job_name)
    assert job.training_job_status == "Failed"
    assert (
        job.failure_reason
        == "AlgorithmError: Table MAINTENANCE_HUM is missing: run notebook 03 first."
    )


def test_a_failure_without_output_data_keeps_the_program_s_reason(image, bucket, role_arn):
    """Uploading what the program left (no output/data) never replaces its reason."""
    model_trainer = trainer(image, bucket, role_arn, mode="no-output")
    with pytest.raises(FailedStatusError):
        model_trainer.train(wait=True, logs=False)
    job = TrainingJob.get(training_job_name=model_trainer._latest_training_job.training_job_name)
    assert job.failure_reason == (
        "AlgorithmError: Table T has NULLs in 3 of 10 rows: fill or remove those rows."
    )


def test_the_host_that_failed_first_gives_the_reason(image, bucket, role_arn):
    """algo-2 fails; algo-1 is stopped because of it: the job's reason is algo-2's, at once."""
    model_trainer = trainer(image, bucket, role_arn, instance_count=2, mode="second-host-fails")
    started = time.time()
    with pytest.raises(FailedStatusError):
        model_trainer.train(wait=True, logs=False)
    assert time.time() - started < 30  # algo-1 stopped by SIGTERM, not the SIGKILL after 30 s
    job = TrainingJob.get(training_job_name=model_trainer._latest_training_job.training_job_name)
    assert job.failure_reason == (
        "AlgorithmError: No space left on the device of /tmp: raise VolumeSizeInGB."
    )


def test_an_exit_code_without_failure_file_is_reported(image, bucket, role_arn):
    model_trainer = trainer(image, bucket, role_arn, mode="crash")
    with pytest.raises(FailedStatusError, match="exited with code 7"):
        model_trainer.train(wait=True, logs=False)


def test_stop_sends_sigterm_and_ends_stopped(image, bucket, role_arn, training_log):
    model_trainer = trainer(image, bucket, role_arn, mode="sleep")
    model_trainer.train(wait=False)
    name = model_trainer._latest_training_job.training_job_name
    sagemaker = boto3.client("sagemaker")
    deadline = time.time() + 20
    while sagemaker.describe_training_job(TrainingJobName=name)["SecondaryStatus"] != "Training":
        assert time.time() < deadline
        time.sleep(0.1)
    time.sleep(0.5)  # let the program install its SIGTERM handler
    sagemaker.stop_training_job(TrainingJobName=name)
    assert sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    started = time.time()
    model_trainer._latest_training_job.wait(poll=1, logs=True)
    assert time.time() - started < 15
    described = sagemaker.describe_training_job(TrainingJobName=name)
    # As SageMaker: Stopped, and FailureReason only for failed jobs.
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "FailureReason" not in described
    assert "SIGTERM received, stopping" in training_log()
    with pytest.raises(Exception, match="cannot be stopped"):
        sagemaker.stop_training_job(TrainingJobName=name)


def test_max_runtime_sends_sigterm_and_ends_stopped_max_runtime_exceeded(
    image, bucket, role_arn, training_log
):
    """As SageMaker: at MaxRuntimeInSeconds the program gets SIGTERM (and the 120 s grace), and
    the job is Stopped with SecondaryStatus MaxRuntimeExceeded, no FailureReason."""
    model_trainer = trainer(image, bucket, role_arn, max_runtime=2, mode="sleep")
    started = time.time()
    model_trainer.train(wait=True, logs=True)  # a stopped job is no error for the SDK
    assert time.time() - started < 30  # the program sleeps 120 s unless it is stopped
    name = model_trainer._latest_training_job.training_job_name
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=name)
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == (
        "Stopped",
        "MaxRuntimeExceeded",
    )
    assert "FailureReason" not in described
    last = described["SecondaryStatusTransitions"][-1]
    assert last["Status"] == "MaxRuntimeExceeded"
    assert "exceeded the maximum allowed runtime (MaxRuntimeInSeconds 2)" in last["StatusMessage"]
    assert described["TrainingTimeInSeconds"] >= 2
    log = training_log()
    assert "sleeping" in log and "SIGTERM received, stopping" in log
    assert "Final Resource Status: [bold]Stopped" in log


def test_two_hosts_each_get_their_own_tree_and_log_stream(image, bucket, role_arn, training_log):
    model_trainer = trainer(image, bucket, role_arn, instance_count=2, mode="ok")
    model_trainer.train(wait=True, logs=True)
    name = model_trainer._latest_training_job.training_job_name
    streams = boto3.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert sorted(s["logStreamName"].split("/")[1].rsplit("-", 1)[0] for s in streams) == [
        "algo-1",
        "algo-2",
    ]
    log = training_log()
    assert "host=algo-1 hosts=algo-1,algo-2" in log
    assert "host=algo-2 hosts=algo-1,algo-2" in log
    # AWS: billable time is wall-clock time, per instance; the bill is it times InstanceCount.
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=name)
    assert described["BillableTimeInSeconds"] == described["TrainingTimeInSeconds"]


def test_each_host_runs_on_cpus_of_its_own_as_each_instance_does(
    image, bucket, role_arn, training_log
):
    machine = sorted(os.sched_getaffinity(0))
    model_trainer = trainer(image, bucket, role_arn, instance_count=2, mode="ok")
    model_trainer.train(wait=True, logs=True)
    log = training_log()
    shares = {
        host: json.loads(log.split(f"cpus {host}=")[1].splitlines()[0])
        for host in ("algo-1", "algo-2")
    }
    if len(machine) < 2:  # more hosts than CPUs: they share them
        assert shares == {"algo-1": machine, "algo-2": machine}
    else:
        assert shares["algo-1"] and shares["algo-2"]
        assert not set(shares["algo-1"]) & set(shares["algo-2"])
        assert sorted(shares["algo-1"] + shares["algo-2"]) == machine
    single = trainer(image, bucket, role_arn, mode="ok")
    single.train(wait=True, logs=True)
    assert f"cpus algo-1={machine}" in training_log()


def test_each_host_s_tmp_is_a_scratch_folder_of_the_job_gone_after_it(
    image, bucket, role_arn, training_log, state_dir
):
    model_trainer = trainer(image, bucket, role_arn, instance_count=2, mode="ok")
    model_trainer.train(wait=True, logs=True)
    name = model_trainer._latest_training_job.training_job_name
    log = training_log()
    for host in ("algo-1", "algo-2"):
        # As the instance's storage volume on SageMaker: the job's own, and gone with the job.
        scratch = state_dir / "jobs" / name / f"{host}.tmp"
        assert f"tmp {host}={scratch}" in log
        assert not scratch.exists()
    # Processes cannot resolve algo-N: process mode names the tracker's address (docker mode
    # does not; tests/test_docker.py checks that).
    assert "tracker=127.0.0.1:" in log and "tracker=None" not in log


def test_an_input_channel_is_downloaded(image, bucket, role_arn, training_log):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="runtime-inputs/train/part-0.csv", Body=b"a,b\n1,2\n")
    from sagemaker.core.training.configs import InputData

    model_trainer = trainer(image, bucket, role_arn, mode="ok")
    model_trainer.train(
        input_data_config=[
            InputData(channel_name="train", data_source=f"s3://{bucket}/runtime-inputs/train")
        ],
        wait=True,
        logs=True,
    )
    assert "channels=['train']" in training_log()


def test_a_missing_image_fails_the_job(bucket, role_arn):
    registry = os.environ["AWS_ENDPOINT_URL"] and "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    model_trainer = trainer(f"{registry}/test-programs:not-built", bucket, role_arn)
    with pytest.raises(FailedStatusError, match="does not exist in Amazon ECR"):
        model_trainer.train(wait=True, logs=False)


def test_jobs_run_prints_each_log_line_once_plainly(image, bucket, role_arn, capsys):
    model_trainer = trainer(image, bucket, role_arn, instance_count=2, mode="ok")
    job = jobs.run(model_trainer, poll_seconds=0.5)
    name = job["TrainingJobName"]

    assert name == jobs.job_name(model_trainer) and name.startswith("runtime-test-")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Training job {name} started."
    assert lines[-1] == f"Training job {name}: Completed."
    # Each host's lines once, after its host's name; no stream names, markup or blank lines.
    for host in ("algo-1", "algo-2"):
        assert lines.count(f"{host}: validation:roc_auc=0.875") == 1
        assert f"{host}: host={host} hosts=algo-1,algo-2" in lines
    assert all(line.strip() and "[bold]" not in line and "\x1b" not in line for line in lines)
    assert not any(line.startswith(f"{name}/") for line in lines)  # no stream names


def test_jobs_run_stops_with_the_failure_reason(image, bucket, role_arn):
    with pytest.raises(TutorialError, match="is Failed: AlgorithmError: Table MAINTENANCE_HUM"):
        jobs.run(trainer(image, bucket, role_arn, mode="fail"), show_logs=False, poll_seconds=0.5)
