"""Whether a result column can be NULL, as Snowflake's result metadata says it.

Snowflake describes each column of a query's result with `nullable` (the `null?` column of
DESCRIBE RESULT, Snowflake docs "DESCRIBE RESULT"): false where it knows the column holds no
NULL, e.g. a table column declared NOT NULL ("CREATE TABLE", NOT NULL), a column of VALUES
whose rows are all non-NULL literals, a non-NULL literal or a CAST of one. fakesnow says
nullable everywhere, and DuckDB's own answer is wrong across an outer join, so the statement is
read here, before fakesnow changes it, conservatively: a column is not nullable only when it is
one of the above, or a column of a source (table, VALUES, subquery, CTE) that is so and is not
on the NULL side of an outer join (an ASOF JOIN's right side is one), nor a grouping column of
ROLLUP, CUBE or GROUPING SETS; `*` keeps them, less its EXCLUDE, with its REPLACE's expressions.
Anything else is nullable.

The answer for the statement a cursor last read is kept on the cursor; its describe calls
(`_describe_only` for a describe-only request, `_describe_last_sql` after a statement ran)
mark the `null` column of DuckDB's DESCRIBE rows with it, and `describe_as_rowtype` sends it.
"""

from __future__ import annotations

import duckdb
import fakesnow.server as fakesnow_server
from fakesnow.cursor import FakeSnowflakeCursor
from sqlglot import exp

from snowpark_local.patch import upstream

from .identifiers import resolved as _resolved

_KEY = "tutorial_not_null"

Columns = list[tuple[str | None, bool]]  # (name as resolved, certainly not NULL)


class _Reader:
    def __init__(self, cursor, ctes: dict[str, exp.Expression]):
        self.cursor = cursor
        self.ctes = ctes

    def query(self, node) -> Columns | None:
        """The columns of a query, or None when they are not known."""
        if isinstance(node, exp.Subquery):
            return self.query(node.this)
        if isinstance(node, exp.SetOperation):
            left, right = self.query(node.this), self.query(node.expression)
            if left is None or right is None or len(left) != len(right):
                return None
            if isinstance(node, exp.Union):
                return [(n, a and b) for (n, a), (_, b) in zip(left, right, strict=True)]
            return left  # EXCEPT, INTERSECT: rows of the left side
        if isinstance(node, exp.Values):
            return self.values(node)
        if isinstance(node, exp.Select):
            return self.select(node)
        return None

    def values(self, node: exp.Values) -> Columns | None:
        rows = [
            row.expressions if isinstance(row, exp.Tuple) else [row] for row in node.expressions
        ]
        if not rows or any(len(row) != len(rows[0]) for row in rows):
            return None
        alias = node.args.get("alias")
        names = [_resolved(i) for i in alias.columns] if alias and alias.columns else []
        names += [f"COLUMN{i}" for i in range(len(names) + 1, len(rows[0]) + 1)]
        return [
            (names[i], all(self.expression(row[i], []) for row in rows))
            for i in range(len(rows[0]))
        ]

    def table(self, table: exp.Table) -> Columns | None:
        name = _resolved(table.this)
        if name is None:
            return None
        if not table.args.get("db") and name.upper() in self.ctes:
            cte = self.ctes.pop(name.upper())  # not itself inside its own body
            try:
                return self.query(cte)
            finally:
                self.ctes[name.upper()] = cte
        conn = self.cursor._conn
        catalog = table.catalog or conn.database
        schema = table.db or conn.schema
        if not catalog or not schema:
            return None
        rows = self.cursor._duck_conn.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns WHERE "
            "upper(table_catalog) = upper(?) AND upper(table_schema) = upper(?) AND "
            "table_name = ? ORDER BY ordinal_position",
            [catalog, schema, name],
        ).fetchall()
        return [(column, nullable == "NO") for column, nullable in rows] or None

    def source(self, node) -> Columns | None:
        if isinstance(node, exp.Table):
            return self.table(node)
        if isinstance(node, (exp.Subquery, exp.Values)):
            return self.query(node)
        return None

    def select(self, select: exp.Select) -> Columns | None:
        sources: list[tuple[str | None, Columns | None]] = []
        from_ = select.args.get("from_")
        joins = select.args.get("joins") or []
        nodes = ([from_.this] if from_ else []) + [join.this for join in joins]
        for node in nodes:
            alias = node.args.get("alias")
            name = _resolved(alias.this) if alias else None
            if name is None and isinstance(node, exp.Table):
                name = _resolved(node.this)
            sources.append((name, self.source(node)))
        for index, join in enumerate(joins, start=1):
            side = join.side.upper() if join.side else ""
            if join.args.get("match_condition") is not None:
                side = "LEFT"  # ASOF JOIN: a left row without a match gets NULLs
            null_side = {"LEFT": [index], "RIGHT": range(index), "FULL": range(index + 1)}
            for at in null_side.get(side, []):
                columns = sources[at][1]
                sources[at] = (sources[at][0], [(n, False) for n, _ in columns or []] or None)
        group = select.args.get("group")
        grouping_sets = group is not None and bool(
            group.find(exp.Rollup, exp.Cube, exp.GroupingSets)
        )
        scope = [] if grouping_sets else sources
        result: Columns = []
        for projection in select.expressions:
            if isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            ):
                star = projection if isinstance(projection, exp.Star) else projection.this
                columns = self.star(star, _resolved(projection.args.get("table")), sources, scope)
                if columns is None:
                    return None
                result += columns
                continue
            name = None
            if isinstance(projection, exp.Alias):
                name = _resolved(projection.args.get("alias"))
            elif isinstance(projection, exp.Column):
                name = _resolved(projection.this)
            result.append((name, not grouping_sets and self.expression(projection, scope)))
        return result

    def star(self, star: exp.Star, wanted, sources, scope) -> Columns | None:
        """The columns of `*` or `wanted.*`, with its EXCLUDE, REPLACE and RENAME."""
        if star.args.get("ilike"):
            return None
        picked = [(n, c) for n, c in sources if wanted is None or n == wanted]
        if not picked or any(c is None for _, c in picked):
            return None
        excluded = [
            (_resolved(e.args.get("table")), _resolved(e.this))
            for e in star.args.get("except_") or []
            if isinstance(e, exp.Column)
        ]
        replaced = {
            _resolved(r.args.get("alias")): self.expression(r.this, scope)
            for r in star.args.get("replace") or []
        }
        renamed = {
            _resolved(r.this.this): _resolved(r.args.get("alias"))
            for r in star.args.get("rename") or []
            if isinstance(r.this, exp.Column)
        }
        result: Columns = []
        for source, columns in picked:
            for name, not_null in columns or []:
                if any(name == n and t in (None, source) for t, n in excluded):
                    continue
                result.append((renamed.get(name, name), replaced.get(name, not_null)))
        return result

    def expression(self, node, scope: list[tuple[str | None, Columns | None]]) -> bool:
        """Whether `node` is certainly not NULL."""
        if isinstance(node, (exp.Alias, exp.Paren, exp.Cast)) and not isinstance(node, exp.TryCast):
            return self.expression(node.this, scope)
        if isinstance(node, exp.Literal) or isinstance(node, exp.Boolean):
            return True
        if isinstance(node, exp.Neg):
            return isinstance(node.this, exp.Literal)
        if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Literal):
            # $n: the n-th column of the only source
            if len(scope) != 1 or not node.this.this.isdigit():
                return False
            ((_, columns),) = scope
            position = int(node.this.this)
            return bool(columns) and 1 <= position <= len(columns) and columns[position - 1][1]
        if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier):
            name, table = _resolved(node.this), _resolved(node.args.get("table"))
            found = [
                not_null
                for source, columns in scope
                if table is None or source == table
                for column, not_null in columns or []
                if column == name
            ]
            return len(found) == 1 and found[0]
        return False


