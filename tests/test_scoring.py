"""The scoring program: its Processing contract, each error, its scores, re-runs, and real jobs."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import boto3
import numpy as np
import pytest
from docker_engine import docker_mode_stack

from sagemaker_snowpark import cleanup, connection, data, jobs, keypair
from sagemaker_snowpark.errors import TutorialError
from snowpark_local import accounts

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "training_container" / "train"
SCORE = ROOT / "training_container" / "score"
SECRET = "tests/scoring"
DATABASE = "SCORING_TESTS"
PREDICTIONS = "MAINTENANCE_PREDICTIONS"
READING_COLUMNS = tuple(c for c in data.TRAINING_COLUMNS if c != "MACHINE_FAILURE")
PREDICTION_COLUMNS = {
    "UDI": "NUMBER(38,0)",
    "PROBABILITY": "FLOAT",
    "PREDICTED": "BOOLEAN",
    "MODEL_VERSION": "VARCHAR",
    "SCORED_AT": "TIMESTAMP_NTZ",
    "TOP_REASON": "VARCHAR",
}
FEATURES = (
    "AIR_TEMPERATURE_K",
    "PROCESS_TEMPERATURE",
    "ROTATIONAL_SPEED_RPM",
    "TORQUE_NM",
    "TOOL_WEAR_MIN",
    "HUMIDITY_RELATIVE_AVG",
    "TYPE_CODE",
    "POWER_W",
    "TEMP_DIFF_K",
    "STRAIN_MIN_NM",
)
# Machines of type L past the overstrain rule (tool wear x torque above 11,000 min Nm) and no other
# rule (power within 3,500-9,000 W, process - air temperature above 8.6 K), and one just like the
# first with a new tool: (UDI, TOOL_WEAR_MIN, TORQUE_NM, ROTATIONAL_SPEED_RPM).
STRAINED = ((900_001, 230, 55.0, 1370), (900_002, 215, 62.0, 1330), (900_003, 20, 55.0, 1370))


def store_secret(database: str, name: str = SECRET) -> None:
    connection.store_secret(
        name,
        {
            "account": os.environ["SNOWFLAKE_ACCOUNT"],
            "user": "SAGEMAKER_TRAINING",
            "privateKey": keypair.generate().private_pem,
            "host": os.environ["SNOWFLAKE_HOST"],
            "port": os.environ["SNOWFLAKE_PORT"],
            "protocol": "http",
            "warehouse": "HOL_WH",
            "database": database,
            "schema": "PUBLIC",
        },
    )


def every_machine(session):
    """The readings of every machine of the table, not only the fifth notebook 03 holds back: the
    program scores whatever table it is given, and 3,000 rows make the checks more telling."""
    return session.table(data.JOINED_TABLE).drop("MACHINE_FAILURE")


def load_tables(database: str, cache: Path) -> None:
    """Generated workshop data, its readings, and broken readings for the error cases."""
    session = connection.session(SECRET)
    session.sql(f"CREATE DATABASE IF NOT EXISTS {database}").collect()  # sign-in creates none
    session.sql(f"CREATE SCHEMA IF NOT EXISTS {database}.PUBLIC").collect()
    session.use_schema(f"{database}.PUBLIC")
    data.load_workshop_tables(session, data.source_folder("generated", 3_000, 7, cache))
    every_machine(session).write.save_as_table(data.READINGS_TABLE, mode="overwrite")
    for statement in (
        "CREATE OR REPLACE TABLE EMPTY_READINGS AS SELECT * FROM MAINTENANCE_READINGS WHERE 1 = 0",
        "CREATE OR REPLACE TABLE TWICE AS SELECT * FROM MAINTENANCE_READINGS "
        "UNION ALL SELECT * FROM MAINTENANCE_READINGS",
        "CREATE OR REPLACE TABLE NO_TORQUE AS SELECT UDI, TYPE, AIR_TEMPERATURE_K, "
        "PROCESS_TEMPERATURE, ROTATIONAL_SPEED_RPM, TOOL_WEAR_MIN, HUMIDITY_RELATIVE_AVG "
        "FROM MAINTENANCE_READINGS",
        "CREATE OR REPLACE TABLE OTHER_TABLE (UDI NUMBER(38,0), RISK FLOAT)",
        # Round 3: readings whose columns were created in quotes ("udi", ...: write_pandas makes
        # them from a pandas frame's names), readings with NULLs, and a predictions table whose
        # columns were created in quotes.
        "CREATE OR REPLACE TABLE LOWER_READINGS AS SELECT "
        + ", ".join(f'{name} AS "{name.lower()}"' for name in READING_COLUMNS)
        + " FROM MAINTENANCE_READINGS",
        "CREATE OR REPLACE TABLE NULL_READINGS AS SELECT * FROM MAINTENANCE_READINGS",
        "UPDATE NULL_READINGS SET TORQUE_NM = NULL WHERE MOD(UDI, 100) = 0",
        "CREATE OR REPLACE TABLE LOWER_PREDICTIONS ("
        + ", ".join(f'"{name.lower()}" {kind}' for name, kind in PREDICTION_COLUMNS.items())
        + ")",
        # A predictions table of an earlier layout of the program, with a row of an earlier run.
        "CREATE OR REPLACE TABLE EARLIER_PREDICTIONS (UDI NUMBER(38,0), FAILURE_PROBABILITY "
        "FLOAT, PREDICTED_FAILURE BOOLEAN, MODEL_VERSION VARCHAR, SCORED_AT TIMESTAMP_NTZ)",
        "INSERT INTO EARLIER_PREDICTIONS VALUES (1, 0.25, FALSE, 'earlier-job', "
        "'2026-01-01 00:00:00')",
        "CREATE OR REPLACE TABLE STRAINED_READINGS AS SELECT * FROM MAINTENANCE_READINGS",
        *(
            f"INSERT INTO STRAINED_READINGS ({', '.join(READING_COLUMNS)}) VALUES "
            f"({udi}, 'L', 300.0, 310.5, {speed}, {torque}, {wear}, 60)"
            for udi, wear, torque, speed in STRAINED
        ),
    ):
        session.sql(statement).collect()
    session.close()


def train_model(folder: Path) -> Path:
    """A model.tar.gz of the training program, trained on the workshop table."""
    root = folder / "training"
    (root / "input" / "config").mkdir(parents=True)
    (root / "model").mkdir()
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"secret_name": SECRET, "num_round": "30"})
    )
    (root / "input" / "config" / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    done = subprocess.run(
        [sys.executable, str(TRAIN)],
        env={**os.environ, "SAGEMAKER_BASE_DIR": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for item in (root / "model").iterdir():
            tar.add(item, arcname=item.name)
    return archive


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    store_secret(DATABASE)
    load_tables(DATABASE, tmp_path_factory.mktemp("cache"))
    return train_model(tmp_path_factory.mktemp("model"))


def run_score(
    tmp_path: Path,
    model: Path | None,
    *arguments: str,
    version="training-job-1",
    secret=SECRET,
):
    """Run `score` as a Processing job would: (exit code, output, message, summary or None);
    its /opt/ml is tmp_path / "opt-ml"."""
    root = tmp_path / "opt-ml"
    (root / "processing" / "model").mkdir(parents=True, exist_ok=True)
    if model is not None:
        (root / "processing" / "model" / "model.tar.gz").write_bytes(model.read_bytes())
    base = ["--secret-name", secret, "--batch-size", "1000"]
    if version:
        base += ["--model-version", version]
    done = subprocess.run(
        [sys.executable, str(SCORE), *base, *arguments],
        env={**os.environ, "SAGEMAKER_BASE_DIR": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = root / "processing" / "output" / "summary.json"
    return (
        done.returncode,
        done.stdout + done.stderr,
        read_reason(root / "output" / "message"),
        json.loads(summary.read_text()) if summary.exists() else None,
    )


def read_reason(path: Path) -> str | None:
    """The exit message, or None; at most 4 KB (a test may make it /dev/full, endless)."""
    if not path.exists():
        return None
    with path.open("rb") as file:
        return file.read(4096).decode()


def query(sql: str) -> list:
    session = connection.session(SECRET)
    try:
        return session.sql(sql).collect()
    finally:
        session.close()


def expected_predictions(
    model: Path, tmp_path: Path, table: str = data.READINGS_TABLE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's own predictions, with the features computed here from their definitions:
    the UDIs, the probabilities, and each feature's (approximate) contributions."""
    import xgboost

    with tarfile.open(model) as tar:
        tar.extractall(tmp_path / f"expected-{table}", filter="data")
    booster = xgboost.Booster(model_file=str(tmp_path / f"expected-{table}" / "xgboost-model.json"))
    session = connection.session(SECRET)
    rows = session.table(table).to_pandas()
    session.close()
    torque, speed = rows["TORQUE_NM"].astype(float), rows["ROTATIONAL_SPEED_RPM"].astype(float)
    features = rows[list(FEATURES[:6])].astype(float)
    features["TYPE_CODE"] = rows["TYPE"].map({"L": 0.0, "M": 1.0, "H": 2.0})
    features["POWER_W"] = torque * speed * 2 * math.pi / 60
    features["TEMP_DIFF_K"] = rows["PROCESS_TEMPERATURE"] - rows["AIR_TEMPERATURE_K"]
    features["STRAIN_MIN_NM"] = rows["TOOL_WEAR_MIN"] * torque
    matrix = xgboost.DMatrix(features.astype(np.float32), feature_names=list(FEATURES))
    return (
        rows["UDI"].to_numpy(dtype=int),
        booster.predict(matrix).astype(float),
        booster.predict(matrix, pred_contribs=True, approx_contribs=True),
    )


