"""Snowpark's own docstring examples against the local Snowflake (tests/conformance/
snowpark_examples.py): exactly the examples snowpark_examples_failing.py lists fail, and they are
at most one in twenty.

One test per docstring, in the order pytest would run Snowpark's doctests, in one session and one
database (examples of one docstring may read what an earlier one wrote, as on Snowpark's CI).
"""

from __future__ import annotations

import doctest
import uuid

import pytest
from conformance.harness import new_session
from conformance.snowpark_examples import docstrings, example_id, run, short, skipped
from conformance.snowpark_examples_failing import FAILING

pytestmark = pytest.mark.snowpark_examples

DOCSTRINGS = docstrings()
# The share of the examples Snowpark runs that the local Snowflake must pass (issue: >= 95%).
REQUIRED_SHARE = 0.95


@pytest.fixture(scope="module")
def session():
    database = f"SNOWPARK_EXAMPLES_{uuid.uuid4().hex[:8].upper()}"
    session = new_session(database)
    yield session
    session.sql(f"DROP DATABASE IF EXISTS {database}").collect()
    session.close()


def _first_lines(report: str, lines: int = 12) -> str:
    return "\n".join(report.strip().splitlines()[-lines:])


@pytest.mark.parametrize("test", DOCSTRINGS, ids=short)
def test_snowparks_examples_pass_except_those_listed(test: doctest.DocTest, session):
    result = run(test, session)
    failing = {example_id(test, index): report for index, report in result.failed.items()}
    listed = {key for key in FAILING if key.rpartition("[")[0] == result.name}
    newly_failing = sorted(set(failing) - listed)
    newly_passing = sorted(listed - set(failing))
    problems = [f"{key} fails:\n{_first_lines(failing[key])}" for key in newly_failing]
    problems += [
        f"{key} passes now: remove it from tests/conformance/snowpark_examples_failing.py"
        for key in newly_passing
    ]
    assert not problems, "\n\n".join(problems)


@pytest.mark.unit
def test_the_listed_failures_are_examples_that_run():
    runnable = {
        example_id(test, index)
        for test in DOCSTRINGS
        for index, example in enumerate(test.examples)
        if not skipped(example)
    }
    assert sorted(set(FAILING) - runnable) == []
    assert all(reason.strip() for reason in FAILING.values())


@pytest.mark.unit
def test_at_least_95_percent_of_the_examples_pass():
    examples = sum(1 for test in DOCSTRINGS for example in test.examples if not skipped(example))
    passing = examples - len(FAILING)
    assert passing / examples >= REQUIRED_SHARE, (
        f"{passing} of {examples} Snowpark examples pass on the local Snowflake "
        f"({passing / examples:.1%}), fewer than {REQUIRED_SHARE:.0%}"
    )
