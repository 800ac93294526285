"""The local Snowflake's conformance suite: operations a learner uses, with Snowflake's results.

Each module `cases_*.py` holds a list `CASES` of `Case`s; tests/test_snowflake_conformance.py runs
every case as a test against the local stack, and docs/local-snowflake.md is generated from them
(`.venv/bin/python tests/conformance/table.py > docs/local-snowflake.md`; a test checks it is
current).
"""

from __future__ import annotations

import importlib
import pkgutil


def all_cases() -> list:
    cases = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("cases_"):
            cases += importlib.import_module(f"{__name__}.{module.name}").CASES
    return cases
