"""The training program: its SageMaker contract, its errors, its models, and a real job."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import boto3
import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from sagemaker_snowpark import connection, data, keypair
from sagemaker_snowpark.errors import TutorialError
from sagemaker_snowpark.training.contract import parse_hyperparameters, tree
from sagemaker_snowpark.training.metrics import ScoreCounts

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "training_container" / "train"
SECRET = "tests/training"
DATABASE = "TRAINING_TESTS"


@pytest.fixture(scope="module")
def training_tables(tmp_path_factory):
    """Generated workshop data in its own database, plus broken tables for the error cases."""
    pair = keypair.generate()
    connection.store_secret(
        SECRET,
        {
            "account": os.environ["SNOWFLAKE_ACCOUNT"],
            "user": "SAGEMAKER_TRAINING",
            "privateKey": pair.private_pem,
            "host": os.environ["SNOWFLAKE_HOST"],
            "port": os.environ["SNOWFLAKE_PORT"],
            "protocol": "http",
            "warehouse": "HOL_WH",
            "database": DATABASE,
            "schema": "PUBLIC",
        },
    )
    session = connection.session(SECRET)
    session.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}").collect()  # sign-in creates none
    session.sql(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.PUBLIC").collect()
    session.use_schema(f"{DATABASE}.PUBLIC")
    folder = data.source_folder(
        "generated", rows=6_000, seed=11, cache_dir=tmp_path_factory.mktemp("c")
    )
    data.load_workshop_tables(session, folder)
    for statement in (
        "CREATE OR REPLACE TABLE EMPTY_TABLE AS SELECT * FROM MAINTENANCE_HUM WHERE 1 = 0",
        "CREATE OR REPLACE TABLE ONE_CLASS AS "
        "SELECT * FROM MAINTENANCE_HUM WHERE MACHINE_FAILURE = 0",
        "CREATE OR REPLACE TABLE NO_TORQUE AS SELECT UDI, TYPE, AIR_TEMPERATURE_K, "
        "PROCESS_TEMPERATURE, ROTATIONAL_SPEED_RPM, TOOL_WEAR_MIN, HUMIDITY_RELATIVE_AVG, "
        "MACHINE_FAILURE FROM MAINTENANCE_HUM",
        "CREATE OR REPLACE TABLE TEXT_TORQUE AS SELECT UDI, TYPE, AIR_TEMPERATURE_K, "
        "PROCESS_TEMPERATURE, ROTATIONAL_SPEED_RPM, CAST(TORQUE_NM AS VARCHAR) AS TORQUE_NM, "
        "TOOL_WEAR_MIN, HUMIDITY_RELATIVE_AVG, MACHINE_FAILURE FROM MAINTENANCE_HUM",
    ):
        session.sql(statement).collect()
    session.close()
    return pair


def run_program(
    tmp_path: Path,
    hyperparameters: dict,
    *,
    wait=True,
    hosts=("algo-1",),
    host="algo-1",
    env: dict | None = None,
):
    root = tmp_path / host
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (root / "model").mkdir()
    (root / "output" / "data").mkdir(parents=True)
    values = {"secret_name": SECRET, "num_round": "60", **hyperparameters}
    (config / "hyperparameters.json").write_text(json.dumps({k: str(v) for k, v in values.items()}))
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": host, "hosts": list(hosts)})
    )
    process = subprocess.Popen(
        [sys.executable, str(TRAIN)],
        env={**os.environ, "SAGEMAKER_BASE_DIR": str(root), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if not wait:
        return process, root
    output, _ = process.communicate(timeout=300)
    failure = root / "output" / "failure"
    return process.returncode, output, failure.read_text() if failure.exists() else None, root


def test_the_program_trains_both_models_and_writes_the_contract(training_tables, tmp_path):
    code, output, failure, root = run_program(tmp_path, {})
    assert code == 0, output
    assert failure is None
    assert sorted(p.name for p in (root / "model").iterdir()) == [
        "baseline-logistic-regression.pkl",
        "metrics.json",
        "xgboost-model.json",
    ]
    metrics = json.loads((root / "model" / "metrics.json").read_text())
    tutorial = metrics["models"]["xgboost_physics_features"]
    baseline = metrics["models"]["baseline_logistic_regression"]
    assert tutorial["roc_auc"] >= 0.95
    assert tutorial["roc_auc"] > baseline["roc_auc"]
    assert tutorial["pr_auc"] > baseline["pr_auc"]
    assert metrics["rows"]["train"] + metrics["rows"]["validation"] == 6_000
    assert tutorial["rows"] == metrics["rows"]["validation"] == baseline["rows"]
    assert set(metrics["timings_seconds"]) >= {"connect", "fetch", "train_xgboost", "evaluate"}
    assert f"validation:roc_auc={tutorial['roc_auc']:.6f}" in output.splitlines()
    assert "fetched 6,000 rows" in output
    assert sorted(p.name for p in (root / "output" / "data").iterdir()) == [
        "evaluation.json",
        "report.md",
    ]

    import xgboost

    booster = xgboost.Booster(model_file=str(root / "model" / "xgboost-model.json"))
    assert booster.num_boosted_rounds() == 60
    with open(root / "model" / "baseline-logistic-regression.pkl", "rb") as handle:
        assert pickle.load(handle).coef_.shape == (1, 6)


@pytest.mark.parametrize(
    "hyperparameters, reason",
    [
        ({"table": "NO_SUCH_TABLE"}, "Table NO_SUCH_TABLE does not exist"),
        (
            {"database": "NO_SUCH_DB"},
            "The Snowflake session has no current database (database NO_SUCH_DB does not exist",
        ),
        (
            {"schema": "NO_SUCH_SCHEMA"},
            f"The Snowflake session has no current schema (schema {DATABASE}.NO_SUCH_SCHEMA",
        ),
        ({"table": "EMPTY_TABLE"}, "Table EMPTY_TABLE is empty: load it with notebook 03."),
        ({"table": "ONE_CLASS"}, "Table ONE_CLASS has labels of a single class (no failures"),
        ({"table": "NO_TORQUE"}, "Table NO_TORQUE has no column TORQUE_NM: rebuild it"),
        ({"table": "TEXT_TORQUE"}, "Column TORQUE_NM of TEXT_TORQUE is StringType"),
        ({"secret_name": "tests/no-such-secret"}, "Secret tests/no-such-secret does not exist"),
        ({"num_rounds": "5"}, "Unknown hyperparameter(s) num_rounds: allowed are"),
        ({"eta": "fast"}, "Hyperparameter eta must be a number, got 'fast'"),
        ({"max_depth": "99"}, "Hyperparameter max_depth=99 is out of range: use 1 to 16"),
    ],
)
def test_each_error_becomes_the_failure_reason(training_tables, tmp_path, hyperparameters, reason):
    code, output, failure, root = run_program(tmp_path, hyperparameters)
    assert code == 1, output
    assert failure is not None and failure.startswith(reason), failure
    assert "\n" not in failure and "Traceback" not in output
    assert not any((root / "model").iterdir())  # nothing that looks like a model


def test_missing_sagemaker_config_is_reported(tmp_path):
    result = subprocess.run(
        [sys.executable, str(TRAIN)],
        env={**os.environ, "SAGEMAKER_BASE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "hyperparameters.json is missing" in (tmp_path / "output" / "failure").read_text()


def test_sigterm_stops_promptly_without_a_model(training_tables, tmp_path):
    process, root = run_program(tmp_path, {"num_round": "5000", "max_depth": "12"}, wait=False)
    for line in process.stdout:
        if "baseline trained" in line:
            break
    process.send_signal(signal.SIGTERM)
    started = time.time()
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)  # a second one must not break the first one's clean-up
    process.wait(timeout=30)
    assert time.time() - started < 10
    assert process.returncode == 143
    assert (root / "output" / "failure").read_text().startswith("Stopped by StopTrainingJob")
    assert not any((root / "model").iterdir())


def test_the_batches_wait_in_the_scratch_folder_and_are_removed_at_the_end(
    training_tables, tmp_path
):
    scratch = tmp_path / "volume"  # the job's /tmp: on SageMaker, the instance's storage volume
    scratch.mkdir()
    process, root = run_program(tmp_path, {}, wait=False, env={"TMPDIR": str(scratch)})
    for line in process.stdout:
        if "baseline trained" in line:  # the batches are written; XGBoost reads them next
            break
    during = [p.relative_to(scratch) for p in scratch.rglob("*") if p.is_file()]
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert during and all(p.parts[0].startswith("batches-") for p in during), during
    assert not any(scratch.iterdir())
    assert not any(p.name.startswith("batches-") for p in root.rglob("*"))


def resource_tree(root: Path, hosts: list[str], host: str) -> Path:
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text("{}")
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
    return root


def test_the_hosts_wait_until_the_first_host_s_name_resolves(monkeypatch, capsys):
    from sagemaker_snowpark.training import program

    answers = [socket.gaierror(-3, "Temporary failure in name resolution")] * 2 + ["10.0.1.17"]
    asked = []

    def gethostbyname(name):
        asked.append(name)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(program, "socket", SimpleNamespace(gethostbyname=gethostbyname))
    started = time.monotonic()
    assert program.resolve_host("algo-1", 60) == "10.0.1.17"
    assert asked == ["algo-1"] * 3
    assert 1.4 < time.monotonic() - started < 5  # backing off: 0.5 s, then 1 s
    waiting = [line for line in capsys.readouterr().out.splitlines() if "waiting" in line]
    assert (
        waiting
        == [
            "[train] waiting for host name algo-1 to resolve (Temporary failure in name resolution)"
        ]
        * 2
    )


def test_a_host_name_that_never_resolves_fails_the_job_with_one_line(tmp_path, monkeypatch, capsys):
    from sagemaker_snowpark.training import program

    def gethostbyname(name):
        raise socket.gaierror(-2, "Name or service not known")

    root = resource_tree(tmp_path, ["algo-1", "algo-2"], "algo-2")
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(root))
    monkeypatch.delenv("TRACKER_HOST", raising=False)
    monkeypatch.setattr(program, "socket", SimpleNamespace(gethostbyname=gethostbyname))
    monkeypatch.setattr(program, "HOST_WAIT_SECONDS", 1)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        code = program.main()  # the program's own path: no TRACKER_HOST, as on SageMaker
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert code == 1
    assert (root / "output" / "failure").read_text() == (
        "Host name algo-1 did not resolve within 1 s (Name or service not known): the job's "
        "instances cannot find each other; start the job again."
    )
    assert "[train] waiting for host name algo-1 to resolve" in capsys.readouterr().out


def test_hyperparameters_are_typed_with_defaults():
    values = parse_hyperparameters({"num_round": "10", "eta": "0.3", "table": "T"})
    assert (values["num_round"], values["eta"], values["table"]) == (10, 0.3, "T")
    assert values["validation_fraction"] == 0.25 and values["secret_name"] == ""
    with pytest.raises(TutorialError, match="num_round must be an integer, got '1.5'"):
        parse_hyperparameters({"num_round": "1.5"})
    with pytest.raises(TutorialError, match="threshold=1.5 is out of range: use 0 to 1"):
        parse_hyperparameters({"threshold": "1.5"})


def test_streamed_metrics_match_exact_ones():
    rng = np.random.default_rng(0)
    labels = rng.random(20_000) < 0.05
    scores = np.clip(rng.normal(0.3 + 0.35 * labels, 0.15), 0, 1)
    counts = ScoreCounts(threshold=0.5)
    for part in range(4):  # in batches, as the program adds them
        counts.add(scores[part::4], labels[part::4])
    assert counts.roc_auc() == pytest.approx(roc_auc_score(labels, scores), abs=1e-3)
    assert counts.pr_auc() == pytest.approx(average_precision_score(labels, scores), abs=5e-3)
    predicted = scores >= 0.5
    assert counts.confusion_matrix() == {
        "tn": int(np.sum(~predicted & ~labels)),
        "fp": int(np.sum(predicted & ~labels)),
        "fn": int(np.sum(~predicted & labels)),
        "tp": int(np.sum(predicted & labels)),
    }
    merged = ScoreCounts(threshold=0.5)
    merged.replace_with(counts.as_vector() * 1)
    assert merged.summary() == counts.summary()


@pytest.fixture(scope="module")
def training_image(bucket, role_arn):
    """The training image, built from this checkout through the stack's CodeBuild."""
    from sagemaker_snowpark.images import build_and_push

    return build_and_push(
        ROOT,
        ["pyproject.toml", "README.md", "constraints.txt", "src", "training_container"],
        "training_container/Dockerfile",
        "sagemaker-snowpark-training-tests",
        bucket,
        role_arn,
        echo=lambda _: None,
    )


