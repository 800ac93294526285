"""The local stack's Snowflake: fakesnow's server plus the statements the tutorial needs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conformance.harness import connection_options
from snowflake.connector.errors import OperationalError, ProgrammingError
from snowflake.snowpark import Session
from snowflake.snowpark.exceptions import SnowparkSQLException

from snowpark_local import stack


def local_session(database: str, create: bool = True, **extra) -> Session:
    """A session on `database`.PUBLIC; with `create`, made first (sign-in creates nothing)."""
    session = Session.builder.configs(connection_options(database, **extra)).create()
    if create:
        session.sql(f"CREATE DATABASE IF NOT EXISTS {database}").collect()
        session.sql(f"CREATE SCHEMA IF NOT EXISTS {database}.PUBLIC").collect()
        session.use_schema(f"{database}.PUBLIC")
    return session


@pytest.fixture
def session(unique):
    database = f"TEST_{unique.upper()}"
    session = local_session(database, role="TUTORIAL_ROLE", warehouse="LOGIN_WH")
    yield session
    session.sql(f"DROP DATABASE IF EXISTS {database}").collect()
    session.close()


def test_session_functions_answer_the_sign_in(session):
    row = session.sql(
        "SELECT CURRENT_USER() AS U, CURRENT_ROLE() AS R, CURRENT_WAREHOUSE() AS W, "
        "CURRENT_ACCOUNT() AS A"
    ).collect()[0]
    assert (row.U, row.R, row.W, row.A) == (
        "SAGEMAKER_TRAINING",
        "TUTORIAL_ROLE",
        "LOGIN_WH",
        "LOCALSTACK",
    )


def test_the_stack_uses_the_names_a_real_account_has(unique):
    # The README's set-up creates user SAGEMAKER_TRAINING with DEFAULT_ROLE SAGEMAKER_TUTORIAL.
    assert os.environ["SNOWFLAKE_USER"] == "SAGEMAKER_TRAINING"
    session = local_session(f"TEST_{unique.upper()}", create=False)
    try:
        assert session.sql("SELECT CURRENT_USER(), CURRENT_ROLE()").collect()[0] == (
            "SAGEMAKER_TRAINING",
            "SAGEMAKER_TUTORIAL",
        )
    finally:
        session.close()


def test_sign_in_does_not_create_a_missing_database(state_dir, unique):
    database = f"MISSING_{unique.upper()}"
    session = local_session(database, create=False)
    try:
        # As on Snowflake: signed in, with no current database and no current schema.
        row = session.sql("SELECT CURRENT_DATABASE() AS D, CURRENT_SCHEMA() AS S").collect()[0]
        assert (row.D, row.S) == (None, None)
        with pytest.raises(SnowparkSQLException, match="does not have a current database"):
            session.table("MAINTENANCE_HUM").collect()
        assert not (state_dir / "snowflake" / f"{database}.db").exists()
        with pytest.raises(SnowparkSQLException, match="does not exist"):
            session.sql(f"DROP DATABASE {database}").collect()
    finally:
        session.close()


def test_sign_in_to_a_database_without_the_schema_sets_the_database_only(unique):
    database = f"TEST_{unique.upper()}"
    local_session(database).close()
    session = local_session(database, create=False, schema="NO_SUCH_SCHEMA")
    try:
        row = session.sql("SELECT CURRENT_DATABASE() AS D, CURRENT_SCHEMA() AS S").collect()[0]
        assert (row.D, row.S) == (database, None)
        with pytest.raises(SnowparkSQLException, match="does not have a current schema"):
            session.table("ANY_TABLE").collect()
        schemata = session.sql(
            "SELECT COUNT(*) FROM INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = 'NO_SUCH_SCHEMA'"
        ).collect()
        assert schemata[0][0] == 0
    finally:
        session.sql(f"DROP DATABASE IF EXISTS {database}").collect()
        session.close()


@pytest.mark.parametrize(
    "field, value",
    [
        ("schema", "PUBLIC; DROP TABLE KEEP"),
        ("schema", "PUBLIC'; DROP TABLE KEEP; --"),
        ("database", "{database}; DROP TABLE {database}.PUBLIC.KEEP"),
        ("database", "{database}'; DROP TABLE {database}.PUBLIC.KEEP; --"),
    ],
)
def test_sign_in_names_never_run_as_sql(unique, field, value):
    database = f"TEST_{unique.upper()}"
    owner = local_session(database)
    owner.sql("CREATE OR REPLACE TABLE KEEP AS SELECT 1 AS ONE").collect()
    names = {"database": database, "schema": "PUBLIC", field: value.format(database=database)}
    try:
        signed_in = local_session(names["database"], create=False, schema=names["schema"])
        signed_in.close()
        assert owner.table("KEEP").collect()[0].ONE == 1
    finally:
        owner.sql(f"DROP DATABASE IF EXISTS {database}").collect()
        owner.close()


def test_warehouse_statements(session):
    created = session.sql(
        "CREATE WAREHOUSE IF NOT EXISTS HOL_WH WITH WAREHOUSE_SIZE='XSMALL' AUTO_SUSPEND=60"
    ).collect()
    assert created[0][0] == "Warehouse HOL_WH successfully created."
    assert session.get_current_warehouse() == '"HOL_WH"'  # creating one makes it current
    session.sql("USE WAREHOUSE OTHER_WH").collect()
    assert session.sql("SELECT CURRENT_WAREHOUSE()").collect()[0][0] == "OTHER_WH"
    session.sql("ALTER WAREHOUSE HOL_WH SUSPEND").collect()
    session.sql("DROP WAREHOUSE IF EXISTS HOL_WH").collect()
    session.query_tag = "sagemaker-snowpark-tutorial"  # ALTER SESSION SET QUERY_TAG


def test_hash_is_signed_and_deterministic_and_shards_partition_rows(session, unique):
    session.sql(
        "CREATE OR REPLACE TABLE NUMBERS AS SELECT RANGE AS N FROM RANGE(1, 1001)"
    ).collect()
    hashes = session.sql("SELECT HASH(N) AS H FROM NUMBERS").collect()
    assert any(r.H < 0 for r in hashes) and any(r.H > 0 for r in hashes)
    again = session.sql("SELECT HASH(N) AS H FROM NUMBERS").collect()
    assert hashes == again
    shards = [
        {
            r.N
            for r in session.sql(
                f"SELECT N FROM NUMBERS WHERE MOD(ABS(HASH(N)), 3) = {k}"
            ).collect()
        }
        for k in range(3)
    ]
    assert set.union(*shards) == set(range(1, 1001))
    assert sum(len(s) for s in shards) == 1000
    assert all(250 < len(s) < 420 for s in shards)


def test_stage_put_copy_and_drop(session, tmp_path):
    csv = tmp_path / "people.csv"
    csv.write_text('ID,NAME\n1,"Ada, Countess"\n2,Grace\n')
    session.sql("CREATE TEMPORARY STAGE LOAD_STAGE").collect()
    put = session.file.put(str(csv), "@LOAD_STAGE", auto_compress=False, overwrite=True)
    assert put[0].status == "UPLOADED"
    session.sql("CREATE OR REPLACE TABLE PEOPLE (ID NUMBER, NAME STRING)").collect()
    session.sql(
        "COPY INTO PEOPLE FROM @LOAD_STAGE/people.csv "
        "FILE_FORMAT=(TYPE=CSV SKIP_HEADER=1 FIELD_OPTIONALLY_ENCLOSED_BY='\"')"
    ).collect()
    assert sorted(session.table("PEOPLE").collect()) == [(1, "Ada, Countess"), (2, "Grace")]
    assert "successfully dropped" in session.sql("DROP STAGE LOAD_STAGE").collect()[0][0]
    with pytest.raises(SnowparkSQLException, match="does not exist"):
        session.sql("DROP STAGE LOAD_STAGE").collect()
    session.sql("DROP STAGE IF EXISTS LOAD_STAGE").collect()


def test_a_stage_named_without_a_current_database_is_refused_as_snowflake_does(unique, tmp_path):
    """Every statement that names a stage or a file format resolves the name alike."""
    session = local_session(f"MISSING_{unique.upper()}", create=False)
    cursor = session.connection.cursor()
    try:
        for statement, operation in (
            (f"GET @F file://{tmp_path}/", "GET"),
            ("SELECT $1 FROM @F", "SELECT"),
            ("COPY INTO @F FROM (SELECT 1)", "COPY"),
            ("DROP STAGE F", "DROP"),
            ("DROP FILE FORMAT F", "DROP"),
        ):
            with pytest.raises(ProgrammingError) as raised:
                cursor.execute(statement)
            assert raised.value.errno == 90105, statement
            assert f"Cannot perform {operation}. This session does not have a current database" in (
                raised.value.msg
            )
    finally:
        session.close()


def test_a_temporary_tables_stage_is_queried_with_a_pattern(session, tmp_path):
    (tmp_path / "a.csv").write_text("1,x\n")
    session.sql("CREATE TEMPORARY TABLE T (A INT)").collect()
    session.sql(f"PUT file://{tmp_path}/a.csv @%T AUTO_COMPRESS=FALSE").collect()
    query = "SELECT $1, $2 FROM @%T (PATTERN => '.*[.]csv')"
    assert [tuple(row) for row in session.sql(query).collect()] == [("1", "x")]


def test_get_serves_only_stage_files_from_the_server_itself(session, tmp_path):
    """GET downloads over the server's own port; a URL escaping the stages' folder is refused."""
    import http.client

    (tmp_path / "a.csv").write_text("x\n")
    session.sql("CREATE TEMPORARY STAGE GET_STAGE").collect()
    session.file.put(str(tmp_path / "a.csv"), "@GET_STAGE", auto_compress=False)
    cursor = session.connection.cursor()
    answer = cursor._execute_helper(f"GET @GET_STAGE file://{tmp_path}/out/")
    [url] = answer["data"]["presignedUrls"]
    assert url.startswith(f"http://{os.environ['SNOWFLAKE_HOST']}:{os.environ['SNOWFLAKE_PORT']}/")
    server = http.client.HTTPConnection(os.environ["SNOWFLAKE_HOST"], os.environ["SNOWFLAKE_PORT"])
    for path, status in [
        (url.split(os.environ["SNOWFLAKE_PORT"], 1)[1], 200),
        ("/fs_bucket/%2e%2e/%2e%2e/etc/passwd", 400),
        ("/fs_bucket/NO/SUCH/FILE.csv", 404),
    ]:
        server.request("GET", path)
        response = server.getresponse()
        response.read()
        assert response.status == status, path
    # A stage path never reaches outside the stage: nothing matches, as for a missing file.
    with pytest.raises(OperationalError, match="the file does not exist"):
        session.sql(f"GET @GET_STAGE/../../ file://{tmp_path}/").collect()
    without_database = local_session("NO_SUCH_DATABASE", create=False)
    with pytest.raises(SnowparkSQLException, match="does not have a current database"):
        without_database.sql(f"GET @GET_STAGE file://{tmp_path}/").collect()


def test_drop_database_removes_it(state_dir, unique):
    database = f"DROPME_{unique.upper()}"
    session = local_session(database)
    session.sql("CREATE OR REPLACE TABLE T (A INT)").collect()
    assert (state_dir / "snowflake" / f"{database}.db").exists()
    session.sql(f"DROP DATABASE {database}").collect()
    assert not (state_dir / "snowflake" / f"{database}.db").exists()
    with pytest.raises(SnowparkSQLException, match="does not exist"):
        session.sql(f"DROP DATABASE {database}").collect()
    session.sql(f"DROP DATABASE IF EXISTS {database}").collect()
    session.close()  # Snowpark's close cancels the session's queries first: it must succeed


def test_tables_written_by_one_process_are_read_by_another(session, unique):
    database = f"TEST_{unique.upper()}"
    writer = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_local_snowflake import local_session
        s = local_session({database!r})
        s.sql("CREATE OR REPLACE TABLE SHARED AS SELECT 42 AS ANSWER").collect()
        """
    )
    subprocess.run([sys.executable, "-c", writer], check=True, timeout=60)
    assert session.table("SHARED").collect()[0].ANSWER == 42


