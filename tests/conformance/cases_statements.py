"""Generated rows and samples, scoped temporary objects, named file formats, ORDER BY ALL, the
unknown-column error, and what the stack refuses (Cortex AI functions)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from snowflake.snowpark import Session
from snowflake.snowpark.types import IntegerType, StringType, StructField, StructType

from conformance.harness import Case, Raises, connection_options, rows

NO_CORTEX = "need a Snowflake account"


def _numbers(session, count: int):
    values = ", ".join(f"({i})" for i in range(count))
    session.sql("CREATE OR REPLACE TABLE TEN (N INT)").collect()
    session.sql(f"INSERT INTO TEN VALUES {values}").collect()


def _generator_in_parentheses(session):
    query = "SELECT SEQ4() AS N FROM (TABLE(GENERATOR(ROWCOUNT => 3))) AS G ORDER BY N"
    return rows(session.sql(query)), rows(session.range(10, 0, -3))


def _sample_rows(session):
    _numbers(session, 10)
    count = "SELECT COUNT(*) FROM (SELECT * FROM TEN SAMPLE ({n} ROWS))"
    return [rows(session.sql(count.format(n=n)))[0][0] for n in (3, 20)]


def _scoped_temporary_table(session):
    session.sql("CREATE SCOPED TEMPORARY TABLE SCOPED_T (A VARCHAR)").collect()
    session.sql("INSERT INTO SCOPED_T VALUES ('x'), ('y')").collect()
    own = rows(session.sql("SELECT A FROM SCOPED_T ORDER BY A"))
    database = session.get_current_database()
    other = Session.builder.configs(connection_options(database)).create()
    try:
        other.sql("SELECT * FROM SCOPED_T").collect()
        seen_by_other = True
    except Exception:  # a temporary table is the session's own
        seen_by_other = False
    finally:
        other.close()
    return own, seen_by_other


def _named_file_format(session):
    """A temporary file format's options (| and a header line) apply where COPY names it."""
    session.sql(
        "CREATE OR REPLACE TEMPORARY FILE FORMAT PIPES TYPE = CSV FIELD_DELIMITER = '|' "
        "SKIP_HEADER = 1"
    ).collect()
    session.sql("CREATE OR REPLACE STAGE FF_STAGE").collect()
    session.sql("CREATE OR REPLACE TABLE PEOPLE (ID INT, NAME VARCHAR)").collect()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "people.csv"
        path.write_text("id|name\n1|ada\n2|grace\n")
        session.file.put(str(path), "@FF_STAGE", auto_compress=False)
    session.sql("COPY INTO PEOPLE FROM @FF_STAGE FILE_FORMAT = (FORMAT_NAME = 'PIPES')").collect()
    loaded = rows(session.sql("SELECT * FROM PEOPLE ORDER BY ID"))
    read = session.read.schema(
        StructType([StructField("id", IntegerType()), StructField("name", StringType())])
    )
    # The reader makes its own scoped temporary format, and drops it after.
    reader = rows(read.option("field_delimiter", "|").option("skip_header", 1).csv("@FF_STAGE"))
    dropped = rows(session.sql("DROP FILE FORMAT PIPES"))
    again = rows(session.sql("DROP FILE FORMAT IF EXISTS PIPES"))
    return loaded, sorted(reader), dropped, again


def _query_staged_files(session):
    session.sql("CREATE OR REPLACE STAGE QS").collect()
    with tempfile.TemporaryDirectory() as folder:
        for name, text in (("a.csv", "1,x\n2,y\n"), ("b.csv", "3,z,extra\n")):
            (Path(folder) / name).write_text(text)
            session.file.put(str(Path(folder) / name), "@QS/in", auto_compress=False)
    matched = rows(session.sql("SELECT $2, $1 FROM @QS/in (PATTERN => '.*b[.]csv')"))
    every = rows(session.sql("SELECT s.$1, $3 FROM @QS s ORDER BY 1"))
    none = rows(session.sql("SELECT $1 FROM @QS/out/"))
    return matched, every, none


def _fields_past_the_widest_record(session):
    session.sql("CREATE OR REPLACE STAGE QS").collect()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "a.csv").write_text("1,x\n2\n")
        session.file.put(str(Path(folder) / "a.csv"), "@QS", auto_compress=False)
    return rows(session.sql("SELECT $1, $2, $4 FROM @QS ORDER BY 1"))


def _drops(session):
    session.sql('CREATE OR REPLACE FILE FORMAT "pipes.v1" TYPE = CSV').collect()
    return [
        rows(session.sql(statement))[0][0]
        for statement in (
            'DROP FILE FORMAT "pipes.v1"',
            "DROP STAGE IF EXISTS NO_SUCH_STAGE",
            "DROP FILE FORMAT IF EXISTS PUBLIC.NO_SUCH_FORMAT",
        )
    ]


def _order_by_all(session):
    query = "SELECT * FROM VALUES (1, 'b'), (2, NULL), (1, 'a') ORDER BY ALL DESC"
    return rows(session.sql(query))


def _unknown_column(session):
    session.sql("CREATE OR REPLACE TABLE KNOWN (A INT)").collect()
    session.connection.cursor().execute("SELECT A\nFROM KNOWN WHERE KNOWN.MISSING > 1")


