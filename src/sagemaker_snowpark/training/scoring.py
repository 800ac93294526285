"""The scoring program SageMaker runs in a Processing job (`score`, beside `train` in the image).

It follows the Processing contract: the training job's `model.tar.gz` arrives as a processing
input at /opt/ml/processing/model/, the arguments come from `ContainerArguments`, a small JSON
summary goes to /opt/ml/processing/output/ (SageMaker uploads it to S3), and on any error a
one-line reason goes to /opt/ml/output/message (the job's ExitMessage; its space is set aside
when the program starts, as training's failure file) and the exit code is not 0.
SAGEMAKER_BASE_DIR moves the /opt/ml root, so the program also runs outside a container.

It checks the source table as training does (`dataset.check_table`, `dataset.check_values`):
the same columns, found the same way, and readings with NULLs refused with the same line, since
the model never saw a missing reading.

It signs in with the same helper as training, computes the same features in Snowflake (one
definition, `dataset.feature_columns`), reads the rows in batches, scores them with the XGBoost
model, and writes each batch to a temporary table through Snowpark, so its memory follows the
batch size. Last, one transaction replaces that model version's rows of the predictions table
with the new ones: a re-run leaves one row per machine and version, and readers never see half.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import tarfile
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .. import connection
from ..errors import TutorialError, cut, fit
from . import contract, dataset
from .program import MODEL, NAMESPACE_DEFAULTS, limit_malloc_arenas, peak_memory_mb

# The predictions table: one row per machine and model version.
PREDICTION_COLUMNS = {
    "UDI": "NUMBER(38,0)",
    "FAILURE_PROBABILITY": "FLOAT",
    "PREDICTED_FAILURE": "BOOLEAN",
    "MODEL_VERSION": "VARCHAR",
    "SCORED_AT": "TIMESTAMP_NTZ",
}
# An unquoted Snowflake name, optionally qualified: TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE
# (each part at most 255 characters, as Snowflake's identifiers).
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}(\.[A-Za-z_][A-Za-z0-9_$]{0,254}){0,2}")
# A SageMaker training job's name, which is the model version.
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


class StopRequested(Exception):
    """SageMaker sent SIGTERM (StopProcessingJob): stop now, write nothing."""


def log(message: str) -> None:
    """One line of the job's log; never raises (see contract.print_line)."""
    contract.print_line(f"[score] {message}")


class Paths(contract.Paths):
    """The Processing contract's paths, under the same root as training's (SAGEMAKER_BASE_DIR)."""

    @property
    def model_archive(self) -> Path:
        return self.root / "processing" / "model" / "model.tar.gz"

    @property
    def output(self) -> Path:
        return self.root / "processing" / "output"

    @property
    def message(self) -> Path:
        return self.root / "output" / "message"


def write_message(paths: Paths, message: str) -> bool:
    """The reason SageMaker shows as the job's ExitMessage (its first 1 KB), written into the
    space set aside at the start; False (and the reason in the log) if it cannot be written."""
    return contract.write_reason(paths.message, message, "[score]")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line in the job's ExitMessage, not a usage text on stderr
        raise TutorialError(f"Bad arguments: {cut(message, 300)} (the job's ContainerArguments).")


def _table(value: str) -> str:
    if not TABLE_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{cut(value)!r} is not a table name: use TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE"
        )
    return value.upper()


def _version(value: str) -> str:
    if not JOB_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{cut(value)!r} is not a training job name (letters, digits and hyphens, up to 63)"
        )
    return value


def _batch_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if not 1_000 <= size <= 10_000_000:
        raise argparse.ArgumentTypeError(f"{cut(value, 20)!r} is not 1000 to 10000000 rows")
    return size


def _identifier(option: str):
    """The checker of a name that goes into SQL (a TutorialError passes through argparse)."""
    return lambda value: value and connection.check_identifier(value, f"Argument --{option}")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="score", description="Score a Snowflake table with the trained model.")
    parser.add_argument("--model-version", type=_version, required=True, help="training job name")
    parser.add_argument("--secret-name", default="", help="empty: workload identity")
    parser.add_argument("--region", default="", help="the secret's Region; empty: the job's")
    parser.add_argument("--snowflake-account", default="", help="for workload identity")
    parser.add_argument("--source-table", type=_table, default="MAINTENANCE_READINGS")
    parser.add_argument("--target-table", type=_table, default="MAINTENANCE_PREDICTIONS")
    parser.add_argument("--batch-size", type=_batch_size, default=100_000, help="rows a batch")
    for name in NAMESPACE_DEFAULTS:
        parser.add_argument(
            f"--{name}", type=_identifier(name), default="", help=f"overrides the secret's {name}"
        )
    return parser.parse_args(argv)


# --- The model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    booster: object
    features: tuple[str, ...]
    threshold: float


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    """A file at the archive's top level, named `name` or `./name`; KeyError if there is none."""
    for member in tar.getmembers():
        if member.isfile() and member.name.removeprefix("./") == name:
            return tar.extractfile(member).read()
    raise KeyError(name)


