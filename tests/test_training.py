"""The training program: its SageMaker contract, its errors, its models, and a real job."""

from __future__ import annotations

import errno
import importlib.machinery
import json
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from types import SimpleNamespace

import boto3
import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from snowflake.snowpark.functions import col

from sagemaker_snowpark import connection, data, keypair
from sagemaker_snowpark.errors import TutorialError
from sagemaker_snowpark.training import features
from sagemaker_snowpark.training.contract import parse_hyperparameters, tree
from sagemaker_snowpark.training.metrics import ScoreCounts

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "training_container" / "train"
SECRET = "tests/training"
PHYSICS = features.physics("MACHINE_FAILURE", "UDI")  # the lesson's feature set
DATABASE = "TRAINING_TESTS"
HUM_COLUMNS = data.TRAINING_COLUMNS
# The program's default table, MAINTENANCE_TRAINING: notebook 03 holds every fifth of the 6,000
# generated machines back for scoring.
TRAINING_ROWS = 4_800


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
        # Bad data a clumsy or hostile user could load (issue: reliability, second round).
        "CREATE OR REPLACE TABLE BAD_LABEL AS SELECT * FROM MAINTENANCE_HUM",
        "UPDATE BAD_LABEL SET MACHINE_FAILURE = 2 WHERE MACHINE_FAILURE = 1",
        "CREATE OR REPLACE TABLE NULL_TORQUE AS SELECT * FROM MAINTENANCE_HUM",
        "UPDATE NULL_TORQUE SET TORQUE_NM = NULL WHERE MOD(UDI, 100) = 0",
        "CREATE OR REPLACE TABLE NULL_LABEL AS SELECT * FROM MAINTENANCE_HUM",
        "UPDATE NULL_LABEL SET MACHINE_FAILURE = NULL WHERE MOD(UDI, 1000) = 0",
        # Five copies with new UDIs: a result too large to come inline, so it arrives in chunks.
        "CREATE OR REPLACE TABLE BIG AS "
        + " UNION ALL ".join(
            f"SELECT UDI + {copy * 100_000} AS UDI, TYPE, AIR_TEMPERATURE_K, PROCESS_TEMPERATURE, "
            "ROTATIONAL_SPEED_RPM, TORQUE_NM, TOOL_WEAR_MIN, HUMIDITY_RELATIVE_AVG, "
            "MACHINE_FAILURE FROM MAINTENANCE_HUM"
            for copy in range(5)
        ),
        # Quoted lower-case names (round 3): a table "lower_columns" whose columns are "udi", ...
        # (as write_pandas makes them from a pandas frame's names), and one with NULLs.
        'CREATE OR REPLACE TABLE "lower_columns" AS SELECT '
        + ", ".join(f'{name} AS "{name.lower()}"' for name in HUM_COLUMNS)
        + " FROM MAINTENANCE_HUM",
        'CREATE OR REPLACE TABLE LOWER_NULL_TORQUE AS SELECT * FROM "lower_columns"',
        'UPDATE LOWER_NULL_TORQUE SET "torque_nm" = NULL WHERE MOD("udi", 100) = 0',
    ):
        session.sql(statement).collect()
    # Tables whose rows are chosen by the split the program computes (validation_fraction 0.25,
    # split_seed 123): one failure, in the training split; and ten rows with both classes in both.
    from snowflake.snowpark.functions import col

    from sagemaker_snowpark.training import dataset

    table = session.table("MAINTENANCE_HUM")
    held_out = dataset.is_validation([col("UDI")], 0.25, 123)
    picked = {}
    for failure in (0, 1):
        for validation in (False, True):
            found = table.filter((col("MACHINE_FAILURE") == failure) & (held_out == validation))
            picked[failure, validation] = [r.UDI for r in found.select("UDI").limit(4).collect()]
    ten = picked[0, False] + picked[1, False] + picked[0, True][:1] + picked[1, True][:1]
    for statement in (
        "CREATE OR REPLACE TABLE ONE_FAILURE AS SELECT * FROM MAINTENANCE_HUM "
        f"WHERE MACHINE_FAILURE = 0 OR UDI = {picked[1, False][0]}",
        f"CREATE OR REPLACE TABLE TEN_ROWS AS SELECT * FROM MAINTENANCE_HUM "
        f"WHERE UDI IN ({', '.join(map(str, ten))})",
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
    return process.returncode, output, read_reason(root / "output" / "failure"), root


def read_reason(path: Path) -> str | None:
    """A job's reason file, or None; at most 4 KB (a test may make it /dev/full, endless)."""
    if not path.exists():
        return None
    with path.open("rb") as file:
        return file.read(4096).decode()


def load_train():
    """The `train` program as a module, to call its main in this process; its first statement
    blocks SIGTERM, which this process gets back."""
    loader = importlib.machinery.SourceFileLoader("train_program", str(TRAIN))
    module = types.ModuleType(loader.name)
    module.__file__ = str(TRAIN)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    try:
        loader.exec_module(module)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return module


def test_the_program_trains_both_models_and_writes_the_contract(training_tables, tmp_path):
    code, output, failure, root = run_program(tmp_path, {})
    assert code == 0, output
    assert failure is None
    assert sorted(p.name for p in (root / "model").iterdir()) == [
        "baseline-logistic-regression.pkl",
        "features.json",
        "metrics.json",
        "xgboost-model.json",
    ]
    metrics = json.loads((root / "model" / "metrics.json").read_text())
    tutorial = metrics["models"]["xgboost_physics_features"]
    baseline = metrics["models"]["baseline_logistic_regression"]
    assert tutorial["roc_auc"] >= 0.95
    assert tutorial["roc_auc"] > baseline["roc_auc"]
    assert tutorial["pr_auc"] > baseline["pr_auc"]
    assert metrics["rows"]["train"] + metrics["rows"]["validation"] == TRAINING_ROWS
    assert tutorial["rows"] == metrics["rows"]["validation"] == baseline["rows"]
    assert set(metrics["timings_seconds"]) >= {"connect", "fetch", "train_xgboost", "evaluate"}
    assert f"validation:roc_auc={tutorial['roc_auc']:.6f}" in output.splitlines()
    assert f"fetched {TRAINING_ROWS:,} rows" in output
    assert sorted(p.name for p in (root / "output" / "data").iterdir()) == [
        "evaluation.json",
        "report.md",
    ]
    # The failure file's reserved space is given back: nothing but the reports is left.
    assert [p.name for p in (root / "output").iterdir()] == ["data"]

    import xgboost

    booster = xgboost.Booster(model_file=str(root / "model" / "xgboost-model.json"))
    assert booster.num_boosted_rounds() == 60
    with open(root / "model" / "baseline-logistic-regression.pkl", "rb") as handle:
        assert pickle.load(handle)[-1].coef_.shape == (1, 6)  # imputer, then the regression


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
        (
            {"table": "EMPTY_TABLE"},
            "Table EMPTY_TABLE has no rows: load rows into it (notebook 03).",
        ),
        ({"table": "ONE_CLASS"}, "Table ONE_CLASS has labels of a single class (every label 0"),
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
    assert "\n" not in failure
    assert_no_noise(output + failure)  # no "Unexpected error", no stack trace
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


def test_a_sigterm_that_ends_the_job_first_decides_its_exit_code(tmp_path, monkeypatch):
    """The SIGTERM thread writes its reason first; the main thread then fails on what the stop
    removed (or finishes without a model) and returns its own code: the process still ends with
    SIGTERM's 143, as SageMaker expects of a stopped job (seen once under load, as exit 2)."""
    from sagemaker_snowpark.training import job

    (tmp_path / "output").mkdir()

    def main(paths) -> None:
        assert job.record_failure(paths, job.STOPPED, "stopped", exit_code=143)
        raise FileNotFoundError("what the stop removed")  # the main thread's own code: 2

    codes: list[int] = []
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    monkeypatch.setattr(job, "stop_on_sigterm", lambda paths: None)
    monkeypatch.setattr(job, "exit_now", codes.append)
    with pytest.raises(SystemExit):
        job.run(main)
    assert codes == [143]
    assert (tmp_path / "output" / "failure").read_text() == job.STOPPED


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
    assert (root / "output" / "failure").read_text().startswith("Stopped by SageMaker (SIGTERM")
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
    from sagemaker_snowpark.training import hosts

    answers = [socket.gaierror(-3, "Temporary failure in name resolution")] * 2 + ["10.0.1.17"]
    asked = []

    def gethostbyname(name):
        asked.append(name)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(hosts, "socket", SimpleNamespace(gethostbyname=gethostbyname))
    started = time.monotonic()
    assert hosts.resolve_host("algo-1", 60) == "10.0.1.17"
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
    from sagemaker_snowpark.training import hosts, job
    from sagemaker_snowpark.training.contract import Paths

    def gethostbyname(name):
        raise socket.gaierror(-2, "Name or service not known")

    root = resource_tree(tmp_path, ["algo-1", "algo-2"], "algo-2")
    monkeypatch.delenv("TRACKER_HOST", raising=False)
    monkeypatch.setattr(hosts, "socket", SimpleNamespace(gethostbyname=gethostbyname))
    monkeypatch.setattr(hosts, "HOST_WAIT_SECONDS", 1)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        # The program's own path: no TRACKER_HOST, as on SageMaker.
        code = job.exit_code(load_train().main, Paths(root))
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
        [
            "pyproject.toml",
            "setup.py",
            "README.md",
            "constraints.txt",
            "src/sagemaker_snowpark",
            "training_container",
        ],
        "training_container/Dockerfile",
        "sagemaker-snowpark-training-tests",
        bucket,
        role_arn,
        echo=lambda _: None,
    )