def _unknown_after_expression(session):
    # The stack names A+1 with an alias before running it; the place is in the text as sent.
    session.sql("CREATE OR REPLACE TABLE KNOWN (A INT)").collect()
    session.connection.cursor().execute("SELECT a+1,\n  a*2, zz FROM KNOWN")


def _unknown_after_expression_schema(session):
    session.sql("CREATE OR REPLACE TABLE KNOWN (A INT)").collect()
    return session.sql("SELECT a+1, zz FROM KNOWN").schema  # a describe-only request


CASES = [
    Case(
        "Generated rows",
        "TABLE(GENERATOR(ROWCOUNT => 3)) in parentheses with SEQ4(); session.range(10, 0, -3)",
        _generator_in_parentheses,
        ([(0,), (1,), (2,)], [(10,), (7,), (4,), (1,)]),
        "GENERATOR: ROWCOUNT rows; SEQ1 / SEQ2 / SEQ4 / SEQ8; Session.range",
    ),
    Case(
        "Generated rows",
        "SAMPLE (3 ROWS) and SAMPLE (20 ROWS) of a 10-row table",
        _sample_rows,
        [3, 10],
        "SAMPLE / TABLESAMPLE: a fixed-size sample returns n rows, or the whole table if smaller",
    ),
    Case(
        "Temporary objects",
        "CREATE SCOPED TEMPORARY TABLE: the session's own temporary table",
        _scoped_temporary_table,
        ([("x",), ("y",)], False),
        "CREATE TABLE: temporary tables (Snowpark makes its own ones scoped temporary)",
    ),
    Case(
        "Loading",
        "CREATE TEMPORARY FILE FORMAT used by COPY INTO, the reader's own format, DROP FILE FORMAT",
        _named_file_format,
        (
            [(1, "ada"), (2, "grace")],
            [(1, "ada"), (2, "grace")],
            [("PIPES successfully dropped.",)],
            [("Drop statement executed successfully (PIPES already dropped).",)],
        ),
        "CREATE FILE FORMAT; DROP FILE FORMAT",
    ),
    Case(
        "Loading",
        "SELECT $2, $1 FROM @stage/path (PATTERN => ...): staged CSV files as text rows",
        _query_staged_files,
        ([("z", "3")], [("1", None), ("2", None), ("3", "extra")], []),
        "Querying data in staged files",
    ),
    Case(
        "Loading",
        "SELECT $1, $2, $4 FROM @stage: a field past a record's end is NULL",
        _fields_past_the_widest_record,
        [("1", "x", None), ("2", None, None)],
        "Querying data in staged files",
    ),
    Case(
        "Loading",
        'DROP FILE FORMAT "quoted.name"; DROP STAGE / FILE FORMAT IF EXISTS of a missing one',
        _drops,
        [
            "pipes.v1 successfully dropped.",
            "Drop statement executed successfully (NO_SUCH_STAGE already dropped).",
            "Drop statement executed successfully (NO_SUCH_FORMAT already dropped).",
        ],
        "DROP FILE FORMAT; DROP STAGE",
    ),
    Case(
        "Loading",
        "DROP FILE FORMAT of a format that does not exist",
        lambda s: s.sql("DROP FILE FORMAT NO_SUCH_FORMAT").collect(),
        Raises(2003, "does not exist or not authorized"),
        "DROP FILE FORMAT",
    ),
    Case(
        "Queries",
        "ORDER BY ALL DESC: every column, NULLs first as DESC puts them",
        _order_by_all,
        [(2, None), (1, "b"), (1, "a")],
        "ORDER BY: ORDER BY ALL",
    ),
    Case(
        "Queries",
        "a qualified unknown column on line 2: invalid identifier, with its place",
        _unknown_column,
        Raises(904, "error line 2 at position 17\ninvalid identifier 'KNOWN.MISSING'"),
        "SQL compilation error 000904: invalid identifier",
    ),
    Case(
        "Queries",
        "an unknown column after an unaliased expression: placed in the statement as sent",
        _unknown_after_expression,
        Raises(904, "error line 2 at position 7\ninvalid identifier 'ZZ'"),
        "SQL compilation error 000904: invalid identifier",
    ),
    Case(
        "Queries",
        "DataFrame.schema of a select of an unknown column after an expression: its place",
        _unknown_after_expression_schema,
        Raises(904, "error line 1 at position 12\ninvalid identifier 'ZZ'"),
        "SQL compilation error 000904: invalid identifier",
    ),
    Case(
        "Cortex",
        "SNOWFLAKE.CORTEX.SENTIMENT is refused with one line",
        lambda s: s.sql("SELECT SNOWFLAKE.CORTEX.SENTIMENT('great')").collect(),
        Raises(2, f"SNOWFLAKE.CORTEX.SENTIMENT and the other Cortex AI functions {NO_CORTEX}"),
        "Snowflake Cortex AISQL functions (a Snowflake account's hosted models)",
    ),
    Case(
        "Cortex",
        "AI_FILTER in a WHERE clause is refused with one line",
        lambda s: s.sql("SELECT 1 AS A WHERE AI_FILTER(PROMPT('Is {0} a fruit?', 'x'))").collect(),
        Raises(2, f"AI_FILTER and the other Cortex AI functions {NO_CORTEX}"),
        "Snowflake Cortex AISQL functions: AI_FILTER",
    ),
]
