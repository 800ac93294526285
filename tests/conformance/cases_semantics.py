"""Databases, schemas and warehouses; aggregates and their types; identifier case; the session's
context; and what the stack refuses (UDFs and stored procedures)."""

from __future__ import annotations

from decimal import Decimal

from snowflake.snowpark import Session
from snowflake.snowpark.functions import avg, udf
from snowflake.snowpark.functions import sum as sum_
from snowflake.snowpark.types import IntegerType

from conformance.harness import Case, Raises, connection_options, rows

NO_PYTHON = "does not run Python inside the warehouse"


def _current(session) -> tuple:
    return tuple(session.sql("SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()").collect()[0])


def _database(session) -> str:
    return _current(session)[0]


def _create_database_becomes_current(session):
    other = f"{_database(session)}_2"
    try:
        session.sql(f"CREATE DATABASE {other}").collect()
        return _current(session)
    finally:
        session.sql(f"DROP DATABASE IF EXISTS {other}").collect()


def _create_or_replace_database(session):
    database = _database(session)
    session.sql("CREATE TABLE GONE (A INT)").collect()
    session.sql(f"CREATE OR REPLACE DATABASE {database}").collect()
    tables = session.sql(f"SHOW TABLES IN SCHEMA {database}.PUBLIC").collect()
    return (len(tables), *_current(session))


def _typed(session, sql: str):
    dataframe = session.sql(sql)
    return rows(dataframe), [str(field.datatype) for field in dataframe.schema.fields]


def _numbers(session):
    session.sql("CREATE OR REPLACE TABLE N (A NUMBER(38,0), D NUMBER(10,2), F FLOAT)").collect()
    session.sql(
        "INSERT INTO N VALUES (9007199254740993, 1.25, 0.5), (2, 2.50, 1.0), (2, 2.50, 1.0)"
    ).collect()


def _aggregate(expression: str):
    def run(session):
        _numbers(session)
        return _typed(session, f"SELECT {expression} FROM N")

    return run


def _dataframe_aggregates(session):
    _numbers(session)
    dataframe = session.table("N").agg(sum_("A").alias("TOTAL"), avg("A").alias("MEAN"))
    return rows(dataframe), [str(field.datatype) for field in dataframe.schema.fields]


def _names(session):
    _numbers(session)
    return session.sql("SELECT COUNT(*), COUNT(A), MIN(A), MAX(A) FROM N").columns


def _table_named(session, name: str, query: str):
    session.sql(f"CREATE OR REPLACE TABLE {name} (HUMIDITY INT)").collect()
    session.sql(f"INSERT INTO {name} VALUES (1)").collect()
    return rows(session.sql(query))


def _schema_of(name: str, columns: str = "HUMIDITY INT", select: str | None = None):
    """The column names Snowpark's DataFrame.schema gives (a describe-only request) for a table
    created as HUMIDITY with `columns`, read as `name` (and `select`ed, if given)."""

    def run(session):
        session.sql(f"CREATE OR REPLACE TABLE HUMIDITY ({columns})").collect()
        frame = session.table(name)
        return (frame.select(select) if select else frame).schema.names

    return run


def _without_context(session):
    fresh = Session.builder.configs(connection_options(None, None)).create()
    try:
        return _current(fresh)
    finally:
        fresh.close()


def _sql_udf_leaves_nothing(session):
    try:
        session.sql("CREATE FUNCTION ADD1(X NUMBER) RETURNS NUMBER AS 'X + 1'").collect()
    except Exception:  # refused; what matters is that no ADD1 is left behind
        pass
    return rows(session.sql("SELECT ADD1(1)"))


def _udf_decorator(session):
    @udf(return_type=IntegerType(), input_types=[IntegerType()], session=session)
    def add_one(x):
        return x + 1


