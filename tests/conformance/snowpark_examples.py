"""Snowpark Python's own docstring examples, run against the local Snowflake.

Snowpark's maintainers run the `>>>` examples of its docstrings against a real account, with a
`session` and `to_timestamp` in the namespace (Snowpark's src/conftest.py) and the flags ELLIPSIS
and NORMALIZE_WHITESPACE. This runs the same examples of the DataFrame API's modules, as pytest
would (modules in file order, each module's docstrings in doctest's order, each docstring's
examples in order, one session in one database for the run), and reports which examples fail.
snowpark_examples_failing.py lists the examples the stack does not pass yet, each with its reason;
tests/test_snowpark_examples.py checks that list against a run, docstring by docstring.

    .venv/bin/python tests/conformance/snowpark_examples.py [NAME ...]

starts a local stack of its own, prints one line per docstring (those whose name contains a NAME,
with what failed) and the total.
"""

from __future__ import annotations

import doctest
import importlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the suite as pytest does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "conformance"

# The DataFrame API's modules, in the order pytest collects them (by file name).
MODULES = sorted(
    [
        "column",
        "dataframe",
        "dataframe_na_functions",
        "dataframe_stat_functions",
        "dataframe_writer",
        "relational_grouped_dataframe",
        "table",
        "window",
    ]
)
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
PREFIX = "snowflake.snowpark."


def docstrings() -> list[doctest.DocTest]:
    """Every docstring with examples in MODULES, in the order pytest runs them."""
    found = []
    for name in MODULES:
        module = importlib.import_module(PREFIX + name)
        found += [test for test in doctest.DocTestFinder().find(module) if test.examples]
    return found


def short(test: doctest.DocTest) -> str:
    """`dataframe.DataFrame.join`: the docstring's name without the package."""
    return test.name.removeprefix(PREFIX)


def example_id(test: doctest.DocTest, index: int) -> str:
    """`dataframe.DataFrame.join[12]`: the docstring and the example's place in it."""
    return f"{short(test)}[{index}]"


def skipped(example: doctest.Example) -> bool:
    """Snowpark marks examples its own CI does not run (a real account's setup, random output)."""
    return bool(example.options.get(doctest.SKIP))


@dataclass
class Result:
    name: str
    examples: int  # those Snowpark runs (not marked +SKIP)
    failed: dict[int, str] = field(default_factory=dict)  # index -> what doctest reported

    @property
    def passed(self) -> int:
        return self.examples - len(self.failed)


class _Recorder(doctest.DocTestRunner):
    def __init__(self):
        super().__init__(optionflags=OPTIONS)
        self.failed: dict[int, str] = {}
        self._report: list[str] = []

    def _record(self, test, example, write):
        start = len(self._report)
        write(self._report.append)
        self.failed[test.examples.index(example)] = "".join(self._report[start:])

    def report_failure(self, out, test, example, got):
        self._record(
            test, example, lambda w: super(_Recorder, self).report_failure(w, test, example, got)
        )

    def report_unexpected_exception(self, out, test, example, exc_info):
        self._record(
            test,
            example,
            lambda w: super(_Recorder, self).report_unexpected_exception(
                w, test, example, exc_info
            ),
        )


def run(test: doctest.DocTest, session) -> Result:
    """Run one docstring's examples in order against `session`; the namespace is the module's, with
    `session` and `to_timestamp` added as Snowpark's conftest adds them."""
    from snowflake.snowpark.functions import to_timestamp

    test.globs.update(session=session, to_timestamp=to_timestamp)
    recorder = _Recorder()
    recorder.run(test, out=lambda _text: None, clear_globs=True)
    examples = sum(1 for example in test.examples if not skipped(example))
    return Result(short(test), examples, recorder.failed)


def main(names: list[str]) -> int:
    import tempfile
    import uuid

    from conformance.harness import new_session
    from snowpark_local import stack

    logging.getLogger("snowflake.connector").setLevel(logging.ERROR)
    state = Path(tempfile.mkdtemp(prefix="snowpark-examples-")) / "state"
    stack.up(state)
    try:
        stack.apply_environment(stack.client_environment(state))
        database = f"SNOWPARK_EXAMPLES_{uuid.uuid4().hex[:8].upper()}"
        session = new_session(database)
        passed = total = 0
        for test in docstrings():
            if names and not any(name in short(test) for name in names):
                continue
            result = run(test, session)
            passed += result.passed
            total += result.examples
            print(f"{result.passed:3d}/{result.examples:<3d} {result.name}", flush=True)
            if names:
                for report in result.failed.values():
                    print(report)
        print(f"{passed} of {total} examples pass ({100 * passed / max(total, 1):.1f}%)")
        session.sql(f"DROP DATABASE IF EXISTS {database}").collect()
    finally:
        stack.down(state)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
