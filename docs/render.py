"""Renders the notebooks, the README and docs/ as a reader sees them: `make render`.

    python docs/render.py build/render

writes HTML pages (notebooks with nbconvert, Markdown with markdown-it-py and GitHub's table
syntax) into the folder, links between them rewritten to the rendered pages, and, where a
headless Chromium or Chrome is installed, a PNG screenshot of each page at 830 px, the width
GitHub gives a README, into its `screenshots/` folder.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from markdown_it import MarkdownIt
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 830  # GitHub's README column at a desktop window, in CSS pixels
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# GitHub's look, in brief: its font stack, table borders, code blocks, images no wider than the
# column.
STYLE = f"""
body {{ margin: 0; background: #fff; }}
.markdown-body {{ box-sizing: border-box; max-width: {WIDTH}px; margin: 0 auto; padding: 16px;
  font: 16px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif;
  color: #1f2328; }}
.markdown-body h1, .markdown-body h2 {{ border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }}
.markdown-body table {{ border-collapse: collapse; display: block; overflow: auto; }}
.markdown-body th, .markdown-body td {{ border: 1px solid #d1d9e0; padding: 6px 13px; }}
.markdown-body tr:nth-child(2n) {{ background: #f6f8fa; }}
.markdown-body code {{ background: #eff1f3; border-radius: 6px; padding: .2em .4em;
  font: 85% ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }}
.markdown-body pre {{ background: #f6f8fa; border-radius: 6px; padding: 16px; overflow: auto; }}
.markdown-body pre code {{ background: none; padding: 0; }}
.markdown-body img {{ max-width: 100%; }}
.markdown-body a {{ color: #0969da; text-decoration: none; }}
"""
LOCAL_LINK = re.compile(r'(href|src)="(?!https?:|#|mailto:)([^"#]+?)\.(md|ipynb)(#[^"]*)?"')


def rendered_links(page: str) -> str:
    """Links to a repository's .md or .ipynb file point at its rendered page instead."""
    return LOCAL_LINK.sub(lambda m: f'{m[1]}="{m[2]}.html{m[4] or ""}"', page)


def heading_ids(page: str) -> str:
    """Headings get GitHub's anchors, so that links like README.md#real-accounts land."""

    def anchored(m: re.Match) -> str:
        text = re.sub(r"<[^>]+>", "", m[2]).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", html.unescape(text)).replace(" ", "-")
        return f'<h{m[1]} id="{slug}">{m[2]}</h{m[1]}>'

    return re.sub(r"<h([1-6])>(.*?)</h\1>", anchored, page)


def markdown_page(source: Path, target: Path) -> None:
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    body = heading_ids(rendered_links(parser.render(source.read_text())))
    title = html.escape(source.relative_to(ROOT).as_posix())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head>\n"
        f'<body><article class="markdown-body">\n{body}</article></body></html>\n'
    )


def notebook_page(source: Path, target: Path) -> None:
    exporter = HTMLExporter(template_name="lab")
    page, _ = exporter.from_notebook_node(nbformat.read(source, as_version=4))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rendered_links(page))


def browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def screenshot(executable: str, page: Path, target: Path) -> None:
    """A headless browser's picture of the page, WIDTH wide, cut below the page's end."""
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [
        executable,
        "--headless",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={WIDTH},16000",  # taller than any page; the blank rest is cut below
        f"--screenshot={target}",
        page.as_uri(),
    ]
    if os.geteuid() == 0:  # Chromium will not start its sandbox as root
        command.insert(1, "--no-sandbox")
    subprocess.run(command, check=True, capture_output=True, timeout=180)
    crop_blank_bottom(target)


def crop_blank_bottom(path: Path) -> None:
    from PIL import Image, ImageChops  # installed with matplotlib, the notebooks' plots

    with Image.open(path) as image:
        picture = image.convert("RGB")
    background = Image.new("RGB", picture.size, picture.getpixel((0, picture.height - 1)))
    box = ImageChops.difference(picture, background).getbbox()
    if box:
        picture.crop((0, 0, picture.width, min(picture.height, box[3] + 16))).save(path)


def main(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    pages = []
    for source in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        target = out / source.relative_to(ROOT).with_suffix(".html")
        markdown_page(source, target)
        pages.append(target)
    for source in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook_page(source, out / "notebooks" / f"{source.stem}.html")
        pages.append(out / "notebooks" / f"{source.stem}.html")
    shutil.copytree(ROOT / "images", out / "images", ignore=shutil.ignore_patterns("*.py"))
    print(f"{len(pages)} pages in {out}/ (open {out}/README.html)")

    executable = browser()
    if executable is None:
        print("No Chromium or Chrome found: no screenshots (apt-get install chromium).")
        return
    for page in pages:
        target = out / "screenshots" / page.relative_to(out).with_suffix(".png")
        screenshot(executable, page, target)
    print(f"{len(pages)} screenshots, {WIDTH} px wide, in {out}/screenshots/")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "build/render").resolve())
