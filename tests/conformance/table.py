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
    return HEADER + "\n".join(lines) + "\n"


if __name__ == "__main__":
    from conformance import all_cases

    print(markdown(all_cases()), end="")
