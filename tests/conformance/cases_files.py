"""Files on an internal stage: PUT, LIST and GET, in SQL and through Snowpark's session.file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from conformance.harness import Case, Raises, rows

CONTENT = b"id,name\n1,ada\n2,grace\n"
GET_REF = "GET"
FILE_REF = "FileOperation.get / FileOperation.put"


def _with_files(run):
    """`run(session, folder)` in a fresh temporary folder holding a.csv, after CREATE STAGE F."""

    def case(session):
        session.sql("CREATE OR REPLACE STAGE F").collect()
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "a.csv").write_bytes(CONTENT)
            return run(session, Path(folder))

    return case


def _put(session, folder, target="@F"):
    query = f"PUT file://{folder}/a.csv {target} AUTO_COMPRESS=FALSE"
    session.sql(query).collect()


@_with_files
def _sql_round_trip(session, folder):
    _put(session, folder)
    out = folder / "out"
    out.mkdir()
    got = rows(session.sql(f"GET @F/a.csv file://{out}/"))
    return got, (out / "a.csv").read_bytes() == CONTENT


@_with_files
def _file_round_trip(session, folder):
    put = session.file.put(str(folder / "a.csv"), "@F/dir", auto_compress=False)
    got = session.file.get("@F/dir/", str(folder / "out"))
    return (
        [(p.source, p.target, p.status) for p in put],
        [(g.file, g.size, g.status, g.message) for g in got],
        (folder / "out" / "a.csv").read_bytes() == CONTENT,
    )


@_with_files
def _pattern(session, folder):
    _put(session, folder)
    (folder / "b.txt").write_text("other")
    session.sql(f"PUT file://{folder}/b.txt @F AUTO_COMPRESS=FALSE").collect()
    got = session.file.get("@F", str(folder / "out"), pattern=r".*\.csv")
    return [g.file for g in got], sorted(p.name for p in (folder / "out").iterdir())


@_with_files
def _list(session, folder):
    _put(session, folder, "@F/dir")
    return [(name, size) for name, size, *_ in rows(session.sql("LIST @F"))]


@_with_files
def _missing(session, folder):
    return rows(session.sql(f"GET @F/missing.csv file://{folder}/"))


@_with_files
def _missing_stage(session, folder):
    return rows(session.sql(f"GET @NOPE/a.csv file://{folder}/"))


CASES = [
    Case(
        "Files",
        "PUT then GET @F/a.csv file://dir/ downloads the file as it was",
        _sql_round_trip,
        ([("a.csv", len(CONTENT), "DOWNLOADED", "")], True),
        GET_REF,
    ),
    Case(
        "Files",
        "session.file.put then session.file.get of a stage folder (@F/dir/)",
        _file_round_trip,
        (
            [("a.csv", "a.csv", "UPLOADED")],
            [("a.csv", len(CONTENT), "DOWNLOADED", "")],
            True,
        ),
        FILE_REF,
    ),
    Case(
        "Files",
        "session.file.get(pattern=...) downloads only the matching files",
        _pattern,
        (["a.csv"], ["a.csv"]),
        FILE_REF,
    ),
    Case(
        "Files",
        "LIST after PUT into a stage folder names the files with the stage's name",
        _list,
        [("f/dir/a.csv", len(CONTENT))],
        "LIST",
    ),
    Case(
        "Files",
        "GET of a file the stage does not hold (the connector raises on Snowflake's empty answer)",
        _missing,
        Raises(253006, "the file does not exist"),
        GET_REF,
    ),
    Case(
        "Files",
        "GET from a stage that does not exist",
        _missing_stage,
        Raises(2003, "does not exist or not authorized"),
        GET_REF,
    ),
]