def test_tables_survive_a_restart(tmp_path):
    state = tmp_path / "state"
    for round_ in ("write", "read"):
        stack.up(state)
        env = stack.client_environment(state)
        saved = dict(os.environ)
        try:
            stack.apply_environment(env)
            # The second round signs in to the database the first created: it is current again.
            session = local_session("RESTART_DB", create=round_ == "write")
            if round_ == "write":
                session.sql("CREATE OR REPLACE TABLE KEPT AS SELECT 7 AS SEVEN").collect()
            else:
                assert session.table("KEPT").collect()[0].SEVEN == 7
            session.close()
        finally:
            os.environ.clear()
            os.environ.update(saved)
            stack.down(state)


def test_large_results_arrive_in_chunks_fetched_while_reading(tmp_path, monkeypatch):
    import snowflake.connector.result_batch as result_batch

    monkeypatch.setenv("SNOWPARK_LOCAL_CHUNK_BYTES", "100000")  # small chunks for a small table
    state = tmp_path / "state"
    stack.up(state)
    saved = dict(os.environ)
    downloads = []
    original = result_batch.ResultBatch._download

    def counting(self, *args, **kwargs):
        downloads.append(self.rowcount)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(result_batch.ResultBatch, "_download", counting)
    try:
        stack.apply_environment(stack.client_environment(state))
        session = local_session("CHUNKS")
        session.sql(
            "CREATE OR REPLACE TABLE BIG AS SELECT RANGE AS N, RANGE * 0.5 AS X "
            "FROM RANGE(0, 200000)"
        ).collect()
        batches = session.table("BIG").sort("N").to_pandas_batches()
        first = [next(batches) for _ in range(3)]
        downloaded_early = len(downloads)
        rest = list(batches)
        everything = first + rest
        session.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stack.down(state)
    chunks = len(everything) - 1  # the first part comes inline
    assert chunks > 20
    assert downloaded_early <= 2 + 4  # what was read, plus the connector's prefetch of 4
    assert len(downloads) == chunks  # each chunk fetched once, on demand
    rows = [n for batch in everything for n in batch["N"]]
    assert rows == list(range(200_000))  # complete, and in order


