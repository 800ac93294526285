"""Who each session signed in as, and the database and schema it uses."""

from __future__ import annotations

import gzip
import json
import uuid
from urllib.parse import urlencode

import fakesnow.server as fakesnow_server
from fakesnow.expr import normalise_ident
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

REPLACED_ROUTES = ("/session/v1/login-request", "/queries/v1/query-request", "/session")
_TOKEN_PREFIX = 'Snowflake Token="'
# The names the README's set-up statements create: a sign-in naming no role gets the users'
# DEFAULT_ROLE, and a workload-identity sign-in is the user created for the AWS role.
DEFAULT_ROLE = "SAGEMAKER_TUTORIAL"
WORKLOAD_IDENTITY_USER = "SAGEMAKER_TRAINING_WIF"


# --- What each session signed in as


def signed_in(conn) -> dict:
    return conn.__dict__.setdefault(
        "tutorial_identity", {"user": "", "role": DEFAULT_ROLE, "account": "", "warehouse": None}
    )


def connection(request: Request):
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
        identity = signed_in(conn)
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


def quoted(name: str) -> str:
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
        duck.execute(f"USE {quoted(catalog)}.{quoted(found[0])}")
        conn.database, conn._schema, conn.database_set, conn.schema_set = (
            catalog,
            found[0],
            True,
            True,
        )
        return catalog, found[0]
    duck.execute(f"USE {quoted(catalog)}")
    conn.database, conn.database_set = catalog, True
    return catalog, None


async def session_request(request: Request) -> Response:
    conn = connection(request) if request.query_params.get("delete") else None
    response = await fakesnow_server.session(request)
    if conn is not None:
        conn.close()  # fakesnow forgets the session but would keep its DuckDB cursor open
    return response