def expected_scores(model: Path, tmp_path: Path) -> dict[int, float]:
    udis, probabilities, _ = expected_predictions(model, tmp_path)
    return dict(zip(udis, probabilities, strict=True))


def test_the_scores_are_the_model_s_own_predictions(model, tmp_path):
    code, output, message, summary = run_score(tmp_path, model)
    assert code == 0, output
    assert message is None
    assert output.strip().splitlines()[-1] == "rows_scored=3000"
    assert "[score] scored 3,000 of 3,000 rows" in output
    rows = query(f"SELECT * FROM {PREDICTIONS} WHERE MODEL_VERSION = 'training-job-1'")
    expected = expected_scores(model, tmp_path)
    assert sorted(r["UDI"] for r in rows) == sorted(expected)  # one row per machine
    for row in rows:
        assert row["PROBABILITY"] == pytest.approx(expected[row["UDI"]], abs=1e-6)
        assert row["PREDICTED"] == (row["PROBABILITY"] >= 0.5)
    flagged = sum(r["PREDICTED"] for r in rows)
    assert 0 < flagged < len(rows)
    assert len({r["SCORED_AT"] for r in rows}) == 1
    assert summary["rows_scored"] == 3000 and summary["flagged"] == flagged
    assert summary["flagged_share"] == pytest.approx(flagged / 3000, abs=1e-6)
    assert summary["model_version"] == "training-job-1" and summary["threshold"] == 0.5
    # The exit message's reserved space is given back: nothing is left in /opt/ml/output.
    assert not any((tmp_path / "opt-ml" / "output").iterdir())


