"""Snowflake for the local stack: the fakesnow server, file-backed, and what the tutorial needs.

fakesnow 0.12.1 speaks Snowflake's HTTP protocol, so the real connector and Snowpark reach it with
`host`, `port` and `protocol` set. This module runs it in a thread of the stack's process with one
DuckDB file per database in the state folder (tables written by one process are read by another
and survive a restart), and answers what fakesnow rejects or gets wrong:

- CREATE / ALTER / DROP WAREHOUSE and USE WAREHOUSE (warehouses are a no-op here; the name is
  kept per session so CURRENT_WAREHOUSE() answers it);
- CURRENT_USER(), CURRENT_ROLE(), CURRENT_ACCOUNT() answer the session's sign-in, not "duckdb";
  with no role named at sign-in, the role is the README's SAGEMAKER_TUTORIAL (the users' default);
- sign-in never creates a database or schema: as on Snowflake, one named at sign-in becomes
  current only when it exists (else CURRENT_DATABASE() is NULL and unqualified names fail with
  "This session does not have a current database"), and the names are never pasted into SQL;
- GET from an internal stage (fakesnow has no GET): the connector downloads each file over HTTP
  from this server, as it does from a GCS stage's presigned URLs;
- DROP DATABASE, DROP STAGE, ALTER SESSION SET QUERY_TAG, Snowpark's Session.close();
- CREATE [OR REPLACE] DATABASE creates PUBLIC and makes both current (fakesnow would fail to
  re-attach the file on OR REPLACE, and create neither PUBLIC nor a current database);
- UDFs and stored procedures (and Snowpark's add_packages) are refused with one line, before
  fakesnow could leave a DuckDB macro behind;
- SUM/AVG of fixed-point numbers stay fixed-point (fakesnow casts them to DOUBLE), unaliased
  aggregates are named as Snowflake names them (COUNT(*)), RESULT_SCAN works inside a query;
- quoted identifiers are case-sensitive, as on Snowflake, though DuckDB's catalog is not: in
  queries and in the schema lookups (DESCRIBE TABLE, SHOW COLUMNS, the describe-only requests
  behind a DataFrame's schema);
- Snowpark's `session.file.put` quoting of the stage name;
- HASH() returns Snowflake's signed 64-bit type instead of DuckDB's unsigned one;
- stage files live in the state folder, not in a temporary folder per process;
- Snowpark's loading calls: write_pandas in every mode (INFER_SCHEMA over a stage's Parquet files,
  IDENTIFIER(?) with a qualified quoted name, COPY FROM '@stage', temporary tables named with
  their database and schema), create_dataframe from lists ($1 over VALUES), save_as_table's
  `CREATE TABLE T IF NOT EXISTS`; these belong upstream in fakesnow;
- every statement error comes back as Snowflake's error response (fakesnow answers an unexpected
  one with HTTP 500, which the connector retries for minutes);
- large results come back as Snowflake sends them: a first part inline and the rest as chunks
  the connector downloads one by one while the client reads (fakesnow sends everything inline,
  which would make every client hold the whole result at once).

It relies on fakesnow internals, which is why fakesnow is pinned: PATCHES, at the end, lists
what it changes in fakesnow for the registry (local/patches.py), which installs it;
tests/test_local_snowflake.py covers each of these.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from contextvars import ContextVar
from pathlib import Path
from urllib.parse import quote, urlencode, urlparse
from urllib.request import url2pathname

import duckdb
import fakesnow.cursor as fakesnow_cursor
import fakesnow.dialect as fakesnow_dialect
import fakesnow.server as fakesnow_server
import fakesnow.transforms as fakesnow_transforms
import pyarrow as pa
import uvicorn
from fakesnow.arrow import to_ipc
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.expr import normalise_ident
from fakesnow.instance import FakeSnow
from fakesnow.transforms import stage as fakesnow_stage
from snowflake.connector.errors import Error as SnowflakeError
from snowflake.connector.errors import ProgrammingError
from sqlglot import exp, parse_one
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from sagemaker_snowpark.errors import TutorialError

from .patch import Patch, upstream

_REPLACED_ROUTES = ("/session/v1/login-request", "/queries/v1/query-request", "/session")
_TOKEN_PREFIX = 'Snowflake Token="'
# The names the README's set-up statements create: a sign-in naming no role gets the users'
# DEFAULT_ROLE, and a workload-identity sign-in is the user created for the AWS role.
DEFAULT_ROLE = "SAGEMAKER_TUTORIAL"
WORKLOAD_IDENTITY_USER = "SAGEMAKER_TRAINING_WIF"


# --- What each session signed in as


def _identity(conn) -> dict:
    return conn.__dict__.setdefault(
        "tutorial_identity", {"user": "", "role": DEFAULT_ROLE, "account": "", "warehouse": None}
    )


def _connection(request: Request):
    auth = request.headers.get("Authorization", "")
    if not auth.startswith(_TOKEN_PREFIX):
        return None
    return fakesnow_server.sessions.get(auth[len(_TOKEN_PREFIX) : -1])


async def login_request(request: Request) -> Response:
    body = await request.body()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    data = json.loads(body).get("data", {})
    query = request.query_params
    # fakesnow would create the database and schema named at sign-in, pasting the names into
    # SQL: it signs in with neither, and _use_namespace sets them as Snowflake does.
    without_namespace = [
        (k, v) for k, v in query.multi_items() if k not in ("databaseName", "schemaName")
    ]
    plain = Request({**request.scope, "query_string": urlencode(without_namespace).encode()})
    plain._body = await request.body()  # Starlette's cached body: the stream is already read
    response = await fakesnow_server.login_request(plain)
    payload = json.loads(response.body)
    if payload.get("success"):
        token = payload["data"]["token"]
        conn = fakesnow_server.sessions[token]
        identity = _identity(conn)
        # Workload identity names no user: the real service maps the AWS role to one.
        identity["user"] = str(data.get("LOGIN_NAME") or WORKLOAD_IDENTITY_USER).upper()
        identity["account"] = str(data.get("ACCOUNT_NAME") or "").upper()
        identity["role"] = (query.get("roleName") or DEFAULT_ROLE).upper()
        identity["warehouse"] = (query.get("warehouse") or "").upper() or None
        database, schema = _use_namespace(conn, query.get("databaseName"), query.get("schemaName"))
        payload["data"]["sessionInfo"] = {"databaseName": database, "schemaName": schema}
        # Snowpark reads the session id (Session.close() cancels the session's queries by it),
        # and the connector only ends a session on close when it holds a master token.
        payload["data"]["sessionId"] = uuid.uuid4().int % 10**12
        payload["data"]["masterToken"] = "master-" + token
    return JSONResponse(payload, status_code=response.status_code)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _use_namespace(conn, database: str | None, schema: str | None) -> tuple[str | None, str | None]:
    """Make the sign-in's database (and schema) current where they exist, as Snowflake does.

    Snowflake signs in even when they do not exist (or the role may not use them): the session
    then has no current database, or no current schema. The names are looked up as parameters
    and used quoted, so no sign-in value ever runs as SQL.
    """
    duck = conn._duck_conn
    database = database and normalise_ident(database)
    schema = schema and normalise_ident(schema)
    if not database:
        return None, None
    found = duck.execute(
        "SELECT catalog_name FROM information_schema.schemata WHERE upper(catalog_name) = upper(?)"
        " LIMIT 1",
        [database],
    ).fetchone()
    if found is None:
        return None, None
    catalog = found[0]
    found = (
        schema
        and duck.execute(
            "SELECT schema_name FROM information_schema.schemata "
            "WHERE catalog_name = ? AND upper(schema_name) = upper(?) LIMIT 1",
            [catalog, schema],
        ).fetchone()
    )
    if found:
        duck.execute(f"USE {_quoted(catalog)}.{_quoted(found[0])}")
        conn.database, conn._schema, conn.database_set, conn.schema_set = (
            catalog,
            found[0],
            True,
            True,
        )
        return catalog, found[0]
    duck.execute(f"USE {_quoted(catalog)}")
    conn.database, conn.database_set = catalog, True
    return catalog, None


async def session_request(request: Request) -> Response:
    conn = _connection(request) if request.query_params.get("delete") else None
    response = await fakesnow_server.session(request)
    if conn is not None:
        conn.close()  # fakesnow forgets the session but would keep its DuckDB cursor open
    return response


# --- Statements answered before fakesnow sees them


def _ok(message: str = "Statement executed successfully.") -> str:
    return "SELECT '" + message.replace("'", "''") + '\' AS "status"'


def _error(code: int, sql_state: str, message: str) -> JSONResponse:
    code_text = f"{code:06d}"
    return JSONResponse(
        {
            "data": {"errorCode": code_text, "sqlState": sql_state},
            "code": code_text,
            "message": message,
            "success": False,
        }
    )


def _name(identifier: str) -> str:
    return identifier[1:-1] if identifier.startswith('"') else identifier.upper()


_IDENT = r'(?:"[^"]+"|[A-Za-z_][\w$]*)'


def _statement_count(text: str) -> int:
    """How many statements `text` (without its final semicolon) holds: the semicolons outside
    strings, comments and quoted identifiers, plus one."""
    try:
        tokens = Snowflake().tokenize(text)
    except Exception:  # a statement that does not tokenize fails in the parser, with its message
        return 1
    return 1 + sum(t.token_type == TokenType.SEMICOLON for t in tokens)


def _rewrite(sql: str, conn) -> str | JSONResponse:
    """The statement to hand to fakesnow instead of `sql`, or a finished error response."""
    text = sql.strip().rstrip(";").strip()
    identity = _identity(conn)
    if (count := _statement_count(text)) > 1:
        # Snowflake runs one statement a request unless the client asks for more
        # (MULTI_STATEMENT_COUNT), so `x; DROP TABLE y` pasted into a query runs nothing.
        return _error(
            8,
            "0A000",
            f"Actual statement count {count} did not match the desired statement count 1.",
        )
    if (answer := _semantics_rewrite(text, conn)) is not None:
        return answer
    if m := re.fullmatch(
        rf"(?is)create\s+(?:or\s+replace\s+)?warehouse\s+(?:if\s+not\s+exists\s+)?({_IDENT}).*",
        text,
    ):
        identity["warehouse"] = _name(m[1])  # as on Snowflake, it becomes the current warehouse
        return _ok(f"Warehouse {_name(m[1])} successfully created.")
    if m := re.fullmatch(rf"(?is)use\s+warehouse\s+({_IDENT})", text):
        identity["warehouse"] = _name(m[1])
        return _ok()
    if m := re.fullmatch(rf"(?is)use\s+role\s+({_IDENT})", text):
        identity["role"] = _name(m[1])
        return _ok()
    if re.match(r"(?is)(alter|drop)\s+warehouse\b", text):
        return _ok()
    if re.match(r"(?is)alter\s+session\s+(un)?set\s+query_tag\b", text):
        return _ok()
    if re.match(r"(?is)select\s+system\$cancel_all_queries\s*\(", text):  # Session.close()
        return _ok()
    if m := re.fullmatch(
        rf"(?is)drop\s+stage\s+(if\s+exists\s+)?({_IDENT}(?:\.{_IDENT}){{0,2}})", text
    ):
        return _drop_stage(conn, m[2], if_exists=bool(m[1]))
    if m := re.fullmatch(rf"(?is)drop\s+database\s+(if\s+exists\s+)?({_IDENT})(\s+cascade)?", text):
        return _drop_database(conn, _name(m[2]), if_exists=bool(m[1]))
    # Snowpark's file.put quotes the stage (PUT 'file://...' '@stage'); fakesnow wants it bare.
    return re.sub(r"(?is)^(\s*put\s+'[^']*'\s+)'(@[^']*)'", r"\1\2", sql)


def _drop_stage(conn, qualified: str, if_exists: bool) -> str | JSONResponse:
    parts = [_name(p) for p in re.findall(_IDENT, qualified)]
    database, schema, name = ([conn.database, conn.schema, *parts])[-3:]
    deleted = conn._duck_conn.execute(
        "DELETE FROM _fs_global._fs_information_schema._fs_stages "
        "WHERE database_name = ? AND schema_name = ? AND name = ?",
        [database, schema, name],
    ).fetchone()[0]
    shutil.rmtree(Path(fakesnow_stage.LOCAL_BUCKET_PATH) / database / schema / name, True)
    if not deleted and not if_exists:
        return _error(
            2003,
            "02000",
            f"SQL compilation error:\nStage '{database}.{schema}.{name}' does not exist or not "
            "authorized.",
        )
    return _ok(f"{name} successfully dropped.")


def _drop_database(conn, name: str, if_exists: bool) -> str | JSONResponse:
    duck = conn._duck_conn
    db_path = Path(fakesnow_server.shared_fs.db_path)
    attached = duck.execute(
        "SELECT 1 FROM duckdb_databases() WHERE database_name = ?", [name]
    ).fetchone()
    files = [p for p in (db_path / f"{name}.db", db_path / f"{name}.db.wal") if p.exists()]
    if not attached and not files:
        if if_exists:
            return _ok(f"Drop statement executed successfully ({name} already dropped).")
        return _error(
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
    return _ok(f"{name} successfully dropped.")


# --- GET: files of an internal stage, downloaded by the connector as from GCS presigned URLs

_QUOTED_OR_BARE = r"('(?:[^'\\]|\\.)*'|\S+)"
_GET = re.compile(rf"(?is)\s*get\s+{_QUOTED_OR_BARE}\s+{_QUOTED_OR_BARE}(.*?)\s*;?\s*")
_GET_PATTERN = re.compile(r"(?is)\bpattern\s*=\s*'((?:[^'\\]|\\.)*)'")
_GET_PARALLEL = re.compile(r"(?is)\bparallel\s*=\s*(\d+)")


def _unquoted(text: str) -> str:
    return text[1:-1].replace("\\'", "'") if text.startswith("'") else text


def _get(request: Request, conn, match: re.Match) -> JSONResponse:
    """Snowflake's answer to GET: the files to download and where, which the connector fetches."""
    location, target = _unquoted(match[1]), _unquoted(match[2])
    if not location.startswith("@"):
        return _error(1003, "42000", f"SQL compilation error:\n{location} does not start with @")
    if not target.lower().startswith("file://"):
        return _error(
            1003, "42000", f"SQL compilation error:\nthe GET target {target} is not a file:// URL"
        )
    if pattern := _GET_PATTERN.search(match[3]):
        try:
            wanted = re.compile(pattern[1].replace("\\'", "'"))
        except re.error as error:
            return _error(1003, "42000", f"SQL compilation error:\ninvalid PATTERN ({error})")
    var, _, path = location[1:].partition("/")
    try:
        catalog, schema, name = fakesnow_stage.parts_from_var(var, conn.database, conn.schema)
    except AssertionError:  # fakesnow's way of saying there is no current database or schema
        return _error(
            90105,
            "22000",
            "Cannot perform GET. This session does not have a current database. Call 'USE "
            "DATABASE', or use a qualified name.",
        )
    found = conn._duck_conn.execute(
        fakesnow_stage.stage_lookup_sql(catalog, schema, name, conn.table_stages)
    ).fetchone()
    if found is None:
        error = fakesnow_stage.not_found_error(f"{catalog}.{schema}.{name}")
        return _error(error.errno, error.sqlstate, error.msg)
    root = Path(fakesnow_stage.internal_dir(found[0]))
    bucket = Path(fakesnow_stage.LOCAL_BUCKET_PATH)
    # A stage path is a prefix of the files' paths, as in LIST (@F/a matches a.csv).
    files = sorted(
        relative
        for file in root.rglob("*")
        if file.is_file()
        and (relative := file.relative_to(root).as_posix()).startswith(path)
        and (not pattern or wanted.fullmatch(relative))
    )
    base = f"{request.url.scheme}://{request.url.netloc}/fs_bucket/"
    data = {
        "command": "DOWNLOAD",
        "src_locations": files,
        "localLocation": url2pathname(urlparse(target).path),
        "parallel": int(m[1]) if (m := _GET_PARALLEL.search(match[3])) else 10,
        "stageInfo": {"locationType": "GCS", "location": f"{found[0]}/", "creds": {}},
        "presignedUrls": [
            base + quote((root / file).relative_to(bucket).as_posix()) for file in files
        ],
        "encryptionMaterial": None,
    }
    return JSONResponse({"data": data, "success": True})


