"""Snowflake's names, types and identifier case: RESULT_SCAN inside a query, exact SUM and AVG of
fixed-point numbers, case-sensitive quoted identifiers."""

from __future__ import annotations

import re
import uuid

import duckdb
import fakesnow.transforms as fakesnow_transforms
from snowflake.connector.errors import ProgrammingError
from sqlglot import exp, parse_one

from snowpark_local.patch import upstream

from .pivot import without_pivots
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


# --- IDENTIFIER(?) and the helpers of the SQL transform (sql.py)


def as_column(original: exp.Expression, replacement: exp.Expression, name: str):
    # A bare projection keeps Snowflake's column name, e.g. "CURRENT_USER()".
    if isinstance(original.parent, exp.Select) and original.arg_key == "expressions":
        return exp.alias_(replacement, name, quoted=True)
    return replacement


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


_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"}
_INTEGERS |= {"UINTEGER", "UBIGINT", "UHUGEINT"}


def exact_aggregates(cursor, expression):
    """SUM and AVG of fixed-point numbers stay fixed-point, as on Snowflake.

    fakesnow casts every SUM/AVG argument to DOUBLE (so that VARCHARs sum, as on Snowflake):
    SUM(NUMBER(38,0)) then loses digits. The argument types are asked of DuckDB (DESCRIBE of the
    same query with ANY_VALUE(argument) as columns); for numbers the cast is undone: SUM is
    then exact, NUMBER(38, s), and AVG is NUMBER(38, s') with Snowflake's division scale
    s' = max(s, min(s + 6, 12)), computed in integers (over a window or with FILTER: DuckDB's
    DOUBLE, typed so). In a correlated subquery, where the probe cannot run, fakesnow's DOUBLE
    stays.
    """
    for select in list(expression.find_all(exp.Select)):
        found = [
            node
            for node in select.find_all(exp.Sum, exp.Avg)
            if node.meta.get("tutorial_uncast")
            and node.parent_select is select
            and isinstance(node.this, exp.TryCast)
        ]
        if not found:
            continue
        probe = without_pivots(select.copy())
        for key in ("order", "having", "limit", "offset", "qualify", "distinct", "with"):
            probe.set(key, None)
        probe.set(
            "expressions",
            [exp.func("ANY_VALUE", node.this.this.copy()) for node in found],
        )
        probe = probe.transform(lambda e: exp.Null() if isinstance(e, exp.Placeholder) else e)
        try:
            types = [
                row[1]
                for row in cursor._duck_conn.execute(f"DESCRIBE {probe.sql('duckdb')}").fetchall()
            ]
        except duckdb.Error:
            continue  # e.g. a correlated subquery: fakesnow's DOUBLE stays
        for node, kind in zip(found, types, strict=True):
            scale = re.fullmatch(r"DECIMAL\(\d+,(\d+)\)", kind)
            if kind not in _INTEGERS and not scale:
                continue
            node.set("this", node.this.this)
            if isinstance(node, exp.Avg):
                s = int(scale[1]) if scale else 0
                s = max(s, min(s + 6, 12))
                if isinstance(node.parent, (exp.Window, exp.Filter)) or node.find_ancestor(
                    exp.Pivot
                ):
                    # AVG(...) OVER (...), FILTER (...) or in a PIVOT (one aggregate there):
                    # DuckDB's DOUBLE, typed as Snowflake's
                    outer = node
                    while isinstance(outer.parent, (exp.Window, exp.Filter)):
                        outer = outer.parent
                    to = exp.DataType.build(f"DECIMAL(38, {s})")
                    name = outer.sql("snowflake").upper()
                    outer.replace(as_column(outer, exp.Cast(this=outer.copy(), to=to), name))
                else:
                    node.replace(_exact_average(node.this, s))
    return expression


def _exact_average(argument, scale: int):
    """AVG(argument) as NUMBER(38, scale), rounded half away from zero, in integers.

    DuckDB's AVG is a DOUBLE, exact to about 16 digits only.
    """
    arg = argument.sql("duckdb")
    total = f"CAST(SUM({arg}) * {10**scale} AS HUGEINT)"
    count = f"COUNT({arg})"
    quotient = f"({total} * 2 + SIGN({total}) * {count}) // NULLIF({count} * 2, 0)"
    unit = f"CAST('{10**-scale:.{scale}f}' AS DECIMAL({scale + 1}, {scale}))"
    return parse_one(
        f"CAST(CAST({quotient} AS DECIMAL(38, 0)) * {unit} AS DECIMAL(38, {scale}))",
        read="duckdb",
    )


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