def load_model(archive: Path) -> Model:
    """The XGBoost model, its feature order and its threshold, from the training job's archive."""
    import xgboost

    if not archive.is_file():
        raise TutorialError(
            f"No model at {archive}: give the training job's model.tar.gz as a processing input "
            "with LocalPath /opt/ml/processing/model."
        )
    try:
        # Only the two members it needs, read in memory: nothing from the archive reaches a path.
        with tarfile.open(archive) as tar:
            metrics = json.loads(_member(tar, "metrics.json"))
            booster = xgboost.Booster()
            booster.load_model(bytearray(_member(tar, "xgboost-model.json")))
        threshold = float(metrics["hyperparameters"]["threshold"])
        trained_on = tuple(metrics["models"][MODEL]["features"])
    except (OSError, tarfile.TarError, ValueError, KeyError, xgboost.core.XGBoostError):
        raise TutorialError(
            f"{archive.name} is not a model of the training program (it needs xgboost-model.json "
            "and metrics.json): give the model.tar.gz of a training job of notebook 04."
        ) from None
    features = tuple(booster.feature_names or trained_on)
    missing = [name for name in features if name not in dataset.MODEL_FEATURES]
    if missing or features != trained_on:
        raise TutorialError(
            f"The model needs feature(s) {', '.join(missing or features)} that this program does "
            "not compute: score with the image that trained the model."
        )
    return Model(booster, features, threshold)


# --- Snowflake ----------------------------------------------------------------------------


def _sign_in(args: argparse.Namespace, region: str | None):
    overrides = {name: getattr(args, name) or None for name in NAMESPACE_DEFAULTS}
    if not args.secret_name:
        overrides["account"] = args.snowflake_account or None
        log("no secret name: signing in with workload identity (the job's IAM role)")
    overrides["client_prefetch_threads"] = 2  # as training: more would only hold more memory
    return connection.session(
        args.secret_name or None,
        region,
        defaults=NAMESPACE_DEFAULTS,
        require_namespace=True,
        settings=connection.ARGUMENTS,  # a bad --schema is told to set --schema
        **overrides,
    )


def _sql_error(error: Exception) -> str:
    """Snowflake's message, first line, without the connector's codes in front."""
    text = str(getattr(error, "message", "") or error).strip().splitlines()[0]
    return text[:300]


# The source's columns that must hold a value in every row: the machine, and what the model reads.
SOURCE_COLUMNS = ("UDI", "TYPE", *dataset.NUMERIC_FEATURES)


def check_source(session, name: str) -> tuple[dataset.Table, int]:
    """The source table, checked as training checks its table: the columns, no NULLs (one line,
    as training's), rows, and one row per machine (UDI)."""
    from snowflake.snowpark.functions import col, count_distinct

    table = dataset.check_table(
        session,
        name,
        label=False,
        made_by="notebook 05",
        settings=connection.ARGUMENTS,
        setting="source_table",
    )
    rows = dataset.check_values(table, SOURCE_COLUMNS)
    if rows == 0:
        raise TutorialError(f"Table {table.shown} is empty: build it with notebook 05.")
    machines = table.frame.select(count_distinct(col("UDI"))).collect()[0][0]
    if machines != rows:
        raise TutorialError(
            f"Table {table.shown} has {rows:,} rows for {machines:,} machines: keep one row per "
            "UDI (notebook 05 builds it so)."
        )
    return table, rows


def prepare_target(session, table: str) -> str:
    """Create the predictions table if needed, check its columns; a temporary table to fill."""
    from snowflake.snowpark.exceptions import SnowparkSQLException

    columns = ", ".join(f"{name} {kind}" for name, kind in PREDICTION_COLUMNS.items())
    try:
        session.sql(f"CREATE TABLE IF NOT EXISTS {table} ({columns})").collect()
        # As Snowpark names them: UDI, or '"udi"' for a column created in quotes, which the
        # INSERT's UDI would not find.
        found = [f.name for f in session.table(table).schema.fields]
    except SnowparkSQLException as error:
        raise TutorialError(
            f"Cannot write table {cut(table)} ({_sql_error(error)}): grant the role CREATE TABLE "
            "on its schema (or INSERT and DELETE on the table), or name another --target-table."
        ) from None
    if found != list(PREDICTION_COLUMNS):
        raise TutorialError(
            f"Table {cut(table)} exists with columns {cut(', '.join(found), 200)}, not "
            f"{', '.join(PREDICTION_COLUMNS)}: drop it, or name another --target-table."
        )
    staging = f"SCORING_{uuid.uuid4().hex[:12].upper()}"
    # Temporary: only this session sees it, and Snowflake drops it when the session ends.
    session.sql(f"CREATE TEMPORARY TABLE {staging} ({columns})").collect()
    return staging


