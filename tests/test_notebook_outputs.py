"""What a reader sees: the committed notebooks' outputs are plain, readable text.

GitHub and JupyterLab show a notebook's saved outputs as they are. Terminal colour codes, rich's
markup and progress panels, and saved widget state show there as noise (or as an empty box), and
a very long line scrolls sideways or wraps mid-word.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# A browser window 1,280 px wide shows about 120 characters of monospace output in a notebook's
# output area, on GitHub and in JupyterLab at their default fonts; a longer line scrolls sideways
# or wraps mid-word. Only a single word (a key, a digest) that no wrapping could shorten may be
# longer.
WIDTH = 120
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\]")
# rich's console markup, e.g. [bold], [/bold], [bold red], [link=...]: printed as-is outside rich.
RICH_MARKUP = re.compile(
    r"\[/?(?:bold|dim|italic|underline|strike|blink|reverse|link|red|green|blue|yellow|magenta|"
    r"cyan|white|black|grey\d*)\b[^\]]*\]"
)
WIDGET = "application/vnd.jupyter.widget-view+json"
TEXT_TYPES = ("text/plain", "text/html", "text/markdown", "text/latex")


def outputs(notebook):
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                yield index, output


def texts(output) -> list[str]:
    """The text an output shows: a stream's, an error's traceback, or a display's text types."""
    if output.output_type == "stream":
        return [output.text]
    if output.output_type == "error":
        return ["\n".join(output.traceback)]
    return [output.data[kind] for kind in TEXT_TYPES if kind in output.get("data", {})]


def visible(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).strip()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_hold_no_terminal_codes_or_markup(path):
    notebook = nbformat.read(path, as_version=4)
    for index, output in outputs(notebook):
        for text in texts(output):
            assert not ANSI.search(text), f"cell {index}: ANSI escape {ANSI.search(text)[0]!r}"
            found = RICH_MARKUP.search(text)
            assert not found, f"cell {index}: rich markup {found[0]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_widget_state_or_empty_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    assert "widgets" not in notebook.metadata, "saved widget state (metadata.widgets)"
    for index, output in outputs(notebook):
        if output.output_type in ("display_data", "execute_result"):
            data = output.get("data", {})
            assert WIDGET not in data, f"cell {index}: a widget output"
            shown = [visible(t) for t in texts(output)]
            images = [kind for kind in data if kind.startswith("image/")]
            assert images or any(shown), f"cell {index}: an output that shows nothing"
            assert visible(data.get("text/plain", "x")) != "Output()", f"cell {index}: Output()"
        if output.output_type == "stream":
            assert output.text.strip(), f"cell {index}: an empty stream output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_output_lines_fit_a_readable_width(path):
    notebook = nbformat.read(path, as_version=4)
    for index, output in outputs(notebook):
        if output.output_type == "stream":
            shown = [output.text]
        else:  # the plain text (HTML tables are the browser's to lay out)
            shown = [output.get("data", {}).get("text/plain", "")]
        for text in shown:
            for line in text.splitlines():
                if len(line) > WIDTH:
                    assert len(line.split()) == 1, (
                        f"cell {index}: a line of {len(line)} characters (at most {WIDTH} unless "
                        f"a single word): {line[:80]}..."
                    )


# The files the notebooks show as highlighted code, and where.
SHOWN_FILES = {
    "training_container/Dockerfile": "04_train_byoc_sagemaker_job.ipynb",
    "training_container/train": "04_train_byoc_sagemaker_job.ipynb",
    "snowflake-env-kernel-image/Dockerfile": "01_build_studio_kernel_image.ipynb",
}


@pytest.mark.parametrize("shown", SHOWN_FILES, ids=str)
def test_notebooks_show_the_files_as_they_are(shown):
    """A notebook shows an image's Dockerfile or program as highlighted code: its saved output
    must be today's file, or a reader on GitHub reads what the image no longer runs."""
    notebook = nbformat.read(ROOT / "notebooks" / SHOWN_FILES[shown], 4)
    source = (ROOT / shown).read_text()
    markdown = [
        output.data["text/markdown"]
        for _, output in outputs(notebook)
        if "text/markdown" in output.get("data", {})
    ]
    assert any(text.split("\n", 1)[1] == f"{source}```" for text in markdown), (
        f"{SHOWN_FILES[shown]}'s saved output does not show today's {shown}: run make notebooks"
    )
