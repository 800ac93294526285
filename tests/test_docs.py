"""The learner's pages: the README, docs/, the picture, and the make targets that show them."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import struct
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_picture_is_at_most_twice_as_wide_as_high_and_not_upscaled():
    width, height = png_size(ROOT / "images" / "architecture.png")
    assert width <= 2 * height, f"{width}x{height} is wider than 2:1: text is unreadable at 830 px"
    assert width >= 830, f"{width} px wide: GitHub would enlarge it to 830 px and blur it"
    assert (ROOT / "images" / "architecture.py").is_file()  # the picture is drawn as code


def test_the_readme_shows_the_picture_and_stays_a_learners_page():
    readme = (ROOT / "README.md").read_text()
    assert "](images/architecture.png)" in readme
    assert len(readme.split()) <= 1600, "the README grows: move detail into docs/"
    for page in ("local-stack", "troubleshooting", "security", "real-accounts"):
        assert f"](docs/{page}.md)" in readme


def markdown_of(page: Path) -> str:
    """A page's Markdown; a notebook's is its Markdown cells'."""
    if page.suffix != ".ipynb":
        return page.read_text()
    cells = json.loads(page.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


@pytest.mark.parametrize("page", PAGES + NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_to_the_repository_lands(page):
    for target in LINK.findall(markdown_of(page)):
        if re.match(r"[a-z]+:", target) or target.startswith("../../actions/"):
            continue  # a web address, or GitHub's Actions pages of this repository (the badge)
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name} links {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
            assert anchor in {github_anchor(h) for h in headings}, f"{page.name}: {target}"


def test_make_lab_passes_jupyterlab_options_and_allows_root_only_as_root():
    dry_run = subprocess.run(
        ["make", "-n", "lab", "LAB_ARGS=--port 8890 --no-browser"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    command = next(line for line in dry_run.splitlines() if "jupyter lab notebooks" in line)
    assert "--port 8890 --no-browser" in command
    assert ("--allow-root" in command) == (os.geteuid() == 0)


def test_render_shows_the_readme_as_github_does(tmp_path):
    spec = importlib.util.spec_from_file_location("render", ROOT / "docs" / "render.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    render.markdown_page(ROOT / "README.md", tmp_path / "README.html")
    page = (tmp_path / "README.html").read_text()
    assert '<img src="images/architecture.png"' in page
    # GitHub's tables, not pipes in a paragraph
    assert page.count("<table>") >= 1 and "| Notebook |" not in page
    assert 'href="docs/troubleshooting.html"' in page  # links go to the rendered pages
    assert 'href="notebooks/00_check_environment.html"' in page
    assert '<h2 id="real-accounts">' in page  # the README's own anchors land
