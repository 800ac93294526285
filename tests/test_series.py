"""The series as a learner meets it, on the session's stack: what 00-05 create exists and every
job is bounded, notebooks 02 and 03 run again change nothing, 07 removes it all, every policy
statement was needed, and the series runs again after the clean-up (06 then training and scoring
a CSV file it has never seen, and dropping its tables) and ends in the same state.

The first run is nbval's run of notebooks/ when this session collected them: the tests marked
`after_notebook` run right after that notebook (the root conftest.py orders them), so they see the
state it left. A session that did not collect the notebooks (`pytest tests/test_series.py`) runs
them here instead. Either way, the series runs once and its second run once per suite.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization

from sagemaker_snowpark import cleanup, connection, data, keypair
from snowpark_local import accounts, stack
from snowpark_local import series as tutorial
from snowpark_local.accounts import LEARNER_USER
from snowpark_local.aws.iam import decide, policy_document
from snowpark_local.series import execute, notebooks

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.series

PASSPHRASE = "series passphrase 4242"
LAST_CREATING = "05_score_machines.ipynb"
CLEAN_UP = "07_clean_up.ipynb"


# Session-scoped: the notebooks between this module's tests would end a module-scoped fixture.
@pytest.fixture(scope="session")
def series(request, state_dir, tmp_path_factory, environment_of):
    """`run(first, last, round_)` runs notebooks first..last (by number) on the session's stack as
    the learner; `check(function)` calls function as the stack's administrator; `ensure(name)` runs
    the notebooks up to `name` unless this session's nbval ran them already."""
    base = tmp_path_factory.mktemp("series")
    paths = notebooks(ROOT / "notebooks")
    collected = {item.path.name for item in request.session.items if item.path.suffix == ".ipynb"}
    # Beside the series' folder, not in it: everything in that folder is checked for secrets.
    passphrase_file = tmp_path_factory.mktemp("passphrase") / "passphrase.txt"
    passphrase_file.write_text(PASSPHRASE)  # notebook 02 encrypts its generated key with it
    ran: set[str] = set(collected)

    def run(
        first: str,
        last: str,
        round_: str,
        passphrase: bool = False,
        data: Path | None = None,
        own: dict[str, str] | None = None,
    ) -> None:
        artifacts = Path(os.environ["TUTORIAL_ARTIFACTS"]) if round_ == "first" else None
        with environment_of(state_dir, artifacts or base / f"artifacts-{round_}"):
            if passphrase:
                os.environ["SNOWFLAKE_PRIVATE_KEY_PASSPHRASE_FILE"] = str(passphrase_file)
            if data:  # a folder of three CSV files in the workshop's format, as a learner passes
                os.environ["TUTORIAL_DATA"] = str(data)
            for name, value in (own or {}).items():  # notebook 06's table, as make tutorial passes
                os.environ[f"TUTORIAL_OWN_{name}"] = value
            for path in paths:
                if first <= path.name[:2] <= last:
                    execute(path, base / round_ / path.name)

    def ensure(name: str) -> None:
        """The first run up to notebook `name`, unless it (and so all before it) ran."""
        if name not in ran:
            start = min((p.name[:2] for p in paths if p.name not in ran), default="99")
            run(start, name[:2], "first")
            ran.update(p.name for p in paths if p.name[:2] <= name[:2])

    def check(function):
        with environment_of(state_dir, base, administrator=True):
            return function()

    return run, check, ensure, base


@pytest.fixture(scope="session")
def secrets_seen() -> list[str]:
    """Pieces of every secret value the series stored, gathered while the secret exists."""
    return []


def names() -> cleanup.SeriesResources:
    return cleanup.SeriesResources(
        bucket=os.environ["SAGEMAKER_BUCKET"], domain_id=os.environ["SAGEMAKER_DOMAIN_ID"]
    )


def inventory() -> dict:
    return cleanup.inventory(names())


def created_resources() -> dict:
    sagemaker = boto3.client("sagemaker")
    domain = sagemaker.describe_domain(DomainId=os.environ["SAGEMAKER_DOMAIN_ID"])
    custom = domain["DefaultUserSettings"]["JupyterLabAppSettings"]["CustomImages"]
    version = sagemaker.describe_image_version(ImageName="snowpark-kernel")
    config = sagemaker.describe_app_image_config(AppImageConfigName="snowpark-kernel-jupyterlab")
    secret = boto3.client("secretsmanager").describe_secret(SecretId="sagemaker-snowpark/snowflake")
    jobs = sagemaker.list_training_jobs(NameContains="snowpark-maintenance")["TrainingJobSummaries"]
    return {
        "custom images": [i["ImageName"] for i in custom],
        "image version": (version["Version"], version["ImageVersionStatus"]),
        "app image config": sorted(config["JupyterLabAppImageConfig"]),
        "secret deleted": "DeletedDate" in secret,
        "completed jobs": sum(j["TrainingJobStatus"] == "Completed" for j in jobs),
    }