def run_job(
    training_image, bucket, role_arn, name: str, instance_count: int, num_round: int, **more
):
    """Run the training image as a SageMaker job through the stack; its description."""
    from sagemaker.core.training.configs import OutputDataConfig
    from sagemaker.core.utils.exceptions import FailedStatusError
    from sagemaker.train import Compute, ModelTrainer

    trainer = ModelTrainer(
        training_image=training_image.uri,
        role=role_arn,
        base_job_name=name,
        hyperparameters={"secret_name": SECRET, "num_round": num_round, **more},
        compute=Compute(instance_type="ml.m5.large", instance_count=instance_count),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/training-tests"),
    )
    try:
        trainer.train(wait=True, logs=False)
    except FailedStatusError:
        pass  # the description says why
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
        "features.json",
        "metrics.json",
        "xgboost-model.json",
    ]
    assert metrics["models"]["xgboost_physics_features"]["roc_auc"] >= 0.95


def test_shards_partition_the_table(training_tables):
    from snowflake.snowpark.functions import col

    from sagemaker_snowpark.training import dataset

    session = connection.session(SECRET)
    try:
        table = session.table("MAINTENANCE_HUM")
        every = {r.UDI for r in table.select("UDI").collect()}
        for hosts in (2, 3):
            shards = [
                {
                    r.UDI
                    for r in dataset.shard(table, [col("UDI")], rank, hosts).select("UDI").collect()
                }
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
    assert metrics["rows"]["train"] + metrics["rows"]["validation"] == TRAINING_ROWS  # both shards
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


def test_two_hosts_with_bad_data_end_together_with_the_cause(
    training_tables, training_image, bucket, role_arn
):
    """Row 5: every host checks the whole table first, so all stop at once with one reason."""
    job = run_job(training_image, bucket, role_arn, "two-hosts-labels", 2, 20, table="BAD_LABEL")
    assert job["TrainingJobStatus"] == "Failed"
    assert re.fullmatch(
        r'AlgorithmError: Label "MACHINE_FAILURE" of BAD_LABEL is not binary: [\d,]+ of 6,000 '
        r"rows hold another value than 0 or 1 .*",
        job["FailureReason"],
    ), job["FailureReason"]
    assert job["TrainingTimeInSeconds"] < 40  # not the 30 s SIGKILL after a host hangs
    logs = boto3.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{job['TrainingJobName']}/"
    )["logStreams"]
    assert len(streams) == 2
    last_lines = []
    for stream in streams:
        lines = [
            e["message"]
            for e in logs.get_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"]
            )["events"]
        ]
        assert_no_noise("\n".join(lines))
        last_lines.append(lines[-1])
    # Each host ends with the cause, unless the other failed first and SageMaker stopped it before
    # it reached the check (a host slow to sign in, on a loaded machine): never anything else.
    failed = [line for line in last_lines if line.startswith('[train] failed: Label "MACHINE')]
    stopped = [line for line in last_lines if line.startswith("[train] stopped: Stopped by")]
    assert failed and len(failed) + len(stopped) == 2, last_lines


