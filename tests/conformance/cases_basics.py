"""Sessions, DDL, queries, results and files: what the series and a learner's first code use."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from snowflake.snowpark.functions import col, lit, rtrim

from conformance.harness import Case, Raises, rows


def _put_and_copy(session):
    session.sql("CREATE OR REPLACE TABLE LOADED (ID INT, NAME STRING)").collect()
    session.sql("CREATE OR REPLACE STAGE FILES").collect()
    with TemporaryDirectory() as folder:
        path = Path(folder) / "people.csv"
        path.write_text("ID,NAME\n1,ada\n2,grace\n")
        session.sql(f"PUT file://{path} @FILES AUTO_COMPRESS=FALSE").collect()
    session.sql(
        "COPY INTO LOADED FROM @FILES/people.csv FILE_FORMAT=(TYPE=CSV SKIP_HEADER=1)"
    ).collect()
    return rows(session.table("LOADED").sort("ID"))


def _two_tables(session):
    session.sql("CREATE OR REPLACE TABLE L (K INT, A STRING)").collect()
    session.sql("CREATE OR REPLACE TABLE R (K INT, B STRING)").collect()
    session.sql("INSERT INTO L VALUES (1, 'x'), (2, 'y')").collect()
    session.sql("INSERT INTO R VALUES (1, 'p'), (3, 'q')").collect()
    return session.table("L"), session.table("R")


def _join(session):
    left, right = _two_tables(session)
    joined = left.join(right, left["K"] == right["K"]).select(left["K"], col("A"), col("B"))
    return rows(joined)


def _batches(session):
    session.sql(
        "CREATE OR REPLACE TABLE NUMBERS AS "
        "SELECT SEQ4() AS N FROM TABLE(GENERATOR(ROWCOUNT => 1000))"
    ).collect()
    return sum(len(batch) for batch in session.table("NUMBERS").to_pandas_batches())


def _to_pandas(session):
    left, _ = _two_tables(session)
    frame = left.sort("K").to_pandas()
    return list(frame.columns), frame.values.tolist()


CASES = [
    Case(
        "Sessions",
        "current_database() / current_schema() after use_schema",
        lambda s: (s.get_current_database(), s.get_current_schema()),
        ('"{database}"', '"PUBLIC"'),
        "Session.get_current_database: the quoted name",
    ),
    Case(
        "DDL",
        "CREATE TABLE, INSERT, SELECT",
        lambda s: (
            s.sql("CREATE OR REPLACE TABLE T (A INT, B STRING)").collect(),
            s.sql("INSERT INTO T VALUES (1, 'one')").collect(),
            rows(s.sql("SELECT A, B FROM T")),
        )[-1],
        [(1, "one")],
        "CREATE TABLE, INSERT",
    ),
    Case(
        "Queries",
        "DataFrame join, select, collect",
        _join,
        [(1, "x", "p")],
        "DataFrame.join",
    ),
    Case(
        "Queries",
        "filter and count",
        lambda s: _two_tables(s)[0].filter(col("K") > 1).count(),
        1,
        "DataFrame.count",
    ),
    Case(
        "Results",
        "to_pandas_batches covers every row",
        _batches,
        1000,
        "DataFrame.to_pandas_batches",
    ),
    Case(
        "Files",
        "CREATE STAGE, PUT, COPY INTO a table from a CSV",
        _put_and_copy,
        [(1, "ada"), (2, "grace")],
        "PUT, COPY INTO <table>",
    ),
    Case(
        "Results",
        "to_pandas: upper-case column names, the rows in order",
        _to_pandas,
        (["K", "A"], [[1, "x"], [2, "y"]]),
        "DataFrame.to_pandas",
    ),
    Case(
        "Queries",
        "sort and limit",
        lambda s: rows(_two_tables(s)[0].sort(col("K").desc()).limit(1)),
        [(2, "y")],
        "DataFrame.sort, DataFrame.limit",
    ),
    Case(
        "Queries",
        "RTRIM, LTRIM and TRIM with the characters to remove",
        lambda s: rows(s.sql("SELECT RTRIM('power, ', ', '), LTRIM('xxa', 'x'), TRIM('-a-', '-')")),
        [("power", "a", "a")],
        "RTRIM, LTRIM, TRIM",
    ),
    Case(
        "Queries",
        "RTRIM and LTRIM without characters: spaces, on their side only",
        lambda s: rows(s.sql("SELECT RTRIM('  a  ') || '|', '|' || LTRIM('  a  ')")),
        [("  a|", "|a  ")],
        "RTRIM, LTRIM",
    ),
    Case(
        "Queries",
        "rtrim of a DataFrame column (Snowpark's functions.rtrim)",
        lambda s: rows(
            s.create_dataframe([["a, b, "]], schema=["A"]).select(rtrim("A", lit(", ")))
        ),
        [("a, b",)],
        "functions.rtrim",
    ),
    Case(
        "Errors",
        "a table that does not exist",
        lambda s: s.table("NO_SUCH_TABLE").collect(),
        Raises(2003, "does not exist or not authorized"),
        "Error 002003",
    ),
    Case(
        "Errors",
        "a SQL syntax error",
        lambda s: s.sql("SELEC 1").collect(),
        Raises(1003, "SQL compilation error:\nsyntax error line 1 at position"),
        "Error 001003",
    ),
    Case(
        "Errors",
        "two statements in one query (`x; DROP TABLE y`)",
        lambda s: s.sql("SELECT 1; SELECT 2").collect(),
        Raises(8, "did not match the desired statement count 1"),
        "MULTI_STATEMENT_COUNT (default 1)",
    ),
]
