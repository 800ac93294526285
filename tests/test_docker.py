"""The real training image: built with Docker and run by the local stack in docker mode.

The engine is the session's (tests/docker_engine.py: the machine's, or a private one with a base
image made locally). Notebooks 00-04 run on a stack of their own in docker mode, as
`make tutorial` does on a machine with Docker.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import boto3
import nbformat
import pytest
from docker_engine import docker_mode_stack

from sagemaker_snowpark.errors import TutorialError
from sagemaker_snowpark.images import build_and_push
from snowpark_local import accounts, stack
from snowpark_local.series import execute, notebooks

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent
# What the training image must not carry: the notebooks' tools (the SageMaker Python SDK, all
# sagemaker-* and jupyter* packages too) and the tests'.
NOT_IN_IMAGE = {"notebook", "ipykernel", "matplotlib", "pytest", "nbval", "moto", "fakesnow"}


@pytest.fixture(scope="module")
def tutorial(engine, tmp_path_factory, environment_of):
    """Notebooks 00-04 run on a stack in docker mode; yields their folder and the stack's state."""
    base = tmp_path_factory.mktemp("docker-tutorial")
    with docker_mode_stack(engine, base / "state") as state:
        with environment_of(state, base / "artifacts"):
            for path in notebooks(ROOT / "notebooks"):
                if path.name[:2] <= "04":
                    execute(path, base / path.name)
        yield base, state


def output_of(notebook: Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    return "\n".join(
        output.get("text", "")
        for cell in cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def training_jobs(state: Path, environment_of, base: Path) -> list[dict]:
    with environment_of(state, base, administrator=True):
        sagemaker = boto3.client("sagemaker")
        summaries = sagemaker.list_training_jobs(NameContains="snowpark-maintenance")
        return [
            sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])
            for job in summaries["TrainingJobSummaries"]
        ]


def test_the_stack_runs_in_docker_mode(tutorial):
    base, state = tutorial
    assert "training jobs run as containers" in stack.status(state)


def test_the_training_image_is_built_with_docker(engine, tutorial, environment_of):
    base, state = tutorial
    build_log = output_of(base / "04_train_byoc_sagemaker_job.ipynb")
    assert "(process mode)" not in build_log
    # The Dockerfile's own step, as Docker prints it (classic and BuildKit output alike).
    built = "RUN python -m pip install --constraint constraints.txt" in build_log
    assert built or "was built before from this source: reused" in build_log
    jobs = training_jobs(state, environment_of, base)
    image_uri = jobs[0]["AlgorithmSpecification"]["TrainingImage"]
    local_tag = image_uri.split("/", 1)[1]  # sagemaker-snowpark-training:src-<hash>
    size = int(engine.docker("image", "inspect", "--format", "{{.Size}}", local_tag).stdout)
    assert 100e6 < size < 2e9, f"{local_tag} is {size / 1e6:.0f} MB"


def test_every_host_of_every_job_ran_as_a_container_of_the_image(engine, tutorial, environment_of):
    base, state = tutorial
    jobs = training_jobs(state, environment_of, base)
    assert sorted(job["ResourceConfig"]["InstanceCount"] for job in jobs) == [1, 2]
    events = engine.docker(
        "events",
        "--since",
        str(int(engine.started)),
        "--until",
        str(int(time.time()) + 1),
        "--filter",
        "type=container",
        "--filter",
        "event=start",
        "--format",
        "{{.Actor.Attributes.name}} {{.Actor.Attributes.image}}",
    ).stdout.splitlines()
    for job in jobs:
        image = job["AlgorithmSpecification"]["TrainingImage"].split("/", 1)[1]
        for host in range(1, job["ResourceConfig"]["InstanceCount"] + 1):
            assert f"sm-{job['TrainingJobName']}-algo-{host} {image}" in events


