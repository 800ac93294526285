"""SHOW TABLES lists the session's temporary tables, with kind TEMPORARY.

Emulates Snowflake's "SHOW TABLES" page (the `kind` column: TABLE, TEMPORARY or TRANSIENT) and
"Working with temporary and transient tables": a temporary table belongs to the schema it was
created in and is listed there. fakesnow lists base tables only, so Snowpark's save_as_table
(mode "append", overwrite_condition) and insert_into, which look the table up with
SHOW TABLES LIKE, took a temporary table for a missing one.
"""

from __future__ import annotations

from fakesnow.transforms import show as fakesnow_show
from sqlglot import exp, parse_one

_SHOW_TABLES = "_fs_show_tables"


def _temporary_rows(conn) -> exp.Select | None:
    """fakesnow's SHOW TABLES view, over the session's temporary tables."""
    owners = conn.table_stages._temporary  # DuckDB's oid -> (database, schema) created in
    rows = [
        (name, *owners[oid])
        for name, oid in conn._duck_conn.execute(
            "SELECT table_name, table_oid FROM duckdb_tables() WHERE temporary"
        ).fetchall()
        if oid in owners
    ]
    if not rows:
        return None
    select = parse_one(fakesnow_show.SQL_CREATE_VIEW_SHOW_TABLES, read="duckdb").expression.copy()
    values = exp.values(
        [
            (name, database or conn.database, schema or conn.schema)
            for name, database, schema in rows
        ],
        alias="T",
        columns=["table_name", "table_catalog", "table_schema"],
    )
    select.set("from_", exp.From(this=values))
    select.set("where", None)
    for projection in select.expressions:
        if projection.alias == "kind":
            projection.set("this", exp.Literal.string("TEMPORARY"))
    return select


def show_temporary_tables(expression: exp.Expression, conn) -> exp.Expression:
    """fakesnow's SHOW TABLES query, its view joined by the session's temporary tables."""
    if not isinstance(expression, exp.Select):
        return expression
    for table in expression.find_all(exp.Table):
        if table.name == _SHOW_TABLES and (temporary := _temporary_rows(conn)) is not None:
            listed = exp.union(exp.select("*").from_(table.copy()), temporary, distinct=False)
            table.replace(listed.subquery(_SHOW_TABLES))
            break
    return expression
