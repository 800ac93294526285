"""MERGE, ASOF JOIN and dynamic PIVOT, each used otherwise than Snowpark's own examples."""

from __future__ import annotations

import datetime
from decimal import Decimal

from snowflake.snowpark.functions import col, when_matched, when_not_matched

from conformance.harness import Case, Raises, rows

_INVENTORY = "SELECT * FROM VALUES ('apple', 5.00), ('pear', 2.00), ('plum', 7.00) AS v(ITEM, QTY)"
_CHANGES = (
    "SELECT * FROM VALUES ('apple', 3.50), ('pear', 0.00), ('kiwi', 4.00), ('fig', 0.00) "
    "AS v(ITEM, DELTA)"
)


def _merge_in_order(session) -> tuple:
    # The first clause that applies wins: pear (delta 0) is deleted, not updated; fig is not
    # inserted (its condition is false), kiwi is.
    session.sql(
        f"CREATE TABLE INVENTORY (ITEM VARCHAR, QTY NUMBER(10, 2)) AS {_INVENTORY}"
    ).collect()
    session.sql(f"CREATE TABLE CHANGES (ITEM VARCHAR, DELTA NUMBER(10, 2)) AS {_CHANGES}").collect()
    target, source = session.table("INVENTORY"), session.table("CHANGES")
    result = target.merge(
        source,
        target["ITEM"] == source["ITEM"],
        [
            when_matched(source["DELTA"] == 0).delete(),
            when_matched().update({"QTY": target["QTY"] + source["DELTA"]}),
            when_not_matched(source["DELTA"] > 0).insert(
                {"ITEM": source["ITEM"], "QTY": source["DELTA"]}
            ),
        ],
    )
    return tuple(result), rows(target.sort("ITEM"))


def _merge_result_row(session) -> tuple:
    session.sql("CREATE TABLE T (ID INT, NAME VARCHAR)").collect()
    session.sql("INSERT INTO T VALUES (1, 'one'), (2, 'two')").collect()
    result = session.sql(
        "MERGE INTO T USING (SELECT * FROM VALUES (1, 'uno'), (2, 'dos'), (3, 'tres') "
        "AS s(ID, NAME)) s ON T.ID = s.ID "
        "WHEN NOT MATCHED THEN INSERT (ID, NAME) VALUES (s.ID, s.NAME) "
        "WHEN MATCHED AND s.ID > 1 THEN UPDATE SET NAME = s.NAME"
    )
    found = result.collect()
    return tuple(found[0].as_dict()), rows(found), rows(session.sql("SELECT * FROM T ORDER BY ID"))


def _merge_two_source_rows(session, then: str, values: str = "(1, 'a'), (1, 'b')"):
    session.sql("CREATE OR REPLACE TABLE T (ID INT, NAME VARCHAR)").collect()
    session.sql("INSERT INTO T VALUES (1, 'one'), (2, 'two')").collect()
    found = session.sql(
        f"MERGE INTO T USING (SELECT * FROM VALUES {values} AS s(ID, NAME)) s ON T.ID = s.ID "
        f"WHEN MATCHED {then}"
    ).collect()
    return rows(found), rows(session.sql("SELECT * FROM T ORDER BY ID"))


def _merge_duplicates_that_only_delete(session):
    return _merge_two_source_rows(session, "THEN DELETE")


def _merge_duplicates_where_one_updates(session):
    # Of the two source rows of target row 1, only 'b' meets the UPDATE's condition; 'a' deletes.
    return _merge_two_source_rows(
        session, "AND s.NAME = 'b' THEN UPDATE SET NAME = s.NAME WHEN MATCHED THEN DELETE"
    )


def _merge_one_update_per_target_row(session):
    return _merge_two_source_rows(
        session, "THEN UPDATE SET NAME = s.NAME", values="(1, 'uno'), (2, 'dos'), (3, 'tres')"
    )


def _asof_next_quote(session) -> list[tuple]:
    # <= with no ON: for each trade the first quote at or after it, NULL when none comes.
    return rows(
        session.sql(
            "SELECT t.ID, q.PRICE FROM (SELECT * FROM VALUES "
            "(1, '2024-01-01 10:00:00'::TIMESTAMP), (2, '2024-01-01 10:05:00'::TIMESTAMP), "
            "(3, '2024-01-01 11:00:00'::TIMESTAMP) "
            "AS v(ID, TS)) t ASOF JOIN (SELECT * FROM VALUES ('2024-01-01 10:00:00'::TIMESTAMP, "
            "10), ('2024-01-01 10:30:00'::TIMESTAMP, 11) AS v(QTS, PRICE)) q "
            "MATCH_CONDITION (t.TS <= q.QTS) ORDER BY t.ID"
        )
    )


def _asof_using_strict(session) -> tuple:
    # > is strict; USING shows its column once, first.
    left = session.create_dataframe(
        [
            ["x", datetime.date(2024, 1, 2)],
            ["x", datetime.date(2024, 1, 5)],
            ["y", datetime.date(2024, 1, 1)],
        ],
        schema=["k", "d"],
    )
    right = session.create_dataframe(
        [
            ["x", datetime.date(2024, 1, 2), 1],
            ["x", datetime.date(2024, 1, 4), 2],
            ["y", datetime.date(2024, 1, 1), 3],
        ],
        schema=["k", "rd", "v"],
    )
    joined = left.join(right, using_columns=["k"], how="asof", match_condition=left.d > right.rd)
    return joined.columns, rows(joined.sort("k", "d"))


def _asof_using_exclude(session) -> tuple:
    # the USING column once, first, and the star's EXCLUDE kept
    df = session.sql(
        "SELECT * EXCLUDE (V) FROM (SELECT * FROM VALUES ('x', 2), ('y', 1) AS l(K, D)) l "
        "ASOF JOIN (SELECT * FROM VALUES ('x', 1, 10) AS r(K, RD, V)) r "
        "MATCH_CONDITION (l.D >= r.RD) USING (K) ORDER BY K"
    )
    return df.columns, rows(df)