# --- Reliability, second round: bad data, bad names, stalled networks, full disks ---------------


def assert_no_noise(output: str) -> None:
    """No stack trace, no swallowed exception, no 'Unexpected error' for a cause we can name."""
    for noise in ("Traceback", "Stack trace", "Exception ignored", "Unexpected error"):
        assert noise not in output, output[-2000:]


def assert_clean_failure(code, output, failure, pattern: str) -> None:
    assert code == 1, output[-2000:]
    assert failure is not None and "\n" not in failure, output[-2000:]
    assert re.fullmatch(pattern, failure), failure
    assert_no_noise(output + failure)
    # The last line of the log is the reason, as SageMaker's console shows the log's end.
    assert output.strip().splitlines()[-1] == f"[train] failed: {failure}"


def bad_name(name: str, value: str) -> tuple[dict, str]:
    return {name: value}, rf"Hyperparameter {name} {re.escape(repr(value))} is not a Snowflake .*"


@pytest.mark.parametrize(
    "hyperparameters, pattern",
    [
        (  # row 1
            {"table": "BAD_LABEL"},
            r'Label "MACHINE_FAILURE" of BAD_LABEL is not binary: [\d,]+ of 6,000 rows hold '
            r"another value than 0 or 1 \(e\.g\. '2'\); make it two-valued \(e\.g\. "
            r"IFF\(\.\.\. , 1, 0\)\) or name another label\.",
        ),
        # row 11: names that are not identifiers never reach SQL
        bad_name("table", "MAINTENANCE_HUM; DROP TABLE X"),
        bad_name("table", 'x" ; drop table MAINTENANCE_HUM'),
        bad_name("table", '""'),
        bad_name("table", "MAINTENANCE HUM"),
        bad_name("warehouse", "HOL WH"),
        bad_name("database", "HOL_DB;"),
        bad_name("schema", "A.B"),
        # Round 3, case 1: a quoted lower-case name is case-sensitive, and says so.
        (
            {"table": '"maintenance_hum"'},
            r'Table "maintenance_hum" does not exist \(or the role may not read it\): run notebook '
            r"03, or set the table, database and schema hyperparameters; names in double quotes "
            r'are case-sensitive: "maintenance_hum" is not MAINTENANCE_HUM \(the name without '
            r"the quotes\)\.",
        ),
        # ... and a long one is cut, never the fix.
        (
            {"table": '"' + "q" * 250 + '"'},
            r'Table "q{59}… does not exist .*: "q{60}…" is not Q{60}… \(the name without the '
            r"quotes\)\.",
        ),
        # Round 3, case 3: an empty table names nothing.
        *[
            (
                {"table": empty},
                r"Hyperparameter table is empty: name the training table \(e\.g\. "
                r"MAINTENANCE_TRAINING or DATABASE\.SCHEMA\.MAINTENANCE_TRAINING\), or leave "
                r"table out to use MAINTENANCE_TRAINING\.",
            )
            for empty in ("", "   ")
        ],
        # row 12
        (
            {"region": "us east 1"},
            r"Hyperparameter region 'us east 1' is not an AWS Region name: use one like "
            r"us-east-1 .*",
        ),
        ({"region": "mars-north-9"}, r"Hyperparameter region 'mars-north-9' is not an AWS .*"),
    ],
)
def test_bad_data_and_names_end_in_one_line(training_tables, tmp_path, hyperparameters, pattern):
    code, output, failure, root = run_program(tmp_path, hyperparameters)
    assert_clean_failure(code, output, failure, pattern)
    assert not any((root / "model").iterdir())