def _query(expression):
    if isinstance(expression, exp.Describe):
        expression = expression.this
    return expression if isinstance(expression, (exp.Query, exp.Values)) else None


def remember(cursor, expression) -> None:
    """Keep on the cursor which result columns of `expression` (or the query a DESCRIBE of a
    query names) are certainly not NULL, before fakesnow's transform changes it."""
    query = _query(expression)
    answer = None
    if query is not None:
        ctes = {cte.alias_or_name.upper(): cte.this for cte in query.find_all(exp.CTE)}
        try:
            columns = _Reader(cursor, ctes).query(query)
        except duckdb.Error:
            columns = None  # e.g. a catalog fakesnow has not attached: all nullable
        answer = [not_null for _, not_null in columns] if columns else None
    cursor.__dict__[_KEY] = answer


def not_null(cursor, width: int) -> list[bool]:
    """Per result column (of `width`) of the statement `cursor` last ran, whether it is certainly
    not NULL (COPY INTO @stage's Parquet files mark those required)."""
    answer = cursor.__dict__.get(_KEY)
    return answer if answer is not None and len(answer) == width else [False] * width


def marked(describe):
    """A cursor's describe method whose rows carry the kept answer in their `null` column."""

    def wrapper(self, *args, **kwargs):
        rows = describe(self, *args, **kwargs)
        if rows is None:
            return rows
        answer = not_null(self, len(rows))
        return [
            (*row[:2], "NO" if not_null else "YES", *row[3:])
            for row, not_null in zip(rows, answer, strict=True)
        ]

    return wrapper


def describe_last_sql(self):
    return upstream(FakeSnowflakeCursor, "_describe_last_sql")(self)


def describe_as_rowtype(describe_results: list):
    """fakesnow's rowtype, with `nullable` from the rows' `null` column."""
    rowtype = upstream(fakesnow_server, "describe_as_rowtype")(describe_results)
    for info, row in zip(rowtype, describe_results, strict=True):
        info["nullable"] = row[2] != "NO"
    return rowtype
