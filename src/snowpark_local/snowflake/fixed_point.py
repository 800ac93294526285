"""Snowflake's fixed-point results: the type and value Snowflake gives a division and an aggregate
of fixed-point numbers (NUMBER(p, s); integers are NUMBER(38, 0)), where DuckDB gives a DOUBLE.

- division (Snowflake docs, "Arithmetic operators": scale and precision in arithmetic
  operations): a / b of fixed-point numbers is NUMBER(L1 + s2 + S, S) with the scale
  S = max(s1, min(s1 + 6, 12)), rounded half away from zero, e.g. (1 + 2) / 2 = 1.500000;
- SUM and AVG ("SUM", "AVG"): SUM exact, NUMBER(38, s); AVG NUMBER(38, S) with division's scale;
- VARIANCE, VAR_SAMP, VAR_POP ("VARIANCE , VARIANCE_SAMP", "VAR_POP"): NUMBER, whose scale the
  docs leave to the input: 6 for integers (VAR_POP of 1..3 is 0.666667), division's scale S,
  which is applied here to other scales too;
- STDDEV, STDDEV_SAMP, STDDEV_POP ("STDDEV, STDDEV_SAMP", "STDDEV_POP"): a DOUBLE, the square
  root of that fixed-point variance (STDDEV_POP of 1..3 is SQRT(0.666667) = 0.8164967850518458);
- MEDIAN ("MEDIAN"): NUMBER(p + 3, s + 3), e.g. MEDIAN of NUMBER(10,2) 20.00 and 25.00 is 22.50000.

FLOAT operands keep DuckDB's DOUBLE, as on Snowflake. The operand types are asked of DuckDB
(DESCRIBE of the same query with the operands as columns), innermost first so that an outer
operation sees the rewritten inner one; where the probe cannot run (e.g. a correlated subquery),
DuckDB's DOUBLE stays.
"""

from __future__ import annotations

import re

import duckdb
from sqlglot import exp, parse_one

from .pivot import without_pivots

_VARIANCES = (exp.Variance, exp.VariancePop)
_DEVIATIONS = (exp.Stddev, exp.StddevSamp, exp.StddevPop)
# fakesnow casts these aggregates' arguments to DOUBLE (so that VARCHARs aggregate): marked before
# its transform when it does, the cast is undone or the result typed here.
AGGREGATES = (exp.Sum, exp.Avg, exp.Median, *_VARIANCES, *_DEVIATIONS)

_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"}
_INTEGERS |= {"UINTEGER", "UBIGINT", "UHUGEINT"}


def mark(expression) -> None:
    """Marks, before fakesnow's transform, the operations written in the statement."""
    for node in expression.find_all(*AGGREGATES):
        if not isinstance(node.this, (exp.Cast, exp.TryCast)):
            node.meta["tutorial_uncast"] = True  # fakesnow casts it to DOUBLE; maybe undone
    for node in expression.find_all(exp.Div):
        node.meta["tutorial_division"] = True  # not one fakesnow writes itself


def _fixed(kind: str, operand=None) -> tuple[int, int] | None:
    """(precision, scale) of a DuckDB type that is fixed-point on Snowflake; None otherwise."""
    if kind in _INTEGERS:
        if isinstance(operand, exp.Literal) and operand.is_int:
            return len(operand.this.lstrip("-")), 0  # Snowflake's type of the literal 12
        return 38, 0
    found = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", kind)
    return (int(found[1]), int(found[2])) if found else None


def _division_scale(scale: int) -> int:
    return max(scale, min(scale + 6, 12))


def _probes(node) -> list:
    if isinstance(node, exp.Div):
        return [node.this, node.expression]
    return [exp.func("ANY_VALUE", node.this.this.copy())]