CASES = [
    Case(
        "DDL",
        "CREATE DATABASE: it and its PUBLIC schema become current",
        _create_database_becomes_current,
        ("{database}_2", "PUBLIC"),
        "CREATE DATABASE (a new database has PUBLIC and becomes the session's)",
    ),
    Case(
        "DDL",
        "CREATE OR REPLACE DATABASE of an existing database: empty, with PUBLIC, current",
        _create_or_replace_database,
        (0, "{database}", "PUBLIC"),
        "CREATE DATABASE, OR REPLACE",
    ),
    Case(
        "DDL",
        "CREATE DATABASE of an existing database",
        lambda s: s.sql(f"CREATE DATABASE {_database(s)}").collect(),
        Raises(2002, "already exists"),
        "CREATE DATABASE",
    ),
    Case(
        "DDL",
        "CREATE DATABASE IF NOT EXISTS of an existing database",
        lambda s: rows(s.sql(f"CREATE DATABASE IF NOT EXISTS {_database(s)}"))[0],
        ("{database} already exists, statement succeeded.",),
        "CREATE DATABASE, IF NOT EXISTS",
    ),
    Case(
        "DDL",
        "DROP DATABASE of a database that does not exist",
        lambda s: s.sql(f"DROP DATABASE {_database(s)}_MISSING").collect(),
        Raises(2003, "does not exist or not authorized"),
        "DROP DATABASE",
    ),
    Case(
        "DDL",
        "CREATE SCHEMA: it becomes current",
        lambda s: (s.sql("CREATE SCHEMA FEATURES").collect(), _current(s))[-1],
        ("{database}", "FEATURES"),
        "CREATE SCHEMA (the new schema becomes the session's)",
    ),
    Case(
        "DDL",
        "CREATE WAREHOUSE: it becomes current",
        lambda s: (
            s.sql("CREATE WAREHOUSE IF NOT EXISTS CONFORMANCE_WH").collect(),
            s.sql("SELECT CURRENT_WAREHOUSE()").collect()[0][0],
        )[-1],
        "CONFORMANCE_WH",
        "CREATE WAREHOUSE (the new warehouse becomes the session's)",
    ),
    Case(
        "Aggregates",
        "SUM of NUMBER(38,0): exact, NUMBER(38,0)",
        _aggregate("SUM(A)"),
        ([(9007199254740997,)], ["LongType()"]),
        "SUM: the input's type; NUMBER(38,0) maps to LongType in Snowpark",
    ),
    Case(
        "Aggregates",
        "SUM(...) OVER (...) of NUMBER(38,0): exact, NUMBER(38,0)",
        _aggregate("SUM(A) OVER ()"),
        ([(9007199254740997,)] * 3, ["LongType()"]),
        "SUM as a window function: the input's type",
    ),
    Case(
        "Aggregates",
        "DataFrame.agg(sum, avg) of NUMBER(38,0)",
        _dataframe_aggregates,
        (
            [(9007199254740997, Decimal("3002399751580332.333333"))],
            ["LongType()", "DecimalType(38, 6)"],
        ),
        "DataFrame.agg; SUM, AVG",
    ),
    Case(
        "Aggregates",
        "AVG of NUMBER(38,0): NUMBER(38,6)",
        _aggregate("AVG(A)"),
        ([(Decimal("3002399751580332.333333"),)], ["DecimalType(38, 6)"]),
        "AVG; division's scale: max(s, min(s + 6, 12))",
    ),
    Case(
        "Aggregates",
        "SUM and AVG of NUMBER(10,2): NUMBER(38,2) and NUMBER(38,8)",
        _aggregate("SUM(D), AVG(D)"),
        ([(Decimal("6.25"), Decimal("2.08333333"))], ["DecimalType(38, 2)", "DecimalType(38, 8)"]),
        "SUM, AVG; division's scale: max(s, min(s + 6, 12))",
    ),
    Case(
        "Aggregates",
        "SUM and AVG of FLOAT: FLOAT",
        _aggregate("SUM(F), AVG(F)"),
        ([(2.5, 2.5 / 3)], ["DoubleType()", "DoubleType()"]),
        "SUM, AVG of floating-point numbers",
    ),
    Case(
        "Aggregates",
        "COUNT, MIN, MAX of NUMBER(38,0): NUMBER(38,0)",
        _aggregate("COUNT(A), MIN(A), MAX(A)"),
        ([(3, 2, 9007199254740993)], ["LongType()", "LongType()", "LongType()"]),
        "COUNT, MIN, MAX",
    ),
    Case(
        "Aggregates",
        "column names of unaliased aggregates",
        _names,
        ['"COUNT(*)"', '"COUNT(A)"', '"MIN(A)"', '"MAX(A)"'],
        "Identifier requirements: an unaliased column is named by its upper-cased text",
    ),
    Case(
        "Identifiers",
        "unquoted names resolve upper-cased",
        lambda s: _table_named(s, "Humidity", "select humidity from humidity"),
        [(1,)],
        "Identifier requirements: unquoted identifiers are stored upper case",
    ),
    Case(
        "Identifiers",
        'a quoted lower-case table name, "humidity", does not find HUMIDITY',
        lambda s: _table_named(s, "HUMIDITY", 'SELECT * FROM "humidity"'),
        Raises(2003, "does not exist or not authorized"),
        "Identifier requirements: quoted identifiers are case-sensitive",
    ),
    Case(
        "Identifiers",
        'a quoted lower-case column name, "humidity", does not find HUMIDITY',
        lambda s: _table_named(s, "HUMIDITY", 'SELECT "humidity" FROM HUMIDITY'),
        Raises(904, "error line 1 at position 7\ninvalid identifier '\"humidity\"'"),
        "Identifier requirements: quoted identifiers are case-sensitive",
    ),
    Case(
        "Identifiers",
        'a table created as "humidity" is not found unquoted',
        lambda s: _table_named(s, '"humidity"', "SELECT * FROM humidity"),
        Raises(2003, "does not exist or not authorized"),
        "Identifier requirements: unquoted identifiers are stored upper case",
    ),
    Case(
        "Identifiers",
        "DataFrame.schema of session.table('\"humidity\"'): no HUMIDITY found",
        _schema_of('"humidity"'),
        Raises(2003, "does not exist or not authorized"),
        "Identifier requirements: quoted identifiers are case-sensitive (in schema lookups too)",
    ),
    Case(
        "Identifiers",
        'DataFrame.schema of a select of "humidity" from column HUMIDITY',
        _schema_of("HUMIDITY", select='"humidity"'),
        Raises(904, "invalid identifier"),
        "Identifier requirements: quoted identifiers are case-sensitive (in schema lookups too)",
    ),
    Case(
        "Identifiers",
        'DataFrame.schema of a table with a quoted lower-case column: "udi", quoted',
        _schema_of("HUMIDITY", columns='"udi" INT, TYPE VARCHAR'),
        ['"udi"', "TYPE"],
        "DataFrame.schema: case-sensitive names come quoted",
    ),
    Case(
        "Identifiers",
        'DESCRIBE TABLE "humidity" of a table HUMIDITY',
        lambda s: _table_named(s, "HUMIDITY", 'DESCRIBE TABLE "humidity"'),
        Raises(2003, "does not exist or not authorized"),
        "DESCRIBE TABLE; Identifier requirements: quoted identifiers are case-sensitive",
    ),
    Case(
        "Identifiers",
        'SHOW COLUMNS IN TABLE "humidity" of a table HUMIDITY',
        lambda s: _table_named(s, "HUMIDITY", 'SHOW COLUMNS IN TABLE "humidity"'),
        Raises(2003, "does not exist or not authorized"),
        "SHOW COLUMNS; Identifier requirements: quoted identifiers are case-sensitive",
    ),
    Case(
        "Sessions",
        "CURRENT_DATABASE() / CURRENT_SCHEMA() in a database's PUBLIC",
        _current,
        ("{database}", "PUBLIC"),
        "CURRENT_DATABASE, CURRENT_SCHEMA",
    ),
    Case(
        "Sessions",
        "CURRENT_DATABASE() / CURRENT_SCHEMA() signed in without a database",
        _without_context,
        (None, None),
        "CURRENT_DATABASE, CURRENT_SCHEMA: NULL when none is in use",
    ),
    Case(
        "UDFs",
        "CREATE FUNCTION ... LANGUAGE PYTHON (not run here)",
        lambda s: s.sql(
            "CREATE FUNCTION ADD1(X INT) RETURNS INT LANGUAGE PYTHON RUNTIME_VERSION = '3.11' "
            "HANDLER = 'add1' AS 'def add1(x): return x + 1'"
        ).collect(),
        Raises(2, NO_PYTHON),
        "Snowflake runs it; the local stack answers this one line",
    ),
    Case(
        "UDFs",
        "a refused SQL UDF leaves no function behind",
        _sql_udf_leaves_nothing,
        Raises(None, "ADD1"),
        "Snowflake: Unknown function ADD1 unless created",
    ),
    Case(
        "UDFs",
        "session.udf.register (not run here)",
        lambda s: s.udf.register(
            lambda x: x + 1, return_type=IntegerType(), input_types=[IntegerType()]
        ),
        Raises(2, NO_PYTHON),
        "Snowflake runs it; the local stack answers this one line",
    ),
    Case(
        "UDFs",
        "@udf (not run here)",
        _udf_decorator,
        Raises(2, NO_PYTHON),
        "Snowflake runs it; the local stack answers this one line",
    ),
    Case(
        "UDFs",
        "session.sproc.register (not run here)",
        lambda s: s.sproc.register(
            lambda session: 1, return_type=IntegerType(), packages=["snowflake-snowpark-python"]
        ),
        Raises(2, NO_PYTHON),
        "Snowflake runs it; the local stack answers this one line",
    ),
    Case(
        "UDFs",
        "session.add_packages (not run here)",
        lambda s: s.add_packages("numpy"),
        Raises(2, NO_PYTHON),
        "Snowflake resolves them; the local stack answers this one line",
    ),
]