def run_job(training_image, bucket, role_arn, name: str, instance_count: int, num_round: int):
    """Run the training image as a SageMaker job through the stack; its description."""
    from sagemaker.core.training.configs import OutputDataConfig
    from sagemaker.train import Compute, ModelTrainer

    trainer = ModelTrainer(
        training_image=training_image.uri,
        role=role_arn,
        base_job_name=name,
        hyperparameters={"secret_name": SECRET, "num_round": num_round},
        compute=Compute(instance_type="ml.m5.large", instance_count=instance_count),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/training-tests"),
    )
    trainer.train(wait=True, logs=False)
    return boto3.client("sagemaker").describe_training_job(
        TrainingJobName=trainer._latest_training_job.training_job_name
    )


def test_a_job_runs_the_training_image_end_to_end(
    training_tables, training_image, bucket, role_arn, s3_tar
):
    job = run_job(training_image, bucket, role_arn, "training-test", 1, num_round=40)
    assert job["TrainingJobStatus"] == "Completed"
    model = s3_tar(job["ModelArtifacts"]["S3ModelArtifacts"])
    metrics = json.loads(model["metrics.json"])
    assert sorted(model) == [
        "baseline-logistic-regression.pkl",
        "metrics.json",
        "xgboost-model.json",
    ]
    assert metrics["models"]["xgboost_physics_features"]["roc_auc"] >= 0.95


