"""Snowflake's identifiers: how a name resolves, and the errors a name that resolves to nothing
gets.

Snowflake (Identifier requirements): an unquoted identifier is stored upper-cased, a quoted one as
written, and a quoted identifier is case-sensitive; DuckDB's catalog matches any case, so a table
or column differing only in case is refused here as Snowflake refuses it. A column that no table
in scope has is Snowflake's `000904 (42000): SQL compilation error: error line L at position P`
and `invalid identifier 'NAME'` (Error messages of SELECT), where L and P (from 0) place the name
in the statement as the client sent it and NAME is shown as Snowflake resolves it (upper case
unquoted, in double quotes otherwise); DuckDB's binder error for it is put in those words. Also
here: IDENTIFIER(?) with a qualified quoted name, and RESULT_SCAN anywhere in a query.
"""

from __future__ import annotations

import re
import uuid

import fakesnow.transforms as fakesnow_transforms
from snowflake.connector.errors import ProgrammingError
from sqlglot import exp
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.tokens import TokenType

from snowpark_local.patch import upstream

# --- How a name resolves, and how Snowflake's messages show it


def resolved(ident) -> str | None:
    """The name Snowflake stores for an identifier: quoted as written, unquoted upper-cased; None
    for what is not an identifier.

    The one rule of identifier case here; DuckDB's catalog would match any case.
    """
    if not isinstance(ident, exp.Identifier):
        return None
    return ident.name if ident.quoted else ident.name.upper()


def shown(name: str) -> str:
    """A resolved name as Snowflake's error messages show it: bare when it needs no quotes."""
    return name if re.fullmatch(r"[A-Z_][A-Z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


# --- 000904: invalid identifier, with its place in the statement as sent

_UNKNOWN = re.compile(
    r'Binder Error: (?:Referenced column "(?P<name>(?:[^"]|"")+)" (?:was )?not found'
    r'|(?:Table|Values list) "(?P<table>(?:[^"]|"")+)" does not have a column named '
    r'"(?P<column>(?:[^"]|"")+)")'
)


class InvalidIdentifier(ProgrammingError):
    """A name no table in scope has (`names`: resolved, qualifier first); errors.server_errors
    places it in the statement as sent (see invalid_identifier)."""

    def __init__(self, names: list[str]):
        self.names = names
        super().__init__(
            msg=f"SQL compilation error:\ninvalid identifier '{'.'.join(map(shown, names))}'",
            errno=904,
            sqlstate="42000",
        )


def _place(command: str, names: list[str]) -> tuple[int, int]:
    """Line (from 1) and position (from 0) of the first `names[0].names[1]...` in `command`."""
    try:
        tokens = Snowflake().tokenize(command)
    except Exception:  # noqa: BLE001 - the statement ran, so this is only a fallback
        return 1, 0

    def same(token, name: str) -> bool:
        if token.token_type == TokenType.IDENTIFIER:
            return token.text == name
        return token.token_type != TokenType.STRING and token.text.upper() == name

    span = 2 * len(names) - 1  # NAME, or TABLE . NAME
    for i in range(len(tokens) - span + 1):
        window = tokens[i : i + span]
        if all(same(t, n) for t, n in zip(window[::2], names, strict=True)) and all(
            t.token_type == TokenType.DOT for t in window[1::2]
        ):
            start = window[0].start
            return command.count("\n", 0, start) + 1, start - (command.rfind("\n", 0, start) + 1)
    return 1, 0


def invalid_identifier(error: ProgrammingError, command: str) -> ProgrammingError | None:
    """Snowflake's 000904, placed in `command` (the statement as the client sent it), for an
    InvalidIdentifier or DuckDB's unknown-column binder error; None for another error."""
    if isinstance(error, InvalidIdentifier):
        names = error.names
    elif found := _UNKNOWN.search(error.raw_msg or ""):
        parts = [found["name"]] if found["name"] else [found["table"], found["column"]]
        names = [part.replace('""', '"') for part in parts]
    else:
        return None
    line, position = _place(command, names)
    return ProgrammingError(
        msg=f"SQL compilation error: error line {line} at position {position}\n"
        f"invalid identifier '{'.'.join(map(shown, names))}'",
        errno=904,
        sqlstate="42000",
    )


# --- IDENTIFIER(?)


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


# --- RESULT_SCAN inside a query


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


# --- Identifier case


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
    wanted = resolved(ident)
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
            msg=f"SQL compilation error:\nObject '{shown(wanted)}' does not exist or not "
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

    A table or column named in a statement resolves (see resolved) only to an object of exactly
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
    known |= {resolved(i) for i in aliases if isinstance(i, exp.Identifier)}
    for column in expression.find_all(exp.Column):
        ident = column.this
        if not isinstance(ident, exp.Identifier):
            continue
        wanted = resolved(ident)
        if wanted in known:
            continue
        if any(name.upper() == wanted.upper() for name in known):
            qualifier = resolved(column.args.get("table"))
            raise InvalidIdentifier([qualifier, wanted] if qualifier else [wanted])
