"""Loading data: write_pandas in its modes, create_dataframe from lists and pandas, save_as_table
in every mode, on new and existing tables."""

from __future__ import annotations

import pandas as pd
from snowflake.snowpark import Session

from conformance.harness import Case, Raises, connection_options, rows

FRAME = pd.DataFrame({"id": [1, 2], "Name": ["ada", "grace"]})


def _existing(session, name="T"):
    session.sql(f'CREATE OR REPLACE TABLE {name} ("id" INT, "Name" STRING)').collect()
    session.sql(f"INSERT INTO {name} VALUES (9, 'old')").collect()


def _write_pandas(existing: bool, **options):
    def run(session):
        if existing:
            _existing(session)
        written = session.write_pandas(FRAME, "T", **options)
        return sorted(rows(written))

    return run


def _spaced_names(session):
    """As the scoring program writes predictions keyed by a column like "part id"."""
    session.sql(
        'CREATE OR REPLACE TEMPORARY TABLE T ("part id" INT, "first name" STRING)'
    ).collect()
    frame = FRAME.rename(columns={"id": "part id", "Name": "first name"})
    session.write_pandas(frame, "T")
    return sorted(rows(session.table("T")))


def _unquoted_columns(session):
    session.write_pandas(FRAME, "T", auto_create_table=True, quote_identifiers=False)
    return [f.name for f in session.table("T").schema.fields]


def _punctuated_columns(session):
    """Columns named as a CSV's header may name them: spaces, punctuation, a double quote."""
    frame = pd.DataFrame({"Customer ID": ["c-1", "c-2"], "Churned?": [True, False], 'a"b': [1, 2]})
    session.write_pandas(frame, "T", auto_create_table=True, use_logical_type=True)
    table = session.table("T")
    return [f.name for f in table.schema.fields], sorted(rows(table))


def _temporary(session):
    """The table is the session's own: another session of the same schema does not see it."""
    session.write_pandas(FRAME, "T", auto_create_table=True, table_type="temporary")
    database = session.get_current_database().strip('"')
    other = Session.builder.configs(connection_options(database)).create()
    try:
        seen = other.sql("SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = 'T'")
        return len(rows(session.table("T"))), rows(seen)[0][0]
    finally:
        other.close()


def _save(mode: str, existing: bool):
    def run(session):
        if existing:
            session.sql("CREATE OR REPLACE TABLE S (A INT, B STRING)").collect()
            session.sql("INSERT INTO S VALUES (9, 'old')").collect()
        frame = session.create_dataframe([[1, "new"]], schema=["A", "B"])
        frame.write.mode(mode).save_as_table("S")
        return sorted(rows(session.table("S")))

    return run


NEW, OLD = [(1, "new")], [(9, "old")]
SAVE_AS_TABLE = {
    # mode: (result on a new table, result on an existing one)
    "append": (NEW, NEW + OLD),
    "overwrite": (NEW, NEW),
    "errorifexists": (NEW, Raises(2002, "already exists")),
    "ignore": (NEW, OLD),
    "truncate": (NEW, NEW),
}
WRITE_PANDAS_REF = "Session.write_pandas"
SAVE_REF = "DataFrameWriter.save_as_table (mode)"

CASES = [
    Case(
        "Loading",
        "write_pandas(auto_create_table=True) into a new table",
        _write_pandas(False, auto_create_table=True),
        [(1, "ada"), (2, "grace")],
        WRITE_PANDAS_REF,
    ),
    Case(
        "Loading",
        "write_pandas(auto_create_table=True, overwrite=True) replaces the rows",
        _write_pandas(True, auto_create_table=True, overwrite=True),
        [(1, "ada"), (2, "grace")],
        WRITE_PANDAS_REF,
    ),
    Case(
        "Loading",
        "write_pandas into an existing table appends",
        _write_pandas(True),
        [(1, "ada"), (2, "grace"), (9, "old")],
        WRITE_PANDAS_REF,
    ),
    Case(
        "Loading",
        "write_pandas(overwrite=True) into an existing table replaces the rows",
        _write_pandas(True, overwrite=True),
        [(1, "ada"), (2, "grace")],
        WRITE_PANDAS_REF,
    ),
    Case(
        "Loading",
        "write_pandas into a missing table without auto_create_table",
        _write_pandas(False),
        Raises(2003, "does not exist"),
        WRITE_PANDAS_REF,
    ),
    Case(
        "Loading",
        "write_pandas keeps the columns' case (quote_identifiers=True)",
        lambda s: (
            s.write_pandas(FRAME, "T", auto_create_table=True),
            [f.name for f in s.table("T").schema.fields],
        )[-1],
        ['"id"', '"Name"'],
        WRITE_PANDAS_REF,
    ),
    Case(
        "Loading",
        "write_pandas into a table whose columns' names have spaces and lower case",
        _spaced_names,
        [(1, "ada"), (2, "grace")],
        WRITE_PANDAS_REF,
    ),
    Case(
        "Loading",
        "write_pandas of columns named with spaces and punctuation keeps the names and rows",
        _punctuated_columns,
        (['"Customer ID"', '"Churned?"', '"a""b"'], [("c-1", True, 1), ("c-2", False, 2)]),
        WRITE_PANDAS_REF,
    ),
    Case(
        "Loading",
        "write_pandas(quote_identifiers=False) upper-cases the columns",
        _unquoted_columns,
        ["ID", "NAME"],
        WRITE_PANDAS_REF,
    ),
    Case(
        "Loading",
        'write_pandas(table_type="temporary") makes a temporary table',
        _temporary,
        (2, 0),
        "CREATE TABLE (TEMPORARY: visible only in the session)",
    ),
    Case(
        "Loading",
        "create_dataframe from lists with a schema",
        lambda s: rows(s.create_dataframe([[1, "a"], [2, "b"]], schema=["A", "B"])),
        [(1, "a"), (2, "b")],
        "Session.create_dataframe",
    ),
    Case(
        "Loading",
        "create_dataframe from a pandas DataFrame",
        lambda s: sorted(rows(s.create_dataframe(FRAME))),
        [(1, "ada"), (2, "grace")],
        "Session.create_dataframe",
    ),
    *[
        Case(
            "Loading",
            f'save_as_table mode "{mode}" on {"an existing" if existing else "a new"} table',
            _save(mode, existing),
            results[existing],
            SAVE_REF,
        )
        for mode, results in SAVE_AS_TABLE.items()
        for existing in (False, True)
    ],
    Case(
        "Errors",
        "a statement the warehouse cannot run (unbound ?) is a Snowflake error",
        lambda s: s.sql("SELECT ? + 1").collect(),
        Raises(2049, "bind variable"),
        "Error 002049: Bind variable not set",
    ),
]
