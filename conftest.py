"""The test session runs against its own local stack, started before the first test that needs it.

nbval's kernels are separate processes that pytest fixtures cannot reach, but they inherit this
process's environment: so the stack starts once the tests are collected, before any runs, and its
environment goes into os.environ. Tests marked `unit` need no stack: a run that collects only
those (`make test-fast`) starts none. (This file is at the root so that it also applies when only
notebooks/ is tested.)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from snowpark_local import stack

_session_dir: Path | None = None
_stack_started = False


def pytest_configure(config):
    global _session_dir
    _session_dir = Path(tempfile.mkdtemp(prefix="snowpark-tests-"))
    # A learner's own parameters must not change what the committed notebooks produce.
    for name in [k for k in os.environ if k.startswith("TUTORIAL_")]:
        del os.environ[name]
    os.environ["TUTORIAL_ARTIFACTS"] = str(_session_dir / "artifacts")
    # The committed notebooks hold process mode's output, whether or not Docker runs here; the
    # real image is tested by tests/test_docker.py on a stack of its own.
    os.environ["SNOWPARK_LOCAL_RUNTIME"] = "process"


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected what will not run
def pytest_collection_modifyitems(session, config, items):
    # Notebooks, every test not marked `unit` and those marked `stack` run against the stack.
    global _stack_started
    if any(
        item.get_closest_marker("unit") is None or item.get_closest_marker("stack")
        for item in items
    ):
        stack.up(_session_dir / "state")
        _stack_started = True
        stack.apply_environment(stack.client_environment(_session_dir / "state"))


def pytest_unconfigure(config):
    if _session_dir is not None:
        if _stack_started:
            stack.down(_session_dir / "state")
        shutil.rmtree(_session_dir, ignore_errors=True)