def _describe(cursor, select, root, expressions) -> list[str] | None:
    probe = without_pivots(select.copy())
    for key in ("where", "order", "having", "limit", "offset", "qualify", "distinct"):
        probe.set(key, None)
    if probe.args.get("group"):
        # GROUP BY 1 or an alias names the select's own list, which the probe replaces
        probe.set("group", exp.Group(all=True))
    if select is not root and not probe.args.get("with_") and root.args.get("with_"):
        probe.set("with_", root.args["with_"].copy())  # the statement's CTEs
    probe.set("expressions", [e.copy() for e in expressions])
    probe = probe.transform(lambda e: exp.Null() if isinstance(e, exp.Placeholder) else e)
    try:
        return [
            row[1]
            for row in cursor._duck_conn.execute(f"DESCRIBE {probe.sql('duckdb')}").fetchall()
        ]
    except duckdb.Error:
        return None


def _types(cursor, select, root, nodes) -> dict:
    """The DuckDB types of each node's operands, for the nodes whose probe runs."""
    found = _describe(cursor, select, root, [p for n in nodes for p in _probes(n)])
    if found is not None:
        types, i = {}, 0
        for node in nodes:
            width = len(_probes(node))
            types[id(node)] = found[i : i + width]
            i += width
        return types
    types = {}
    for node in nodes:  # one at a time; an operand inside an aggregate is probed as ANY_VALUE
        kinds = _describe(cursor, select, root, _probes(node))
        if kinds is None and isinstance(node, exp.Div):
            wrapped = [exp.func("ANY_VALUE", p.copy()) for p in _probes(node)]
            kinds = _describe(cursor, select, root, wrapped)
        if kinds is not None:
            types[id(node)] = kinds
    return types


def fixed_point(cursor, expression):
    """Divisions and aggregates of fixed-point numbers typed as Snowflake types them."""
    pending = [
        node
        for node in expression.find_all(exp.Div, *AGGREGATES)
        if (isinstance(node, exp.Div) and node.meta.get("tutorial_division"))
        or (node.meta.get("tutorial_uncast") and isinstance(node.this, exp.TryCast))
    ]
    while pending:
        ids = {id(n) for n in pending}
        ready = [
            n
            for n in pending
            if not any(id(d) in ids for d in n.find_all(exp.Div, *AGGREGATES) if d is not n)
        ]
        done = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in done]
        by_select: dict[int, list] = {}
        for node in ready:
            if node.parent_select is not None:
                by_select.setdefault(id(node.parent_select), []).append(node)
        for nodes in by_select.values():
            types = _types(cursor, nodes[0].parent_select, expression, nodes)
            for node in nodes:
                replacement = _rewritten(node, types[id(node)]) if id(node) in types else None
                if replacement is not None:
                    _outermost(node).replace(replacement)  # its name given before
    return expression


def _outermost(node):
    # An aggregate's OVER (...) or FILTER (...), which its result type applies to.
    outer = node
    while not isinstance(node, exp.Div) and isinstance(outer.parent, (exp.Window, exp.Filter)):
        outer = outer.parent
    return outer


def _rewritten(node, kinds: list[str]):
    """What replaces the node (with its window or filter), or None where it stays."""
    if isinstance(node, exp.Div):
        numerator = _fixed(kinds[0], node.this)
        denominator = _fixed(kinds[1], node.expression)
        if not (numerator and denominator):
            return None
        return _exact_division(node.this, numerator, node.expression, denominator)
    fixed = _fixed(kinds[0])
    if not fixed:
        return None
    precision, scale = fixed
    outer = _outermost(node)
    if isinstance(node, exp.Median):
        to = exp.DataType.build(f"DECIMAL({min(precision + 3, 38)}, {min(scale + 3, 37)})")
        node.set("this", exp.Cast(this=node.this.this, to=to))
        return outer.copy()
    if isinstance(node, (*_VARIANCES, *_DEVIATIONS)):
        return _variance(node, _division_scale(scale))
    node.set("this", node.this.this)
    if isinstance(node, exp.Avg):
        s = _division_scale(scale)
        if outer is not node or node.find_ancestor(exp.Pivot):
            # AVG(...) OVER (...), FILTER (...) or in a PIVOT (one aggregate there): DuckDB's
            # DOUBLE, typed as Snowflake's
            return exp.Cast(this=outer.copy(), to=exp.DataType.build(f"DECIMAL(38, {s})"))
        return _exact_average(node.this, s)
    return outer.copy()


