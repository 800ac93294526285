"""Snowflake's names and identifier case: RESULT_SCAN inside a query, case-sensitive quoted
identifiers."""

from __future__ import annotations

import re
import uuid

import fakesnow.transforms as fakesnow_transforms
from snowflake.connector.errors import ProgrammingError
from sqlglot import exp

from snowpark_local.patch import upstream

from .sessions import quoted


def _split_identifier(text: str) -> list[tuple[str, bool]]:
    """`"DB"."SCHEMA"."T"` or `db.t` as (name, quoted) parts; quoted parts may hold dots."""
    parts = re.findall(r'"((?:[^"]|"")*)"|([^."]+)', text)
    return [(q.replace('""', '"'), True) if q else (u, False) for q, u in parts]


def identifier(expression, params):
    """fakesnow's IDENTIFIER(?), which takes `"DB"."SCHEMA"."T"` for one quoted name."""
    table = upstream(fakesnow_transforms, "identifier")(expression, params)
    name = table.this if isinstance(table, exp.Table) else None
    if table is expression or not (isinstance(name, exp.Identifier) and name.quoted):
        return table
    parts = _split_identifier(f'"{name.this}"')
    if not 1 < len(parts) <= 3:
        return table
    idents = [exp.Identifier(this=n, quoted=q) for n, q in parts]
    keys = ["catalog", "db", "this"][-len(idents) :]
    return exp.Table(**dict(zip(keys, idents, strict=True)))


# --- Snowflake's names, types and identifier case (issue 12, items 10, 11 and 12)


def result_scans(cursor, expression):
    """RESULT_SCAN anywhere in a query, e.g. Snowpark's `SELECT "name" FROM (SELECT * FROM
    TABLE(RESULT_SCAN(id)))` after LS; fakesnow answers only SELECT * FROM TABLE(RESULT_SCAN(id)).

    The cached result is given to DuckDB as a view of that Arrow table.
    """
    if fakesnow_transforms.result_scan(expression.copy()).args.get("result_scan_sfqid"):
        return expression  # fakesnow's own case
    for node in list(expression.find_all(exp.TableFromRows)):
        call = node.this
        if not (
            isinstance(call, exp.Anonymous)
            and call.name.upper() == "RESULT_SCAN"
            and call.expressions
            and isinstance(call.expressions[0], exp.Literal)
        ):
            continue
        sfqid = call.expressions[0].this
        cached = cursor._conn.results_cache.get(sfqid)
        if cached is None:
            raise ProgrammingError(msg=f"Statement {sfqid} not found", errno=709, sqlstate="02000")
        view = f"_tutorial_result_{uuid.uuid5(uuid.NAMESPACE_OID, sfqid).hex}"
        cursor._duck_conn.register(view, cached[0])
        node.replace(
            exp.Table(this=exp.to_identifier(view, quoted=True), alias=node.args.get("alias"))
        )
    return expression


def _resolved(ident: exp.Identifier) -> str:
    """The name Snowflake stores for an identifier: quoted as written, unquoted upper-cased.

    The one rule of identifier case here; DuckDB's catalog would match any case.
    """
    return ident.name if ident.quoted else ident.name.upper()


def _shown(ident: exp.Identifier) -> str:
    """An identifier as Snowflake's error messages show it."""
    return quoted(ident.name) if ident.quoted else ident.name.upper()


def _table_columns(cursor, table: exp.Table) -> list[str] | None:
    """The columns of the table `table` names, resolved as Snowflake resolves names; None when
    it names no table of the catalog (a view, a table function, a table DuckDB reports on its
    own). A table differing only in case, which DuckDB would use, is Snowflake's error 2003."""
    ident = table.this
    conn = cursor._conn
    catalog = table.catalog or conn.database
    schema = table.db or conn.schema
    if not isinstance(ident, exp.Identifier) or not catalog or not schema:
        return None
    wanted = _resolved(ident)
    names = [
        row[0]
        for row in cursor._duck_conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE upper(table_catalog) = "
            "upper(?) AND upper(table_schema) = upper(?) AND upper(table_name) = upper(?)",
            [catalog, schema, wanted],
        ).fetchall()
    ]
    if not names:
        return None
    if wanted not in names:
        raise ProgrammingError(
            msg=f"SQL compilation error:\nObject '{_shown(ident)}' does not exist or not "
            "authorized.",
            errno=2003,
            sqlstate="42S02",
        )
    return [
        row[0]
        for row in cursor._duck_conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE upper(table_catalog) = "
            "upper(?) AND upper(table_schema) = upper(?) AND table_name = ?",
            [catalog, schema, wanted],
        ).fetchall()
    ]


def check_identifier_case(cursor, expression) -> None:
    """Quoted identifiers are case-sensitive on Snowflake; DuckDB's catalog ignores case.

    A table or column named in a statement resolves (see _resolved) only to an object of exactly
    that name: one differing only in case, which DuckDB would use, is an error here as on
    Snowflake. That holds for the schema lookups too: DESCRIBE TABLE, SHOW COLUMNS IN TABLE, and
    the describe-only requests (DESCRIBE SELECT ...) that give Snowpark a DataFrame's schema.
    Names this cannot see (table functions, stages) are left to DuckDB.
    """
    if isinstance(expression, exp.Describe) and isinstance(expression.this, exp.Table):
        _table_columns(cursor, expression.this)
        return
    if isinstance(expression, exp.Show) and isinstance(expression.args.get("scope"), exp.Table):
        _table_columns(cursor, expression.args["scope"])
        return
    if isinstance(expression, exp.Describe):
        expression = expression.this  # a describe-only request: the query it describes
    if not isinstance(expression, (exp.Select, exp.Insert, exp.Update, exp.Delete, exp.Create)):
        return
    ctes = {cte.alias_or_name.upper() for cte in expression.find_all(exp.CTE)}
    target = expression.this if isinstance(expression, exp.Create) else None
    columns: list[str] = []
    complete = True  # every source is a table whose columns are known
    for table in expression.find_all(exp.Table):
        if table.name.upper() in ctes:
            complete = False
            continue
        if target is not None and (table is target or table.parent is target):
            continue
        found = _table_columns(cursor, table)
        if found is None:
            complete = False
            continue
        columns += found
    if not complete:
        return
    known = set(columns)
    aliases = [a.args.get("alias") for a in expression.find_all(exp.Alias)]
    aliases += [i for t in expression.find_all(exp.TableAlias) for i in t.columns]
    known |= {_resolved(i) for i in aliases if isinstance(i, exp.Identifier)}
    for column in expression.find_all(exp.Column):
        ident = column.this
        if not isinstance(ident, exp.Identifier):
            continue
        wanted = _resolved(ident)
        if wanted in known:
            continue
        if any(name.upper() == wanted.upper() for name in known):
            raise ProgrammingError(
                msg=f"SQL compilation error:\ninvalid identifier '{_shown(ident)}'",
                errno=904,
                sqlstate="42000",
            )