@pytest.mark.parametrize("table", ["NULL_TORQUE", "LOWER_NULL_TORQUE"])
def test_null_readings_are_missing_values_to_xgboost(training_tables, tmp_path, table):
    """A NULL reading is a missing value: XGBoost learns where such rows go, the baseline takes
    the feature's mean; every row is read and the model is as good as on the full table."""
    code, output, failure, root = run_program(tmp_path, {"table": table})
    assert code == 0 and failure is None, output
    metrics = json.loads((root / "model" / "metrics.json").read_text())
    assert metrics["rows"]["train"] + metrics["rows"]["validation"] == 6_000
    assert metrics["models"]["xgboost_physics_features"]["roc_auc"] >= 0.95
    assert metrics["models"]["baseline_logistic_regression"]["roc_auc"] is not None


def test_rows_with_a_null_label_are_dropped_and_counted_in_the_log(training_tables, tmp_path):
    code, output, failure, root = run_program(tmp_path, {"table": "NULL_LABEL"})
    assert code == 0 and failure is None, output
    session = connection.session(SECRET)
    try:
        nulls = session.table("NULL_LABEL").filter(col("MACHINE_FAILURE").is_null()).count()
    finally:
        session.close()
    assert nulls > 0
    assert f'dropped {nulls:,} of 6,000 rows whose label "MACHINE_FAILURE" is NULL' in output
    metrics = json.loads((root / "model" / "metrics.json").read_text())
    assert metrics["rows"]["train"] + metrics["rows"]["validation"] == 6_000 - nulls
    assert metrics["rows"]["dropped_null_labels"] == nulls


def test_a_hostile_table_name_drops_nothing(training_tables, tmp_path):
    run_program(tmp_path, {"table": "MAINTENANCE_HUM; DROP TABLE MAINTENANCE_HUM"})
    session = connection.session(SECRET)
    try:
        assert session.table("MAINTENANCE_HUM").count() == 6_000
    finally:
        session.close()


def test_a_table_with_quoted_lower_case_names_trains(training_tables, tmp_path):
    """Round 3, case 2: a table named in quotes, "lower_columns", whose columns were created in
    quotes too ("udi", "machine_failure", ...: what write_pandas makes of a pandas frame's
    lower-case names). They resolve to the columns the program reads, and it trains on the same
    rows, split the same way, as on MAINTENANCE_HUM."""
    from sagemaker_snowpark.training import dataset

    code, output, failure, root = run_program(tmp_path, {"table": '"lower_columns"'})
    assert code == 0 and failure is None, output
    assert_no_noise(output)
    metrics = json.loads((root / "model" / "metrics.json").read_text())
    session = connection.session(SECRET)
    try:
        held_out = session.table("MAINTENANCE_HUM").filter(
            dataset.is_validation([col("UDI")], 0.25, 123)
        )
        validation_rows = held_out.count()
    finally:
        session.close()
    assert metrics["rows"]["validation"] == validation_rows
    assert metrics["rows"]["train"] == 6_000 - validation_rows
    assert metrics["models"]["xgboost_physics_features"]["roc_auc"] >= 0.95


def test_columns_resolve_by_exact_name_then_by_case_and_ambiguity_is_one_line():
    from snowflake.snowpark.types import LongType, StringType, StructField, StructType

    from sagemaker_snowpark.training import dataset

    expected = dataset.expected_columns(label=False)

    def schema(*names):
        text = {"TYPE", '"type"', '"Type"'}
        return StructType(
            [StructField(n, StringType() if n in text else LongType()) for n in names]
        )

    upper = list(expected)
    lower = [f'"{name.lower()}"' for name in expected]
    resolve = dataset.resolve_columns
    assert resolve(schema(*upper), "T", expected, "notebook 05") == {n: n for n in upper}
    assert resolve(schema(*lower), "T", expected, "notebook 05") == dict(
        zip(upper, lower, strict=True)
    )
    # As on Snowflake, the column of exactly the name wins over one differing only in case.
    assert resolve(schema(*upper, '"udi"'), "T", expected, "notebook 05")["UDI"] == "UDI"
    with pytest.raises(TutorialError) as raised:
        resolve(schema('"udi"', '"Udi"', *upper[1:]), "T", expected, "notebook 05")
    assert str(raised.value) == (
        'Table T has columns "udi" and "Udi", which differ only in case: rename all but one of '
        "them (ALTER TABLE ... RENAME COLUMN), or rebuild the table with notebook 05."
    )
    numbers_only = StructType([StructField(name, LongType()) for name in lower])
    with pytest.raises(TutorialError) as raised:
        resolve(numbers_only, "T", expected, "notebook 05")
    assert str(raised.value) == (
        'Column "type" of T is LongType(), not text: rebuild the table with notebook 05.'
    )


@pytest.mark.parametrize(
    "port, shown",
    [(True, "a boolean"), ("99999", "out of range"), (70000, "out of range"), ("443x", "text")],
)
def test_a_secret_with_a_bad_port_fails_at_once(training_tables, tmp_path, unique, port, shown):
    """Row 13: `true` is not port 1, and 99999 is not a URL to parse."""
    name = f"tests/bad-port-{unique}"
    document = {
        "account": os.environ["SNOWFLAKE_ACCOUNT"],
        "user": "SAGEMAKER_TRAINING",
        "privateKey": training_tables.private_pem,
        "host": os.environ["SNOWFLAKE_HOST"],
        "port": port,
        "protocol": "http",
    }
    # Stored past store_secret, which refuses it, as a hand-edited secret would be.
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(document))
    started = time.time()
    code, output, failure, _ = run_program(tmp_path, {"secret_name": name})
    assert time.time() - started < 30  # not the 45 s wait for "Cannot reach Snowflake"
    assert_clean_failure(
        code,
        output,
        failure,
        rf"The secret's port is {shown}: store an integer from 1 to 65535 \(e\.g\. 443\), or "
        r"leave port out \(real accounts do\)\.",
    )
    body = training_tables.private_pem.splitlines()[1]
    assert body not in output and body not in failure


