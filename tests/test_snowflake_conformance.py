"""The local Snowflake against what Snowflake documents: one test per case of tests/conformance/.

docs/local-snowflake.md is generated from the same cases; the last test checks it is current.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance import all_cases
from conformance.harness import Raises, new_session
from conformance.table import markdown
from snowflake.connector.errors import Error as ConnectorError
from snowflake.snowpark.exceptions import SnowparkClientException

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def database(unique):
    return f"CONFORMANCE_{unique.upper()}"


@pytest.fixture
def session(database):
    session = new_session(database)
    yield session
    try:
        session.sql(f"DROP DATABASE IF EXISTS {database}").collect()
        session.close()
    except Exception:  # a case may leave the session unusable; the stack's state is its own
        pass


@pytest.mark.parametrize("case", all_cases(), ids=lambda case: case.id)
def test_the_local_snowflake_answers_as_snowflake_does(case, session, database):
    expect = case.expect
    if isinstance(expect, tuple):
        expect = tuple(e.format(database=database) if isinstance(e, str) else e for e in expect)
    if isinstance(expect, Raises):
        with pytest.raises((ConnectorError, SnowparkClientException)) as raised:
            case.run(session)
        error = raised.value
        code = getattr(error, "errno", None) or getattr(error, "sql_error_code", None)
        if expect.code is not None:
            assert code == expect.code, str(error)
        assert expect.words.lower() in str(error).lower()
    else:
        assert case.run(session) == expect


def test_the_documented_table_is_generated_from_the_cases():
    documented = (ROOT / "docs" / "local-snowflake.md").read_text()
    assert documented == markdown(all_cases()), (
        "docs/local-snowflake.md is out of date: run "
        "`.venv/bin/python tests/conformance/table.py > docs/local-snowflake.md`"
    )