def test_a_statement_error_comes_back_fast_as_a_snowflake_error(unique):
    # Without network_timeout the connector retries an HTTP 500 for minutes: every error must
    # come back as Snowflake's error response, which it raises at once.
    database = f"TEST_{unique.upper()}"
    client = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_local_snowflake import local_session
        s = local_session({database!r}, network_timeout=None)
        for sql in ("SELECT ? + 1", "SELECT * FROM NO_SUCH_TABLE", "SELEC 1"):
            try:
                s.sql(sql).collect()
            except Exception as error:
                print(type(error).__name__, getattr(error, "sql_error_code", None))
        s.sql("DROP DATABASE {database}").collect()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", client], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout.split("\n")[:3] == [
        "SnowparkSQLException 2049",
        "SnowparkSQLException 2003",
        "SnowparkSQLException 1003",
    ]


@pytest.mark.parametrize(
    "statement",
    [
        'CREATE DATABASE "X; DROP TABLE {table}"',
        'CREATE OR REPLACE DATABASE "../{database}"',
        "SELECT * FROM {table}; DROP TABLE {table}",
    ],
)
def test_a_bad_name_neither_runs_sql_nor_breaks_the_state(session, state_dir, statement):
    session.sql("CREATE OR REPLACE TABLE KEEP (A INT)").collect()
    database = session.get_current_database().strip('"')
    table = f"{database}.PUBLIC.KEEP"
    files = sorted(p.name for p in (state_dir / "snowflake").iterdir())
    with pytest.raises(SnowparkSQLException):
        session.sql(statement.format(table=table, database=database)).collect()
    assert session.table(table).count() == 0  # still there
    assert sorted(p.name for p in (state_dir / "snowflake").iterdir()) == files
