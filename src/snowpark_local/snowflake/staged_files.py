"""Querying staged CSV files: SELECT $1, $2 FROM @stage/path (FILE_FORMAT => 'name', PATTERN =>
'regex'), which Snowpark's session.read.csv sends (fakesnow reads stages in COPY INTO only).

Snowflake (Querying data in staged files): each record of the stage's files under the path (those
PATTERN matches, if given) is a row, $n is its n-th field as text, parsed as the named file format
says (CSV when none is named), and a path with no files gives no rows. The files are read with
DuckDB's read_csv under the options fakesnow's COPY INTO uses for that format.
"""

from __future__ import annotations

import re
from pathlib import PurePath

import fakesnow.transforms.stage as fakesnow_stage
from fakesnow.copy_into import _source_glob, handle_csv
from fakesnow.transforms.file_format import lookup_file_format
from snowflake.connector.errors import ProgrammingError
from sqlglot import exp

from .stages import stage_location


def _is_stage(table) -> bool:
    return (
        isinstance(table, exp.Table)
        and isinstance(table.this, exp.Var)
        and table.this.name.startswith("@")
    )


def _files(conn, location: str, pattern: str | None) -> list[str]:
    storage, path = stage_location(conn, location, "SELECT")
    root = fakesnow_stage.internal_dir(storage)
    files = sorted(_source_glob(fakesnow_stage.internal_dir(storage, path), conn._duck_conn))
    if pattern is None:
        return files
    return [f for f in files if re.fullmatch(pattern, PurePath(f).relative_to(root).as_posix())]


def _reader(conn, table: exp.Table, files: list[str], width: int) -> exp.Subquery:
    options = {}
    if (named := table.args.get("format")) is not None:
        options = lookup_file_format(conn._duck_conn, named.name, conn.database, conn.schema)
    kind = str(options.get("TYPE", "CSV")).upper()
    if kind != "CSV":
        raise ProgrammingError(
            msg=f"The local stack queries staged CSV files only, not {kind} ones: load them "
            "with COPY INTO a table instead.",
            errno=2,
            sqlstate="0A000",
        )
    # Every $n asked for, even past the widest record of the files (DuckDB's columns end there):
    # a field the records lack is NULL, as on Snowflake, and no file gives no row.
    fields = ", ".join(f"CAST(NULL AS VARCHAR) AS column{i}" for i in range(width))
    nothing = exp.maybe_parse(f"SELECT {fields} WHERE FALSE", dialect="duckdb")
    if not files:
        return nothing.subquery()
    csv = handle_csv(options)
    read = csv.read_expression(files[0])
    read.set("this", exp.Array(expressions=[csv.file_literal(f) for f in files]))
    read.append("expressions", csv.make_eq("all_varchar", True))  # $n is text, as on Snowflake
    read.append("expressions", csv.make_eq("null_padding", True))  # a short record: NULLs
    read.append("expressions", csv.make_eq("union_by_name", True))  # files of other widths
    records = exp.select("*").from_(exp.Table(this=read))
    return exp.union(nothing, records, distinct=False, by_name=True).subquery()


def staged_files(expression, conn):
    """Each SELECT ... FROM @stage in `expression` as a SELECT from read_csv of its files."""
    if isinstance(expression, exp.Copy):
        return expression  # fakesnow's COPY INTO reads the stage itself
    for select in list(expression.find_all(exp.Select)):
        from_ = select.args.get("from_")
        table = from_.this if isinstance(from_, exp.From) else None
        if not _is_stage(table):
            continue
        positions = [
            p
            for p in select.find_all(exp.Parameter)
            if p.find_ancestor(exp.Select) is select
            and isinstance(p.this, exp.Literal)
            and not p.this.is_string
        ]
        for p in positions:
            name = exp.to_identifier(f"column{int(p.this.this) - 1}")
            if isinstance(p.parent, exp.Column):
                p.replace(name)
            else:
                p.replace(exp.column(name))
        width = max([int(p.this.this) for p in positions] or [1])
        pattern = table.args.get("pattern")
        files = _files(conn, table.this.name, pattern.name if pattern is not None else None)
        reader = _reader(conn, table, files, width)
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier("_STAGED"))
        reader.set("alias", alias)
        table.replace(reader)
    return expression
