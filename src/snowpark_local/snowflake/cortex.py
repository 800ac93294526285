"""Cortex AI functions, refused with one line.

Snowflake (Snowflake Cortex AISQL functions page): AI_COMPLETE, AI_AGG, AI_CLASSIFY, AI_FILTER,
AI_SENTIMENT, AI_SUMMARIZE_AGG, AI_EMBED, ... and SNOWFLAKE.CORTEX.COMPLETE, SENTIMENT, ... call
large language models hosted by Snowflake. The local stack has none, so a statement calling one
fails before it runs, naming the function, rather than with DuckDB's "does not exist".
"""

from __future__ import annotations

from snowflake.connector.errors import ProgrammingError
from sqlglot import exp


def _called(node) -> str | None:
    """The Cortex function `node` calls, as Snowflake names it, or None."""
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        prefix = node.this.sql("snowflake").upper() if node.this else ""
        if prefix == "SNOWFLAKE.CORTEX":
            return f"SNOWFLAKE.CORTEX.{node.expression.name.upper()}"
        return None
    if isinstance(node, exp.Func) and not isinstance(node.parent, exp.Dot):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        if name.upper().startswith("AI_"):
            return name.upper()
    return None


def refuse_cortex(expression) -> None:
    for node in expression.find_all(exp.Func, exp.Dot):
        if name := _called(node):
            raise ProgrammingError(
                msg=f"SQL compilation error:\nThe local stack has no Cortex AI: {name} and the "
                "other Cortex AI functions need a Snowflake account.",
                errno=2,
                sqlstate="0A000",
            )