def test_a_secret_with_an_over_long_field_name_keeps_the_fix(training_tables, tmp_path, unique):
    """Round 3, case 6: the name is described, not quoted, and the allowed fields come whole."""
    name = f"tests/long-field-{unique}"
    document = {
        "account": os.environ["SNOWFLAKE_ACCOUNT"],
        "user": "SAGEMAKER_TRAINING",
        "privateKey": training_tables.private_pem,
        "x" * 60_000: "a typo, pasted many times",
    }
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(document))
    code, output, failure, _ = run_program(tmp_path, {"secret_name": name})
    allowed = ", ".join(connection.ALLOWED_FIELDS)
    assert_clean_failure(
        code,
        output,
        failure,
        re.escape(
            "The secret has unknown field(s) a name of 60,000 characters: allowed fields are "
            f"{allowed}."
        ),
    )
    assert "x" * 61 not in output


def test_an_over_long_unknown_hyperparameter_keeps_the_fix():
    with pytest.raises(TutorialError) as raised:
        parse_hyperparameters({"n" * 5_000: "1", "num_rounds": "5"})
    assert str(raised.value).startswith(
        "Unknown hyperparameter(s) a name of 5,000 characters, num_rounds: allowed are "
        "secret_name, region,"
    )
    assert str(raised.value).endswith("stall_seconds, progress_seconds.")


def strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_metric_that_cannot_be_computed_is_null_with_a_warning(training_tables, tmp_path):
    """Row 2: one failure, in the training split: the validation split has none."""
    code, output, failure, root = run_program(tmp_path, {"table": "ONE_FAILURE"})
    assert code == 0 and failure is None, output
    metrics = strict_json((root / "model" / "metrics.json").read_text())
    model = metrics["models"]["xgboost_physics_features"]
    assert model["roc_auc"] is None and model["pr_auc"] is None
    assert (
        "[train] warning: validation:roc_auc cannot be computed (the validation split has 0 "
        in (output)
    )
    assert "validation:roc_auc=" not in output  # no metric line SageMaker would read as a number
    assert "| n/a | n/a |" in (root / "output" / "data" / "report.md").read_text()
    strict_json((root / "output" / "data" / "evaluation.json").read_text())
    assert_no_noise(output)


def test_too_few_validation_rows_are_a_warning(training_tables, tmp_path):
    """Row 3: a 10-row table trains, and the log says its scores mean little."""
    code, output, failure, root = run_program(tmp_path, {"table": "TEN_ROWS"})
    assert code == 0 and failure is None, output
    assert (
        "[train] warning: only 1 failing and 1 non-failing rows in the validation split (fewer "
        "than 50 of a class): its metrics say little; load more rows or raise "
        "validation_fraction." in output.splitlines()
    )
    metrics = strict_json((root / "model" / "metrics.json").read_text())
    assert metrics["rows"]["validation"] == 2


# --- Snowflake that stops answering part-way through the read -----------------------------------


class FaultyProxy:
    """A TCP proxy to the local Snowflake that fails once the program downloads result chunks
    (mid-read): `stall` stops answering and keeps every connection open; `refuse` closes them
    and stops listening, so new connections are refused."""

    def __init__(self, port: int, fault: str):
        self.target = ("127.0.0.1", port)
        self.fault = fault
        self.tripped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.tripped.is_set():
                continue  # stalled: accepted, never answered
            upstream = socket.create_connection(self.target)
            self.sockets.append(upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source, target):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if b"/tutorial-chunks/" in data:
                self._trip()
            if self.tripped.is_set():
                continue  # silent from here on
            try:
                target.sendall(data)
            except OSError:
                return

    def _trip(self):
        self.tripped.set()
        if self.fault == "refuse":
            self.close()

    def close(self):
        for sock in [self.listener, *self.sockets]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def proxied_secret(training_tables, proxy: FaultyProxy, unique: str) -> str:
    """A secret whose sign-in reaches the local Snowflake through `proxy`; its name."""
    name = f"tests/proxied-{unique}"
    connection.store_secret(
        name,
        {
            "account": os.environ["SNOWFLAKE_ACCOUNT"],
            "user": "SAGEMAKER_TRAINING",
            "privateKey": training_tables.private_pem,
            "host": "127.0.0.1",
            "port": proxy.port,
            "protocol": "http",
            "warehouse": "HOL_WH",
            "database": DATABASE,
            "schema": "PUBLIC",
        },
    )
    return name


