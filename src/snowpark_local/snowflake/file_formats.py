"""DROP FILE FORMAT [IF EXISTS] name, which Snowpark sends after a read with a temporary format.

Snowflake (DROP FILE FORMAT page): the named format is removed, answering `<NAME> successfully
dropped.`; a missing one is an error unless IF EXISTS is given. fakesnow keeps the formats CREATE
FILE FORMAT makes (and COPY reads) in a table of its own, but does not parse DROP FILE FORMAT.
"""

from __future__ import annotations

import re

from fakesnow.transforms.stage import parts_from_var
from starlette.responses import JSONResponse

from .errors import ok, snowflake_error

_PART = r'(?:"[^"]+"|[A-Za-z_][\w$]*)'
_DROP = re.compile(rf"(?is)drop\s+file\s+format\s+(if\s+exists\s+)?({_PART}(?:\.{_PART}){{0,2}})")


def drop_file_format(text: str, conn) -> str | JSONResponse | None:
    """The answer to a DROP FILE FORMAT statement, or None for another statement."""
    if not (m := _DROP.fullmatch(text)):
        return None
    try:
        database, schema, name = parts_from_var(m[2], conn.database, conn.schema)
    except AssertionError:  # an unqualified name and no current database or schema
        return snowflake_error(
            90105,
            "22000",
            "Cannot perform DROP. This session does not have a current database. Call "
            "'USE DATABASE', or use a qualified name.",
        )
    deleted = conn._duck_conn.execute(
        "DELETE FROM _fs_global._fs_information_schema._fs_file_formats "
        "WHERE database_name = ? AND schema_name = ? AND name = ?",
        [database, schema, name],
    ).fetchone()[0]
    if deleted:
        return ok(f"{name} successfully dropped.")
    if m[1]:
        return ok(f"Drop statement executed successfully ({name} already dropped).")
    return snowflake_error(
        2003,
        "02000",
        f"SQL compilation error:\nFile format '{database}.{schema}.{name}' does not exist or not "
        "authorized.",
    )