def test_each_machine_s_top_reason_is_its_largest_positive_contribution(model, tmp_path):
    code, output, _, _ = run_score(tmp_path, model, version="top-reasons")
    assert code == 0, output
    found = {
        r["UDI"]: r["TOP_REASON"]
        for r in query(f"SELECT * FROM {PREDICTIONS} WHERE MODEL_VERSION = 'top-reasons'")
    }
    udis, _, contributions = expected_predictions(model, tmp_path)
    checked = 0
    for udi, parts in zip(udis, contributions[:, :-1], strict=True):
        first, second = np.sort(parts)[::-1][:2]
        if 0 < first - second < 1e-6 or 0 < first < 1e-6:
            continue  # a near tie: the features Snowflake computed may tip it either way
        # None: no feature raises the machine's risk (its parts are all 0 or below).
        assert found[udi] == (FEATURES[parts.argmax()] if first > 0 else None), udi
        checked += 1
    assert checked > 2_900
    assert None in found.values()
    assert len(set(found.values()) - {None}) > 3  # the reasons differ from machine to machine


def test_an_overstrained_machine_s_top_reason_is_strain(model, tmp_path):
    """Tool wear x torque past the overstrain rule: the model flags the machine, and its top
    reason is the strain or one of its two factors; with a new tool, the same readings are fine."""
    code, output, _, _ = run_score(
        tmp_path, model, "--source-table", "STRAINED_READINGS", version="strained"
    )
    assert code == 0, output
    rows = {
        r["UDI"]: r
        for r in query(
            f"SELECT * FROM {PREDICTIONS} WHERE MODEL_VERSION = 'strained' AND UDI > 900000"
        )
    }
    for udi, wear, torque, _ in STRAINED:
        if wear * torque > 11_000:
            assert rows[udi]["PREDICTED"], rows[udi]
            assert rows[udi]["TOP_REASON"] in ("STRAIN_MIN_NM", "TOOL_WEAR_MIN", "TORQUE_NM")
        else:
            assert not rows[udi]["PREDICTED"], rows[udi]