async def bucket_download(request: Request) -> Response:
    """A stage file, for a GET's presigned URL; nothing outside the stages' folder."""
    bucket = Path(fakesnow_stage.LOCAL_BUCKET_PATH).resolve()
    target = (bucket / request.path_params["path"]).resolve()  # already URL-decoded
    if not target.is_relative_to(bucket) or target == bucket:
        return Response(status_code=400)
    if not target.is_file():
        return Response(status_code=404)
    return FileResponse(target, media_type="application/octet-stream")


# --- Loading: write_pandas, create_dataframe, save_as_table, and errors as Snowflake sends them
# Each fix here belongs upstream in fakesnow (server.py, transforms.identifier, copy_into.py).

_INFER_SCHEMA = re.compile(
    r"(?is)\s*select\s+column_name\s*,\s*type\s+from\s+table\s*\(\s*infer_schema\s*\(\s*"
    r"location\s*=>\s*\?\s*,\s*file_format\s*=>\s*\?\s*\)\s*\)\s*;?\s*"
)


def _snowflake_type(arrow_type: pa.DataType) -> str:
    """The type Snowflake's INFER_SCHEMA reports for a Parquet column."""
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_integer(arrow_type):
        return "NUMBER(38, 0)"
    if pa.types.is_floating(arrow_type):
        return "REAL"
    if pa.types.is_decimal(arrow_type):
        return f"NUMBER({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "TEXT"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "BINARY"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_time(arrow_type):
        return "TIME(9)"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP_TZ(9)" if arrow_type.tz else "TIMESTAMP_NTZ(9)"
    return "VARIANT"


