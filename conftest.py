"""The test session runs against its own local stack, started before the first test that needs it.

nbval's kernels are separate processes that pytest fixtures cannot reach, but they inherit this
process's environment: so the stack starts once the tests are collected, before any runs, and its
environment goes into os.environ. Each notebook's kernel starts with that environment (the
learner's), whatever a test before it switched to. Tests marked `unit` need no stack: a run that
collects only those (`make test-fast`) starts none. (This file is at the root so that it also
applies when only notebooks/ is tested.)

Tests marked `after_notebook(name)` run right after that notebook's last cell, to see the state it
left (tests/test_series.py). Under pytest-xdist (`make test`), every test goes to a worker with
the rest of its group (docs/testing.md): the notebooks and the tests that follow them together, in
order; every Docker test together (one engine); every other module together (its fixtures are
made once).
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
_notebook_environment: dict[str, str] = {}

SERIES_GROUP = "the-series-on-the-session-stack"
DOCKER_GROUP = "docker"


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
    config.pluginmanager.register(_Order(), "snowpark-tests-order")


def _is_notebook(item) -> bool:
    return item.path.suffix == ".ipynb"


def _after_notebooks(items: list) -> None:
    """Move each test marked after_notebook(name) to just after that notebook's last cell (tests
    for one notebook keep their order); a test whose notebook was not collected stays put."""
    last_cell = {item.path.name: index for index, item in enumerate(items) if _is_notebook(item)}
    moving = [
        item
        for item in items
        if (mark := item.get_closest_marker("after_notebook")) and mark.args[0] in last_cell
    ]
    if not moving:
        return
    placed = []
    for index, item in enumerate(items):
        if item in moving:
            continue
        placed.append(item)
        if _is_notebook(item) and last_cell[item.path.name] == index:
            placed += [m for m in moving if _notebook_of(m) == item.path.name]
    items[:] = placed


def _notebook_of(item) -> str:
    return item.get_closest_marker("after_notebook").args[0]


def _worker_groups(items: list) -> None:
    """The pytest-xdist group of each test (used with --dist loadgroup); the two long groups go
    first so that they start at once."""
    for item in items:
        if _is_notebook(item) or item.get_closest_marker("after_notebook"):
            group = SERIES_GROUP
        elif item.get_closest_marker("docker"):
            group = DOCKER_GROUP
        else:
            group = item.path.name
        item.add_marker(pytest.mark.xdist_group(group))
    first = {SERIES_GROUP: 0, DOCKER_GROUP: 1}
    items.sort(key=lambda item: first.get(item.get_closest_marker("xdist_group").args[0], 2))


class _Order:
    """Runs before every other collection hook (a module has one function per hook name)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session, config, items):
        for item in items:
            if _is_notebook(item):
                item.add_marker(pytest.mark.series)  # so that -m series selects them
        _after_notebooks(items)
        if getattr(config.option, "loadgroup", False):  # set in pytest-xdist's workers
            _worker_groups(items)


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
        _notebook_environment.update(os.environ)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """A notebook's kernel starts (in its first cell's setup) with the learner's environment."""
    if not (_is_notebook(item) and _notebook_environment):
        return (yield)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(_notebook_environment)
    try:
        return (yield)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def pytest_unconfigure(config):
    if _session_dir is not None:
        if _stack_started:
            stack.down(_session_dir / "state")
        shutil.rmtree(_session_dir, ignore_errors=True)