def test_the_jobs_complete_stream_their_logs_and_store_their_models(
    tutorial, environment_of, s3_tar
):
    base, state = tutorial
    assert "[train] done in" in output_of(base / "04_train_byoc_sagemaker_job.ipynb")
    jobs = training_jobs(state, environment_of, base)
    assert [job["TrainingJobStatus"] for job in jobs] == ["Completed", "Completed"]
    with environment_of(state, base, administrator=True):
        logs = boto3.client("logs")
        for job in jobs:
            streams = logs.describe_log_streams(
                logGroupName="/aws/sagemaker/TrainingJobs",
                logStreamNamePrefix=job["TrainingJobName"] + "/",
            )["logStreams"]
            assert len(streams) == job["ResourceConfig"]["InstanceCount"]
            for log_stream in streams:
                events = logs.get_log_events(
                    logGroupName="/aws/sagemaker/TrainingJobs",
                    logStreamName=log_stream["logStreamName"],
                )["events"]
                assert any(e["message"].startswith("[train] done in") for e in events)
            model = s3_tar(job["ModelArtifacts"]["S3ModelArtifacts"])
            assert {"xgboost-model.json", "metrics.json"} <= set(model)


def test_the_image_holds_the_training_program_and_no_notebook_or_test_tools(
    engine, tutorial, environment_of
):
    base, state = tutorial
    jobs = training_jobs(state, environment_of, base)
    image = jobs[0]["AlgorithmSpecification"]["TrainingImage"].split("/", 1)[1]
    listed = engine.docker("run", "--rm", image, "python", "-m", "pip", "list", "--format=freeze")
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert {"sagemaker-snowpark", "snowflake-snowpark-python", "xgboost-cpu"} <= installed
    assert {"scikit-learn", "boto3"} <= installed
    unwanted = {
        name
        for name in installed - {"sagemaker-snowpark"}  # this project's own package
        if name in NOT_IN_IMAGE or name.startswith(("sagemaker", "jupyter"))
    }
    assert not unwanted
    which = engine.docker("run", "--rm", image, "sh", "-c", "command -v train")
    assert which.stdout.strip() == "/usr/local/bin/train"


def test_the_image_holds_the_package_and_nothing_of_the_local_stack(
    engine, tutorial, environment_of
):
    base, state = tutorial
    jobs = training_jobs(state, environment_of, base)
    image = jobs[0]["AlgorithmSpecification"]["TrainingImage"].split("/", 1)[1]
    probe = engine.docker(
        "run",
        "--rm",
        image,
        "sh",
        "-c",
        "python -c 'import sagemaker_snowpark.training.job' && echo package imports; "
        "python -c 'import snowpark_local' 2>&1 | tail -n 1; "
        "command -v snowpark-local || echo no snowpark-local on PATH; "
        "python -c 'import importlib.metadata as m; "
        'print(list(m.distribution("sagemaker-snowpark").entry_points))\'',
    )
    assert probe.stdout.splitlines() == [
        "package imports",
        "ModuleNotFoundError: No module named 'snowpark_local'",
        "no snowpark-local on PATH",
        "[]",  # the installed package declares no console script
    ]


def test_a_broken_dockerfile_fails_the_build_with_docker_s_own_message(
    engine, tutorial, environment_of, tmp_path
):
    base, state = tutorial
    context = tmp_path / "broken"
    (context / "box").mkdir(parents=True)
    (context / "box" / "train").write_text("#!/bin/sh\necho never runs\n")
    variables = {**os.environ, **engine.env}  # a machine engine may have its base image set
    base_image = variables.get("SNOWPARK_LOCAL_BASE_IMAGE", "python:3.11-slim-bookworm")
    (context / "box" / "Dockerfile").write_text(
        f"FROM {base_image}\nCOPY box/train /usr/local/bin/train\nRUN no-such-command\n"
    )
    lines: list[str] = []
    with environment_of(state, base, administrator=True), pytest.raises(TutorialError) as failure:
        build_and_push(
            context,
            ["box"],
            "box/Dockerfile",
            "sagemaker-snowpark-training",
            os.environ["SAGEMAKER_BUCKET"],
            f"arn:aws:iam::{accounts.ACCOUNT_ID}:role/{accounts.CODEBUILD_ROLE_NAME}",
            project="sagemaker-snowpark-broken-image",
            echo=lines.append,
        )
    message = str(failure.value)
    assert "ended FAILED: COMMAND_EXECUTION_ERROR: docker build exited with code" in message
    assert "no-such-command: not found" in "\n".join(lines)  # the shell's own words, streamed


