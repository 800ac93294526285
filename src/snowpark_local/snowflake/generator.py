"""TABLE(GENERATOR(ROWCOUNT => n)) in parentheses, as Snowpark's session.range sends it:
`SELECT (ROW_NUMBER() OVER (ORDER BY SEQ8()) - 1) * step + start FROM (TABLE(GENERATOR(...)))`.

Snowflake (GENERATOR and SEQ1 / SEQ2 / SEQ4 / SEQ8 pages): GENERATOR makes ROWCOUNT rows, and the
parentheses around a table reference change nothing. sqlglot turns the bare form into DuckDB's
range(n) with SEQn() read from its column; in parentheses it stays a subquery `(RANGE(n))`, which
DuckDB rejects, so the parentheses are dropped.
"""

from __future__ import annotations

from sqlglot import exp


def unwrap_generator(node):
    if (
        isinstance(node, exp.Subquery)
        and isinstance(node.this, exp.TableFromRows)
        and isinstance(node.this.this, exp.Generator)
        and isinstance(node.parent, exp.From)
    ):
        table = node.this
        if node.args.get("alias") and not table.args.get("alias"):
            table.set("alias", node.args["alias"])
        return table
    return node