_SALES = (
    "SELECT * FROM VALUES ('a', 1, 1.50), ('a', NULL, 2.25), ('b', 2, 3.00), ('b', 2, 1.00) "
    "AS v(K, Q, AMT)"
)


def _pivot_any_ordered(session) -> tuple:
    df = session.sql(
        f"SELECT * FROM ({_SALES}) PIVOT(SUM(AMT) FOR Q IN (ANY ORDER BY Q DESC NULLS LAST)) "
        "ORDER BY K"
    )
    return [f.datatype.scale for f in df.schema.fields[1:]], rows(df)


def _pivot_subquery_default(session) -> tuple:
    df = session.sql(
        f"SELECT * FROM ({_SALES}) PIVOT(SUM(AMT) FOR Q IN (SELECT DISTINCT Q FROM VALUES (2), "
        "(3), (2) AS w(Q) ORDER BY Q DESC) DEFAULT ON NULL (0)) ORDER BY K"
    )
    return df.columns, rows(df)


def _pivot_any_snowpark(session) -> tuple:
    df = session.sql(_SALES).filter(col("Q").is_not_null())
    pivoted = df.pivot("K").max("AMT").sort("Q")
    return pivoted.columns, rows(pivoted)


CASES = [
    Case(
        "Queries",
        "MERGE: WHEN clauses in order, with conditions on the source; counts and rows",
        _merge_in_order,
        (
            (1, 1, 1),
            [("apple", Decimal("8.50")), ("kiwi", Decimal("4.00")), ("plum", Decimal("7.00"))],
        ),
        "MERGE (matchedClause, notMatchedClause; the first clause that applies)",
    ),
    Case(
        "Queries",
        "MERGE's result: a count column for each action its clauses name",
        _merge_result_row,
        (
            ("number of rows inserted", "number of rows updated"),
            [(1, 1)],
            [(1, "one"), (2, "dos"), (3, "tres")],
        ),
        "MERGE (output)",
    ),
    Case(
        "Queries",
        "ASOF JOIN with MATCH_CONDITION (<=) and no ON: unmatched rows get NULLs",
        _asof_next_quote,
        [(1, 10), (2, 11), (3, None)],
        "ASOF JOIN",
    ),
    Case(
        "Queries",
        "ASOF JOIN with a strict > and USING: the USING column once",
        _asof_using_strict,
        (
            ["K", "D", "RD", "V"],
            [
                ("x", datetime.date(2024, 1, 2), None, None),
                ("x", datetime.date(2024, 1, 5), datetime.date(2024, 1, 4), 2),
                ("y", datetime.date(2024, 1, 1), None, None),
            ],
        ),
        "ASOF JOIN (MATCH_CONDITION, USING)",
    ),
    Case(
        "Queries",
        "ASOF JOIN ... USING with SELECT * EXCLUDE: the excluded column stays out",
        _asof_using_exclude,
        (["K", "D", "RD"], [("x", 2, 1), ("y", 1, None)]),
        "ASOF JOIN (USING); SELECT (EXCLUDE)",
    ),
    Case(
        "Queries",
        "PIVOT IN (ANY ORDER BY ...): every value, NULL too, in that order; SUM keeps its scale",
        _pivot_any_ordered,
        (
            [2, 2, 2],
            [("a", None, Decimal("1.50"), Decimal("2.25")), ("b", Decimal("4.00"), None, None)],
        ),
        "PIVOT (ANY [ ORDER BY ... ])",
    ),
    Case(
        "Queries",
        "PIVOT IN (subquery) DEFAULT ON NULL: the subquery's values, NULLs replaced",
        _pivot_subquery_default,
        (
            ["K", '"3"', '"2"'],
            [
                ("a", Decimal("0.00"), Decimal("0.00")),
                ("b", Decimal("0.00"), Decimal("4.00")),
            ],
        ),
        "PIVOT (subquery, DEFAULT ON NULL)",
    ),
    Case(
        "Queries",
        "DataFrame.pivot with no values: string values as column names 'a', 'b'",
        _pivot_any_snowpark,
        (
            ["Q", "\"'a'\"", "\"'b'\""],
            [(1, Decimal("1.50"), None), (2, None, Decimal("3.00"))],
        ),
        "PIVOT (ANY)",
    ),
    Case(
        "Queries",
        "MERGE where a target row joins two source rows that update it: an error, nothing changed",
        lambda s: _merge_two_source_rows(s, "THEN UPDATE SET NAME = s.NAME"),
        Raises(100090, "Duplicate row detected during DML action"),
        "MERGE, nondeterministic results (ERROR_ON_NONDETERMINISTIC_MERGE, TRUE by default)",
    ),
    Case(
        "Queries",
        "MERGE where one of a target row's two source rows updates and the other deletes: an error",
        _merge_duplicates_where_one_updates,
        Raises(100090, "Duplicate row detected during DML action"),
        "MERGE, nondeterministic results (ERROR_ON_NONDETERMINISTIC_MERGE, TRUE by default)",
    ),
    Case(
        "Queries",
        "MERGE where a target row's two source rows both delete it: deterministic, deleted once",
        _merge_duplicates_that_only_delete,
        ([(1,)], [(2, "two")]),
        "MERGE, deterministic results (several source rows that only delete)",
    ),
    Case(
        "Queries",
        "MERGE where each target row has one source row: its update",
        _merge_one_update_per_target_row,
        ([(2,)], [(1, "uno"), (2, "dos")]),
        "MERGE, deterministic results",
    ),
]
