"""The Snowflake server of the local stack: fakesnow's, file-backed, with this package's routes,
and PATCHES, what the package changes in fakesnow for the registry (snowpark_local/patches.py)."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path

import duckdb
import fakesnow.copy_into as fakesnow_copy_into
import fakesnow.cursor as fakesnow_cursor
import fakesnow.dialect as fakesnow_dialect
import fakesnow.server as fakesnow_server
import fakesnow.transforms as fakesnow_transforms
import uvicorn
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.instance import FakeSnow
from fakesnow.transforms import stage as fakesnow_stage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sagemaker_snowpark.errors import TutorialError
from snowpark_local.patch import Patch

from .errors import error_response, keep_sent, server_errors, snowflake_syntax_error
from .expression_names import name_expressions
from .identifiers import identifier
from .merge import merge
from .nullability import describe_as_rowtype, describe_last_sql, marked
from .results import DEFAULT_CHUNK_BYTES, chunked
from .semistructured import to_sf
from .sessions import REPLACED_ROUTES, connection, login_request, session_request
from .sql import transform, trim_cast_varchar
from .stages import GET, bucket_download, get_files, loading_statement, strip_json_extract
from .statements import rewrite
from .temporary import record_temporary_table


async def query_request(request: Request) -> Response:
    conn = connection(request)
    if conn is not None:
        body = await request.body()
        gzipped = request.headers.get("Content-Encoding") == "gzip"
        payload = json.loads(gzip.decompress(body) if gzipped else body)
        original = dict(payload)
        if answered := loading_statement(payload, conn):
            return answered
        if get := GET.fullmatch(payload["sqlText"]):
            return get_files(request, conn, get)
        rewritten = rewrite(payload["sqlText"], conn)
        if isinstance(rewritten, Response):
            return rewritten
        payload["sqlText"] = name_expressions(rewritten)
        keep_sent(conn, payload["sqlText"], original["sqlText"])
        if payload != original:
            raw = json.dumps(payload).encode()
            request._body = gzip.compress(raw) if gzipped else raw  # Starlette's cached body
    response = error_response(await fakesnow_server.query_request(request))
    return chunked.add_chunks(request, response)


# --- The server


def _app() -> Starlette:
    routes = [
        Route("/session/v1/login-request", login_request, methods=["POST"]),
        Route("/queries/v1/query-request", query_request, methods=["POST"]),
        Route("/session", session_request, methods=["POST"]),
        Route("/tutorial-chunks/{key}/{index:int}", chunked.chunk, methods=["GET"]),
        Route("/fs_bucket/{path:path}", bucket_download, methods=["GET"]),
        *[r for r in fakesnow_server.routes if r.path not in REPLACED_ROUTES],
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
        chunked.chunk_bytes = self.chunk_bytes
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
        transform,
        "fakesnow lacks Snowflake's session functions, signed HASH, exact SUM/AVG, case rules",
    ),
    Patch(
        FakeSnowflakeCursor,
        "execute",
        server_errors("execute"),
        "fakesnow answers an unexpected error with HTTP 500, which the connector retries",
    ),
    Patch(
        FakeSnowflakeCursor,
        "_describe_only",
        marked(server_errors("_describe_only")),
        "fakesnow answers an unexpected error with HTTP 500, which the connector retries; "
        "and says every column is nullable",
    ),
    Patch(
        FakeSnowflakeCursor,
        "_describe_last_sql",
        marked(describe_last_sql),
        "fakesnow says every result column is nullable, even a NOT NULL one",
    ),
    Patch(
        fakesnow_server,
        "describe_as_rowtype",
        describe_as_rowtype,
        "fakesnow says every result column is nullable, even a NOT NULL one",
    ),
    Patch(
        fakesnow_transforms,
        "identifier",
        identifier,
        "fakesnow reads a qualified quoted name in IDENTIFIER(?) as one name",
    ),
    Patch(
        fakesnow_transforms,
        "trim_cast_varchar",
        trim_cast_varchar,
        "fakesnow drops TRIM's characters and side: RTRIM(s, ', ') trimmed spaces at both ends",
    ),
    Patch(
        fakesnow_transforms,
        "merge",
        merge,
        "fakesnow's MERGE needs a named source: Snowpark's unnamed subquery fails",
    ),
    *[
        Patch(
            module,
            "syntax_error",
            snowflake_syntax_error,
            "fakesnow passes sqlglot's parse errors on, not Snowflake's",
        )
        for module in (fakesnow_dialect, fakesnow_cursor)
    ],
    Patch(
        fakesnow_stage.TableStages,
        "record_temporary_table",
        record_temporary_table,
        "fakesnow records CREATE TEMP TABLE DB.S.T under the current schema once the stack "
        "removes the qualifier DuckDB refuses",
    ),
    Patch(
        fakesnow_copy_into,
        "_strip_json_extract",
        strip_json_extract,
        "fakesnow unquotes write_pandas's column names: a name with a space breaks the load",
    ),
    Patch(
        fakesnow_server,
        "to_ipc",
        chunked.first_part,
        "fakesnow sends a whole result inline; Snowflake sends chunks after a first part",
    ),
    Patch(
        fakesnow_server,
        "to_sf",
        to_sf,
        "fakesnow sends ARRAY, OBJECT and VARIANT values compact; Snowflake indents them",
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
