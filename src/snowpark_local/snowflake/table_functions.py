"""Snowflake's table functions SPLIT_TO_TABLE and FLATTEN in FROM, joined laterally.

Snowflake ("Table functions", "Using table functions"): a table function after a comma in FROM,
as TABLE(f(...)) or LATERAL f(...), is implicitly lateral: it runs once per row of what precedes
it, and its rows come in that order. "SPLIT_TO_TABLE" returns SEQ (a number per input row),
INDEX (from 1) and VALUE; "FLATTEN" returns SEQ, KEY, PATH, INDEX (from 0), VALUE and THIS, with
its PATH, OUTER and MODE arguments (RECURSIVE is refused). DuckDB parses neither, so `before`
(ahead of fakesnow's transform) numbers the preceding rows and leaves a placeholder whose
arguments fakesnow still transforms, and `after` turns the placeholder into a DuckDB LATERAL
subquery, hides the helper columns from `*` and keeps the rows in Snowflake's order.
"""

from __future__ import annotations

import snowflake.connector.errors
from fakesnow import transforms as fakesnow_transforms
from sqlglot import exp, parse_one

PLACEHOLDER = "_TUTORIAL_TABLE_FUNCTION_"
SEQ = "_TUTORIAL_SEQ_{}"  # the preceding row's number, a column added to what precedes
ORD = "_TUTORIAL_ORD_{}"  # the function's row order, a last column of its own

_SPLIT = """LATERAL (SELECT {seq} AS "SEQ", "_i" AS "INDEX", "_parts"["_i"] AS "VALUE",
  "_i" AS "{ord}"
  FROM (SELECT "_parts", UNNEST(RANGE(1, LEN("_parts") + 1)) AS "_i"
    FROM (SELECT CASE WHEN _s IS NULL THEN NULL WHEN _d = '' THEN [_s]
      ELSE STRING_SPLIT(_s, _d) END AS "_parts")))"""

_FLATTEN = """LATERAL (SELECT {seq} AS "SEQ", CASE WHEN "_o" THEN "_k"["_i" + 1] END AS "KEY",
  CASE WHEN "_i" IS NULL THEN NULL
    WHEN "_o" AND REGEXP_MATCHES("_k"["_i" + 1], '^[A-Za-z_][A-Za-z0-9_]*$')
      THEN _p || CASE WHEN _p = '' THEN '' ELSE '.' END || "_k"["_i" + 1]
    WHEN "_o" THEN _p || '[''' || "_k"["_i" + 1] || ''']'
    ELSE _p || '[' || "_i" || ']' END AS "PATH",
  CASE WHEN NOT "_o" THEN "_i" END AS "INDEX", "_v"["_i" + 1] AS "VALUE", "_j" AS "THIS",
  "_i" AS "{ord}"
  FROM (SELECT "_j", "_o", "_k", "_v",
      UNNEST(CASE WHEN LEN("_v") = 0 AND _outer THEN [NULL] ELSE RANGE(LEN("_v")) END) AS "_i"
    FROM (SELECT "_j", "_o",
        CASE WHEN "_o" THEN MAP_KEYS(CAST("_j" AS MAP(VARCHAR, JSON))) END AS "_k",
        CASE WHEN "_o" THEN MAP_VALUES(CAST("_j" AS MAP(VARCHAR, JSON)))
          WHEN JSON_TYPE("_j") = 'ARRAY' AND _mode <> 'OBJECT' THEN CAST("_j" AS JSON[])
          ELSE [] END AS "_v"
      FROM (SELECT "_j", COALESCE(JSON_TYPE("_j") = 'OBJECT' AND _mode <> 'ARRAY', FALSE) AS "_o"
        FROM (SELECT CAST(_input AS JSON) AS "_j")))))"""


def _unsupported(what: str):
    return snowflake.connector.errors.ProgrammingError(
        msg=f"The local stack does not support {what}; a Snowflake account does.",
        errno=2,
        sqlstate="0A000",
    )


def _call(node) -> tuple[exp.Expression | None, exp.Window | None]:
    """The table function a FROM item calls (SPLIT_TO_TABLE or FLATTEN), and its OVER clause."""
    if isinstance(node, exp.Subquery) and not node.alias:
        node = node.this  # FROM (TABLE(f(...))), as Session.table_function sends it
    if not isinstance(node, (exp.TableFromRows, exp.Lateral)):
        return None, None
    call, window = node.this, None
    if isinstance(call, exp.Window):
        call, window = call.this, call
    if isinstance(call, (exp.SplitToTable, exp.Explode)):
        return call, window
    return None, None


def _kwargs(call: exp.Explode) -> dict[str, exp.Expression]:
    named = {"INPUT": call.this}
    for position, arg in enumerate([call.this, *call.expressions]):
        if isinstance(arg, exp.Kwarg):
            named[arg.this.name.upper()] = arg.expression
        else:
            named[["INPUT", "PATH", "OUTER", "RECURSIVE", "MODE"][position]] = arg
    return named


def _placeholder(call, number: int, seq: exp.Expression) -> exp.Anonymous:
    if isinstance(call, exp.SplitToTable):
        return exp.Anonymous(
            this=f"{PLACEHOLDER}SPLIT_{number}", expressions=[seq, call.this, call.expression]
        )
    named = _kwargs(call)
    recursive = named.get("RECURSIVE")
    if recursive is not None and not (isinstance(recursive, exp.Boolean) and not recursive.this):
        raise _unsupported("FLATTEN with RECURSIVE => TRUE")
    path = named.get("PATH") or exp.Literal.string("")
    input_ = named["INPUT"]
    if not (isinstance(path, exp.Literal) and path.this == ""):
        get_path = parse_one(f"GET_PATH(_input, {path.sql('snowflake')})", read="snowflake")
        input_ = get_path.transform(lambda n: input_.copy() if n.name == "_input" else n)
    return exp.Anonymous(
        this=f"{PLACEHOLDER}FLATTEN_{number}",
        expressions=[
            seq,
            input_,
            path,
            named.get("OUTER") or exp.false(),
            named.get("MODE") or exp.Literal.string("BOTH"),
        ],
    )


