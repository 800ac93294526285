"""fakesnow's SQL transform, extended: `transform` runs the stack's rules (a module each, see the
package's docstring) around fakesnow's own, in order; here too: Snowflake's session functions,
signed HASH(), COPY FROM '@stage', $1 over VALUES, TRIM's characters."""

from __future__ import annotations

import fakesnow.transforms as fakesnow_transforms
from fakesnow.cursor import FakeSnowflakeCursor
from sqlglot import exp, parse_one

from snowpark_local.patch import upstream

from .asof import asof_joins
from .cortex import refuse_cortex
from .fixed_point import fixed_point, mark
from .generator import unwrap_generator
from .identifiers import check_identifier_case, result_scans
from .merge import merge_counts
from .nullability import remember
from .order_by_all import order_by_all
from .parse_json import lenient_parse_json
from .pivot import pivots
from .sessions import signed_in
from .staged_files import staged_files
from .table_functions import after as table_functions_after
from .table_functions import before as table_functions_before
from .temporary import qualified_temp_tables, show_temporary_tables


def _stage_literal_in_copy(node):
    # COPY INTO t FROM (SELECT ... FROM '@stage'): Snowflake takes the quoted form too.
    if (
        isinstance(node, exp.Table)
        and isinstance(node.this, exp.Literal)
        and node.this.is_string
        and node.this.this.startswith("@")
        and node.find_ancestor(exp.Copy)
    ):
        return exp.Table(this=exp.Var(this=node.this.this))
    return node


def _positions_over_values(node):
    """SELECT $1, $2 FROM VALUES (...): Snowflake's positional columns, DuckDB's parameters.

    Snowpark's create_dataframe from lists sends this; the VALUES columns are named COLUMN1..n
    (Snowflake's names for them) and $n becomes COLUMNn.
    """
    from_ = node.args.get("from_") if isinstance(node, exp.Select) else None
    values = from_.this if isinstance(from_, exp.From) else None
    if not isinstance(values, exp.Values) or values.alias or not values.expressions:
        return node
    width = len(values.expressions[0].expressions)
    names = [exp.to_identifier(f"COLUMN{i}", quoted=True) for i in range(1, width + 1)]
    values.set("alias", exp.TableAlias(this=exp.to_identifier("_VALUES"), columns=names))

    def column(p):
        if (
            isinstance(p, exp.Parameter)
            and isinstance(p.this, exp.Literal)
            and not p.this.is_string
        ):
            position = int(p.this.this)
            if 1 <= position <= width:
                return exp.column(f"COLUMN{position}", quoted=True)
        return p

    for expression in node.expressions:
        expression.transform(column, copy=False)
    for key in ("where", "group", "having", "order"):
        if node.args.get(key):
            node.args[key].transform(column, copy=False)
    return node


def trim_cast_varchar(expression):
    """fakesnow's cast of TRIM's input to VARCHAR (Snowflake casts implicitly), keeping what it
    drops: the characters to trim and the side. Upstream, RTRIM(s, ', ') becomes TRIM(s), which
    trims spaces from both ends."""
    trimmed = upstream(fakesnow_transforms, "trim_cast_varchar")(expression)
    if trimmed is not expression and isinstance(trimmed, exp.Trim):
        for key in ("expression", "position", "collation"):
            if expression.args.get(key) is not None:
                trimmed.set(key, expression.args[key])
    return trimmed


def transform(self: FakeSnowflakeCursor, expression, params):
    conn = self._conn
    identity = signed_in(conn)
    remember(self, expression)  # before anything below changes it

    def session_functions(node):
        # The column's name, CURRENT_USER() say, is given before (expression_names.py).
        values = {
            exp.CurrentUser: identity["user"],
            exp.CurrentRole: identity["role"],
            exp.CurrentAccount: identity["account"],
            exp.CurrentWarehouse: identity["warehouse"],
            exp.CurrentDatabase: conn.database if conn.database_set else None,
            exp.CurrentSchema: conn._schema if conn.schema_set else None,
        }
        for kind, value in values.items():
            if isinstance(node, kind):
                return exp.Null() if value is None else exp.Literal.string(value)
        return node

    def signed_hash(node):
        # DuckDB's hash() is unsigned; Snowflake's HASH is a signed 64-bit number.
        if isinstance(node, exp.Anonymous) and str(node.this).upper() == "HASH":
            args = ", ".join(a.sql("duckdb") for a in node.expressions)
            unsigned = f"CAST(hash({args}) AS HUGEINT)"
            return parse_one(
                f"CAST({unsigned} - (({unsigned} >> 63) * 18446744073709551616) AS BIGINT)",
                read="duckdb",
            )
        return node

    refuse_cortex(expression)
    expression = merge_counts(self, expression)
    expression = result_scans(self, expression)
    check_identifier_case(self, expression)
    expression = expression.transform(session_functions, copy=False)
    expression = expression.transform(_stage_literal_in_copy, copy=False)
    expression = expression.transform(_positions_over_values, copy=False)
    expression = expression.transform(unwrap_generator, copy=False)
    expression = expression.transform(order_by_all, copy=False)
    expression = expression.transform(lenient_parse_json, copy=False)
    expression = table_functions_before(expression)
    expression = pivots(self, expression)
    mark(expression)
    transformed = upstream(FakeSnowflakeCursor, "_transform")(self, expression, params)
    transformed = table_functions_after(transformed)
    transformed = qualified_temp_tables(transformed, conn)
    transformed = show_temporary_tables(transformed, conn)
    transformed = staged_files(transformed, conn)
    transformed = transformed.transform(signed_hash, copy=False)
    transformed = asof_joins(transformed)
    return fixed_point(self, transformed)
