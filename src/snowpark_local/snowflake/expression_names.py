"""Snowflake's name for an unaliased expression in a SELECT list: its text as written, upper-cased.

Snowflake names such a column by the expression's own text (Snowflake docs, "SELECT": "If no
alias is specified, the column name is the expression"), with what is outside double-quoted
identifiers upper-cased and the spacing kept: `abs(a)` is ABS(A), `a + 2` is A + 2,
`cast(a as string)` is CAST(A AS STRING). DuckDB names it by its own rendering ((a + 2),
CAST(a AS VARCHAR)), so each such projection, of every SELECT of the statement (a subquery's
names are what the outer query refers to), is given that name as an alias before fakesnow reads
the statement. A bare or qualified column keeps its own name, and `*` is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

# Where a SELECT list ends, at the list's own parenthesis depth.
_LIST_ENDS = {
    TokenType.FROM,
    TokenType.WHERE,
    TokenType.GROUP_BY,
    TokenType.HAVING,
    TokenType.ORDER_BY,
    TokenType.LIMIT,
    TokenType.QUALIFY,
    TokenType.UNION,
    TokenType.EXCEPT,
    TokenType.INTERSECT,
    TokenType.WINDOW,
    TokenType.INTO,
    TokenType.SEMICOLON,
    TokenType.FETCH,
    TokenType.OFFSET,
    TokenType.CONNECT_BY,
    TokenType.START_WITH,
    TokenType.SELECT,  # SELECT a UNION SELECT b has no parentheses
}
_LEADING = {TokenType.DISTINCT, TokenType.ALL, TokenType.TOP}


@dataclass
class _List:
    """A SELECT list being read: its depth and the token spans of its items."""

    depth: int
    skip: bool = False  # the count after TOP
    current: list[int] = field(default_factory=list)  # token indexes of the item being read
    items: list[tuple[int, int]] = field(default_factory=list)

    def finish(self) -> None:
        if self.current:
            self.items.append((self.current[0], self.current[-1]))
        self.current = []


def _select_items(tokens: list[Token]) -> list[tuple[int, int]]:
    """The (first, last) token indexes of every item of every SELECT list, found by depth of
    parentheses: an item ends at a comma or at the token that ends the list, at its depth."""
    lists: list[_List] = []
    spans: list[tuple[int, int]] = []
    depth = 0

    def close(select: _List) -> None:
        select.finish()
        lists.remove(select)
        spans.extend(select.items)

    for index, token in enumerate(tokens):
        kind = token.token_type
        own = lists[-1] if lists and lists[-1].depth == depth else None
        if own is not None and own.skip:
            own.skip = False
            continue
        if own is not None and not (own.current or own.items) and kind in _LEADING:
            own.skip = kind == TokenType.TOP
            continue
        if kind == TokenType.R_PAREN:
            for select in [s for s in lists if s.depth == depth]:
                close(select)
            depth -= 1
        elif own is not None and kind == TokenType.COMMA:
            own.finish()
            continue
        elif own is not None and kind in _LIST_ENDS:
            close(own)
        for select in lists:
            select.current.append(index)
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.SELECT:
            lists.append(_List(depth))
    for select in list(lists):
        close(select)
    return spans


def _name(sql: str, tokens: list[Token]) -> str:
    """Snowflake's column name for the tokens' text: upper-cased outside quoted identifiers."""
    parts = []
    for before, token in zip([None, *tokens], tokens, strict=False):
        if before is not None:
            parts.append(sql[before.end + 1 : token.start])
        text = sql[token.start : token.end + 1]
        quoted = token.token_type == TokenType.IDENTIFIER and text.startswith('"')
        parts.append(text if quoted else text.upper())
    return "".join(parts)


def _named(projection: exp.Expression) -> bool:
    return isinstance(projection, (exp.Alias, exp.Column, exp.Star)) or (
        isinstance(projection, exp.Dot) and isinstance(projection.expression, exp.Star)
    )


def name_expressions(sql: str) -> str:
    """`sql` with each unaliased expression of its SELECT lists aliased by Snowflake's name."""
    try:
        tokens = Snowflake().tokenize(sql)
        tree = Snowflake().parser().parse(tokens, sql)[0]
    except SqlglotError:
        return sql  # fakesnow reports it
    if tree is None:
        return sql
    spans = _select_items(tokens)
    aliases: dict[int, str] = {}
    for select in tree.find_all(exp.Select):
        for projection in select.expressions:
            if _named(projection):
                continue
            starts = [
                node.meta["start"]
                for node in projection.walk()
                if node._meta and "start" in node._meta and node.parent_select is select
            ]
            if not starts:
                continue
            containing = [
                (first, last)
                for first, last in spans
                if tokens[first].start <= starts[0] <= tokens[last].end
            ]
            if not containing:
                continue
            first, last = min(containing, key=lambda span: span[1] - span[0])
            name = _name(sql, tokens[first : last + 1])
            aliases[tokens[last].end + 1] = ' AS "' + name.replace('"', '""') + '"'
    for at in sorted(aliases, reverse=True):
        sql = sql[:at] + aliases[at] + sql[at:]
    return sql