def _infer_schema(conn, location: str) -> str | JSONResponse:
    """INFER_SCHEMA over a stage's Parquet files (what write_pandas asks), as a SELECT of them."""
    import pyarrow.parquet as pq

    var, _, path = location.removeprefix("@").partition("/")
    catalog, schema, name = fakesnow_stage.parts_from_var(var, conn.database, conn.schema)
    folder = Path(fakesnow_stage.internal_dir(f"{catalog}.{schema}.{name}", path))
    columns: dict[str, str] = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        for field in pq.read_schema(file):
            columns.setdefault(field.name, _snowflake_type(field.type))
    if not columns:
        return _error(
            2003,
            "02000",
            f"SQL compilation error:\nStage '{catalog}.{schema}.{name}' has no files.",
        )
    values = ", ".join(
        f"({exp.Literal.string(c).sql()}, {exp.Literal.string(t).sql()})"
        for c, t in columns.items()
    )
    return f'SELECT * FROM (VALUES {values}) AS T("COLUMN_NAME", "TYPE")'


# Snowpark's save_as_table("append") on a new table: CREATE TABLE T IF NOT EXISTS (...), the
# order Snowflake also accepts; fakesnow's parser wants IF NOT EXISTS before the name.
_NAME_THEN_IF_NOT_EXISTS = re.compile(
    rf"(?is)^(\s*create\s+(?:or\s+replace\s+)?(?:(?:local|global)\s+)?"
    rf"(?:(?:temp|temporary|transient|volatile)\s+)?table\s+)"
    rf"({_IDENT}(?:\.{_IDENT}){{0,2}})\s+if\s+not\s+exists\b"
)