def test_a_predictions_table_of_an_earlier_layout_is_refused_and_kept(model, tmp_path):
    """A predictions table of the program's earlier layout (FAILURE_PROBABILITY, ...): one line
    saying to drop it or name another, and its rows stay."""
    code, output, message, _ = run_score(
        tmp_path, model, "--target-table", "EARLIER_PREDICTIONS", version="after-earlier"
    )
    assert code == 1, output
    assert message == (
        "Table EARLIER_PREDICTIONS exists with columns UDI, FAILURE_PROBABILITY, "
        "PREDICTED_FAILURE, MODEL_VERSION, SCORED_AT, not UDI, PROBABILITY, PREDICTED, "
        "MODEL_VERSION, SCORED_AT, TOP_REASON: drop it, or name another --target-table."
    )
    assert query("SELECT MODEL_VERSION, COUNT(*) FROM EARLIER_PREDICTIONS GROUP BY 1") == [
        ("earlier-job", 1)
    ]


def test_readings_with_quoted_lower_case_columns_score_the_same(model, tmp_path):
    """Round 3, case 4: "udi", "torque_nm", ... resolve as training resolves them; the scores
    are the model's own, as for MAINTENANCE_READINGS."""
    code, output, message, summary = run_score(
        tmp_path, model, "--source-table", "LOWER_READINGS", version="lower-columns"
    )
    assert code == 0 and message is None, output
    assert "Traceback" not in output
    rows = query(f"SELECT * FROM {PREDICTIONS} WHERE MODEL_VERSION = 'lower-columns'")
    expected = expected_scores(model, tmp_path)
    assert sorted(r["UDI"] for r in rows) == sorted(expected)
    for row in rows:
        assert row["PROBABILITY"] == pytest.approx(expected[row["UDI"]], abs=1e-6)
    assert summary["rows_scored"] == 3000