def secret_fragments() -> list[str]:
    """Pieces of the stored secret value: the key (encrypted and not) and any passphrase."""
    stored = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId="sagemaker-snowpark/snowflake")[
            "SecretString"
        ]
    )
    passphrase = stored.get("passphrase")
    assert ("ENCRYPTED" in stored["privateKey"]) == bool(passphrase)
    key = keypair.load_private_key(stored["privateKey"], passphrase)
    plain = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    der = base64.b64encode(keypair.private_key_der(key)).decode()
    fragments = [passphrase] if passphrase else []
    for pem in (stored["privateKey"], plain):
        body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
        fragments += [body[i : i + 32] for i in range(0, len(body) - 32, len(body) // 5)]
    fragments += [der[100:132], der[-132:-100]]
    return fragments


def everything_written(folders: list[Path], state: Path) -> dict[str, str]:
    """The text of every place the series wrote to: notebooks, artifacts, logs, archives, files."""
    places: dict[str, str] = {}
    for path in [p for folder in folders for p in folder.rglob("*") if p.is_file()]:
        places[str(path)] = path.read_bytes().decode("latin-1")
    for path in [p for p in (state / "jobs").rglob("*") if p.is_file()] + [state / "stack.log"]:
        places[str(path)] = path.read_bytes().decode("latin-1")
    logs = boto3.client("logs")
    for group in logs.describe_log_groups()["logGroups"]:
        for stream in logs.describe_log_streams(logGroupName=group["logGroupName"])["logStreams"]:
            events = logs.get_log_events(
                logGroupName=group["logGroupName"], logStreamName=stream["logStreamName"]
            )["events"]
            places[f"log {stream['logStreamName']}"] = "\n".join(e["message"] for e in events)
    s3 = boto3.client("s3")
    bucket = os.environ["SAGEMAKER_BUCKET"]
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        if item["Key"].endswith(".tar.gz"):
            body = gzip.decompress(body)
        places[f"s3 {item['Key']}"] = body.decode("latin-1")
    return places


def domain_images() -> list[dict]:
    domain = boto3.client("sagemaker").describe_domain(DomainId=os.environ["SAGEMAKER_DOMAIN_ID"])
    return domain["DefaultUserSettings"]["JupyterLabAppSettings"]["CustomImages"]


def time_limits() -> dict[str, int | None]:
    """Each job's MaxRuntimeInSeconds: a job without one may run, and bill, for a day."""
    sagemaker = boto3.client("sagemaker")
    prefix = "snowpark-maintenance"
    training = sagemaker.list_training_jobs(NameContains=prefix)["TrainingJobSummaries"]
    processing = sagemaker.list_processing_jobs(NameContains=prefix)["ProcessingJobSummaries"]
    jobs = [sagemaker.describe_training_job(TrainingJobName=j["TrainingJobName"]) for j in training]
    jobs += [
        sagemaker.describe_processing_job(ProcessingJobName=j["ProcessingJobName"])
        for j in processing
    ]
    limits = {}
    for job in jobs:
        name = job.get("TrainingJobName") or job["ProcessingJobName"]
        limits[name] = job.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    return limits


def secret_versions() -> int:
    secrets = boto3.client("secretsmanager")
    return len(secrets.list_secret_version_ids(SecretId="sagemaker-snowpark/snowflake")["Versions"])


# Who acts with which policies on the stack (the execution role carries two, as in Studio).
PRINCIPALS = {
    f"arn:aws:iam::{accounts.ACCOUNT_ID}:user/{LEARNER_USER}": ("learner.json",),
    f"arn:aws:iam::{accounts.ACCOUNT_ID}:role/{accounts.ROLE_NAME}": (
        "training-job-role.json",
        "studio-space.json",
    ),
    f"arn:aws:iam::{accounts.ACCOUNT_ID}:role/{accounts.CODEBUILD_ROLE_NAME}": (
        "codebuild-role.json",
    ),
}
# Studio's web portal makes these calls as the execution role (showing, running, stopping and
# updating the learner's space); no portal runs on the local stack, so the series cannot need
# them. tests/test_infrastructure.py checks the template carries them.
PORTAL_STATEMENTS = [
    "SeeTheSpaceInStudio",
    "ListInStudio",
    "RunAndStopOwnPrivateSpaces",
    "UpdateOwnPrivateSpaces",
    "TagTheAppsStudioCreates",
]


# Needed only on an account without the bucket: notebook 00 creates the SDK's default bucket
# there, while the stack seeds it (tests/test_iam.py shows the creation needs the statement).
NEW_ACCOUNT_STATEMENTS = ["CreateTheDefaultBucket"]


def unneeded_statements(authorizations: Path) -> dict[str, list[str]]:
    """The statements no allowed request needed, replaying each request without each statement."""
    requests = [json.loads(line) for line in authorizations.read_text().splitlines()]
    unneeded = {}
    for arn, names in PRINCIPALS.items():
        policies = {name: json.loads(policy_document(name)) for name in names}
        every = [json.dumps(p) for p in policies.values()]
        made = [r for r in requests if r["principal"] == arn]
        assert made, f"no request of {arn} was recorded"
        # AWS answers GetCallerIdentity whatever the policies say; no statement can be needed
        # for it, and replaying it would make every statement look needed.
        unconditional = [
            r for r in made if decide(every, r["action"], r["resource"], r["context"]) != "allowed"
        ]
        assert {r["action"] for r in unconditional} <= {"sts:GetCallerIdentity"}, unconditional
        made = [r for r in made if r not in unconditional]
        for name, policy in policies.items():
            others = [json.dumps(p) for n, p in policies.items() if n != name]
            for statement in policy["Statement"]:
                kept = [s for s in policy["Statement"] if s is not statement]
                rest = json.dumps({**policy, "Statement": kept})
                needed = any(
                    decide([rest, *others], r["action"], r["resource"], r["context"]) != "allowed"
                    for r in made
                )
                if not needed:
                    unneeded.setdefault(name, []).append(statement["Sid"])
    return unneeded


FIRST_RUN = {
    "custom images": ["team-data-science", "snowpark-kernel"],
    "image version": (1, "CREATED"),
    "app image config": ["ContainerConfig"],
    "secret deleted": False,
    "completed jobs": 2,  # the job on one instance, then on two
}


@pytest.mark.after_notebook(LAST_CREATING)
def test_the_first_run_makes_everything_and_bounds_every_job(series, secrets_seen):
    run, check, ensure, base = series
    ensure(LAST_CREATING)
    assert check(created_resources) == FIRST_RUN
    assert all(check(inventory).values())  # every kind the clean-up handles was created
    assert (Path(os.environ["TUTORIAL_ARTIFACTS"]) / "metrics.json").is_file()
    # An hour for every job: ModelTrainer's default, and notebook 05's MAX_RUNTIME_SECONDS.
    limits = check(time_limits)
    assert len(limits) == 3 and set(limits.values()) == {3600}, limits
    secrets_seen += check(secret_fragments)


@pytest.mark.after_notebook(LAST_CREATING)
def test_notebooks_02_and_03_run_again_change_nothing(series):
    run, check, ensure, base = series
    ensure(LAST_CREATING)
    versions = check(secret_versions)
    run("02", "03", "again")
    assert check(secret_versions) == versions  # the same key; the tables are replaced in place
    assert check(created_resources) == FIRST_RUN


def own_csv(path: Path, rows: int = 600, seed: int = 2025) -> pd.DataFrame:
    """A CSV file no part of the project has seen, as a learner brings one: names in mixed case
    and with spaces, a text category, NULLs among the features, and a yes/no label, some rows
    without one. Failures follow vibration and speed, worst on the late shift."""
    rng = np.random.default_rng(seed)
    shift = rng.choice(["day", "late", "night"], rows)
    speed = rng.normal(40, 8, rows).round(1)
    vibration = rng.gamma(2.0, 1.5, rows).round(2)
    risk = 1.1 * (vibration - 3) + 0.15 * (speed - 40) + 1.2 * (shift == "late")
    broke = np.where(rng.random(rows) < 1 / (1 + np.exp(-risk)), "yes", "no")
    frame = pd.DataFrame(
        {
            "part id": np.arange(1001, 1001 + rows),
            "Line Speed": speed,
            "shift": shift,
            "Vibration mm/s": vibration,
            "ambient temperature C": rng.integers(15, 35, rows),
            "Broke down": broke,
        }
    )
    for column, share in (("Line Speed", 0.05), ("shift", 0.03), ("Broke down", 0.02)):
        frame.loc[rng.random(rows) < share, column] = None  # an empty field: NULL in Snowflake
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


def snowflake_tables() -> set[str]:
    session = connection.session("sagemaker-snowpark/snowflake", os.environ["AWS_REGION"])
    try:
        return {r["name"] for r in session.sql("SHOW TABLES IN SCHEMA HOL_DB.PUBLIC").collect()}
    finally:
        session.close()


def check_own_table(artifacts: Path, frame: pd.DataFrame, check) -> None:
    """What `make tutorial OWN_CSV=... OWN_LABEL=... OWN_ID=...` promises of notebook 06 on a
    learner's own file: loaded with its names as written, trained on its own columns, every row
    scored, its tables dropped; the runner's own_table entry has the metrics and the rows scored."""
    own = tutorial.own_table(artifacts)
    assert own is not None, "notebook 06 kept no metrics or scoring summary"
    assert own["table"] == "OWN_TABLE" and own["label"] == "Broke down"
    assert isinstance(own["roc_auc"], float) and 0.6 < own["roc_auc"] <= 1, own
    assert isinstance(own["baseline_roc_auc"], float), own
    assert own["rows_scored"] == len(frame)  # every row, those without a label too
    metrics = json.loads((artifacts / tutorial.OWN_METRICS).read_text())
    assert metrics["feature_set"] == "columns" and metrics["id"] == "part id"
    dropped = int(frame["Broke down"].isna().sum())
    assert dropped > 0 and metrics["rows"]["dropped_null_labels"] == dropped
    # Every column but the label and the id, by the names the file gives them.
    features = metrics["models"]["xgboost_table_columns"]["features"]
    assert features == ["Line Speed", "shift", "Vibration mm/s", "ambient temperature C"]
    assert not {"OWN_TABLE", "OWN_PREDICTIONS"} & check(snowflake_tables)


@pytest.mark.after_notebook(CLEAN_UP)
def test_the_clean_up_removes_everything_and_every_statement_was_needed(series, state_dir):
    run, check, ensure, base = series
    ensure(CLEAN_UP)
    assert not any(check(inventory).values())
    team = {
        "ImageName": "team-data-science",
        "ImageVersionNumber": 1,
        "AppImageConfigName": "team-data-science",
    }
    assert check(domain_images) == [team]  # the domain keeps the image it had before
    # Every statement of the three policies is needed: without it, a request the series made
    # (the notebooks as the learner, the jobs and builds as their roles) would have been denied.
    unused = unneeded_statements(stack.StackFiles(state_dir).authorizations)
    assert unused == {
        "learner.json": NEW_ACCOUNT_STATEMENTS,
        "studio-space.json": PORTAL_STATEMENTS,
    }


@pytest.mark.after_notebook(CLEAN_UP)
def test_the_series_runs_again_after_the_clean_up_and_keeps_every_secret(
    series, state_dir, secrets_seen
):
    """As `make tutorial` twice on one account: nothing the clean-up leaves is in the way. This
    run encrypts the key with a passphrase, reads its data from a folder of CSV files in the
    workshop's format (TUTORIAL_DATA) and gives notebook 06 a CSV file of its own (TUTORIAL_OWN_*);
    no secret value of either run is written anywhere."""
    run, check, ensure, base = series
    ensure(CLEAN_UP)
    workshop = data.write_generated(base / "workshop-files", rows=10_000, seed=2023)
    # Notebook 06 on a CSV file no part of the project has seen, as make tutorial OWN_CSV=...
    # passes it (here rather than in the first run, whose clean-up nbval compares with its
    # committed outputs): a space in the file's name too.
    path = base / "own files" / "line 3 readings.csv"
    frame = own_csv(path)
    own = {"CSV": str(path), "LABEL": "Broke down", "ID": "part id"}
    run("00", "06", "second", passphrase=True, data=workshop, own=own)
    check_own_table(base / "artifacts-second", frame, check)
    # Notebook 04's two jobs of each run, and notebook 06's job of each (its CSV in this one).
    assert check(created_resources) == {**FIRST_RUN, "completed jobs": 6}
    second = check(secret_fragments)
    assert PASSPHRASE in second  # this run's key is stored encrypted, with its passphrase
    secrets_seen += second
    folders = [base, Path(os.environ["TUTORIAL_ARTIFACTS"])]
    places = check(lambda: everything_written(folders, state_dir))
    assert len(places) > 20  # notebooks, artifacts, log streams, model archives, job files
    assert len(secrets_seen) > 20
    for place, text in places.items():
        for fragment in secrets_seen:
            assert fragment not in text, f"secret material in {place}"
    run("07", "07", "second")
    assert not any(check(inventory).values())