# write_pandas uploads with `PUT 'file://...' ? options`, the stage bound to the ?. fakesnow then
# answers with a local path to copy to, which works only when the client shares this machine's
# files (not from a container). With the stage written in, fakesnow answers with an upload URL on
# this server instead, as Snowflake answers with its storage. The connector asks again for that
# URL with the same text and no bindings: the stage bound first is kept for it.
_BOUND_PUT = re.compile(r"(?is)^\s*(put\s+'file://[^']*')\s+\?(.*)$")
_bound_stages: OrderedDict = OrderedDict()


def _bound_put(payload: dict, conn) -> None:
    put = _BOUND_PUT.fullmatch(payload["sqlText"])
    if put is None:
        return
    key = (id(conn), put.group(1))
    bindings = payload.get("bindings") or {}
    if len(bindings) == 1:
        _bound_stages[key] = str(bindings["1"]["value"])
        while len(_bound_stages) > 1000:
            _bound_stages.popitem(last=False)
    if key in _bound_stages:
        payload["sqlText"] = f"{put.group(1)} {_bound_stages[key]}{put.group(2)}"
        payload["bindings"] = None


def _loading_statement(payload: dict, conn) -> JSONResponse | None:
    """Answer or reword the statements Snowpark's loading calls send (`payload` in place)."""
    payload["sqlText"] = _NAME_THEN_IF_NOT_EXISTS.sub(r"\1IF NOT EXISTS \2", payload["sqlText"])
    _bound_put(payload, conn)
    bindings = payload.get("bindings") or {}
    if _INFER_SCHEMA.fullmatch(payload["sqlText"]) and len(bindings) == 2:
        answer = _infer_schema(conn, str(bindings["1"]["value"]))
        if isinstance(answer, Response):
            return answer
        payload["sqlText"], payload["bindings"] = answer, None
    return None


def _split_identifier(text: str) -> list[tuple[str, bool]]:
    """`"DB"."SCHEMA"."T"` or `db.t` as (name, quoted) parts; quoted parts may hold dots."""
    parts = re.findall(r'"((?:[^"]|"")*)"|([^."]+)', text)
    return [(q.replace('""', '"'), True) if q else (u, False) for q, u in parts]


def _identifier(expression, params):
    """fakesnow's IDENTIFIER(?), which takes `"DB"."SCHEMA"."T"` for one quoted name."""
    table = upstream(fakesnow_transforms, "identifier")(expression, params)
    name = table.this if isinstance(table, exp.Table) else None
    if table is expression or not (isinstance(name, exp.Identifier) and name.quoted):
        return table
    parts = _split_identifier(f'"{name.this}"')
    if not 1 < len(parts) <= 3:
        return table
    idents = [exp.Identifier(this=n, quoted=q) for n, q in parts]
    keys = ["catalog", "db", "this"][-len(idents) :]
    return exp.Table(**dict(zip(keys, idents, strict=True)))


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


def _temp_tables(conn) -> dict[str, tuple[str, str]]:
    # Temporary tables created with a qualified name: DuckDB keeps them in its own `temp`
    # catalog, so the name is looked up there wherever the statement qualifies it so.
    return conn.__dict__.setdefault("tutorial_temp_tables", {})


def _qualified_temp_tables(expression, conn):
    """CREATE TEMP TABLE DB.SCHEMA.T (what write_pandas sends for Snowpark) and its uses."""
    known = _temp_tables(conn)
    create = expression if isinstance(expression, exp.Create) else None
    if create and create.kind == "TABLE" and create.find(exp.TemporaryProperty):
        table = create.find(exp.Table)
        if table is not None and (table.args.get("catalog") or table.args.get("db")):
            where = (table.catalog or conn.database, table.db or conn.schema)
            known[table.name] = where
            table.set("catalog", None)
            table.set("db", None)
            return expression
    if not known:
        return expression
    live = {
        name
        for (name,) in conn._duck_conn.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary"
        ).fetchall()
    }
    for name in [n for n in known if n not in live]:
        del known[name]
    for table in expression.find_all(exp.Table):
        where = (table.catalog or conn.database, table.db or conn.schema)
        if (table.args.get("catalog") or table.args.get("db")) and known.get(table.name) == where:
            table.set("catalog", None)
            table.set("db", None)
    return expression


