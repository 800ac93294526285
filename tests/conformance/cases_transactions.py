"""Transactions, as the scoring program uses them: one version's rows replaced all at once, from
a temporary table, so a reader sees the old rows or the new ones, never half."""

from __future__ import annotations

from snowflake.snowpark import Session

from conformance.harness import Case, connection_options, rows


def _table(session):
    session.sql("CREATE OR REPLACE TABLE P (ID INT, VERSION STRING)").collect()
    session.sql("INSERT INTO P VALUES (1, 'a'), (2, 'a'), (1, 'b')").collect()
    session.sql("CREATE TEMPORARY TABLE NEW_ROWS (ID INT, VERSION STRING)").collect()
    session.sql("INSERT INTO NEW_ROWS VALUES (1, 'a'), (3, 'a')").collect()


def _replace(session, end: str):
    _table(session)
    session.sql("BEGIN").collect()
    session.sql("DELETE FROM P WHERE VERSION = 'a'").collect()
    session.sql("INSERT INTO P (ID, VERSION) SELECT ID, VERSION FROM NEW_ROWS").collect()
    session.sql(end).collect()
    return sorted(rows(session.table("P")))


def _seen_by_another_session(session):
    """Before COMMIT, another session reads the rows as they were; after it, the new ones."""
    _table(session)
    database = session.get_current_database().strip('"')
    other = Session.builder.configs(connection_options(database)).create()
    try:
        session.sql("BEGIN").collect()
        session.sql("DELETE FROM P WHERE VERSION = 'a'").collect()
        during = sorted(rows(other.table("P")))
        session.sql("COMMIT").collect()
        return during, sorted(rows(other.table("P")))
    finally:
        other.close()


REFERENCE = "BEGIN, COMMIT, ROLLBACK (explicit transactions)"
CASES = [
    Case(
        "Transactions",
        "BEGIN; DELETE; INSERT ... SELECT from a temporary table; COMMIT",
        lambda s: _replace(s, "COMMIT"),
        [(1, "a"), (1, "b"), (3, "a")],
        REFERENCE,
    ),
    Case(
        "Transactions",
        "BEGIN; DELETE; INSERT ... SELECT; ROLLBACK keeps the rows as they were",
        lambda s: _replace(s, "ROLLBACK"),
        [(1, "a"), (1, "b"), (2, "a")],
        REFERENCE,
    ),
    Case(
        "Transactions",
        "another session sees a transaction's changes only after its COMMIT",
        _seen_by_another_session,
        ([(1, "a"), (1, "b"), (2, "a")], [(1, "b")]),
        "Transactions: READ COMMITTED isolation",
    ),
]
