"""Snowflake's ASOF JOIN (docs: "ASOF JOIN") as DuckDB's ASOF LEFT JOIN.

`l ASOF JOIN r MATCH_CONDITION (l.t >= r.t) [ON l.k = r.k | USING (k)]`: for each left row the
closest right row that meets the match condition (>=, >, <=, <) and the equalities, or NULLs when
none does. DuckDB's ASOF JOIN takes the inequality in its ON, and is inner unless LEFT. A USING
join projects its columns once: DuckDB's ASOF USING takes only `>=` on a column of one name, so
the columns are compared in ON, and the query's `*` shows each USING column once, first (the left
side's value, which a left join always has) and unqualified names of them mean the left one.
"""

from __future__ import annotations

from sqlglot import exp


def _alias(source: exp.Expression | None) -> str | None:
    return source.alias_or_name if isinstance(source, (exp.Table, exp.Subquery)) else None


def asof_joins(expression: exp.Expression) -> exp.Expression:
    for join in list(expression.find_all(exp.Join)):
        if join.args.get("match_condition") is not None:
            _asof_join(join)
    return expression


def _asof_join(node: exp.Join) -> None:
    condition = node.args["match_condition"]
    node.set("match_condition", None)
    node.set("side", "LEFT")
    using = node.args.get("using") or []
    holder = node.parent  # the Select or the parenthesized left side that holds the joins
    joins = holder.args.get("joins") or [] if holder is not None else []
    if holder is None or joins[:1] != [node]:
        left = None  # a second join's left side is the joins before it
    elif isinstance(holder, exp.Select):
        left = _alias(holder.args["from_"].this)
    else:
        left = _alias(holder)
    right = _alias(node.this)
    if using and left and right:
        names = [i.name for i in using]
        node.set("using", None)
        equal = [
            exp.column(n, left, quoted=True).eq(exp.column(n, right, quoted=True)) for n in names
        ]
        node.set("on", exp.and_(condition, *equal))
        select = node.find_ancestor(exp.Select)
        if select is not None:
            _project_once(select, names, left, right)
        return
    node.set("on", exp.and_(condition, node.args["on"]) if node.args.get("on") else condition)


def _project_once(select: exp.Select, names: list[str], left: str, right: str) -> None:
    """`*` and unqualified names of the USING columns, as in Snowflake's USING join."""
    wanted = set(names)
    for column in list(select.find_all(exp.Column)):
        if (
            column.name in wanted
            and not column.table
            and column.find_ancestor(exp.Select) is select
            and not column.find_ancestor(exp.Join)
        ):
            column.set("table", exp.to_identifier(left, quoted=True))
    projections = []
    for projection in select.expressions:
        if isinstance(projection, exp.Star):
            hidden = [exp.column(n, side, quoted=True) for side in (left, right) for n in names]
            first = [exp.alias_(exp.column(n, left, quoted=True), n, quoted=True) for n in names]
            # the star keeps what it already leaves out: a user's EXCLUDE, hidden helper columns
            projection.set("except_", [*(projection.args.get("except_") or []), *hidden])
            projections += [*first, projection]
        else:
            projections.append(projection)
    select.set("expressions", projections)