def test_readings_with_nulls_are_scored_as_missing_values(model, tmp_path):
    """A NULL reading is a missing value, as training reads it: the row is scored, with the
    model's own prediction for a missing value."""
    code, output, message, summary = run_score(
        tmp_path, model, "--source-table", "NULL_READINGS", version="null-readings"
    )
    assert code == 0 and message is None, output
    assert summary["rows_scored"] == 3000
    udis, probabilities, _ = expected_predictions(model, tmp_path, "NULL_READINGS")
    expected = dict(zip(udis, probabilities, strict=True))
    rows = query(f"SELECT * FROM {PREDICTIONS} WHERE MODEL_VERSION = 'null-readings'")
    nulls = {r[0] for r in query("SELECT UDI FROM NULL_READINGS WHERE TORQUE_NM IS NULL")}
    assert nulls and {r["UDI"] for r in rows} >= nulls
    for row in rows:
        assert row["PROBABILITY"] == pytest.approx(expected[row["UDI"]], abs=1e-6)


@pytest.mark.parametrize(
    "arguments, pattern",
    [
        (  # round 3, case 9: a Processing job has arguments, not hyperparameters
            ("--schema", "NO_SUCH_SCHEMA"),
            r"The Snowflake session has no current schema \(schema SCORING_TESTS\.NO_SUCH_SCHEMA "
            r"does not exist or role \w+ may not use it\): create it with notebook 03, or set "
            r"the --schema argument or the secret's schema, and GRANT ROLE .+",
        ),
        (
            ("--source-table", "NO_SUCH_TABLE"),
            r"Table NO_SUCH_TABLE does not exist \(or the role may not read it\): run notebook 05, "
            r"or set the --source-table, --database and --schema arguments\.",
        ),
        (  # round 3, case 6: a long name is cut, never the fix
            ("--source-table", "A" * 255),
            r"Table A{60}… does not exist \(or the role may not read it\): run notebook 05, or "
            r"set the --source-table, --database and --schema arguments\.",
        ),
        (  # ... and one longer than Snowflake's 255 characters is no name at all
            ("--source-table", "A" * 5_000),
            r"Bad arguments: argument --source-table: 'A{60}…' is not a table name: use TABLE, "
            r"SCHEMA\.TABLE or DATABASE\.SCHEMA\.TABLE \(the job's ContainerArguments\)\.",
        ),
        (  # round 3, case 2: the INSERT's UDI would not find "udi"
            ("--target-table", "LOWER_PREDICTIONS"),
            r"Table LOWER_PREDICTIONS exists with columns udi, probability, predicted, "
            r"model_version, scored_at, top_reason, not UDI, PROBABILITY, PREDICTED, "
            r"MODEL_VERSION, SCORED_AT, TOP_REASON: drop it, or name another --target-table\.",
        ),
    ],
)
def test_messages_name_the_arguments_the_learner_sets(model, tmp_path, arguments, pattern):
    code, output, message, _ = run_score(tmp_path, model, *arguments, version="failing-job")
    assert code == 1, output
    assert re.fullmatch(pattern, message), message
    assert "hyperparameter" not in message
    assert "Traceback" not in output


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_failing_job_on_a_full_output_folder_still_gives_its_exit_message(model, tmp_path):
    """Round 3, case 5: /opt/ml/output/message answers every write with ENOSPC (it is
    /dev/full), as on a full disk; the space set aside at the start takes the reason."""
    output = tmp_path / "opt-ml" / "output"
    output.mkdir(parents=True)
    (output / "message").symlink_to("/dev/full")
    code, log, message, _ = run_score(tmp_path, model, "--source-table", "EMPTY_READINGS")
    assert code == 1, log
    assert not (output / "message").is_symlink()
    assert message == "Table EMPTY_READINGS is empty: build it with notebook 05."
    assert log.strip().splitlines()[-1] == f"[score] failed: {message}"
    assert "Traceback" not in log


