"""Statements answered before fakesnow sees them: warehouses, session settings, DROP STAGE and
DROP FILE FORMAT, CREATE and DROP DATABASE, COPY INTO @stage (unload.py), SCOPED TEMPORARY
objects (temporary.py), and what the stack refuses (UDFs and stored procedures).

DROP STAGE and DROP FILE FORMAT (Snowflake's DROP STAGE and DROP FILE FORMAT pages): the named
object is removed, answering `<NAME> successfully dropped.`; a missing one is an error unless IF
EXISTS is given. fakesnow keeps stages and file formats (CREATE FILE FORMAT, which Snowpark's
reader sends, and COPY reads) in tables of its own, but does not parse either DROP.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import fakesnow.server as fakesnow_server
from fakesnow.transforms import stage as fakesnow_stage
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.tokens import TokenType
from starlette.responses import JSONResponse

from .errors import ok, snowflake_error
from .sessions import quoted, signed_in
from .stages import IDENT
from .temporary import as_temporary
from .unload import unload


def _name(identifier: str) -> str:
    return identifier[1:-1] if identifier.startswith('"') else identifier.upper()


def _statement_count(text: str) -> int:
    """How many statements `text` (without its final semicolon) holds: the semicolons outside
    strings, comments and quoted identifiers, plus one."""
    try:
        tokens = Snowflake().tokenize(text)
    except Exception:  # a statement that does not tokenize fails in the parser, with its message
        return 1
    return 1 + sum(t.token_type == TokenType.SEMICOLON for t in tokens)


def rewrite(sql: str, conn) -> str | JSONResponse:
    """The statement to hand to fakesnow instead of `sql`, or a finished error response."""
    text = sql.strip().rstrip(";").strip()
    identity = signed_in(conn)
    if (count := _statement_count(text)) > 1:
        # Snowflake runs one statement a request unless the client asks for more
        # (MULTI_STATEMENT_COUNT), so `x; DROP TABLE y` pasted into a query runs nothing.
        return snowflake_error(
            8,
            "0A000",
            f"Actual statement count {count} did not match the desired statement count 1.",
        )
    if (answer := _semantics_rewrite(text, conn)) is not None:
        return answer
    if (unloaded := unload(text, conn)) is not None:  # COPY INTO @stage
        return unloaded
    if m := re.fullmatch(
        rf"(?is)create\s+(?:or\s+replace\s+)?warehouse\s+(?:if\s+not\s+exists\s+)?({IDENT}).*",
        text,
    ):
        identity["warehouse"] = _name(m[1])  # as on Snowflake, it becomes the current warehouse
        return ok(f"Warehouse {_name(m[1])} successfully created.")
    if m := re.fullmatch(rf"(?is)use\s+warehouse\s+({IDENT})", text):
        identity["warehouse"] = _name(m[1])
        return ok()
    if m := re.fullmatch(rf"(?is)use\s+role\s+({IDENT})", text):
        identity["role"] = _name(m[1])
        return ok()
    if re.match(r"(?is)(alter|drop)\s+warehouse\b", text):
        return ok()
    if re.match(r"(?is)alter\s+session\s+(un)?set\s+query_tag\b", text):
        return ok()
    if re.match(r"(?is)select\s+system\$cancel_all_queries\s*\(", text):  # Session.close()
        return ok()
    if m := re.fullmatch(
        rf"(?is)drop\s+(stage|file\s+format)\s+(if\s+exists\s+)?({IDENT}(?:\.{IDENT}){{0,2}})",
        text,
    ):
        return _drop(conn, " ".join(m[1].upper().split()), m[3], if_exists=bool(m[2]))
    if m := re.fullmatch(rf"(?is)drop\s+database\s+(if\s+exists\s+)?({IDENT})(\s+cascade)?", text):
        return _drop_database(conn, _name(m[2]), if_exists=bool(m[1]))
    # Snowpark's file.put quotes the stage (PUT 'file://...' '@stage'); fakesnow wants it bare.
    return re.sub(r"(?is)^(\s*put\s+'[^']*'\s+)'(@[^']*)'", r"\1\2", sql)


# What DROP <kind> removes: fakesnow's table of such objects.
_DROPPED = {"STAGE": "_fs_stages", "FILE FORMAT": "_fs_file_formats"}


def _drop(conn, kind: str, qualified: str, if_exists: bool) -> str | JSONResponse:
    """DROP STAGE or DROP FILE FORMAT [IF EXISTS] `qualified` ([database.][schema.]name)."""
    parts = [_name(p) for p in re.findall(IDENT, qualified)]
    database, schema, name = ([conn.database, conn.schema, *parts])[-3:]
    if not database or not schema:
        code, missing = (90105, "DATABASE") if not database else (90106, "SCHEMA")
        return snowflake_error(
            code,
            "22000",
            f"Cannot perform DROP. This session does not have a current {missing.lower()}. Call "
            f"'USE {missing}', or use a qualified name.",
        )
    deleted = conn._duck_conn.execute(
        f"DELETE FROM _fs_global._fs_information_schema.{_DROPPED[kind]} "
        "WHERE database_name = ? AND schema_name = ? AND name = ?",
        [database, schema, name],
    ).fetchone()[0]
    if kind == "STAGE":  # its files too
        shutil.rmtree(Path(fakesnow_stage.LOCAL_BUCKET_PATH) / database / schema / name, True)
    if deleted:
        return ok(f"{name} successfully dropped.")
    if if_exists:
        return ok(f"Drop statement executed successfully ({name} already dropped).")
    return snowflake_error(
        2003,
        "02000",
        f"SQL compilation error:\n{kind.capitalize()} '{database}.{schema}.{name}' does not exist "
        "or not authorized.",
    )


def _drop_database(conn, name: str, if_exists: bool) -> str | JSONResponse:
    duck = conn._duck_conn
    db_path = Path(fakesnow_server.shared_fs.db_path)
    attached = duck.execute(
        "SELECT 1 FROM duckdb_databases() WHERE database_name = ?", [name]
    ).fetchone()
    files = [p for p in (db_path / f"{name}.db", db_path / f"{name}.db.wal") if p.exists()]
    if not attached and not files:
        if if_exists:
            return ok(f"Drop statement executed successfully ({name} already dropped).")
        return snowflake_error(
            2003,
            "02000",
            f"SQL compilation error:\nDatabase '{name}' does not exist or not authorized.",
        )
    if conn.database == name:
        duck.execute("USE memory")
        conn.database, conn._schema, conn.database_set, conn.schema_set = None, None, False, False
    if attached:
        duck.execute(f'DETACH DATABASE IF EXISTS "{name}"')
    for path in files:
        path.unlink(missing_ok=True)  # DETACH checkpoints, which removes the .wal file
    shutil.rmtree(Path(fakesnow_stage.LOCAL_BUCKET_PATH) / name, True)
    return ok(f"{name} successfully dropped.")


# --- Databases, and what the stack refuses (issue 12, items 5, 7 and 9)

# One line for everything that would run code inside the warehouse: the stack has no Python in
# its warehouse, and a SQL UDF would run as a DuckDB macro with DuckDB's semantics.
NO_UDFS = (
    "The local stack does not run Python inside the warehouse: UDFs and stored procedures "
    "(and session.add_packages) need a Snowflake account."
)


def _semantics_rewrite(text: str, conn) -> str | JSONResponse | None:
    """What `rewrite` answers for databases and UDFs, or None to go on."""
    if m := re.fullmatch(
        rf"(?is)create\s+(or\s+replace\s+)?(?:transient\s+)?database\s+(if\s+not\s+exists\s+)?"
        rf"({IDENT})(?:\s+comment\s*=\s*'(?:[^']|'')*')?",
        text,
    ):
        return _create_database(conn, _name(m[3]), or_replace=bool(m[1]), if_not_exists=bool(m[2]))
    if re.match(
        r"(?is)create\s+(or\s+replace\s+)?(secure\s+)?((scoped\s+)?temp(orary)?\s+|volatile\s+)?"
        r"(aggregate\s+)?(function|procedure)\b",
        text,
    ) or re.search(r"(?is)\binformation_schema\s*\.\s*packages\b", text):
        # Refused before fakesnow runs it: fakesnow would leave a macro behind (item 9).
        return snowflake_error(2, "0A000", NO_UDFS)
    return as_temporary(text)  # a scoped temporary table, file format, stage: temporary


def _create_database(conn, name: str, or_replace: bool, if_not_exists: bool):
    """CREATE [OR REPLACE] DATABASE as on Snowflake: with PUBLIC, and current for the session."""
    if not re.fullmatch(r"[A-Za-z_][\w$]*", name):
        # The name becomes a file name in the state folder.
        return snowflake_error(
            2,
            "0A000",
            f"The local stack names databases with letters, digits, _ and $ only, not '{name}'.",
        )
    duck = conn._duck_conn
    found = duck.execute(
        "SELECT database_name FROM duckdb_databases() WHERE upper(database_name) = upper(?)",
        [name],
    ).fetchone()
    if found and found[0] != name:
        # DuckDB's catalog ignores case, so "x" and X cannot both be databases here.
        return snowflake_error(
            2, "0A000", f"The local stack cannot hold databases {found[0]} and {name} together."
        )
    exists = found is not None
    if exists and if_not_exists:
        return ok(f"{name} already exists, statement succeeded.")
    if exists and not or_replace:
        return snowflake_error(
            2002, "42710", f"SQL compilation error:\nObject '{name}' already exists."
        )
    if exists:
        _drop_database(conn, name, if_exists=True)
    cursor = conn.cursor()
    cursor.execute(f"CREATE DATABASE {quoted(name)}")
    cursor.execute(f"CREATE SCHEMA {quoted(name)}.PUBLIC")  # fakesnow makes it current
    return ok(f"Database {name} successfully created.")
