"""The scoring program's tables in Snowflake: the readings it scores and the predictions it writes.

The readings are checked as training checks its table (`dataset.check_table`,
`dataset.check_values`): the same columns, found the same way, and readings with NULLs refused
with the same line, since the model never saw a missing reading; and one row per machine.

The predictions table holds one row per machine and model version (PREDICTION_COLUMNS). The
program fills a temporary table batch by batch (`prepare_target`), then one transaction replaces
that model version's rows with the new ones (`replace_version`): a re-run leaves one row per
machine and version, and readers never see half. TOP_REASON names the feature that raises the
machine's risk most (`top_reasons`).
"""

from __future__ import annotations

import uuid

import numpy as np

from .. import connection
from ..errors import TutorialError, cut
from . import dataset

# The predictions table: one row per machine and model version.
PREDICTION_COLUMNS = {
    "UDI": "NUMBER(38,0)",
    "FAILURE_PROBABILITY": "FLOAT",
    "PREDICTED_FAILURE": "BOOLEAN",
    "MODEL_VERSION": "VARCHAR",
    "SCORED_AT": "TIMESTAMP_NTZ",
    "TOP_REASON": "VARCHAR",  # last: a table of the program before it gains it at the end
}
# The source's columns that must hold a value in every row: the machine, and what the model reads.
SOURCE_COLUMNS = ("UDI", "TYPE", *dataset.NUMERIC_FEATURES)


def top_reasons(contributions: np.ndarray, features) -> np.ndarray:
    """Per machine, the feature with the largest positive contribution to its log-odds of
    failure, or None where no feature raises it.

    `contributions` is XGBoost's `predict(..., pred_contribs=True)`: a column per feature, in
    the model's order, then the bias; each row adds up to the machine's log-odds.
    """
    parts = contributions[:, : len(features)]
    top = parts.argmax(axis=1)
    names = np.asarray(features, dtype=object)[top]
    names[parts[np.arange(len(parts)), top] <= 0] = None
    return names


def _sql_error(error: Exception) -> str:
    """Snowflake's message, first line, without the connector's codes in front."""
    text = str(getattr(error, "message", "") or error).strip().splitlines()[0]
    return text[:300]


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
    """Create the predictions table if needed, check its columns; a temporary table to fill.

    A predictions table of the program before TOP_REASON (its other columns, in order) gains
    that column, so a learner's earlier runs stay and the new one adds to them.
    """
    from snowflake.snowpark.exceptions import SnowparkSQLException

    columns = ", ".join(f"{name} {kind}" for name, kind in PREDICTION_COLUMNS.items())
    *earlier, (added, kind) = PREDICTION_COLUMNS.items()
    try:
        session.sql(f"CREATE TABLE IF NOT EXISTS {table} ({columns})").collect()
        # As Snowpark names them: UDI, or '"udi"' for a column created in quotes, which the
        # INSERT's UDI would not find.
        found = [f.name for f in session.table(table).schema.fields]
        if found == [name for name, _ in earlier]:
            session.sql(f"ALTER TABLE {table} ADD COLUMN {added} {kind}").collect()
            found.append(added)
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
