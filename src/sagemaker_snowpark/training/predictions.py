"""The scoring program's tables in Snowflake: the rows it scores and the predictions it writes.

The rows to score must have the columns the model was trained on (features.json in the model's
archive names them), found by name as training found them and of the same kinds (the workshop's
readings, for the physics set, checked as training checks them), and one row per id. A NULL
feature is a missing value, as training read it.

The predictions table holds one row per id and model version: the id column as the source names
it, then PREDICTION_COLUMNS. The program fills a temporary table batch by batch
(`prepare_target`), then one transaction replaces that model version's rows with the new ones
(`replace_version`): a re-run leaves one row per id and version, and readers never see half.
TOP_REASON names the feature that raises the row's probability most (`top_reasons`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import numpy as np
from snowflake.snowpark.functions import count as count_
from snowflake.snowpark.functions import iff, lit
from snowflake.snowpark.functions import sum as sum_

from .. import connection
from ..errors import TutorialError, cut
from . import dataset, features

# The predictions table: one row per row scored (its id first) and model version.
PREDICTION_COLUMNS = {
    "PROBABILITY": "FLOAT",  # of the label's 1 (for the workshop: of a failure)
    "PREDICTED": "BOOLEAN",  # PROBABILITY at or above the model's threshold
    "MODEL_VERSION": "VARCHAR",
    "SCORED_AT": "TIMESTAMP_NTZ",
    "TOP_REASON": "VARCHAR",
}


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


@dataclass(frozen=True)
class Source:
    """The table to score, checked: rows with the model's features (F_0, ...) and the id
    (features.ID_ALIAS), the id column's stored name and SQL type, and its row count."""

    name: str
    frame: object
    id_column: str
    id_type: str
    rows: int


def sql_type(datatype) -> str | None:
    """The SQL type of an id column of this Snowpark type; None: not a number or text."""
    from snowflake.snowpark.types import DecimalType, StringType, _FractionalType

    if features.is_integral(datatype):
        return "NUMBER(38,0)"
    if isinstance(datatype, DecimalType):
        return f"NUMBER({datatype.precision},{datatype.scale})"
    if isinstance(datatype, _FractionalType):
        return "FLOAT"
    if isinstance(datatype, StringType):
        return "VARCHAR"
    return None


def _resolved(definition: features.Definition, stored: dict, table: str) -> features.Definition:
    """The definition with each feature's column found in the table to score, by the name it had
    in training's table, and of a type that encodes alike."""
    found = []
    for feature in definition.features:
        if feature.column is None:  # a physics feature: computed from the readings
            found.append(feature)
            continue
        column = features.find_column(
            list(stored), feature.column, table, "a feature the model was trained on"
        )
        kind = features.kind_of(stored[column])
        wanted = {"number": "number", "boolean": "boolean", "category": "text"}[feature.kind]
        if kind != wanted:
            raise TutorialError(
                f"Column {features.quoted(column)} of {cut(table)} is "
                f"{features.type_name(stored[column])}, but the model was trained on it as "
                f"{'text' if wanted == 'text' else 'a ' + wanted}: score a table shaped like the "
                "training table."
            )
        found.append(replace(feature, column=column))
    return replace(definition, features=tuple(found))


def check_source(session, name: str, definition: features.Definition, id_column: str) -> Source:
    """The table to score, checked: it has the model's feature columns (the workshop's readings
    as training checks them, for the physics set) and an id column with one row per id; rows
    with NULL features are scored as missing values, as training read them."""
    from snowflake.snowpark.functions import col, count_distinct

    id_column = id_column or definition.id
    if not id_column:
        raise TutorialError(
            "The model was trained without an id column: name the column that identifies a row "
            "with --id, so that each prediction says which row it is for."
        )
    made_by = "notebook 05" if definition.feature_set == "physics" else "notebook 06"
    if definition.feature_set == "physics":
        table = dataset.check_table(
            session,
            name,
            label=False,
            made_by="notebook 05",
            settings=connection.ARGUMENTS,
            setting="source_table",
        )
        frame, stored = table.frame, {f.name: f.datatype for f in table.frame.schema.fields}
    else:
        frame = dataset.open_table(
            session, name, "notebook 06", connection.ARGUMENTS, "source_table"
        )
        stored = {features.stored_name(f.name): f.datatype for f in frame.schema.fields}
        definition = _resolved(definition, stored, name)
    id_name = features.find_column(list(stored), id_column, name, "argument --id")
    id_type = sql_type(stored[id_name])
    if id_type is None:
        raise TutorialError(
            f"Id column {features.quoted(id_name)} of {cut(name)} is "
            f"{features.type_name(stored[id_name])}: name a number or text column with --id."
        )
    ident = col(features.quoted(id_name))
    rows, ids, missing = frame.select(
        count_(lit(1)), count_distinct(ident), sum_(iff(ident.is_null(), lit(1), lit(0)))
    ).collect()[0]
    if not rows:
        raise TutorialError(f"Table {cut(name)} is empty: build it with {made_by}.")
    if missing:
        raise TutorialError(
            f"Table {cut(name)} has {missing:,} of {rows:,} rows without an id "
            f"({features.quoted(id_name)} is NULL): give each row an id, or name another --id."
        )
    if ids != rows:
        raise TutorialError(
            f"Table {cut(name)} has {rows:,} rows for {ids:,} values of "
            f"{features.quoted(id_name)}: keep one row per id, or name another --id."
        )
    selected = frame.select(ident.alias(features.ID_ALIAS), *definition.feature_expressions())
    return Source(name, selected, id_name, id_type, int(rows))


def target_columns(id_column: str, id_type: str) -> dict[str, str]:
    """The predictions table's columns (quoted identifiers) and their SQL types."""
    found = {features.quoted(id_column): id_type}
    found.update({features.quoted(name): kind for name, kind in PREDICTION_COLUMNS.items()})
    return found


def prepare_target(session, table: str, id_column: str, id_type: str) -> str:
    """Create the predictions table if needed, check its columns; a temporary table to fill."""
    from snowflake.snowpark.exceptions import SnowparkSQLException

    wanted = target_columns(id_column, id_type)
    columns = ", ".join(f"{name} {kind}" for name, kind in wanted.items())
    expected = [id_column, *PREDICTION_COLUMNS]
    try:
        session.sql(f"CREATE TABLE IF NOT EXISTS {table} ({columns})").collect()
        found = [features.stored_name(f.name) for f in session.table(table).schema.fields]
    except SnowparkSQLException as error:
        raise TutorialError(
            f"Cannot write table {cut(table)} ({_sql_error(error)}): grant the role CREATE TABLE "
            "on its schema (or INSERT and DELETE on the table), or name another --target-table."
        ) from None
    if found != expected:
        raise TutorialError(
            f"Table {cut(table)} exists with columns {cut(', '.join(found), 200)}, not "
            f"{cut(', '.join(expected), 200)}: drop it, or name another --target-table."
        )
    staging = f"SCORING_{uuid.uuid4().hex[:12].upper()}"
    # Temporary: only this session sees it, and Snowflake drops it when the session ends.
    session.sql(f"CREATE TEMPORARY TABLE {staging} ({columns})").collect()
    return staging


def replace_version(session, table: str, staging: str, id_column: str, version: str) -> None:
    """Swap this version's rows for the new ones in one transaction."""
    from snowflake.snowpark.exceptions import SnowparkSQLException

    names = ", ".join(target_columns(id_column, ""))
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
