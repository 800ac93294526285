"""The repository's own rules: lint, formatting, one dependency list, clean committed notebooks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Paths of this machine that a careless output would show: the checkout, the cache, the temporary
# folders the tests and the stack use. (Paths inside images, like /tmp in a Dockerfile, are fine.)
MACHINE_PATH = re.compile(
    "|".join(
        [
            re.escape(str(ROOT)),
            re.escape(str(Path.home() / ".cache")),
            re.escape(tempfile.gettempdir()) + r"/(?:snowpark-|tutorial-|kernel-|batches-|pytest-)",
            r"/Users/\w+",
        ]
    )
)


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_conda_environment_installs_what_pyproject_lists():
    environment = (ROOT / "environment.yml").read_text()
    assert "- -e .[dev]" in environment and "- -c constraints.txt" in environment
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pinned = [d for d in pyproject["project"]["optional-dependencies"]["local"] if "==" in d]
    constraints = (ROOT / "constraints.txt").read_text().splitlines()
    for requirement in pinned:  # the stack's emulators: the same version in both files
        name, version = re.sub(r"\[.*\]", "", requirement).split("==")
        assert f"{name}=={version}" in constraints


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == sorted({p.name[:2] for p in NOTEBOOKS})
    assert NOTEBOOKS[0].name == "00_check_environment.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_executed_and_clean(path):
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), "run `make notebooks`"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "executed top to bottom in one kernel"
    text = path.read_text()
    assert not MACHINE_PATH.search(text), MACHINE_PATH.search(text).group(0)
    assert "PRIVATE KEY" not in text
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    first = notebook.cells[0].source
    assert first.startswith("# "), "a notebook starts with its title"
    headings = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    assert any("**The series**" in h for h in headings), "it shows where the reader is"
    assert any(re.search(r"^## Clean up", h, re.M) for h in headings), "it has a clean-up"


def test_each_notebook_says_its_outputs_come_from_the_local_stack():
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        first = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"])
        assert "come from the embedded local stack" in first, path.name
        assert "On AWS" in first, path.name
