"""ORDER BY ALL, which Snowpark's df.sort() sends with no columns.

Snowflake (ORDER BY page): ORDER BY ALL [ASC | DESC] [NULLS FIRST | LAST] sorts by every column of
the select list, left to right, in that direction. sqlglot reads the keyword as a column named ALL
and quotes it for DuckDB, which has the same ORDER BY ALL; a quoted "ALL" stays a column.
"""

from __future__ import annotations

from sqlglot import exp


def order_by_all(node):
    if (
        isinstance(node, exp.Order)
        and isinstance(node.parent, exp.Query)
        and len(node.expressions) == 1
        and isinstance(node.expressions[0], exp.Ordered)
    ):
        column = node.expressions[0].this
        if (
            isinstance(column, exp.Column)
            and not column.table
            and not column.this.quoted
            and column.name.upper() == "ALL"
        ):
            column.replace(exp.var("ALL"))
    return node
