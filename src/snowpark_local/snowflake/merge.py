"""Snowflake's MERGE (docs: "MERGE"), run as DuckDB's own MERGE INTO.

Snowflake tries a row's WHEN clauses in order and the first that applies wins, as DuckDB's MERGE
does. It answers one row of counts: "number of rows inserted", "number of rows updated", "number
of rows deleted", a column for each action the clauses name, in that order (Snowpark's
MergeResult reads them so). fakesnow's own MERGE, statements over a join it builds, needs a named
source and fails on Snowpark's unnamed subquery; here the statement runs as one DuckDB MERGE that
returns each row's action, and a second statement answers the counts of those actions.
"""

from __future__ import annotations

from fakesnow.transforms.merge import operations
from sqlglot import exp

_ACTIONS = {"inserted": "INSERT", "updated": "UPDATE", "deleted": "DELETE"}


def merge(expression: exp.Expression) -> list[exp.Expression]:
    """fakesnow's split of a MERGE: [the MERGE returning its actions, the counts]."""
    if not isinstance(expression, exp.Merge):
        return [expression]
    for when in expression.args.get("whens", exp.Whens()).expressions:
        then = when.args.get("then")
        if isinstance(then, exp.Update):
            for assignment in then.expressions:
                # DuckDB's SET names a column of the target, without its table.
                if isinstance(assignment.this, exp.Column):
                    assignment.set("this", exp.column(assignment.this.this))
    expression.set("returning", exp.Returning(expressions=[exp.column("merge_action")]))
    names = [op for op, clauses in operations(expression).items() if clauses]
    counts = exp.select(
        *(exp.alias_(exp.Literal.number(0), f"number of rows {n}", quoted=True) for n in names)
    )
    counts.set("merge_counts", True)  # fakesnow's mark: the rows affected are the counts' sum
    return [expression, counts]


def merge_counts(cursor, expression: exp.Expression) -> exp.Expression:
    """The counts statement of `merge`, answered from the actions the MERGE just returned."""
    if not expression.args.get("merge_counts") or not isinstance(expression, exp.Select):
        return expression
    returned = cursor._arrow_table
    actions = returned.column("merge_action").to_pylist() if returned is not None else []
    for column in expression.expressions:
        op = column.alias.removeprefix("number of rows ")
        column.set("this", exp.Literal.number(actions.count(_ACTIONS[op])))
    return expression
