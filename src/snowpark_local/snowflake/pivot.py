"""Snowflake's dynamic PIVOT and DEFAULT ON NULL (docs: "PIVOT"); DuckDB takes a value list only.

- `IN (ANY [ORDER BY ...])` pivots on every distinct value of the value column, NULL included, in
  the ORDER BY's order (without one, ascending as Snowflake answers it); `IN (subquery)` on the
  distinct values the subquery returns (in its ORDER BY's order, else ascending). The values are
  asked of the stack before the query runs and become the value list, so the columns are named as
  for a list: 'JAN' for a string, 3 for a number.
- `DEFAULT ON NULL (v)` replaces every NULL of the pivoted columns by v: COALESCE(aggregate, v).
- SUM/AVG inside a PIVOT keep their exact type: `without_pivots` lets fixed_point.fixed_point ask
  the argument's type of the pivot's input.
"""

from __future__ import annotations

import datetime
import decimal

from sqlglot import exp, parse_one


def _literal(value) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float, decimal.Decimal)):
        return exp.Literal.number(str(value))
    if isinstance(value, datetime.datetime):
        return exp.Literal.string(value.isoformat(sep=" "))
    if isinstance(value, (datetime.date, datetime.time)):
        return exp.Literal.string(value.isoformat())
    return exp.Literal.string(str(value))


def _values(cursor, query: exp.Select) -> list:
    """The distinct values `query` answers, in its order; asked of the stack as a query."""
    rows = cursor._conn.cursor().execute(query.sql("snowflake")).fetchall()
    found = []
    for (value,) in rows:
        if value not in found:
            found.append(value)
    return found


def _dynamic_values(cursor, pivot: exp.Pivot, field: exp.In) -> list | None:
    values = field.expressions
    source = pivot.parent
    if len(values) == 1 and isinstance(values[0], exp.PivotAny) and source is not None:
        origin = source.copy()
        origin.set("pivots", None)
        column = field.this.copy()
        order = values[0].this
        query = exp.select(column).distinct().from_(origin)
        query = query.order_by(*(order.expressions if order else [exp.Ordered(this=column.copy())]))
        return _values(cursor, query)
    subquery = field.args.get("query") or (
        values[0] if len(values) == 1 and isinstance(values[0], exp.Query) else None
    )
    if subquery is not None:
        inner = subquery.this if isinstance(subquery, exp.Subquery) else subquery
        if inner.args.get("order"):
            return _values(cursor, inner.copy())
        outer = exp.select("*").distinct().from_(inner.copy().subquery("_PIVOT_VALUES"))
        return _values(cursor, outer.order_by(exp.Literal.number(1)))
    return None


def pivots(cursor, expression: exp.Expression) -> exp.Expression:
    for pivot in list(expression.find_all(exp.Pivot)):
        if pivot.args.get("unpivot"):
            continue
        fields = pivot.args.get("fields") or []
        field = fields[0] if len(fields) == 1 and isinstance(fields[0], exp.In) else None
        found = _dynamic_values(cursor, pivot, field) if field is not None else None
        if found is not None:
            field.set("query", None)
            field.set("expressions", [_literal(v) for v in found])
            # the parser's names of the value columns, as for a written list
            aggregates = ", ".join(a.sql("snowflake") for a in pivot.expressions)
            values = ", ".join(v.sql("snowflake") for v in field.expressions) or "NULL"
            fresh = parse_one(
                f"SELECT * FROM _ PIVOT({aggregates} FOR {field.this.sql('snowflake')} "
                f"IN ({values}))",
                read="snowflake",
            ).find(exp.Pivot)
            pivot.set("columns", fresh.args.get("columns"))
        default = pivot.args.get("default_on_null")
        if isinstance(default, exp.Expression):
            pivot.set("default_on_null", None)
            pivot.set(
                "expressions",
                [_coalesced(a, default) for a in pivot.expressions],
            )
    return expression


def _coalesced(aggregate: exp.Expression, default: exp.Expression) -> exp.Expression:
    if isinstance(aggregate, exp.Alias):
        return exp.alias_(_coalesced(aggregate.this, default), aggregate.alias)
    return exp.func("COALESCE", aggregate, default.copy())


def without_pivots(probe: exp.Select) -> exp.Select:
    """A copy of a query's own level without its PIVOTs, for asking the aggregates' input types."""
    own = [p for p in probe.find_all(exp.Pivot) if p.parent_select is probe]
    for pivot in own:
        pivot.pop()
    if own:  # its filters and groups name the pivot's output columns
        for key in ("where", "group"):
            probe.set(key, None)
    return probe
