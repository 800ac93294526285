"""The series' times and costs: docs/times.toml is their one source, and every place agrees with it.

docs/times.py (`make times`) renders the source into the README, the notebooks' headers,
notebook 00's cost table, docs/infrastructure.md, docs/notebooks.md and REAL_COST.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from sagemaker_snowpark import images

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("docs_times", ROOT / "docs" / "times.py")
times = sys.modules["docs_times"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
spec.loader.exec_module(times)


def test_every_place_agrees_with_docs_times_toml():
    stale = [
        path.relative_to(ROOT).as_posix()
        for path, text in times.rendered().items()
        if path.read_text() != text
    ]
    assert not stale, f"{', '.join(stale)} disagree with docs/times.toml: {times.FIX}."


def test_the_check_names_what_differs_and_how_to_fix_it(tmp_path, capsys):
    root = copy_of_the_places(tmp_path)
    assert times.main([], root) == 0  # current, whatever the checkout's state
    source = root / "docs" / "times.toml"
    # Notebook 05 takes 5 minutes longer: its header, and every total, change.
    text = source.read_text()
    at = text.index('file = "05_score_machines.ipynb"')
    source.write_text(text[:at] + text[at:].replace("minutes = 15", "minutes = 20", 1))
    files = times.rendered(root)
    changed = sorted(p.relative_to(root).as_posix() for p, t in files.items() if p.read_text() != t)
    assert changed == [
        "README.md",
        "docs/notebooks.md",
        "notebooks/00_check_environment.ipynb",  # the space's hours, in the cost table
        "notebooks/05_score_machines.ipynb",
    ]
    series = times.load(source)
    assert series.minutes == times.load().minutes + 5
    assert f"**{times.short(series.minutes)}**" in files[root / "README.md"]

    # The command line names the same files, and writes nothing with --check.
    assert times.main(["--check"], root) == 1
    out = capsys.readouterr().out
    assert "README.md differs from docs/times.toml: run `make times`" in out
    assert (root / "README.md").read_text() != files[root / "README.md"]  # --check wrote nothing
    assert times.main([], root) == 0
    assert times.main(["--check"], root) == 0


def test_a_missing_place_is_named(tmp_path):
    root = copy_of_the_places(tmp_path)
    readme = root / "README.md"
    readme.write_text(
        re.sub(r"<!-- times: table -->.*?<!-- /times -->", "", readme.read_text(), flags=re.S)
    )
    with pytest.raises(times.TimesError, match=r"README.md has no <!-- times: table -->"):
        times.rendered(root)
    readme.write_text((ROOT / "README.md").read_text())
    notebook = root / "notebooks" / "03_populate_snowflake_tables.ipynb"
    book = nbformat.read(notebook, as_version=4)
    book.cells[0].source = book.cells[0].source.replace(times.HEADER, "Time and cost:")
    nbformat.write(book, notebook)
    with pytest.raises(times.TimesError, match=r"notebooks/03_populate_snowflake_tables.ipynb"):
        times.rendered(root)


def test_rendering_a_notebook_changes_only_its_header_and_notebook_00_s_cost_table():
    series = times.load()
    for step in series.notebooks:
        path = ROOT / "notebooks" / step.file
        before = nbformat.read(path, as_version=4)
        after = nbformat.reads(times.notebook(path, step, series), as_version=4)
        assert [c.get("id") for c in after.cells] == [c.get("id") for c in before.cells]
        for old, new in zip(before.cells, after.cells, strict=True):
            assert new.get("outputs") == old.get("outputs")
            assert new.cell_type == old.cell_type
        changed = [
            i for i, (o, n) in enumerate(zip(before.cells, after.cells, strict=True)) if o != n
        ]
        assert set(changed) <= {0, costs_cell_index(before)}, (step.file, changed)
        paragraphs = after.cells[0].source.split("\n\n")
        assert [p for p in paragraphs if p.startswith(times.HEADER)] == [times.header(series, step)]


def test_the_totals_are_the_sums_of_the_steps():
    series = times.load()
    steps = [*series.setup, *series.notebooks, *series.finish]
    assert series.minutes == sum(step.minutes for step in steps)
    space = series.prices["space"]
    in_space = sum(s.minutes for s in series.setup if s.space) + series.notebook_minutes
    expected = sum(step.usd(series.days) for step in series.notebooks) + in_space / 60 * space.usd
    assert series.usd == pytest.approx(expected)
    readme = (ROOT / "README.md").read_text()
    assert f"about {times.duration(series.minutes)} on your AWS and Snowflake" in readme
    assert f"**{times.cost(series.usd)} and {times.credit(series.credits)}" in readme


def test_the_source_prices_what_the_series_runs():
    series = times.load()
    prices = series.prices
    assert prices["codebuild"].machine == images.BUILD_COMPUTE_TYPE
    template = (ROOT / "infrastructure" / "tutorial.yaml").read_text()
    instance = re.search(r"InstanceType:\n(?: +\w+:.*\n)*? +Default: (\S+)", template)[1]
    assert prices["space"].machine == instance
    training = source_of("04_train_byoc_sagemaker_job.ipynb")
    assert f'INSTANCE_TYPE, INSTANCE_COUNT = "{prices["training"].machine}", 1' in training
    assert f'INSTANCE_TYPE = "{prices["processing"].machine}"' in source_of(
        "05_score_machines.ipynb"
    )
    assert "WAREHOUSE_SIZE = 'XSMALL'" in source_of("03_populate_snowflake_tables.ipynb")
    assert prices["warehouse"].machine == "X-Small warehouse"
    # The notebooks the source lists are the series, in order.
    assert [s.file for s in series.notebooks] == sorted(
        p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )


def source_of(name: str) -> str:
    book = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    return "\n".join(cell.source for cell in book.cells if cell.cell_type == "code")


def costs_cell_index(book) -> int:
    return next(
        (i for i, c in enumerate(book.cells) if times.TABLE_UNDER_COSTS.search(c.source)), -1
    )


def copy_of_the_places(tmp_path: Path) -> Path:
    """The files the renderer reads and writes, in a folder of their own."""
    root = tmp_path / "repository"
    relatives = [
        "README.md",
        "docs/times.toml",
        *times.PAGES,
        *(f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")),
        times.SERIES.relative_to(ROOT).as_posix(),
    ]
    for relative in relatives:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relative, root / relative)
    return root