def replace_version(session, table: str, staging: str, version: str) -> None:
    """Swap this version's rows for the new ones in one transaction."""
    from snowflake.snowpark.exceptions import SnowparkSQLException

    names = ", ".join(PREDICTION_COLUMNS)
    session.sql("BEGIN").collect()
    try:
        # The version matched JOB_NAME (letters, digits, hyphens): safe inside quotes.
        session.sql(f"DELETE FROM {table} WHERE MODEL_VERSION = '{version}'").collect()
        session.sql(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging}").collect()
        session.sql("COMMIT").collect()
    except BaseException as error:
        session.sql("ROLLBACK").collect()
        if isinstance(error, SnowparkSQLException):
            raise TutorialError(
                f"Cannot write table {cut(table)} ({_sql_error(error)}): grant the role INSERT "
                "and DELETE on it, or name another --target-table."
            ) from None
        raise


# --- The job ------------------------------------------------------------------------------


def score_rows(frame, model: Model, session, staging: str, version: str, batch_size: int, total):
    """Score the featurised rows batch by batch into the staging table; (rows, flagged)."""
    import pandas as pd

    scored_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    rows = flagged = 0
    next_log = 0.0
    for chunk in frame.to_pandas_batches():
        for start in range(0, len(chunk), batch_size):
            batch = chunk.iloc[start : start + batch_size]
            x = batch[list(model.features)].to_numpy(dtype=np.float32)
            probability = model.booster.inplace_predict(x).astype(np.float64)
            flag = probability >= model.threshold  # as training's metrics count a failure
            predictions = pd.DataFrame(
                {
                    "UDI": batch["UDI"].to_numpy(dtype=np.int64),
                    "FAILURE_PROBABILITY": probability,
                    "PREDICTED_FAILURE": flag,
                    "MODEL_VERSION": version,
                    "SCORED_AT": pd.Series([scored_at] * len(batch), dtype="datetime64[us]"),
                }
            )
            session.write_pandas(predictions, staging, use_logical_type=True)
            rows += len(batch)
            flagged += int(flag.sum())
            del batch, x, predictions
        del chunk
        if time.time() >= next_log or rows == total:
            peak = peak_memory_mb()
            memory = f" (peak memory {peak:.0f} MB)" if peak else ""
            log(f"scored {rows:,} of {total:,} rows{memory}")
            next_log = time.time() + 10
    return rows, flagged


def run(paths: Paths, argv: list[str]) -> dict:
    started = time.time()
    args = parse_arguments(argv)
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    # Lines short enough to read in a notebook (120 characters with the longest names).
    log(f"model version {args.model_version}; region {region}")
    log(f"{args.source_table} -> {args.target_table}, {args.batch_size:,} rows a batch")
    model = load_model(paths.model_archive)
    log(f"model loaded: XGBoost on {len(model.features)} features, threshold {model.threshold:g}")
    from snowflake.snowpark.functions import col

    session = _sign_in(args, region)
    try:
        source, total = check_source(session, args.source_table)
        log(f"signed in; {total:,} machines to score")
        staging = prepare_target(session, args.target_table)
        featurised = source.frame.select(col("UDI"), *dataset.feature_columns())
        rows, flagged = score_rows(
            featurised, model, session, staging, args.model_version, args.batch_size, total
        )
        replace_version(session, args.target_table, staging, args.model_version)
    finally:
        session.close()
    summary = {
        "model_version": args.model_version,
        "source_table": args.source_table,
        "target_table": args.target_table,
        "rows_scored": rows,
        "flagged": flagged,
        "flagged_share": round(flagged / rows, 6),
        "threshold": model.threshold,
        "seconds": round(time.time() - started, 3),
        "peak_rss_mb": round(peak_memory_mb() or 0, 1) or None,
    }
    paths.output.mkdir(parents=True, exist_ok=True)
    (paths.output / "summary.json").write_text(json.dumps(summary, indent=2))
    peak = summary["peak_rss_mb"]
    log(
        f"wrote {rows:,} predictions to {args.target_table} ({flagged:,} flagged, "
        f"{flagged / rows:.2%}) in {summary['seconds']:.1f} s"
        + (f"; peak_rss_mb={peak:.0f}" if peak else "")
    )
    contract.print_line(f"rows_scored={rows}")
    return summary


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the clean-up must not be interrupted
    raise StopRequested()


def main(argv: list[str] | None = None) -> int:
    limit_malloc_arenas()
    paths = Paths.from_environment()
    # First: the exit message's space, while the disk still has it.
    contract.reserve_space(paths.message)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        run(paths, sys.argv[1:] if argv is None else argv)
        contract.release_space(paths.message)
        return 0
    except StopRequested:
        message = (
            "Stopped by SageMaker (StopProcessingJob, or the job's MaxRuntimeInSeconds): no "
            "predictions were written."
        )
        code = 143
    except TutorialError as error:
        message, code = str(error), 1
    except Exception as error:  # a bug or an unforeseen service error: still one line
        message = "Unexpected error: " + " ".join(f"{type(error).__name__}: {error}".split())[:500]
        code = 2
        try:
            traceback.print_exc()  # where, for a bug report; the reason stays the log's last line
        except (OSError, ValueError):  # nothing reads the log: the message must still be written
            pass
    write_message(paths, message)
    log(f"failed: {fit(message)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
