"""PARSE_JSON of an object with unquoted keys, which Snowflake accepts and DuckDB's JSON does not.

Snowflake's PARSE_JSON reads `{a: 1, b: [2]}` as `{"a": 1, "b": [2]}`: Snowpark's own
DataFrameWriter.json example, run against Snowflake by Snowpark's CI, parses
`[{a: 1, b: 2}, {a: 3, b: 0}]`. DuckDB rejects such text, so a text that is not valid JSON has
every key made of identifier characters quoted before DuckDB parses it; valid JSON is left alone
(a text that is not valid JSON for another reason, and holds `, word:` inside a string, would have
that string changed too: the quoting is a pattern, not a parser).
TRY_PARSE_JSON (fakesnow's TRY_CAST to JSON) reads the same way.
"""

from __future__ import annotations

from sqlglot import exp

# A key without quotes: after `{` or `,`, an identifier, then `:`.
_BARE_KEY = r"([{,]\s*)([A-Za-z_$][A-Za-z0-9_$]*)\s*:"


def _quoting_bare_keys(argument: exp.Expression) -> exp.Expression:
    quoted = exp.RegexpReplace(  # every match, as Snowflake's REGEXP_REPLACE
        this=argument.copy(),
        expression=exp.Literal.string(_BARE_KEY),
        replacement=exp.Literal.string('\\1"\\2":'),
    )
    valid = exp.Anonymous(this="JSON_VALID", expressions=[argument.copy()])
    return exp.Case(ifs=[exp.If(this=valid, true=argument)], default=quoted)


def lenient_parse_json(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.ParseJSON) and node.this is not None:
        node.set("this", _quoting_bare_keys(node.this))
    elif isinstance(node, exp.Anonymous) and node.name.upper() == "TRY_PARSE_JSON":
        node.set("expressions", [_quoting_bare_keys(e) for e in node.expressions[:1]])
    return node