def _server_errors(name: str):
    """fakesnow's cursor method `name`, whose unexpected errors become Snowflake errors, not
    HTTP 500s."""

    def wrapper(self, *args, **kwargs):
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
            raise
        except SnowflakeError:
            raise
        except ParseError as error:  # execute converts these; _describe_only does not
            raise _snowflake_syntax_error(error) from None
        except duckdb.InvalidInputException as error:
            if "were not provided" in str(error):
                raise ProgrammingError(
                    msg="SQL compilation error:\nBind variable ? not set.",
                    errno=2049,
                    sqlstate="42601",
                ) from None
            raise ProgrammingError(msg=str(error), errno=100038, sqlstate="22018") from None
        except Exception as error:  # noqa: BLE001 - every error reaches the client as Snowflake's
            message = str(error).split("\n")[0] or type(error).__name__
            raise ProgrammingError(
                msg=f"SQL execution error: {message}", errno=603, sqlstate="XX000"
            ) from None

    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


def _snowflake_syntax_error(error: ParseError) -> ProgrammingError:
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


def _error_response(response: Response) -> Response:
    """A last guard: an HTTP 500 (which the connector retries for minutes) as Snowflake's error."""
    if response.status_code < 500:
        return response
    return _error(603, "XX000", "SQL execution internal error: the local Snowflake failed.")


# --- Databases, and what the stack refuses (issue 12, items 5, 7 and 9)

# One line for everything that would run code inside the warehouse: the stack has no Python in
# its warehouse, and a SQL UDF would run as a DuckDB macro with DuckDB's semantics.
NO_UDFS = (
    "The local stack does not run Python inside the warehouse: UDFs and stored procedures "
    "(and session.add_packages) need a Snowflake account."
)


def _semantics_rewrite(text: str, conn) -> str | JSONResponse | None:
    """What `_rewrite` answers for databases and UDFs, or None to go on."""
    if m := re.fullmatch(
        rf"(?is)create\s+(or\s+replace\s+)?(?:transient\s+)?database\s+(if\s+not\s+exists\s+)?"
        rf"({_IDENT})(?:\s+comment\s*=\s*'(?:[^']|'')*')?",
        text,
    ):
        return _create_database(conn, _name(m[3]), or_replace=bool(m[1]), if_not_exists=bool(m[2]))
    if re.match(
        r"(?is)create\s+(or\s+replace\s+)?(secure\s+)?((scoped\s+)?temp(orary)?\s+|volatile\s+)?"
        r"(aggregate\s+)?(function|procedure)\b",
        text,
    ) or re.search(r"(?is)\binformation_schema\s*\.\s*packages\b", text):
        # Refused before fakesnow runs it: fakesnow would leave a macro behind (item 9).
        return _error(2, "0A000", NO_UDFS)
    if re.match(r"(?is)create\s+scoped\s+temporary\s+stage\b", text):
        # Snowpark's session stage, made first by udf.register: then it meets NO_UDFS.
        return re.sub(r"(?is)^create\s+scoped\s+temporary", "CREATE TEMPORARY", text)
    return None