def _numbered(item: exp.Expression, name: str, window: exp.Window | None) -> exp.Expression:
    """`item` with its rows numbered in a column `name`, under the alias it was known by."""
    if item.args.get("alias"):
        alias = item.args["alias"].this.copy()  # quoted or not, as it was written
    elif isinstance(item, exp.Table):
        alias = item.this.copy()
    else:
        alias = exp.to_identifier(f"_TUTORIAL_LEFT_{name}")
    order = []
    if window is not None:
        order = [p.copy() for p in window.args.get("partition_by") or []]
        if window.args.get("order"):
            order += [o.copy() for o in window.args["order"].expressions]
    over = exp.Window(
        this=exp.RowNumber(),
        order=exp.Order(expressions=order) if order else None,
    )
    for column in order:
        for part in column.find_all(exp.Column):
            part.set("table", None)  # read inside the wrapper, where only `item`'s names are
    inner = item.copy()
    inner.set("alias", exp.TableAlias(this=exp.to_identifier("_TUTORIAL_ROWS")))
    select = exp.select(exp.Star(), exp.alias_(over, name, quoted=True)).from_(inner)
    return exp.Subquery(this=select, alias=exp.TableAlias(this=alias))


def before(expression: exp.Expression) -> exp.Expression:
    """Placeholders for the table functions in FROM, the rows before them numbered."""
    number = 0
    for select in list(expression.find_all(exp.Select)):
        from_ = select.args.get("from_")
        if from_ is None:
            continue
        items = [from_, *(select.args.get("joins") or [])]
        for position, holder in enumerate(items):
            call, window = _call(holder.this)
            if call is None:
                continue
            if isinstance(call, exp.Explode):
                # Snowflake reads FLATTEN's VALUE::VARCHAR unquoted; fakesnow needs the FLATTEN.
                select.transform(fakesnow_transforms.flatten_value_cast_as_varchar, copy=False)
            number += 1
            seq: exp.Expression = exp.Literal.number(1)
            if position > 0:
                left = items[position - 1]
                name = SEQ.format(number)
                left.set("this", _numbered(left.this, name, window))
                alias = left.this.alias_or_name
                seq = exp.column(name, table=alias, quoted=True)
                seq.this.set("quoted", True)
                seq.args["table"].set("quoted", left.this.args["alias"].this.quoted)
            alias = holder.this.args.get("alias") or exp.TableAlias(
                this=exp.to_identifier(f"_TUTORIAL_F{number}")
            )
            holder.set("this", exp.Table(this=_placeholder(call, number, seq), alias=alias))
    return expression


def _lateral(function: exp.Anonymous) -> tuple[exp.Expression, str]:
    kind, number = function.name.removeprefix(PLACEHOLDER).rsplit("_", 1)
    seq, *args = function.expressions
    ord_ = ORD.format(number)
    if kind == "SPLIT":
        template, names = _SPLIT, ["_s", "_d"]
    else:
        template, names = _FLATTEN, ["_input", "_p", "_outer", "_mode"]
    sql = template.format(seq="_seq", ord=ord_)
    lateral = parse_one(f"SELECT * FROM t, {sql}", read="duckdb").args["joins"][0].this
    values = dict(zip(["_seq", *names], [seq, *args], strict=True))

    def fill(node):
        if isinstance(node, exp.Column) and not node.this.quoted and node.name in values:
            return values[node.name].copy()
        return node

    return lateral.transform(fill), ord_


def after(expression: exp.Expression) -> exp.Expression:
    """The placeholders as DuckDB LATERAL subqueries, in Snowflake's row order."""
    for table in list(expression.find_all(exp.Table)):
        function = table.this
        if not (isinstance(function, exp.Anonymous) and function.name.startswith(PLACEHOLDER)):
            continue
        lateral, ord_ = _lateral(function)
        alias = table.args["alias"]
        lateral.set("alias", alias)
        table.replace(lateral)
        select = lateral.find_ancestor(exp.Select)
        seq = function.expressions[0]
        hidden = {alias.name: ord_}
        if isinstance(seq, exp.Column):
            hidden[seq.table] = seq.name
        _hide(select, hidden)
        if not any(select.args.get(k) for k in ("order", "group", "distinct")) and not any(
            e.find(exp.AggFunc) for e in select.expressions
        ):
            keys = [seq.copy()] if isinstance(seq, exp.Column) else []
            keys.append(exp.column(ord_, table=alias.name, quoted=True))
            keys[-1].args["table"].set("quoted", alias.this.quoted)
            select.set("order", exp.Order(expressions=[exp.Ordered(this=k) for k in keys]))
    return expression


def _hide(select: exp.Select, hidden: dict[str, str]) -> None:
    """`*` and `alias.*` leave out the helper columns, as they are none of Snowflake's."""
    for star in select.expressions:
        if isinstance(star, exp.Star):
            names = list(hidden.values())
        elif isinstance(star, exp.Column) and isinstance(star.this, exp.Star):
            names = [hidden[star.table]] if star.table in hidden else []
            star = star.this
        else:
            continue
        excluded = star.args.get("except_") or []
        excluded += [exp.column(name, quoted=True) for name in names]
        star.set("except_", excluded)