@pytest.mark.parametrize("fault", ["stall", "refuse"])
def test_snowflake_failing_mid_read_ends_the_job_within_the_bound(
    training_tables, tmp_path, unique, fault
):
    """Rows 6 and 7, in seconds: the bound is the stall_seconds hyperparameter (120 s default)."""
    proxy = FaultyProxy(int(os.environ["SNOWFLAKE_PORT"]), fault)
    name = proxied_secret(training_tables, proxy, unique)
    try:
        started = time.time()
        code, output, failure, root = run_program(
            tmp_path,
            {"secret_name": name, "table": "BIG", "stall_seconds": "6", "progress_seconds": "1"},
        )
        ended = time.time()
    finally:
        proxy.close()
    assert proxy.tripped.is_set()  # the fault came while chunks were being read
    assert_clean_failure(
        code,
        output,
        failure,
        r"Snowflake stopped answering while the table was being read \((.+), after [\d,]+ of "
        r"[\d,]+ rows\): check the network and Snowflake's status page, then start the job "
        r"again(; if Snowflake is only slow on a large table, raise stall_seconds)?\.",
    )
    assert ended - started < 60  # the bound, plus signing in and Python's start
    # The failure file is written, then the process ends at once.
    assert ended - (root / "output" / "failure").stat().st_mtime < 3
    if fault == "stall":  # silence: the bound ends it, and the log shows the read standing still
        assert "(no answer for 6 s while reading the table, after" in failure
        assert failure.endswith("if Snowflake is only slow on a large table, raise stall_seconds.")
        assert re.search(
            r"\[train\] reading the table: [\d,]+ of 30,000 rows so far \([\d,]+ rows/s\)", output
        )
    else:  # the connector gives up on a broken connection by itself
        assert "(the connection failed: " in failure


def test_a_dead_stack_mid_read_ends_the_job_within_the_bound(training_tables, tmp_path, unique):
    """Round 3, case 8: the local stack killed while a job reads rows. Snowflake says nothing
    more, and nothing reads the job's log (its pipe is closed): the job's own watchdog ends it
    within stall_seconds all the same, with the reason in its failure file."""
    proxy = FaultyProxy(int(os.environ["SNOWFLAKE_PORT"]), "stall")
    name = proxied_secret(training_tables, proxy, unique)
    values = {"secret_name": name, "table": "BIG", "stall_seconds": "6", "progress_seconds": "1"}
    process, root = run_program(tmp_path, values, wait=False)
    try:
        for line in process.stdout:
            if "rows to read" in line:
                break
        process.stdout.close()  # the stack's log reader is gone with it
        closed = time.monotonic()
        process.wait(timeout=60)
        ended = time.monotonic()
    finally:
        process.kill()
        proxy.close()
    assert proxy.tripped.is_set()  # the fault came while chunks were being read
    assert process.returncode == 1
    assert ended - closed < 6 + 10  # the bound, plus the rows read before the fault
    failure = read_reason(root / "output" / "failure")
    assert re.fullmatch(
        r"Snowflake stopped answering while the table was being read \(no answer for 6 s while "
        r"reading the table, after [\d,]+ of 30,000 rows\): check the network and Snowflake's "
        r"status page, then start the job again; if Snowflake is only slow on a large table, "
        r"raise stall_seconds\.",
        failure,
    ), failure
    assert not any((root / "model").iterdir())


BLOCKED_IN_THE_CHECKS = """
import socket, sys
from pathlib import Path
from sagemaker_snowpark.training import job
from sagemaker_snowpark.training.contract import Paths

listener = socket.create_server(("127.0.0.1", 0))
silent = socket.create_connection(listener.getsockname())  # accepted, never answered
print("checking", flush=True)
with job.Watchdog(Paths(Path(sys.argv[1])), stall_seconds=2, progress_seconds=1):
    silent.recv(1)  # as the connector waits, inside a socket read, for a check's answer
"""


