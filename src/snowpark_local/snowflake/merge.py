"""Snowflake's MERGE (docs: "MERGE"), run as DuckDB's own MERGE INTO.

Snowflake tries a row's WHEN clauses in order and the first that applies wins, as DuckDB's MERGE
does. It answers one row of counts: "number of rows inserted", "number of rows updated", "number
of rows deleted", a column for each action the clauses name, in that order (Snowpark's
MergeResult reads them so). fakesnow's own MERGE, statements over a join it builds, needs a named
source and fails on Snowpark's unnamed subquery; here the statement runs as one DuckDB MERGE that
returns each row's action, and a second statement answers the counts of those actions. Before
it, a MERGE that would update a target row joined to several source rows fails as Snowflake's
does by default (ERROR_ON_NONDETERMINISTIC_MERGE), with nothing changed; DuckDB would apply
each source row in turn.
"""

from __future__ import annotations

from fakesnow.transforms.merge import operations
from sqlglot import exp

_ACTIONS = {"inserted": "INSERT", "updated": "UPDATE", "deleted": "DELETE"}


DUPLICATE = "Duplicate row detected during DML action"


def _nondeterministic(expression: exp.Merge) -> exp.Expression | None:
    """A statement that fails with Snowflake's DUPLICATE message when a target row joins several
    source rows and one of them would update it (ERROR_ON_NONDETERMINISTIC_MERGE, TRUE by
    default); None when no WHEN MATCHED clause updates. Per target row, each joined source row
    takes the first WHEN MATCHED clause that applies; the merge is deterministic when those rows
    only delete, or exactly one updates and no other matches (Snowflake's "MERGE" page)."""
    matched = [
        when
        for when in expression.args.get("whens", exp.Whens()).expressions
        if when.args.get("matched")
    ]
    if not any(isinstance(when.args.get("then"), exp.Update) for when in matched):
        return None
    action = exp.Case(
        ifs=[
            exp.If(
                this=when.args["condition"].copy() if when.args.get("condition") else exp.true(),
                true=exp.Literal.string(
                    "U" if isinstance(when.args.get("then"), exp.Update) else "D"
                ),
            )
            for when in matched
        ]
    )
    target = expression.this
    name = target.alias_or_name
    pairs = (
        exp.select(exp.column("rowid", name).as_("target_row"), action.as_("action"))
        .from_(target.copy())
        .join(expression.args["using"].copy(), on=expression.args["on"].copy())
    )
    duplicated = (
        exp.select("1")
        .from_(pairs.subquery("pairs"))
        .group_by("target_row")
        .having("COUNT_IF(action = 'U') >= 1 AND COUNT(action) >= 2")
    )
    return exp.select(
        exp.Case(
            ifs=[
                exp.If(
                    this=exp.Exists(this=duplicated),
                    true=exp.func("ERROR", exp.Literal.string(DUPLICATE)),
                )
            ]
        ).as_("checked")
    )


def merge(expression: exp.Expression) -> list[exp.Expression]:
    """fakesnow's split of a MERGE: [the check of a nondeterministic update, when one may be, the
    MERGE returning its actions, the counts]."""
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
    check = _nondeterministic(expression)
    return [expression, counts] if check is None else [check, expression, counts]


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
