"""Table functions joined laterally (SPLIT_TO_TABLE, FLATTEN) and semi-structured values in
results (JSON indented by 2 spaces)."""

from __future__ import annotations

from snowflake.snowpark.functions import col, lit

from conformance.harness import Case, Raises, rows


def _tags(session):
    session.sql("CREATE OR REPLACE TABLE TAGS (ID INT, TAGS VARCHAR)").collect()
    session.sql("INSERT INTO TAGS VALUES (1, 'red,green'), (2, NULL), (3, 'blue')").collect()


def _split_lateral(session):
    _tags(session)
    found = rows(
        session.sql(
            "SELECT t.ID, s.SEQ, s.INDEX, s.VALUE "
            "FROM TAGS t, LATERAL SPLIT_TO_TABLE(t.TAGS, ',') s"
        )
    )
    # SEQ numbers the input rows, without a promised order: one per ID, distinct across IDs.
    seqs = {id_: seq for id_, seq, _, _ in found}
    return [(id_, index, value) for id_, _, index, value in found], len(set(seqs.values()))


def _flatten_object(session):
    session.sql("CREATE OR REPLACE TABLE DOCS (ID INT, DOC OBJECT)").collect()
    session.sql(
        'INSERT INTO DOCS SELECT 1, PARSE_JSON(\'{"name": "ada", "langs": ["en", "fr"]}\')'
    ).collect()
    docs = session.table("DOCS")
    flat = docs.join_table_function("flatten", input=col("DOC"), path=lit("langs"))
    return rows(flat.select("ID", "KEY", "PATH", "INDEX", "VALUE"))


def _flatten_outer(session):
    found = session.sql(
        "SELECT d.N, f.INDEX, f.VALUE FROM (SELECT 1 AS N, PARSE_JSON('[]') AS J UNION ALL "
        "SELECT 2, PARSE_JSON('[7]')) d, TABLE(FLATTEN(INPUT => d.J, OUTER => TRUE)) f"
    )
    return sorted(rows(found))


def _array_column(session):
    session.sql("CREATE OR REPLACE TABLE BASKETS (ITEMS ARRAY)").collect()
    session.sql("INSERT INTO BASKETS SELECT PARSE_JSON('[\"pear\", 2]')").collect()
    return rows(session.table("BASKETS"))


CASES = [
    Case(
        "Queries",
        "SPLIT_TO_TABLE joined laterally: a row per part, INDEX from 1, none for NULL",
        _split_lateral,
        ([(1, 1, "red"), (1, 2, "green"), (3, 1, "blue")], 2),
        "SPLIT_TO_TABLE; Table functions (a table function after a comma is lateral)",
    ),
    Case(
        "Queries",
        "join_table_function('flatten', input=..., path=...) over an OBJECT column",
        _flatten_object,
        [(1, None, "langs[0]", 0, '"en"'), (1, None, "langs[1]", 1, '"fr"')],
        "FLATTEN (PATH; INDEX from 0; VALUE a VARIANT)",
    ),
    Case(
        "Queries",
        "FLATTEN with OUTER => TRUE keeps an empty array's row, with NULLs",
        _flatten_outer,
        [(1, None, None), (2, 0, "7")],
        "FLATTEN, OUTER",
    ),
    Case(
        "Queries",
        "FLATTEN with RECURSIVE => TRUE",
        lambda s: s.sql(
            "SELECT * FROM TABLE(FLATTEN(INPUT => PARSE_JSON('[[1]]'), RECURSIVE => TRUE))"
        ).collect(),
        Raises(2, "FLATTEN with RECURSIVE"),
        "FLATTEN, RECURSIVE (the local stack refuses it)",
    ),
    Case(
        "Results",
        "An OBJECT with a nested array and an empty object: JSON indented by 2 spaces",
        lambda s: rows(
            s.sql("SELECT OBJECT_CONSTRUCT('k', PARSE_JSON('[1, [2]]'), 'e', PARSE_JSON('{}'))")
        )[0][0],
        '{\n  "k": [\n    1,\n    [\n      2\n    ]\n  ],\n  "e": {}\n}',
        "Semi-structured data types (a VARIANT value shown as indented JSON)",
    ),
    Case(
        "Results",
        "A VARIANT holding a string keeps its quotes; one holding a number is its digits",
        lambda s: rows(s.sql("SELECT TO_VARIANT('abc'), TO_VARIANT(42)"))[0],
        ('"abc"', "42"),
        "Semi-structured data types, VARIANT",
    ),
    Case(
        "Results",
        "collect() of an ARRAY column: indented JSON text",
        _array_column,
        [('[\n  "pear",\n  2\n]',)],
        "Semi-structured data types, ARRAY",
    ),
    Case(
        "Results",
        "PARSE_JSON of an object with unquoted keys, nested, and of a column; valid JSON as is",
        lambda s: rows(
            s.sql(
                "SELECT PARSE_JSON('{name: \"x\", n: [1, {k_2: true}]}'):n[1]:k_2, "
                'PARSE_JSON(T.C):a, PARSE_JSON(\'{"s": "{a: 1}"}\'):s '
                "FROM (SELECT '{a : 7}' AS C) AS T"
            )
        ),
        [("true", "7", '"{a: 1}"')],
        "PARSE_JSON (Snowpark's DataFrameWriter.json example parses keys without quotes)",
    ),
]
