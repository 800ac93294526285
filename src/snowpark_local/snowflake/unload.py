"""COPY INTO @stage: unloading a query's or a table's rows into files of an internal stage.

Emulates Snowflake's "COPY INTO <location>" and "Overview of data unloading" pages (fakesnow only
loads): the files are named as Snowflake names them (SINGLE = TRUE: the path itself, or `data`
after a `/`; else the path, or `data` after a `/`, then `_0_0_0` and the format's extension, with
the query id first when INCLUDE_QUERY_ID = TRUE), CSV and JSON are gzipped unless COMPRESSION
says otherwise, PARQUET is snappy-compressed with generic column names `_COL_0`... unless
HEADER = TRUE, an existing file blocks the unload unless OVERWRITE = TRUE, and the answer is
Snowflake's row (rows_unloaded, input_bytes, output_bytes) or, with DETAILED_OUTPUT = TRUE, one
row per file. GET downloads the files (stages.py). PARTITION BY is refused.
"""

from __future__ import annotations

import bz2
import datetime
import decimal
import gzip
import io
import json
import re
import uuid
import zlib
from pathlib import Path

from fakesnow.transforms import stage as fakesnow_stage
from fakesnow.transforms.file_format import lookup_file_format
from fakesnow.transforms.options import parse_options
from snowflake.connector.constants import FIELD_ID_TO_NAME
from snowflake.connector.errors import Error as SnowflakeError
from sqlglot import exp, parse_one
from sqlglot.errors import ParseError
from starlette.responses import JSONResponse

from . import nullability
from .errors import snowflake_error
from .expression_names import name_expressions
from .stages import stage_location

_UNLOAD = re.compile(r"(?is)^\s*copy\s+into\s+'?@")

# COMPRESSION: what compresses, and the extension Snowflake adds for it.
_COMPRESSIONS = {
    "AUTO": (lambda data: gzip.compress(data, mtime=0), ".gz"),
    "GZIP": (lambda data: gzip.compress(data, mtime=0), ".gz"),
    "BZ2": (bz2.compress, ".bz2"),
    "DEFLATE": (zlib.compress, ".deflate"),
    "RAW_DEFLATE": (lambda data: _raw_deflate(data), ".raw_deflate"),
    "NONE": (lambda data: data, ""),
}


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


class _Refused(Exception):
    def __init__(self, code: int, state: str, message: str):
        self.response = snowflake_error(code, state, message)


def unload(sql: str, conn) -> str | JSONResponse | None:
    """The result SQL of `COPY INTO @stage ...` once its files are written, an error, or None for
    any other statement."""
    if not _UNLOAD.match(sql):
        return None
    try:
        # HEADER = TRUE writes the query's column names: Snowflake's, not DuckDB's.
        copy = parse_one(name_expressions(sql), read="snowflake")
    except ParseError:
        return None  # fakesnow reports the syntax error
    if not isinstance(copy, exp.Copy) or not isinstance(copy.this, exp.Table):
        return None
    try:
        return _unload(copy, conn)
    except _Refused as refused:
        return refused.response
    except SnowflakeError as error:
        return snowflake_error(error.errno or 603, error.sqlstate or "XX000", error.msg or "")


def _option(value: exp.Expression | None):
    if isinstance(value, exp.Boolean):
        return value.this
    if isinstance(value, exp.Literal):
        return value.this if value.is_string else int(value.this)
    return value.name if value is not None else None


def _true(value) -> bool:
    return str(value).upper() in ("TRUE", "1")


def _unload(copy: exp.Copy, conn) -> str:
    location = copy.this.this.name
    options: dict = {}
    file_format: dict = {}
    for param in copy.args.get("params") or []:
        name = param.this.name.upper()
        if name == "FILE_FORMAT":
            file_format = parse_options(param.expressions)
            if format_name := file_format.pop("FORMAT_NAME", None):
                found = lookup_file_format(
                    conn._duck_conn, str(format_name), conn.database, conn.schema
                )
                file_format = {**found, **file_format}
        elif name == "PARTITION BY":
            raise _Refused(
                2, "0A000", "The local stack does not unload with PARTITION BY (COPY INTO @stage)."
            )
        else:
            options[name] = _option(param.expression)
    kind = str(file_format.get("TYPE", "CSV")).upper()
    if kind not in ("CSV", "JSON", "PARQUET"):
        raise _Refused(
            1003, "42000", f"SQL compilation error:\nInvalid file format type {kind} for unloading."
        )

    source = copy.args["files"][0]
    query = (
        source.this.sql("snowflake")
        if isinstance(source, exp.Subquery)
        else f"SELECT * FROM {source.sql('snowflake')}"
    )
    if str(options.get("VALIDATION_MODE", "")).upper() == "RETURN_ROWS":
        return query  # the rows that would be unloaded, and no file
    root, path = _stage_folder(conn, location)
    cursor = conn.cursor()
    cursor.execute(query)
    table = cursor._arrow_table
    columns = [(d.name, FIELD_ID_TO_NAME[d.type_code]) for d in cursor.description]

    header = _true(options.get("HEADER", False))
    if kind == "PARQUET":
        # NOT NULL columns are required in the file, as Snowflake writes them
        data = _parquet(
            table, columns, header, file_format, nullability.not_null(cursor, len(columns))
        )
        extension = {"AUTO": ".snappy", "SNAPPY": ".snappy"}.get(
            str(file_format.get("COMPRESSION", "AUTO")).upper(), ""
        ) + ".parquet"
        raw_size, output = len(data), data
    else:
        text = (
            _json(table, columns) if kind == "JSON" else _csv(table, columns, header, file_format)
        )
        raw = text.encode()
        method = str(file_format.get("COMPRESSION", "AUTO")).upper()
        if method not in _COMPRESSIONS:
            raise _Refused(
                2, "0A000", f"The local stack does not unload with COMPRESSION = {method}."
            )
        compress, suffix = _COMPRESSIONS[method]
        extension = "." + kind.lower() + suffix
        raw_size, output = len(raw), compress(raw)
    if extension_option := file_format.get("FILE_EXTENSION"):
        extension = "." + str(extension_option).lstrip(".")

    single = _true(options.get("SINGLE", False))
    prefix = path + "data" if path in ("",) or path.endswith("/") else path
    if single:
        name = prefix
    else:
        query_id = f"_{uuid.uuid4()}" if _true(options.get("INCLUDE_QUERY_ID", False)) else ""
        name = f"{prefix}{query_id}_0_0_0{extension}"
    staged = [f.relative_to(root).as_posix() for f in root.rglob("*") if f.is_file()]
    taken = name in staged if single else any(f.startswith(prefix) for f in staged)
    if taken and not _true(options.get("OVERWRITE", False)):
        # The message is Snowflake's; the error code is the stack's.
        raise _Refused(
            603,
            "22000",
            f"Files already existing at the unload destination: {location}. Use overwrite "
            "option to force unloading.",
        )
    rows = table.num_rows
    files = []
    if rows:  # an empty result writes no file
        target = Path(fakesnow_stage.internal_dir(_fqname(root), name))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(output)
        files.append((name, len(output), rows))
    if _true(options.get("DETAILED_OUTPUT", False)):
        values = ", ".join(f"('{n.replace(chr(39), chr(39) * 2)}', {s}, {r})" for n, s, r in files)
        return (
            f'SELECT * FROM (VALUES {values}) AS T("FILE_NAME", "FILE_SIZE", "ROW_COUNT")'
            if files
            else 'SELECT NULL::VARCHAR AS "FILE_NAME", 0 AS "FILE_SIZE", 0 AS "ROW_COUNT" LIMIT 0'
        )
    written = sum(size for _, size, _ in files)
    read = raw_size if files else 0
    return f'SELECT {rows} AS "rows_unloaded", {read} AS "input_bytes", {written} AS "output_bytes"'