def test_the_watchdog_fires_while_a_check_waits_in_a_socket_read(tmp_path):
    """Round 3, case 8: before the first batch, during the checks, the reading thread blocked
    in a socket read and the log's reader gone: the bound still ends the job."""
    process = subprocess.Popen(
        [sys.executable, "-c", BLOCKED_IN_THE_CHECKS, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout.readline() == b"checking\n"
        process.stdout.close()  # nobody reads the log any more
        started = time.monotonic()
        process.wait(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        process.kill()
    assert process.returncode == 1
    assert elapsed < 2 + 3
    assert (tmp_path / "output" / "failure").read_text() == (
        "Snowflake stopped answering while the table was being read (no answer for 2 s while "
        "checking the table): check the network and Snowflake's status page, then start the job "
        "again; if Snowflake is only slow on a large table, raise stall_seconds."
    )


# --- Full and read-only disks ---------------------------------------------------------------------


def tiny_models():
    import xgboost
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).random((200, 10)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.float32)
    booster = xgboost.train({"max_depth": 2}, xgboost.DMatrix(x, y), 3)
    return LogisticRegression().fit(x[:, :6], y), booster


def fail_writes_under(monkeypatch, folder: Path, error: OSError):
    original = Path.write_bytes

    def write_bytes(self, data):
        if folder in self.parents:
            raise error
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def write_tiny_results(tmp_path):
    """job.write_results with what `train` gives it, for tiny models."""
    from sagemaker_snowpark.training import job, models
    from sagemaker_snowpark.training.contract import Paths

    (tmp_path / "model").mkdir()
    baseline, booster = tiny_models()
    counts = {models.BASELINE: ScoreCounts(), models.MODEL: ScoreCounts()}
    metrics = {"models": {name: c.summary() for name, c in counts.items()}}
    job.write_results(
        Paths(tmp_path),
        model={
            "xgboost-model.json": bytes(booster.save_raw(raw_format="json")),
            "baseline-logistic-regression.pkl": pickle.dumps(baseline),
            "metrics.json": json.dumps(metrics, indent=2, allow_nan=False).encode(),
        },
        output_data=models.evaluation_report(metrics, counts),
    )


def test_a_full_model_folder_names_the_path_the_space_and_the_fix(tmp_path, monkeypatch):
    """Row 8: not XGBoost's native `FileStream.Write incomplete` and its stack trace."""
    fail_writes_under(
        monkeypatch, tmp_path / "model", OSError(errno.ENOSPC, "No space left on device")
    )
    with pytest.raises(TutorialError) as raised:
        write_tiny_results(tmp_path)
    assert re.fullmatch(
        rf"No space left on the device of {re.escape(str(tmp_path / 'model'))} \(No space left on "
        r"device\) for the model: about 1 MB are needed there, [\d,]+ MB free; raise the training "
        r"job's VolumeSizeInGB \(ModelTrainer's Compute\(volume_size_in_gb=\.\.\.\)\) on "
        r"SageMaker, or free space on that disk\.",
        str(raised.value),
    ), str(raised.value)
    assert not any((tmp_path / "model").iterdir())  # no half-written model


def test_a_read_only_model_folder_says_how_to_mount_it(tmp_path, monkeypatch):
    """Row 10, the model folder read-only."""
    fail_writes_under(
        monkeypatch, tmp_path / "model", PermissionError(errno.EACCES, "Permission denied")
    )
    with pytest.raises(
        TutorialError,
        match=r"model is not writable \(Permission denied\), and the model must be written "
        "there: on SageMaker it always is; a container run by hand needs a writable volume",
    ):
        write_tiny_results(tmp_path)


class _Frame:
    """A featurised frame's stand-in: one batch of rows (of the physics set's width)."""

    def __init__(self, rows: int, width: int = len(PHYSICS.features)):
        import pandas as pd

        from sagemaker_snowpark.training import dataset

        columns = {f"F_{i}": np.ones(rows) for i in range(width)}
        columns[dataset.LABEL_ALIAS] = np.arange(rows) % 2
        columns[dataset.SPLIT] = np.arange(rows) % 4 == 0
        self.batch = pd.DataFrame(columns)

    def to_pandas_batches(self):
        yield self.batch


def test_a_full_scratch_disk_names_the_folder_the_space_and_the_fix(tmp_path, monkeypatch):
    """Row 10, the job's /tmp full while the batches are written."""
    from sagemaker_snowpark.training import dataset

    def savez(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dataset.np, "savez", savez)
    with pytest.raises(TutorialError) as raised:
        dataset.fetch(_Frame(100), PHYSICS, tmp_path / "batches", 2_000_000, 1000, 1)
    assert str(raised.value).startswith(
        f"No space left on the device of {tmp_path / 'batches'} (No space left on device) for the "
        "table's batches and XGBoost's pages: about 122 MB are needed there"
    ), str(raised.value)
    assert "VolumeSizeInGB" in str(raised.value)


def test_a_wide_table_s_baseline_sample_is_bounded_in_values_and_let_go_once_fitted(
    tmp_path, monkeypatch
):
    """300 features: the baseline's sample keeps at most BASELINE_MAX_VALUES values, not
    baseline_max_rows rows of 300 values each (250,000 of them would be 900 MB in memory), and
    it is let go once the baseline is fitted, before XGBoost builds its matrix."""
    from sagemaker_snowpark.training import dataset, models
    from sagemaker_snowpark.training.contract import Hosts

    names = tuple(f"C_{i}" for i in range(300))
    wide = features.Definition(
        "columns",
        "Y",
        "number",
        "ID",
        tuple(features.Feature(n, n, "number") for n in names),
        names,
    )
    # The lesson's six readings stay within both bounds: baseline_max_rows alone decides.
    assert dataset.baseline_share(1_000_000, 6, 250_000) == 0.25
    monkeypatch.setattr(dataset, "BASELINE_MAX_VALUES", 600_000)
    fetched = dataset.fetch(_Frame(20_000, 300), wide, tmp_path / "batches", 20_000, 250_000, 1)
    assert fetched.train.rows == 15_000  # every fourth row is a validation row
    # 600,000 values of 300 features: 2,000 of the 20,000 rows, 1,500 of the training rows.
    assert fetched.baseline_x.shape[1] == 300
    assert 1_300 <= len(fetched.baseline_x) == len(fetched.baseline_y) <= 1_700
    baseline = models.train_baseline(fetched, None, Hosts("algo-1", ("algo-1",)), 1)
    assert baseline[-1].coef_.shape == (1, 300)
    assert fetched.baseline_x.shape == (0, 300) and fetched.baseline_y.shape == (0,)


def test_the_failure_reason_is_written_even_when_the_output_folder_is_full(tmp_path, monkeypatch):
    """Row 9: the program's reports make room for the reason; if even that fails, the log has it."""
    from sagemaker_snowpark.training.contract import Paths, write_failure

    paths = Paths(tmp_path)
    paths.output_data.mkdir(parents=True)
    (paths.output_data / "report.md").write_text("x" * 1000)
    original, calls = Path.write_bytes, []

    def write_bytes(self, data):
        calls.append(self)
        if self == paths.failure and (len(calls) == 1 or paths.output_data.exists()):
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    assert write_failure(paths, "Table T is empty: load it with notebook 03.")
    assert paths.failure.read_text() == "Table T is empty: load it with notebook 03."
    assert not paths.output_data.exists()


def test_the_reason_goes_into_the_space_set_aside_at_the_start(tmp_path, monkeypatch):
    """Round 3, case 5: nothing new can be written (the disk is full, and no report is there
    to remove); the space reserve_space set aside takes the reason."""
    from sagemaker_snowpark.training.contract import Paths, reserve_space, write_failure

    paths = Paths(tmp_path)
    reserve_space(paths.failure)
    assert tree(tmp_path) == ["/opt/ml/output/"]  # the program's own file, not SageMaker's

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    monkeypatch.setattr(Path, "write_text", full)
    message = "Table T has NULLs in 1 of 9 rows (TORQUE_NM in 1): fill or remove those rows."
    assert write_failure(paths, message)
    assert paths.failure.read_text() == message
    assert [p.name for p in paths.failure.parent.iterdir()] == ["failure"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_failing_job_on_a_full_output_folder_still_gives_its_reason(training_tables, tmp_path):
    """Round 3, case 5, end to end: /opt/ml/output/failure answers every write with ENOSPC
    (it is /dev/full), as on a full disk; the reason still replaces the generic one."""
    output = tmp_path / "algo-1" / "output"
    output.mkdir(parents=True)
    (output / "failure").symlink_to("/dev/full")
    code, log, failure, root = run_program(tmp_path, {"table": "NO_SUCH_TABLE"})
    assert code == 1, log
    assert not (output / "failure").is_symlink()
    assert failure.startswith("Table NO_SUCH_TABLE does not exist (or the role may not read it)")
    assert log.strip().splitlines()[-1] == f"[train] failed: {failure}"
    assert sorted(p.name for p in output.iterdir()) == ["data", "failure"]


def test_an_xgboost_error_never_puts_its_stack_trace_in_the_reason(tmp_path):
    from sagemaker_snowpark.training import job
    from sagemaker_snowpark.training.contract import Paths

    def main(paths):
        import xgboost

        raise xgboost.core.XGBoostError(
            "[12:00:00] src/x.cc:1: odd\nStack trace:\n  [bt] (0) libxgboost.so"
        )

    root = resource_tree(tmp_path, ["algo-1"], "algo-1")
    assert job.exit_code(main, Paths(root)) == 2
    assert (root / "output" / "failure").read_text() == (
        "Unexpected error: XGBoostError: [12:00:00] src/x.cc:1: odd"
    )


def test_the_troubleshooting_page_lists_the_new_messages():
    table = (ROOT / "docs" / "troubleshooting.md").read_text()
    for message in (
        "is not binary: N of M rows hold another value than 0 or 1",
        "dropped N of M rows whose label ... is NULL",
        "(hyperparameter label): its columns are",
        "feature_set=physics reads the workshop's columns",
        "is not a Snowflake identifier",
        "is not an AWS Region name",
        "The secret's port is",
        "Snowflake stopped answering while the table was being read",
        "No space left on the device of",
        "is not writable",
        "warning: only N failing and M non-failing rows in the validation split",
        "cannot be computed",
        # Round 3
        "names in double quotes are case-sensitive",
        "which differ only in case",
        "Hyperparameter table is empty",
        "a name of N characters",
        "raise stall_seconds",
        "the reason could not be written to",
        "or set the --source-table, --database and --schema arguments",
        "set the --schema argument",
    ):
        assert message in table, message
    # SageMaker sets FailureReason only for failed jobs: a stopped job is not listed as one.
    training = table.split("**Training job**", 1)[1]
    assert "| `Stopped by" not in training


def test_a_host_waiting_for_a_lost_host_ends_at_once_on_sigterm(training_tables, tmp_path):
    """Row 5: algo-1 dies mid-training; algo-2, waiting for it inside XGBoost's native code, ends
    as soon as SIGTERM comes (SageMaker's, or the stack's), with no swallowed exception."""
    from sagemaker_snowpark.training import job

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    hosts = ("algo-1", "algo-2")
    env = {"TRACKER_HOST": "127.0.0.1", "TRACKER_PORT": str(port)}
    values = {"num_round": "5000", "max_depth": "10"}
    first, _ = run_program(tmp_path, values, wait=False, hosts=hosts, host="algo-1", env=env)
    second, root = run_program(tmp_path, values, wait=False, hosts=hosts, host="algo-2", env=env)
    try:
        for line in first.stdout:
            if "baseline trained" in line:
                break
        first.kill()  # an instance lost without a word
        time.sleep(1)
        second.send_signal(signal.SIGTERM)
        started = time.time()
        output, _ = second.communicate(timeout=60)
        assert time.time() - started < 5, output
    finally:
        for process in (first, second):
            process.kill()
            process.wait()
    assert second.returncode in (1, 143), output
    failure = (root / "output" / "failure").read_text()
    assert failure == job.STOPPED or failure.startswith("Another host of the job stopped")
    assert_no_noise(output)
    assert not any((root / "model").iterdir())


def test_a_broken_connection_while_the_table_is_checked_is_named(tmp_path):
    """The checks before the read: the connector's timeouts bound them; the reason is the same."""
    from sagemaker_snowpark.training import job
    from sagemaker_snowpark.training.contract import Paths

    with pytest.raises(TutorialError) as raised:
        with job.Watchdog(Paths(tmp_path), 120, 30):
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    assert str(raised.value) == (
        "Snowflake stopped answering while the table was being read (the connection failed: "
        "ConnectionRefusedError while checking the table): check the network and Snowflake's "
        "status page, then start the job again."
    )
