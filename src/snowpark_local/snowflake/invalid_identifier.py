"""An unknown column as Snowflake answers it, not in DuckDB's words.

Snowflake (Error messages of SELECT; the connector's ProgrammingError): a name that no table in
scope has fails with `000904 (42000): SQL compilation error: error line L at position P` and
`invalid identifier 'NAME'`, where L and P (from 0) place the name in the statement as sent and
NAME is shown as Snowflake resolves it (upper case unquoted, in double quotes otherwise). DuckDB
says `Binder Error: Referenced column "NAME" not found in FROM clause!` with a place in the SQL
fakesnow made of it, so the name is looked up in the statement as the client sent it.
"""

from __future__ import annotations

import re

from snowflake.connector.errors import ProgrammingError
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.tokens import TokenType

_UNKNOWN = re.compile(
    r'Binder Error: (?:Referenced column "(?P<name>(?:[^"]|"")+)" (?:was )?not found'
    r'|(?:Table|Values list) "(?P<table>(?:[^"]|"")+)" does not have a column named '
    r'"(?P<column>(?:[^"]|"")+)")'
)


def _shown(name: str) -> str:
    return name if re.fullmatch(r"[A-Z_][A-Z0-9_$]*", name) else f'"{name}"'


def _place(command: str, names: list[str]) -> tuple[int, int]:
    """Line (from 1) and position (from 0) of the first `names[0].names[1]...` in `command`."""
    try:
        tokens = Snowflake().tokenize(command)
    except Exception:  # noqa: BLE001 - the statement ran, so this is only a fallback
        return 1, 0

    def same(token, name: str) -> bool:
        if token.token_type == TokenType.IDENTIFIER:
            return token.text == name
        return token.token_type != TokenType.STRING and token.text.upper() == name

    span = 2 * len(names) - 1  # NAME, or TABLE . NAME
    for i in range(len(tokens) - span + 1):
        window = tokens[i : i + span]
        if all(same(t, n) for t, n in zip(window[::2], names, strict=True)) and all(
            t.token_type == TokenType.DOT for t in window[1::2]
        ):
            start = window[0].start
            return command.count("\n", 0, start) + 1, start - (command.rfind("\n", 0, start) + 1)
    return 1, 0


def invalid_identifier(error: ProgrammingError, command: str) -> ProgrammingError | None:
    """Snowflake's 000904 for DuckDB's unknown-column binder error, or None for another error."""
    found = _UNKNOWN.search(error.raw_msg or "")
    if not found:
        return None
    if found["name"]:
        names = [found["name"].replace('""', '"')]
    else:
        names = [found["table"].replace('""', '"'), found["column"].replace('""', '"')]
    line, position = _place(command, names)
    return ProgrammingError(
        msg=f"SQL compilation error: error line {line} at position {position}\n"
        f"invalid identifier '{'.'.join(_shown(n) for n in names)}'",
        errno=904,
        sqlstate="42000",
    )
