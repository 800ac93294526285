"""Statement errors as Snowflake sends them (fakesnow answers an unexpected one with HTTP 500,
which the connector retries for minutes)."""

from __future__ import annotations

import re

import duckdb
from fakesnow.cursor import FakeSnowflakeCursor
from snowflake.connector.errors import Error as SnowflakeError
from snowflake.connector.errors import ProgrammingError
from sqlglot.errors import ParseError
from starlette.responses import JSONResponse, Response

from snowpark_local.patch import upstream

from .identifiers import invalid_identifier
from .merge import DUPLICATE

# --- Statements answered before fakesnow sees them


def ok(message: str = "Statement executed successfully.") -> str:
    return "SELECT '" + message.replace("'", "''") + '\' AS "status"'


def snowflake_error(code: int, sql_state: str, message: str) -> JSONResponse:
    code_text = f"{code:06d}"
    return JSONResponse(
        {
            "data": {"errorCode": code_text, "sqlState": sql_state},
            "code": code_text,
            "message": message,
            "success": False,
        }
    )


# fakesnow is given another text than the client sent (server.query_request names expressions):
# (the text given, the text sent) of the connection's last statement, for an error's place.
_SENT = "tutorial_sent"
_COMMAND = "tutorial_command"  # on a cursor, during its outermost server_errors call


def keep_sent(conn, given: str, sent: str) -> None:
    """Keeps on the connection the statement as the client sent it, for fakesnow's `given`."""
    conn.__dict__[_SENT] = (given, sent)


def _as_sent(cursor, command: str) -> str:
    given, sent = cursor._conn.__dict__.get(_SENT, (None, None))
    return sent if command == given else command


def server_errors(name: str):
    """fakesnow's cursor method `name`, whose unexpected errors become Snowflake errors, not
    HTTP 500s."""

    def wrapper(self, *args, **kwargs):
        # The outermost call on the cursor places an unknown name, in the text the client sent:
        # a call inside it (_describe_only's execute of DESCRIBE ...) runs fakesnow's own text.
        outermost = _COMMAND not in self.__dict__
        if outermost:
            self.__dict__[_COMMAND] = _as_sent(self, str(args[0])) if args else None
        try:
            return _call(self, args, kwargs, self.__dict__[_COMMAND] if outermost else None)
        finally:
            if outermost:
                del self.__dict__[_COMMAND]

    def _call(self, args, kwargs, command: str | None):
        try:
            return upstream(FakeSnowflakeCursor, name)(self, *args, **kwargs)
        except ProgrammingError as error:
            exists = re.search(
                r'Catalog Error: \w+ with name "?([^"]+?)"? already exists', error.raw_msg
            )
            missing = re.search(
                r"Catalog Error: Table with name (\S+) does not exist", error.raw_msg
            )
            if error.errno == 2003 and missing:  # DuckDB's words for Snowflake's code
                raise ProgrammingError(
                    msg=f"SQL compilation error:\nObject '{missing[1]}' does not exist or not "
                    "authorized.",
                    errno=2003,
                    sqlstate="42S02",
                ) from None
            if error.errno == 2003 and exists:  # DuckDB's words, fakesnow's "does not exist" code
                raise ProgrammingError(
                    msg=f"SQL compilation error:\nObject '{exists[1]}' already exists.",
                    errno=2002,
                    sqlstate="42710",
                ) from None
            if command is not None and (unknown := invalid_identifier(error, command)):
                raise unknown from None
            raise
        except SnowflakeError:
            raise
        except ParseError as error:  # execute converts these; _describe_only does not
            raise snowflake_syntax_error(error) from None
        except duckdb.InvalidInputException as error:
            if "were not provided" in str(error):
                raise ProgrammingError(
                    msg="SQL compilation error:\nBind variable ? not set.",
                    errno=2049,
                    sqlstate="42601",
                ) from None
            if DUPLICATE in str(error):  # merge.py's check of a nondeterministic MERGE
                raise ProgrammingError(msg=DUPLICATE, errno=100090, sqlstate="42P18") from None
            raise ProgrammingError(msg=str(error), errno=100038, sqlstate="22018") from None
        except Exception as error:  # noqa: BLE001 - every error reaches the client as Snowflake's
            message = str(error).split("\n")[0] or type(error).__name__
            raise ProgrammingError(
                msg=f"SQL execution error: {message}", errno=603, sqlstate="XX000"
            ) from None

    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


def snowflake_syntax_error(error: ParseError) -> ProgrammingError:
    """A parse error in Snowflake's words (fakesnow passes sqlglot's on). The position is where
    sqlglot stopped, which can be a token later than where Snowflake stops."""
    found = (error.errors or [{}])[0]
    line, column, token = found.get("line", 1), found.get("col", 0), found.get("highlight", "")
    position = max(0, column - len(token))
    return ProgrammingError(
        msg=f"SQL compilation error:\nsyntax error line {line} at position {position} "
        f"unexpected '{token}'.",
        errno=1003,
        sqlstate="42000",
    )


def error_response(response: Response) -> Response:
    """A last guard: an HTTP 500 (which the connector retries for minutes) as Snowflake's error."""
    if response.status_code < 500:
        return response
    return snowflake_error(
        603, "XX000", "SQL execution internal error: the local Snowflake failed."
    )