def _create_database(conn, name: str, or_replace: bool, if_not_exists: bool):
    """CREATE [OR REPLACE] DATABASE as on Snowflake: with PUBLIC, and current for the session."""
    if not re.fullmatch(r"[A-Za-z_][\w$]*", name):
        # The name becomes a file name in the state folder.
        return _error(
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
        return _error(
            2, "0A000", f"The local stack cannot hold databases {found[0]} and {name} together."
        )
    exists = found is not None
    if exists and if_not_exists:
        return _ok(f"{name} already exists, statement succeeded.")
    if exists and not or_replace:
        return _error(2002, "42710", f"SQL compilation error:\nObject '{name}' already exists.")
    if exists:
        _drop_database(conn, name, if_exists=True)
    cursor = conn.cursor()
    cursor.execute(f"CREATE DATABASE {_quoted(name)}")
    cursor.execute(f"CREATE SCHEMA {_quoted(name)}.PUBLIC")  # fakesnow makes it current
    return _ok(f"Database {name} successfully created.")


# --- Large results in chunks, as Snowflake sends them -----------------------------------------

# Snowflake's result chunks hold up to about 16 MB; the first part comes inline, smaller.
DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
KEPT_RESULTS = 8  # results whose chunks stay downloadable (the connector may retry a chunk)


class ChunkedResults:
    """Splits a result into an inline first part and chunks served by GET, as Snowflake does."""

    def __init__(self, chunk_bytes: int = DEFAULT_CHUNK_BYTES):
        self.chunk_bytes = chunk_bytes
        self._results: OrderedDict[str, tuple[pa.Table, list[int]]] = OrderedDict()
        self._lock = threading.Lock()
        # fakesnow serialises the whole result in query_request; it hands it to us here instead.
        self._pending: ContextVar[pa.Table | None] = ContextVar("pending_result", default=None)

    def _rows(self, table: pa.Table, size: int) -> int:
        return max(1, int(size / max(1, table.nbytes / max(1, table.num_rows))))

    def first_part(self, table: pa.Table):
        """Used as fakesnow's to_ipc: the inline part only, the full table kept for chunks."""
        inline = self._rows(table, self.chunk_bytes // 16)
        if table.num_rows <= inline:
            return to_ipc(table)
        self._pending.set(table)
        return to_ipc(table.slice(0, inline))

    def add_chunks(self, request: Request, response: Response) -> Response:
        table = self._pending.get()
        if table is None:
            return response
        self._pending.set(None)
        payload = json.loads(response.body)
        inline = self._rows(table, self.chunk_bytes // 16)
        size = self._rows(table, self.chunk_bytes)
        offsets = list(range(inline, table.num_rows, size))
        key = uuid.uuid4().hex
        with self._lock:
            self._results[key] = (table, offsets)
            while len(self._results) > KEPT_RESULTS:
                self._results.popitem(last=False)
        base = f"{request.url.scheme}://{request.url.netloc}/tutorial-chunks/{key}"
        chunks = []
        for index, offset in enumerate(offsets):
            rows = min(size, table.num_rows - offset)
            nbytes = table.slice(offset, rows).nbytes
            chunks.append(
                {
                    "url": f"{base}/{index}",
                    "rowCount": rows,
                    "uncompressedSize": nbytes,
                    "compressedSize": nbytes,
                }
            )
        payload["data"]["chunks"] = chunks  # `total` stays the full row count
        return JSONResponse(payload)

    async def chunk(self, request: Request) -> Response:
        with self._lock:
            found = self._results.get(request.path_params["key"])
        index = request.path_params["index"]
        if found is None or index >= len(found[1]):
            return Response(status_code=404)
        table, offsets = found
        offset = offsets[index]
        rows = min(self._rows(table, self.chunk_bytes), table.num_rows - offset)
        body = to_ipc(table.slice(offset, rows))
        return Response(body.to_pybytes(), media_type="application/octet-stream")


_chunked = ChunkedResults()


async def query_request(request: Request) -> Response:
    conn = _connection(request)
    if conn is not None:
        body = await request.body()
        gzipped = request.headers.get("Content-Encoding") == "gzip"
        payload = json.loads(gzip.decompress(body) if gzipped else body)
        original = dict(payload)
        if answered := _loading_statement(payload, conn):
            return answered
        if get := _GET.fullmatch(payload["sqlText"]):
            return _get(request, conn, get)
        rewritten = _rewrite(payload["sqlText"], conn)
        if isinstance(rewritten, Response):
            return rewritten
        payload["sqlText"] = rewritten
        if payload != original:
            raw = json.dumps(payload).encode()
            request._body = gzip.compress(raw) if gzipped else raw  # Starlette's cached body
    response = _error_response(await fakesnow_server.query_request(request))
    return _chunked.add_chunks(request, response)


# --- Functions fixed inside fakesnow's SQL transform


def _as_column(original: exp.Expression, replacement: exp.Expression, name: str):
    # A bare projection keeps Snowflake's column name, e.g. "CURRENT_USER()".
    if isinstance(original.parent, exp.Select) and original.arg_key == "expressions":
        return exp.alias_(replacement, name, quoted=True)
    return replacement


def _transform(self: FakeSnowflakeCursor, expression, params):
    conn = self._conn
    identity = _identity(conn)

    def session_functions(node):
        values = {
            exp.CurrentUser: ("CURRENT_USER()", identity["user"]),
            exp.CurrentRole: ("CURRENT_ROLE()", identity["role"]),
            exp.CurrentAccount: ("CURRENT_ACCOUNT()", identity["account"]),
            exp.CurrentWarehouse: ("CURRENT_WAREHOUSE()", identity["warehouse"]),
            exp.CurrentDatabase: (
                "CURRENT_DATABASE()",
                conn.database if conn.database_set else None,
            ),
            exp.CurrentSchema: ("CURRENT_SCHEMA()", conn._schema if conn.schema_set else None),
        }
        for kind, (name, value) in values.items():
            if isinstance(node, kind):
                literal = exp.Null() if value is None else exp.Literal.string(value)
                return _as_column(node, literal, name)
        return node

    def signed_hash(node):
        # DuckDB's hash() is unsigned; Snowflake's HASH is a signed 64-bit number.
        if isinstance(node, exp.Anonymous) and str(node.this).upper() == "HASH":
            args = ", ".join(a.sql("duckdb") for a in node.expressions)
            unsigned = f"CAST(hash({args}) AS HUGEINT)"
            signed = parse_one(
                f"CAST({unsigned} - (({unsigned} >> 63) * 18446744073709551616) AS BIGINT)",
                read="duckdb",
            )
            name = f"HASH({', '.join(a.sql('snowflake') for a in node.expressions)})"
            return _as_column(node, signed, name)
        return node

    expression = _result_scans(self, expression)
    _check_identifier_case(self, expression)
    expression = expression.transform(session_functions, copy=False)
    expression = expression.transform(_stage_literal_in_copy, copy=False)
    expression = expression.transform(_positions_over_values, copy=False)
    expression = expression.transform(_upper_case_aggregate_names, copy=False)
    for node in expression.find_all(exp.Sum, exp.Avg):
        if not isinstance(node.this, (exp.Cast, exp.TryCast)):
            node.meta["tutorial_uncast"] = True  # fakesnow casts it to DOUBLE; maybe undone
    transformed = upstream(FakeSnowflakeCursor, "_transform")(self, expression, params)
    transformed = _qualified_temp_tables(transformed, conn)
    transformed = transformed.transform(signed_hash, copy=False)
    return _exact_aggregates(self, transformed)


# --- Snowflake's names, types and identifier case (issue 12, items 10, 11 and 12)


def _result_scans(cursor, expression):
    """RESULT_SCAN anywhere in a query, e.g. Snowpark's `SELECT "name" FROM (SELECT * FROM
    TABLE(RESULT_SCAN(id)))` after LS; fakesnow answers only SELECT * FROM TABLE(RESULT_SCAN(id)).

    The cached result is given to DuckDB as a view of that Arrow table.
    """
    if fakesnow_transforms.result_scan(expression.copy()).args.get("result_scan_sfqid"):
        return expression  # fakesnow's own case
    for node in list(expression.find_all(exp.TableFromRows)):
        call = node.this
        if not (
            isinstance(call, exp.Anonymous)
            and call.name.upper() == "RESULT_SCAN"
            and call.expressions
            and isinstance(call.expressions[0], exp.Literal)
        ):
            continue
        sfqid = call.expressions[0].this
        cached = cursor._conn.results_cache.get(sfqid)
        if cached is None:
            raise ProgrammingError(msg=f"Statement {sfqid} not found", errno=709, sqlstate="02000")
        view = f"_tutorial_result_{uuid.uuid5(uuid.NAMESPACE_OID, sfqid).hex}"
        cursor._duck_conn.register(view, cached[0])
        node.replace(
            exp.Table(this=exp.to_identifier(view, quoted=True), alias=node.args.get("alias"))
        )
    return expression


def _upper_case_aggregate_names(node):
    # DuckDB names `count(x)` and `count_star()`; Snowflake names the upper-cased text, COUNT(*).
    if isinstance(node, exp.AggFunc) and not isinstance(node, (exp.Sum, exp.Avg)):
        return _as_column(node, node, node.sql("snowflake").upper())
    return node


_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"}
_INTEGERS |= {"UINTEGER", "UBIGINT", "UHUGEINT"}


def _exact_aggregates(cursor, expression):
    """SUM and AVG of fixed-point numbers stay fixed-point, as on Snowflake.

    fakesnow casts every SUM/AVG argument to DOUBLE (so that VARCHARs sum, as on Snowflake):
    SUM(NUMBER(38,0)) then loses digits. The argument types are asked of DuckDB (DESCRIBE of the
    same query with ANY_VALUE(argument) as columns); for numbers the cast is undone: SUM is
    then exact, NUMBER(38, s), and AVG is NUMBER(38, s') with Snowflake's division scale
    s' = max(s, min(s + 6, 12)), computed in integers (over a window or with FILTER: DuckDB's
    DOUBLE, typed so). In a correlated subquery, where the probe cannot run, fakesnow's DOUBLE
    stays.
    """
    for select in list(expression.find_all(exp.Select)):
        found = [
            node
            for node in select.find_all(exp.Sum, exp.Avg)
            if node.meta.get("tutorial_uncast")
            and node.parent_select is select
            and isinstance(node.this, exp.TryCast)
        ]
        if not found:
            continue
        probe = select.copy()
        for key in ("order", "having", "limit", "offset", "qualify", "distinct", "with"):
            probe.set(key, None)
        probe.set(
            "expressions",
            [exp.func("ANY_VALUE", node.this.this.copy()) for node in found],
        )
        probe = probe.transform(lambda e: exp.Null() if isinstance(e, exp.Placeholder) else e)
        try:
            types = [
                row[1]
                for row in cursor._duck_conn.execute(f"DESCRIBE {probe.sql('duckdb')}").fetchall()
            ]
        except duckdb.Error:
            continue  # e.g. a correlated subquery: fakesnow's DOUBLE stays
        for node, kind in zip(found, types, strict=True):
            scale = re.fullmatch(r"DECIMAL\(\d+,(\d+)\)", kind)
            if kind not in _INTEGERS and not scale:
                continue
            node.set("this", node.this.this)
            if isinstance(node, exp.Avg):
                s = int(scale[1]) if scale else 0
                s = max(s, min(s + 6, 12))
                if isinstance(node.parent, (exp.Window, exp.Filter)):
                    # AVG(...) OVER (...) or FILTER (...): DuckDB's DOUBLE, typed as Snowflake's
                    outer = node.parent
                    while isinstance(outer.parent, (exp.Window, exp.Filter)):
                        outer = outer.parent
                    to = exp.DataType.build(f"DECIMAL(38, {s})")
                    name = outer.sql("snowflake").upper()
                    outer.replace(_as_column(outer, exp.Cast(this=outer.copy(), to=to), name))
                else:
                    node.replace(_exact_average(node.this, s))
    return expression


def _exact_average(argument, scale: int):
    """AVG(argument) as NUMBER(38, scale), rounded half away from zero, in integers.

    DuckDB's AVG is a DOUBLE, exact to about 16 digits only.
    """
    arg = argument.sql("duckdb")
    total = f"CAST(SUM({arg}) * {10**scale} AS HUGEINT)"
    count = f"COUNT({arg})"
    quotient = f"({total} * 2 + SIGN({total}) * {count}) // NULLIF({count} * 2, 0)"
    unit = f"CAST('{10**-scale:.{scale}f}' AS DECIMAL({scale + 1}, {scale}))"
    return parse_one(
        f"CAST(CAST({quotient} AS DECIMAL(38, 0)) * {unit} AS DECIMAL(38, {scale}))",
        read="duckdb",
    )


def _resolved(ident: exp.Identifier) -> str:
    """The name Snowflake stores for an identifier: quoted as written, unquoted upper-cased.

    The one rule of identifier case here; DuckDB's catalog would match any case.
    """
    return ident.name if ident.quoted else ident.name.upper()


def _shown(ident: exp.Identifier) -> str:
    """An identifier as Snowflake's error messages show it."""
    return _quoted(ident.name) if ident.quoted else ident.name.upper()


def _table_columns(cursor, table: exp.Table) -> list[str] | None:
    """The columns of the table `table` names, resolved as Snowflake resolves names; None when
    it names no table of the catalog (a view, a table function, a table DuckDB reports on its
    own). A table differing only in case, which DuckDB would use, is Snowflake's error 2003."""
    ident = table.this
    conn = cursor._conn
    catalog = table.catalog or conn.database
    schema = table.db or conn.schema
    if not isinstance(ident, exp.Identifier) or not catalog or not schema:
        return None
    wanted = _resolved(ident)
    names = [
        row[0]
        for row in cursor._duck_conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE upper(table_catalog) = "
            "upper(?) AND upper(table_schema) = upper(?) AND upper(table_name) = upper(?)",
            [catalog, schema, wanted],
        ).fetchall()
    ]
    if not names:
        return None
    if wanted not in names:
        raise ProgrammingError(
            msg=f"SQL compilation error:\nObject '{_shown(ident)}' does not exist or not "
            "authorized.",
            errno=2003,
            sqlstate="42S02",
        )
    return [
        row[0]
        for row in cursor._duck_conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE upper(table_catalog) = "
            "upper(?) AND upper(table_schema) = upper(?) AND table_name = ?",
            [catalog, schema, wanted],
        ).fetchall()
    ]


def _check_identifier_case(cursor, expression) -> None:
    """Quoted identifiers are case-sensitive on Snowflake; DuckDB's catalog ignores case.

    A table or column named in a statement resolves (see _resolved) only to an object of exactly
    that name: one differing only in case, which DuckDB would use, is an error here as on
    Snowflake. That holds for the schema lookups too: DESCRIBE TABLE, SHOW COLUMNS IN TABLE, and
    the describe-only requests (DESCRIBE SELECT ...) that give Snowpark a DataFrame's schema.
    Names this cannot see (table functions, stages) are left to DuckDB.
    """
    if isinstance(expression, exp.Describe) and isinstance(expression.this, exp.Table):
        _table_columns(cursor, expression.this)
        return
    if isinstance(expression, exp.Show) and isinstance(expression.args.get("scope"), exp.Table):
        _table_columns(cursor, expression.args["scope"])
        return
    if isinstance(expression, exp.Describe):
        expression = expression.this  # a describe-only request: the query it describes
    if not isinstance(expression, (exp.Select, exp.Insert, exp.Update, exp.Delete, exp.Create)):
        return
    ctes = {cte.alias_or_name.upper() for cte in expression.find_all(exp.CTE)}
    target = expression.this if isinstance(expression, exp.Create) else None
    columns: list[str] = []
    complete = True  # every source is a table whose columns are known
    for table in expression.find_all(exp.Table):
        if table.name.upper() in ctes:
            complete = False
            continue
        if target is not None and (table is target or table.parent is target):
            continue
        found = _table_columns(cursor, table)
        if found is None:
            complete = False
            continue
        columns += found
    if not complete:
        return
    known = set(columns)
    aliases = [a.args.get("alias") for a in expression.find_all(exp.Alias)]
    aliases += [i for t in expression.find_all(exp.TableAlias) for i in t.columns]
    known |= {_resolved(i) for i in aliases if isinstance(i, exp.Identifier)}
    for column in expression.find_all(exp.Column):
        ident = column.this
        if not isinstance(ident, exp.Identifier):
            continue
        wanted = _resolved(ident)
        if wanted in known:
            continue
        if any(name.upper() == wanted.upper() for name in known):
            raise ProgrammingError(
                msg=f"SQL compilation error:\ninvalid identifier '{_shown(ident)}'",
                errno=904,
                sqlstate="42000",
            )


# --- The server


def _app() -> Starlette:
    routes = [
        Route("/session/v1/login-request", login_request, methods=["POST"]),
        Route("/queries/v1/query-request", query_request, methods=["POST"]),
        Route("/session", session_request, methods=["POST"]),
        Route("/tutorial-chunks/{key}/{index:int}", _chunked.chunk, methods=["GET"]),
        Route("/fs_bucket/{path:path}", bucket_download, methods=["GET"]),
        *[r for r in fakesnow_server.routes if r.path not in _REPLACED_ROUTES],
    ]
    return Starlette(routes=routes)


def _open_database_files(db_dir: Path) -> FakeSnow:
    """One FakeSnow over the state folder's databases, each re-attached as it was."""
    instance = FakeSnow(db_path=db_dir)
    for db_file in sorted(db_dir.glob("*.db")):
        try:
            instance.connect(db_file.stem).close()
        except duckdb.Error as error:
            instance.duck_conn.close()
            raise TutorialError(
                f"The local Snowflake database file {db_file} cannot be opened ({error}). "
                "Remove the state folder with `make local-reset` to start from empty."
            ) from None
    return instance


class SnowflakeServer:
    """The fakesnow server in a background thread, on 127.0.0.1 and a socket given to it."""

    def __init__(self, state_dir: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES):
        self.chunk_bytes = chunk_bytes
        self.db_dir = state_dir / "snowflake"
        self.stage_dir = state_dir / "snowflake-stages"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, sock) -> None:
        self.db_dir.mkdir(parents=True, exist_ok=True)
        self.stage_dir.mkdir(parents=True, exist_ok=True)
        _chunked.chunk_bytes = self.chunk_bytes
        fakesnow_stage.LOCAL_BUCKET_PATH = str(self.stage_dir)
        fakesnow_server.sessions.clear()
        fakesnow_server.shared_fs = _open_database_files(self.db_dir)
        config = uvicorn.Config(
            _app(), log_level="warning", timeout_graceful_shutdown=2, access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="snowflake", daemon=True
        )
        self._thread.start()
        deadline = time.time() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.time() > deadline:
                raise TutorialError("The local Snowflake server did not start; see stack.log.")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        fakesnow_server.sessions.clear()
        # Close DuckDB so its files are complete and another stack can open them.
        fakesnow_server.shared_fs.duck_conn.close()