def _variance(node, scale: int):
    """The variance of DuckDB's DOUBLE computation rounded to NUMBER(38, scale); a standard
    deviation is the DOUBLE square root of that variance."""
    variance = _outermost(node).copy()
    if isinstance(node, _DEVIATIONS):
        kind = exp.VariancePop if isinstance(node, exp.StddevPop) else exp.Variance
        inner = variance.find(type(node))  # the copy's aggregate, under its window or filter
        swapped = kind(this=inner.this)
        if inner is variance:
            variance = swapped
        else:
            inner.replace(swapped)
    fixed = exp.Cast(this=variance, to=exp.DataType.build(f"DECIMAL(38, {scale})"))
    if isinstance(node, _DEVIATIONS):
        return exp.func("SQRT", exp.Cast(this=fixed, to=exp.DataType.build("DOUBLE")))
    return fixed


def _unscaled(argument: str, scale: int) -> str:
    # The integer 10^scale * argument (exact for DECIMAL and integers).
    return f"CAST({argument} * {10**scale} AS HUGEINT)" if scale else f"CAST({argument} AS HUGEINT)"


def _exact_division(numerator, fixed1, denominator, fixed2):
    """numerator / denominator as Snowflake's NUMBER, rounded half away from zero, in integers.

    None where the integers would not fit DuckDB's HUGEINT whatever the values.
    """
    (p1, s1), (_, s2) = fixed1, fixed2
    scale = _division_scale(s1)
    shift = scale - s1 + s2  # the quotient of the unscaled integers, times 10^shift
    if shift > 30:
        return None
    precision = min(38, p1 - s1 + s2 + scale)
    n = f"{_unscaled(numerator.sql('duckdb'), s1)} * {10**shift}"
    quotient = _rounded_quotient(n, _unscaled(denominator.sql("duckdb"), s2))
    unit = f"CAST('{10**-scale:.{scale}f}' AS DECIMAL({scale + 1}, {scale}))"
    return parse_one(
        f"CAST(CAST({quotient} AS DECIMAL(38, 0)) * {unit} AS DECIMAL({precision}, {scale}))",
        read="duckdb",
    )


def _rounded_quotient(n: str, d: str) -> str:
    """n / d of integers rounded half away from zero.

    Each operand is written once: a lambda over the pair, so RANDOM() is drawn once and nested
    divisions do not repeat their operands.
    """
    q = "tutorial_quotient"
    return (
        f"LIST_TRANSFORM([[{n}, {d}]], LAMBDA {q}: (2 * ABS({q}[1]) + ABS({q}[2])) "
        f"// (2 * ABS({q}[2])) * SIGN({q}[1]) * SIGN({q}[2]))[1]"
    )


def _exact_average(argument, scale: int):
    """AVG(argument) as NUMBER(38, scale), rounded half away from zero, in integers.

    DuckDB's AVG is a DOUBLE, exact to about 16 digits only.
    """
    arg = argument.sql("duckdb")
    quotient = _rounded_quotient(
        f"CAST(SUM({arg}) * {10**scale} AS HUGEINT)", f"NULLIF(COUNT({arg}), 0)"
    )
    unit = f"CAST('{10**-scale:.{scale}f}' AS DECIMAL({scale + 1}, {scale}))"
    return parse_one(
        f"CAST(CAST({quotient} AS DECIMAL(38, 0)) * {unit} AS DECIMAL(38, {scale}))",
        read="duckdb",
    )