def test_a_rerun_replaces_the_version_s_rows_and_keeps_the_others(model, tmp_path):
    def counts():
        return {
            r[0]: r[1]
            for r in query(
                f"SELECT MODEL_VERSION, COUNT(*) FROM {PREDICTIONS} GROUP BY MODEL_VERSION"
            )
        }

    for folder, version in (("a", "rerun-1"), ("b", "rerun-2"), ("c", "rerun-1")):
        code, output, _, _ = run_score(tmp_path / folder, model, version=version)
        assert code == 0, output
    found = counts()
    assert found["rerun-1"] == found["rerun-2"] == 3000
    distinct = query(
        f"SELECT COUNT(DISTINCT UDI) FROM {PREDICTIONS} WHERE MODEL_VERSION = 'rerun-1'"
    )[0][0]
    assert distinct == 3000


def test_the_clean_up_drops_the_scoring_tables_when_asked(model, tmp_path):
    code, output, _, _ = run_score(tmp_path, model, version="cleanup-1")
    assert code == 0, output
    session = connection.session(SECRET)
    try:
        names = cleanup.SeriesResources(bucket="unused", domain_id=None, secret_name=SECRET)
        done = cleanup.drop_scoring_tables(session, names)
        tables = {r["name"] for r in session.sql("SHOW TABLES").collect()}
        again = cleanup.drop_scoring_tables(session, names)  # a second run is harmless
        # The tests after this one score the readings: make them again.
        every_machine(session).write.save_as_table(data.READINGS_TABLE)
    finally:
        session.close()
    assert [line.split()[0] for line in done] == [PREDICTIONS, data.READINGS_TABLE]
    assert not {PREDICTIONS, data.READINGS_TABLE} & tables
    assert len(again) == 2
    # The tests after this one find the predictions table, as a re-run makes it.
    assert run_score(tmp_path / "again", model, version="cleanup-1")[0] == 0