def _stage_folder(conn, location: str) -> tuple[Path, str]:
    """The folder of the stage `location` names, and the path after the stage's name."""
    storage, path = stage_location(conn, location, "COPY")
    root = Path(fakesnow_stage.internal_dir(storage))
    root.mkdir(parents=True, exist_ok=True)
    return root, path


def _fqname(root: Path) -> str:
    return ".".join(root.relative_to(fakesnow_stage.LOCAL_BUCKET_PATH).parts)


# --- The formats


def _csv(table, columns, header: bool, options: dict) -> str:
    delimiter = _text_option(options, "FIELD_DELIMITER", ",")
    record = _text_option(options, "RECORD_DELIMITER", "\n")
    enclosure = _text_option(options, "FIELD_OPTIONALLY_ENCLOSED_BY", "")
    escape = _text_option(options, "ESCAPE_UNENCLOSED_FIELD", "\\")
    null_if = options.get("NULL_IF", ["\\N"])
    null = (null_if[0] if null_if else "") if isinstance(null_if, list) else str(null_if)

    def field(text: str, enclose: bool) -> str:
        if enclose and enclosure:
            return enclosure + text.replace(enclosure, enclosure * 2) + enclosure
        if escape:  # Snowflake escapes what would end an unenclosed field early
            for special in dict.fromkeys([escape, delimiter, record]):
                text = text.replace(special, escape + special)
        return text

    lines = []
    if header:
        lines.append(delimiter.join(field(name, True) for name, _ in columns))
    for row in table.to_pylist():
        values = list(row.values())
        lines.append(
            delimiter.join(
                field(null, False) if value is None else field(_text(value, kind), kind == "TEXT")
                for value, (_, kind) in zip(values, columns, strict=True)
            )
        )
    return "".join(line + record for line in lines)


def _text_option(options: dict, name: str, default: str) -> str:
    value = options.get(name, default)
    if value is None or str(value).upper() == "NONE":
        return ""
    escapes = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}  # the option's escape sequences
    return re.sub(r"\\([tnr\\])", lambda m: escapes[m[1]], str(value))


def _text(value, kind: str) -> str:
    """A value as Snowflake's default output formats write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        return text + value.strftime(" %z") if value.tzinfo else text
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex().upper()
    if kind in ("VARIANT", "OBJECT", "ARRAY") and isinstance(value, str):
        return _compact_json(value)
    return str(value)


def _compact_json(text: str) -> str:
    return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)


def _json(table, columns) -> str:
    if len(columns) != 1 or columns[0][1] not in ("VARIANT", "OBJECT", "ARRAY"):
        raise _Refused(
            2019,
            "0A000",
            "SQL compilation error:\nJSON file format can only unload one column of type "
            "variant, object, or array. Use CSV file format to unload more than one column.",
        )
    values = table.column(0).to_pylist()
    return "".join(_compact_json(value) + "\n" for value in values if value is not None)


def _parquet(table, columns, header: bool, options: dict, not_null: list[bool] | None) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [name if header else f"_COL_{i}" for i, (name, _) in enumerate(columns)]
    fields = [
        pa.field(name, column.type, nullable=not (not_null and not_null[i]))
        for i, (name, column) in enumerate(zip(names, table.columns, strict=True))
    ]
    table = pa.Table.from_arrays(table.columns, schema=pa.schema(fields))
    method = str(options.get("COMPRESSION", "AUTO")).upper()
    if method not in ("AUTO", "SNAPPY", "NONE"):
        raise _Refused(2, "0A000", f"The local stack does not unload with COMPRESSION = {method}.")
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy" if method != "NONE" else "none")
    return buffer.getvalue()