def test_the_hosts_of_a_job_find_each_other_by_name(engine, tutorial, environment_of):
    base, state = tutorial
    image_uri = training_jobs(state, environment_of, base)[0]["AlgorithmSpecification"][
        "TrainingImage"
    ]
    name = f"docker-hosts-test-{int(time.time())}"
    with environment_of(state, base, administrator=True):
        sagemaker = boto3.client("sagemaker")
        sagemaker.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": image_uri, "TrainingInputMode": "File"},
            RoleArn=os.environ["SAGEMAKER_ROLE_ARN"],
            HyperParameters={"secret_name": "sagemaker-snowpark/snowflake", "num_round": "20"},
            OutputDataConfig={
                "S3OutputPath": f"s3://{os.environ['SAGEMAKER_BUCKET']}/sagemaker-snowpark/training/hosts-test"
            },
            ResourceConfig={
                "InstanceType": "ml.m5.large",
                "InstanceCount": 2,
                "VolumeSizeInGB": 10,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
        containers = {}
        deadline = time.time() + 120
        while len(containers) < 2 and time.time() < deadline:  # inspect them while they run
            for host in ("algo-1", "algo-2"):
                found = subprocess.run(
                    ["docker", "inspect", f"sm-{name}-{host}"],
                    env={**os.environ, **engine.env},
                    capture_output=True,
                    text=True,
                )
                if found.returncode == 0:
                    containers.setdefault(host, json.loads(found.stdout)[0])
            time.sleep(0.1)
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
        )
        job = sagemaker.describe_training_job(TrainingJobName=name)
    assert sorted(containers) == ["algo-1", "algo-2"]
    for host, container in containers.items():
        assert sorted(container["HostConfig"]["ExtraHosts"]) == [
            "algo-1:127.0.0.1",
            "algo-2:127.0.0.1",
        ]
        variables = [v.split("=", 1)[0] for v in container["Config"]["Env"]]
        assert "TRACKER_HOST" not in variables and "TRACKER_PORT" in variables
        mounts = {m["Destination"]: Path(m["Source"]).name for m in container["Mounts"]}
        assert mounts == {"/opt/ml": host, "/tmp": f"{host}.tmp"}
    # The program found algo-1's tracker by name: the hosts trained one model together.
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")


def test_stopping_a_job_stops_its_container(engine, tutorial, environment_of):
    base, state = tutorial
    image_uri = training_jobs(state, environment_of, base)[0]["AlgorithmSpecification"][
        "TrainingImage"
    ]
    name = f"docker-stop-test-{int(time.time())}"
    # boto3, not the SDK's ModelTrainer: the SDK keeps its clients for the process, and this
    # stack's endpoint is gone once this module ends.
    with environment_of(state, base, administrator=True):
        sagemaker, logs = boto3.client("sagemaker"), boto3.client("logs")
        sagemaker.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": image_uri, "TrainingInputMode": "File"},
            RoleArn=os.environ["SAGEMAKER_ROLE_ARN"],
            HyperParameters={
                "secret_name": "sagemaker-snowpark/snowflake",
                "num_round": "5000",
                "max_depth": "12",
            },
            OutputDataConfig={
                "S3OutputPath": f"s3://{os.environ['SAGEMAKER_BUCKET']}/sagemaker-snowpark/training/stop-test"
            },
            ResourceConfig={
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
        deadline = time.time() + 120
        while time.time() < deadline:  # stop it while it trains: after the baseline
            events = logs.filter_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name
            )["events"]
            if any("baseline trained" in e["message"] for e in events):
                break
            time.sleep(0.5)
        sagemaker.stop_training_job(TrainingJobName=name)
        # Within SageMaker's grace after SIGTERM (120 s, then SIGKILL), however loaded the machine.
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 150}
        )
        job = sagemaker.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Stopped"
    left = engine.docker("ps", "--all", "--quiet", "--filter", f"name=sm-{name}-").stdout
    assert left.strip() == ""  # the container ended and was removed
