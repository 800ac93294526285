"""The house's structure: the learner's package stands alone, no import circle, no long file."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGES = ("sagemaker_snowpark", "snowpark_local")
LONGEST_FILE = 700  # lines; a module past this does more than one thing


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((SRC / package).rglob("*.py")):
            parts = path.relative_to(SRC).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, at the top or inside a function (both make circles)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from package import module` imports the module; `from module import name` the module
            targets = [f"{module}.{alias.name}" for alias in node.names] + [module]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_the_learners_package_imports_nothing_of_the_local_stack():
    graph = _graph()
    leaks = {
        name: sorted(t for t in targets if t.startswith("snowpark_local"))
        for name, targets in graph.items()
        if name.startswith("sagemaker_snowpark")
    }
    assert not {name: found for name, found in leaks.items() if found}


def test_no_module_imports_itself_through_others():
    graph = _graph()
    # Package __init__ files are imported by every submodule; they hold no code that imports back.
    graph = {
        name: {t for t in targets if not name.startswith(t + ".")}
        for name, targets in graph.items()
    }
    circles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                circles.append(" -> ".join(path[path.index(target) :] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles, "import circles:\n" + "\n".join(circles)
    assert len(graph) > 30  # the walk saw the packages (a wrong SRC would find nothing)


def test_no_source_file_is_overgrown():
    lengths = {
        str(path.relative_to(SRC)): len(path.read_text().splitlines())
        for path in _modules().values()
    }
    assert not {p: n for p, n in lengths.items() if n > LONGEST_FILE}, sorted(lengths.items())


def test_pytest_xdist_keeps_a_group_on_one_worker(tmp_path):
    """make test relies on --dist loadgroup honouring groups added during collection, as the root
    conftest.py adds them; some pytest and pytest-xdist versions silently stop (see pyproject)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        item.add_marker(pytest.mark.xdist_group('together'))\n"
    )
    for module in ("test_a.py", "test_b.py"):
        (tmp_path / module).write_text(
            "import time\n\n"
            "def test_one():\n    time.sleep(0.2)\n\n"
            "def test_two():\n    time.sleep(0.2)\n"
        )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-v",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    workers = {line.split("]", 1)[0] for line in result.stdout.splitlines() if " PASSED " in line}
    assert len(workers) == 1 and result.stdout.count(" PASSED ") == 4, result.stdout