def garbage_archive(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.tar.gz"
    path.write_bytes(b"not a tar archive")
    return path


def unknown_feature_model(tmp_path: Path) -> Path:
    """A model archive whose model reads a column the readings do not have."""
    import xgboost

    from sagemaker_snowpark.training import features

    names = [*FEATURES[:6], "VIBRATION_MM_S"]  # the readings, and one the table lacks
    rng = np.random.default_rng(0)
    matrix = xgboost.DMatrix(
        rng.random((50, len(names))), rng.random(50) > 0.5, feature_names=names
    )
    folder = tmp_path / "unknown"
    folder.mkdir()
    xgboost.train({"objective": "binary:logistic"}, matrix, 2).save_model(
        folder / "xgboost-model.json"
    )
    metrics = {
        "hyperparameters": {"threshold": 0.5},
        "models": {"xgboost_physics_features": {"features": names}},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    definition = features.Definition(
        "columns",
        "MACHINE_FAILURE",
        "number",
        "UDI",
        tuple(features.Feature(name, name, "number") for name in names),
        tuple(names),
    )
    (folder / "features.json").write_text(definition.to_json())
    archive = tmp_path / "unknown.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for item in folder.iterdir():
            tar.add(item, arcname=item.name)
    return archive


@pytest.mark.parametrize(
    ("case", "arguments", "reason"),
    [
        ("no model", (), "No model at "),
        ("garbage model", (), "model.tar.gz is not a model of the training program"),
        ("unknown feature", (), "Table MAINTENANCE_READINGS has no column 'VIBRATION_MM_S' (a "),
        ("model", ("--source-table", "NO_SUCH_TABLE"), "Table NO_SUCH_TABLE does not exist"),
        ("model", ("--source-table", "NO_TORQUE"), "Table NO_TORQUE has no column TORQUE_NM"),
        ("model", ("--source-table", "EMPTY_READINGS"), "Table EMPTY_READINGS is empty"),
        (
            "model",
            ("--source-table", "TWICE"),
            'Table TWICE has 6,000 rows for 3,000 values of "UDI"',
        ),
        (
            "model",
            ("--target-table", "NO_SUCH_DB.PUBLIC.PREDICTIONS"),
            "Cannot write table NO_SUCH_DB.PUBLIC.PREDICTIONS (",
        ),
        ("model", ("--target-table", "OTHER_TABLE"), "Table OTHER_TABLE exists with columns"),
        ("model", ("--target-table", "X; DROP TABLE Y"), "Bad arguments: argument --target-table"),
        ("model", ("--batch-size", "10"), "Bad arguments: argument --batch-size"),
        ("no version", (), "Bad arguments: the following arguments are required: --model-ver"),
        ("model", ("--secret-name", "tests/no-such"), "Secret tests/no-such does not exist"),
        ("model", ("--region", "us east 1"), "Region 'us east 1' is not an AWS Region name"),
        (
            "model",
            ("--warehouse", 'HOL_WH"; DROP TABLE X'),
            "Argument --warehouse 'HOL_WH\"; DROP TABLE X' is not a Snowflake identifier",
        ),
    ],
)
def test_each_error_becomes_the_exit_message(model, tmp_path, case, arguments, reason):
    archive = {
        "no model": None,
        "garbage model": garbage_archive(tmp_path),
        "unknown feature": unknown_feature_model(tmp_path),
    }.get(case, model)
    code, output, message, summary = run_score(
        tmp_path, archive, *arguments, version="" if case == "no version" else "failing-job"
    )
    assert code != 0
    assert message is not None and message.startswith(reason), output
    assert "\n" not in message and len(message) <= 1024
    assert summary is None
    assert "rows_scored=" not in output
    assert "Traceback" not in output
    written = query(f"SELECT COUNT(*) FROM {PREDICTIONS} WHERE MODEL_VERSION = 'failing-job'")
    assert written[0][0] == 0


# --- Real Processing jobs -------------------------------------------------------------------


def run_processing_job(
    image_uri: str, model_uri: str, bucket: str, role_arn: str, version: str, secret: str = SECRET
):
    """Score through a SageMaker Processing job, with the helper notebook 06 uses (notebook 05's
    job); the job's description (a failed job raises a TutorialError with its ExitMessage)."""
    return jobs.run_scoring(
        image_uri=image_uri,
        role_arn=role_arn,
        model_uri=model_uri,
        job_name=f"scoring-test-{version}-{time.time_ns() % 10**12}",
        arguments={"--secret-name": secret, "--model-version": version, "--batch-size": "1000"},
        output_uri=f"s3://{bucket}/sagemaker-snowpark/scoring/tests/{version}",
        poll_seconds=1,
    )


def check_job(job: dict, bucket: str, version: str) -> None:
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    s3 = boto3.client("s3")
    key = f"sagemaker-snowpark/scoring/tests/{version}/summary.json"
    summary = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert summary["rows_scored"] == 3000 and summary["model_version"] == version
    rows = query(f"SELECT COUNT(*) FROM {PREDICTIONS} WHERE MODEL_VERSION = '{version}'")
    assert rows[0][0] == 3000
    logs = boto3.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs",
        logStreamNamePrefix=job["ProcessingJobName"] + "/",
    )["logStreams"]
    messages = [
        event["message"]
        for stream in streams
        for event in logs.get_log_events(
            logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream["logStreamName"]
        )["events"]
    ]
    assert "rows_scored=3000" in messages


def build_image(bucket: str, role_arn: str, repository: str = "sagemaker-snowpark-scoring-tests"):
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
        repository,
        bucket,
        role_arn,
        echo=lambda _: None,
    )


def upload_model(model: Path, bucket: str, key: str) -> str:
    boto3.client("s3").upload_file(str(model), bucket, key)
    return f"s3://{bucket}/{key}"


def test_a_processing_job_scores_the_table_through_the_stack(model, bucket, role_arn):
    image = build_image(bucket, role_arn)
    model_uri = upload_model(model, bucket, "scoring-tests/model/model.tar.gz")
    job = run_processing_job(image.uri, model_uri, bucket, role_arn, "processing-job-test")
    check_job(job, bucket, "processing-job-test")
    assert job["AppSpecification"]["ContainerEntrypoint"] == ["score"]


