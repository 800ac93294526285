"""Result columns: the name of an unaliased expression, and whether a column is nullable."""

from __future__ import annotations

from conformance.harness import Case, rows


def _expression_names(session):
    session.sql("CREATE OR REPLACE TABLE T (A INT)").collect()
    session.sql("INSERT INTO T VALUES (3)").collect()
    dataframe = session.sql("select 1 + 1, upper('x'), a*2, cast(a as string) from t")
    # the outer query refers to the subquery's column by that name
    inner = session.sql('SELECT "A*2" FROM (select a*2 from t)')
    return dataframe.columns, rows(dataframe), rows(inner)


def _rewritten_names(session):
    # HASH, the session functions and a division are rewritten for DuckDB; the names stay.
    session.sql("CREATE OR REPLACE TABLE T (A INT)").collect()
    return (
        session.sql("select current_role(), hash(a), a/2 from t").columns
        + session.sql("select sum(a) / 4 from t").columns
    )


def _nullable(dataframe) -> list[tuple[str, bool]]:
    return [(field.name, field.nullable) for field in dataframe.schema.fields]


def _table_nullability(session):
    session.sql("CREATE OR REPLACE TABLE P (ID INT NOT NULL, NOTE VARCHAR)").collect()
    session.sql("CREATE OR REPLACE TABLE Q (ID INT NOT NULL)").collect()
    joined = session.sql("SELECT P.ID, Q.ID AS QID FROM P LEFT JOIN Q ON P.ID = Q.ID")
    return _nullable(session.table("P")), _nullable(joined)


def _asof_nullability(session):
    session.sql("CREATE OR REPLACE TABLE TRADES (ID INT NOT NULL, TS INT NOT NULL)").collect()
    session.sql("CREATE OR REPLACE TABLE QUOTES (QTS INT NOT NULL, PRICE INT NOT NULL)").collect()
    joined = session.sql(
        "SELECT t.ID, q.PRICE FROM TRADES t ASOF JOIN QUOTES q MATCH_CONDITION (t.TS >= q.QTS)"
    )
    return _nullable(joined)


def _star_nullability(session):
    session.sql("CREATE OR REPLACE TABLE P (ID INT NOT NULL, NOTE VARCHAR)").collect()
    replaced = session.sql("SELECT * REPLACE (IFF(ID > 1, ID, NULL) AS ID) FROM P")
    excluded = session.sql("SELECT P.* EXCLUDE (NOTE) FROM P")
    return _nullable(replaced), _nullable(excluded)


def _values_nullability(session):
    dataframe = session.create_dataframe([[1.5, None], [2.5, "b"]], schema=["x", "y"])
    return _nullable(dataframe)


CASES = [
    Case(
        "Names",
        "An unaliased expression is named by its text as written, upper-cased",
        _expression_names,
        (
            ['"1 + 1"', "\"UPPER('X')\"", '"A*2"', '"CAST(A AS STRING)"'],
            [(2, "X", 6, "3")],
            [(6,)],
        ),
        "SELECT (a column without an alias is named by its expression)",
    ),
    Case(
        "Names",
        "HASH, a session function and divisions, unaliased, are named by their text too",
        _rewritten_names,
        ['"CURRENT_ROLE()"', '"HASH(A)"', '"A/2"', '"SUM(A) / 4"'],
        "SELECT (a column without an alias is named by its expression)",
    ),
    Case(
        "Types",
        "Schema: a NOT NULL column is not nullable, but is on the NULL side of a LEFT JOIN",
        _table_nullability,
        ([("ID", False), ("NOTE", True)], [("ID", False), ("QID", True)]),
        "DESCRIBE RESULT (null?); CREATE TABLE (NOT NULL)",
    ),
    Case(
        "Types",
        "Schema of create_dataframe: a column with a None is nullable, the others are not",
        _values_nullability,
        [("X", False), ("Y", True)],
        "DESCRIBE RESULT (null?); VALUES",
    ),
    Case(
        "Types",
        "Schema: ASOF JOIN's right side is nullable (an unmatched row gets NULLs)",
        _asof_nullability,
        [("ID", False), ("PRICE", True)],
        "DESCRIBE RESULT (null?); ASOF JOIN",
    ),
    Case(
        "Types",
        "Schema: * REPLACE takes the replacement's nullability; * EXCLUDE drops the column",
        _star_nullability,
        ([("ID", True), ("NOTE", True)], [("ID", False)]),
        "DESCRIBE RESULT (null?); SELECT (EXCLUDE, REPLACE)",
    ),
]