# --- What this module changes in fakesnow, for the registry (local/patches.py)

PATCHES: list[Patch] = [
    Patch(
        FakeSnowflakeCursor,
        "_transform",
        _transform,
        "fakesnow lacks Snowflake's session functions, signed HASH, exact SUM/AVG, case rules",
    ),
    Patch(
        FakeSnowflakeCursor,
        "execute",
        _server_errors("execute"),
        "fakesnow answers an unexpected error with HTTP 500, which the connector retries",
    ),
    Patch(
        FakeSnowflakeCursor,
        "_describe_only",
        _server_errors("_describe_only"),
        "fakesnow answers an unexpected error with HTTP 500, which the connector retries",
    ),
    Patch(
        fakesnow_transforms,
        "identifier",
        _identifier,
        "fakesnow reads a qualified quoted name in IDENTIFIER(?) as one name",
    ),
    *[
        Patch(
            module,
            "syntax_error",
            _snowflake_syntax_error,
            "fakesnow passes sqlglot's parse errors on, not Snowflake's",
        )
        for module in (fakesnow_dialect, fakesnow_cursor)
    ],
    Patch(
        fakesnow_server,
        "to_ipc",
        _chunked.first_part,
        "fakesnow sends a whole result inline; Snowflake sends chunks after a first part",
    ),
    Patch(
        fakesnow_stage,
        "LOCAL_BUCKET_PATH",
        None,
        "SnowflakeServer.start puts stage files in the state folder, not a temporary one",
        kind="setting",
    ),
    Patch(
        fakesnow_server,
        "shared_fs",
        None,
        "SnowflakeServer.start opens the state folder's database files",
        kind="setting",
    ),
]