def test_a_failing_processing_job_reports_the_program_s_reason(model, bucket, role_arn):
    """No model input: the job fails with the program's reason as its ExitMessage."""
    image = build_image(bucket, role_arn)
    from sagemaker.core.processing import Processor

    processor = Processor(
        role=role_arn,
        image_uri=image.uri,
        entrypoint=["score"],
        instance_count=1,
        instance_type="ml.m5.large",
        base_job_name="scoring-test-fails",
    )
    # (SDK 3.x's own run(wait=True) fails here with an AttributeError of its own, not the
    # reason: botocore has no UnexpectedStatusException. Notebook 05 uses jobs.run_processing.)
    with pytest.raises(TutorialError, match=r"Processing job \S+ is Failed: No model at "):
        jobs.run_processing(
            processor,
            poll_seconds=1,
            arguments=["--secret-name", SECRET, "--model-version", "no-model-given"],
        )
    job = boto3.client("sagemaker").describe_processing_job(
        ProcessingJobName=processor.latest_job.processing_job_name
    )
    assert job["ProcessingJobStatus"] == "Failed"
    # The path is the container's, or in process mode the folder that stands for /opt/ml.
    assert re.fullmatch(
        r"No model at \S*/processing/model/model\.tar\.gz: give the training job's model\.tar\.gz "
        r"as a processing input with LocalPath /opt/ml/processing/model\.",
        job["ExitMessage"],
    )


@pytest.mark.docker
def test_a_processing_job_runs_the_image_as_a_container(
    tmp_path_factory,
    environment_of,
    engine,
):
    """Docker mode: the stack runs `score` in a container of the image built by Docker."""
    base = tmp_path_factory.mktemp("docker-scoring")
    with docker_mode_stack(engine, base / "state") as state:
        with environment_of(state, base / "artifacts", administrator=True):
            store_secret(DATABASE)
            load_tables(DATABASE, base / "cache")
            model = train_model(base)
            bucket, role = os.environ["SAGEMAKER_BUCKET"], os.environ["SAGEMAKER_ROLE_ARN"]
            # As notebook 04 builds it: CodeBuild's role pushes to the repository the execution
            # role may pull from.
            builder = f"arn:aws:iam::{accounts.ACCOUNT_ID}:role/{accounts.CODEBUILD_ROLE_NAME}"
            image = build_image(bucket, builder, "sagemaker-snowpark-training")
            # Where training jobs leave models: the execution role reads only there.
            key = "sagemaker-snowpark/training/scoring-tests/model.tar.gz"
            model_uri = upload_model(model, bucket, key)
            started = time.time()
            # The secret the execution role may read, as notebook 02 names it.
            tutorial_secret = "sagemaker-snowpark/snowflake"
            store_secret(DATABASE, name=tutorial_secret)
            job = run_processing_job(
                image.uri, model_uri, bucket, role, "docker-job-test", tutorial_secret
            )
            check_job(job, bucket, "docker-job-test")
            events = engine.docker(
                "events",
                "--since",
                str(int(started)),
                "--until",
                str(int(time.time()) + 1),
                "--filter",
                "type=container",
                "--filter",
                "event=start",
                "--format",
                "{{.Actor.Attributes.image}}",
            ).stdout.splitlines()
            assert image.uri.split("/", 1)[1] in events


def test_the_tutorial_summary_adds_rows_scored_and_the_flagged_share(tmp_path):
    from snowpark_local.series import _scoring_summary

    summary = tmp_path / "scoring-summary.json"
    assert _scoring_summary(summary) == []  # notebook 05 did not run
    summary.write_text(
        json.dumps(
            {
                "model_version": "job-1",
                "rows_scored": 10000,
                "flagged_share": 0.0389,
                "threshold": 0.5,
            }
        )
    )
    assert _scoring_summary(summary)[1:] == [
        "Scored with job-1 (notebook 05):",
        "  rows scored 10,000, flagged share 3.89% at threshold 0.5",
    ]
