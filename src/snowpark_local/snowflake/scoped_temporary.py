"""CREATE SCOPED TEMPORARY <object>, which Snowpark sends for the objects it makes itself
(cache_result's table, a reader's file format, the session stage).

Snowflake (Snowpark's "Temporary objects" and CREATE TABLE pages): a scoped temporary object is a
temporary object whose lifetime Snowpark's session ties to its own; to SQL it is a temporary
object, visible in the session that made it and gone when the session ends. The stack makes it a
temporary object. UDFs and procedures made so are refused before this (statements.NO_UDFS).
"""

from __future__ import annotations

import re

_SCOPED = re.compile(r"(?is)^(create\s+(?:or\s+replace\s+)?)scoped\s+(temp(?:orary)?)\b")


def as_temporary(text: str) -> str | None:
    """The statement with SCOPED dropped, or None when it makes no scoped temporary object."""
    if not _SCOPED.match(text):
        return None
    return _SCOPED.sub(r"\1\2", text, count=1)
