"""docs/local-snowflake.md, generated from the conformance cases:
`.venv/bin/python tests/conformance/table.py > docs/local-snowflake.md`."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the suite as pytest does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "conformance"

from conformance.harness import Case, Raises  # noqa: E402

HEADER = """# The local Snowflake: what it answers as Snowflake does

The local stack emulates Snowflake with fakesnow's server, extended by the stack
(`src/snowpark_local/snowflake/`). Each row below is a test of
`tests/test_snowflake_conformance.py`, run by `make test` against the stack: the operation, and
the result Snowflake documents, which the stack gives. This page is generated from those tests
(`.venv/bin/python tests/conformance/table.py > docs/local-snowflake.md`), so it lists only what
is tested.

| Area | Operation | Snowflake's result (and the stack's) | Documented in |
|---|---|---|---|
"""


def _result(expect) -> str:
    if isinstance(expect, Raises):
        code = f" {expect.code:06d}" if expect.code is not None else ""
        words = f": {expect.words}" if expect.words else ""
        return f"error{code}{words}".replace("\n", " ").replace("|", "\\|")
    return f"`{expect!r}`".replace("|", "\\|")


def markdown(cases: list[Case]) -> str:
    lines = [
        f"| {c.area} | {c.operation} | {_result(c.expect)} | {c.reference} |"
        for c in sorted(cases, key=lambda c: c.area)
    ]
    return HEADER + "\n".join(lines) + "\n" + examples_section()


EXAMPLES = """
## Snowpark's own examples

Snowpark Python's docstrings hold runnable examples (`>>>` lines with the expected output), which
Snowpark's maintainers run against a real account. `tests/test_snowpark_examples.py` (`make
test-examples`, a tier of `make test`) runs those of the DataFrame API's modules ({modules})
against the local Snowflake as Snowpark's CI does (one session in one database, `session` and
`to_timestamp` in the namespace, ELLIPSIS and NORMALIZE_WHITESPACE) and checks that exactly the
examples below fail. `.venv/bin/python tests/conformance/snowpark_examples.py [NAME ...]` runs them
and prints what fails.

**{passing} of {examples} examples pass ({share:.1%})**, of the examples Snowpark runs in the
Snowpark version constraints.txt pins ({skipped} more are marked `+SKIP` in Snowpark itself and
run nowhere). The rest, and why:

| Example | Why it fails on the local Snowflake |
|---|---|
"""


def examples_section() -> str:
    from conformance.snowpark_examples import MODULES, docstrings, skipped
    from conformance.snowpark_examples_failing import FAILING

    found = [example for test in docstrings() for example in test.examples]
    examples = sum(1 for example in found if not skipped(example))
    passing = examples - len(FAILING)
    text = EXAMPLES.format(
        modules=", ".join(f"`{name}`" for name in MODULES),
        passing=passing,
        examples=examples,
        share=passing / examples,
        skipped=len(found) - examples,
    )
    bar = "|"
    rows = [f"| `{key}` | {reason.replace(bar, '&#124;')} |" for key, reason in FAILING.items()]
    return text + "\n".join(rows) + "\n"


if __name__ == "__main__":
    from conformance import all_cases

    print(markdown(all_cases()), end="")