def test_shards_partition_the_table(training_tables):
    from sagemaker_snowpark.training import dataset

    session = connection.session(SECRET)
    try:
        table = session.table("MAINTENANCE_HUM")
        every = {r.UDI for r in table.select("UDI").collect()}
        for hosts in (2, 3):
            shards = [
                {r.UDI for r in dataset.shard(table, rank, hosts).select("UDI").collect()}
                for rank in range(hosts)
            ]
            assert set.union(*shards) == every  # every row in a shard
            assert sum(len(s) for s in shards) == len(every)  # and in one only
            assert min(len(s) for s in shards) > len(every) / hosts * 0.9
    finally:
        session.close()


def test_a_two_host_job_trains_one_model_together(
    training_tables, training_image, bucket, role_arn, s3_tar
):
    job = run_job(training_image, bucket, role_arn, "two-hosts-test", 2, num_round=100)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    metrics = json.loads(s3_tar(job["ModelArtifacts"]["S3ModelArtifacts"])["metrics.json"])
    assert metrics["rows"]["hosts"] == 2
    assert metrics["rows"]["train"] + metrics["rows"]["validation"] == 6_000  # both shards
    assert metrics["models"]["xgboost_physics_features"]["rows"] == metrics["rows"]["validation"]
    assert metrics["models"]["xgboost_physics_features"]["roc_auc"] >= 0.95
    logs = boto3.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{job['TrainingJobName']}/"
    )["logStreams"]
    shards = []
    for stream in sorted(s["logStreamName"] for s in streams):
        events = logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream
        )
        shards += [e["message"] for e in events["events"] if "rows to read (shard" in e["message"]]
    assert len(shards) == 2 and "(shard 0)" in shards[0] and "(shard 1)" in shards[1]


def test_the_program_shows_its_tree_as_opt_ml(tmp_path):
    for folder in ("input/config", "input/data/train/deep", "model", "output/data"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "input/config/hyperparameters.json").write_text("{}")
    (tmp_path / "input/data/train/deep/rows.csv").write_text("1")
    assert tree(tmp_path) == [
        "/opt/ml/input/",
        "/opt/ml/input/config/",
        "/opt/ml/input/config/hyperparameters.json",
        "/opt/ml/input/data/",
        "/opt/ml/input/data/train/",  # three levels deep, no more
        "/opt/ml/model/",
        "/opt/ml/output/",
        "/opt/ml/output/data/",
    ]
