"""ARRAY, OBJECT and VARIANT values in results as Snowflake sends them: JSON indented by 2 spaces.

Snowflake hands semi-structured values to the client as JSON text laid out on lines, two spaces
per level ("Semi-structured data types": an OBJECT shows as `{\\n  "key3": "value3", ...\\n}`; a
string in a VARIANT keeps its quotes), which is what the connector returns and Snowpark's show()
and collect() display. DuckDB's JSON is compact; `to_sf` (fakesnow's conversion of a result for
the connector) lays it out. Numbers keep DuckDB's text: JSON here only changes the layout.
"""

from __future__ import annotations

import json

import fakesnow.server as fakesnow_server
import pyarrow as pa

from snowpark_local.patch import upstream

SEMI_STRUCTURED = {b"ARRAY", b"OBJECT", b"VARIANT"}


class _Number(str):
    """A JSON number as its text, so that 1.50 or 1e400 come back as they were written."""


def _laid_out(value, depth: int = 0) -> str:
    inner, outer = "  " * (depth + 1), "  " * depth
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {_laid_out(v, depth + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{outer}}}"
    if isinstance(value, list) and value:
        items = [f"{inner}{_laid_out(v, depth + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{outer}]"
    if isinstance(value, _Number):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def laid_out(text: str | None) -> str | None:
    """Compact JSON text as Snowflake lays it out."""
    if text is None:
        return None
    try:
        value = json.loads(text, parse_float=_Number, parse_int=_Number, parse_constant=_Number)
    except ValueError:
        return text  # not JSON (a value fakesnow left as text): as it is
    return _laid_out(value)


def to_sf(table: pa.Table, rowtype) -> pa.Table:
    """fakesnow's conversion of a result for the connector, semi-structured columns laid out."""
    converted = upstream(fakesnow_server, "to_sf")(table, rowtype)
    for index, field in enumerate(converted.schema):
        if (field.metadata or {}).get(b"logicalType") not in SEMI_STRUCTURED:
            continue
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            continue
        values = [laid_out(v) for v in converted.column(index).to_pylist()]
        converted = converted.set_column(index, field, pa.array(values, type=field.type))
    return converted
