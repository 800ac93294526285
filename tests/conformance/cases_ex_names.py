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
]
