"""Temporary tables: the schema each belongs to, SHOW TABLES, and SCOPED TEMPORARY objects.

Emulates Snowflake's "Working with temporary and transient tables" and CREATE TABLE pages: a
temporary table belongs to the session and to the schema it was created in (DB.SCHEMA.T, or the
current schema for T), is found there under its qualified name, and is listed by SHOW TABLES there
with kind TEMPORARY (SHOW TABLES page). DuckDB keeps every temporary table in its own `temp`
catalog and refuses a qualified name for one, so the qualifier is removed before DuckDB runs the
statement; fakesnow's registry of temporary tables (`table_stages._temporary`, DuckDB's table oid
-> database and schema, which also resolves a table's stage @%T) is the one record of where each
belongs, and `record_temporary_table` fills it with the qualifier as written.

CREATE SCOPED TEMPORARY <object>, which Snowpark sends for the objects it makes itself
(cache_result's table, a reader's file format, the session stage): to SQL it is a temporary object,
visible in the session that made it and gone when the session ends (Snowpark's "Temporary
objects"), so the stack makes it a temporary object. UDFs and procedures made so are refused
before this (statements.NO_UDFS).
"""

from __future__ import annotations

import re

from fakesnow.transforms import show as fakesnow_show
from fakesnow.transforms.stage import TableStages
from sqlglot import exp, parse_one

from snowpark_local.patch import upstream

_SCOPED = re.compile(r"(?is)^(create\s+(?:or\s+replace\s+)?)scoped\s+(temp(?:orary)?)\b")
_SHOW_TABLES = "_fs_show_tables"
_CREATED_IN = "tutorial_created_in"  # the qualifier removed from CREATE TEMP TABLE, in meta


def as_temporary(text: str) -> str | None:
    """The statement with SCOPED dropped, or None when it makes no scoped temporary object."""
    if not _SCOPED.match(text):
        return None
    return _SCOPED.sub(r"\1\2", text, count=1)


def _temporary_tables(conn) -> dict[str, tuple[str | None, str | None]]:
    """The session's live temporary tables: name -> (database, schema) each belongs to."""
    owners = conn.table_stages._temporary
    if not owners:
        return {}
    return {
        name: owners[oid]
        for name, oid in conn._duck_conn.execute(
            "SELECT table_name, table_oid FROM duckdb_tables() WHERE temporary"
        ).fetchall()
        if oid in owners
    }


def record_temporary_table(self, expression, catalog, schema) -> None:
    """fakesnow's record of a new temporary table's schema, under the qualifier it was created
    with: qualified_temp_tables removed it for DuckDB, so upstream would record the current one."""
    table = expression.find(exp.Table) if isinstance(expression, exp.Create) else None
    if table is not None and (created_in := table.meta.get(_CREATED_IN)):
        catalog, schema = created_in
    upstream(TableStages, "record_temporary_table")(self, expression, catalog, schema)


def qualified_temp_tables(expression: exp.Expression, conn) -> exp.Expression:
    """CREATE TEMP TABLE DB.SCHEMA.T (what write_pandas sends for Snowpark), and every name that
    qualifies a temporary table with the schema it belongs to, without the qualifier."""
    target = None
    create = expression if isinstance(expression, exp.Create) else None
    if create and create.kind == "TABLE" and create.find(exp.TemporaryProperty):
        target = create.find(exp.Table)
        if target is not None and (target.args.get("catalog") or target.args.get("db")):
            target.meta[_CREATED_IN] = (target.catalog or conn.database, target.db or conn.schema)
            target.set("catalog", None)
            target.set("db", None)
    if not (live := _temporary_tables(conn)):
        return expression
    for table in expression.find_all(exp.Table):
        where = (table.catalog or conn.database, table.db or conn.schema)
        if (
            table is not target
            and (table.args.get("catalog") or table.args.get("db"))
            and live.get(table.name) == where
        ):
            table.set("catalog", None)
            table.set("db", None)
    return expression


def _temporary_rows(conn) -> exp.Select | None:
    """fakesnow's SHOW TABLES view, over the session's temporary tables."""
    rows = _temporary_tables(conn)
    if not rows:
        return None
    select = parse_one(fakesnow_show.SQL_CREATE_VIEW_SHOW_TABLES, read="duckdb").expression.copy()
    values = exp.values(
        [
            (name, database or conn.database, schema or conn.schema)
            for name, (database, schema) in rows.items()
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
    """fakesnow's SHOW TABLES query (fakesnow lists base tables only), its view joined by the
    session's temporary tables, so that Snowpark's save_as_table (mode "append",
    overwrite_condition) and insert_into, which look the table up with SHOW TABLES LIKE, find a
    temporary one."""
    if not isinstance(expression, exp.Select):
        return expression
    for table in expression.find_all(exp.Table):
        if table.name == _SHOW_TABLES and (temporary := _temporary_rows(conn)) is not None:
            listed = exp.union(exp.select("*").from_(table.copy()), temporary, distinct=False)
            table.replace(listed.subquery(_SHOW_TABLES))
            break
    return expression
