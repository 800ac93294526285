"""The series' times and costs, from docs/times.toml into every place that quotes them.

`make times` runs it:

    python docs/times.py           rewrite the places that differ from the source
    python docs/times.py --check   name them (exit status 1) and change nothing

The places: the README's opening and its table (between `<!-- times: NAME -->` and
`<!-- /times -->`), docs/infrastructure.md and docs/notebooks.md (the same markers), each
notebook's paragraph that starts `**Time and cost on AWS:**` in its first cell, notebook 00's
cost table (the table under its `## Costs` heading), and REAL_COST in
src/snowpark_local/series.py. Nothing else in a file changes; notebooks keep their cell ids and
outputs. tests/test_times.py fails when a place differs from what this renders.
"""

from __future__ import annotations

import re
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "docs" / "times.toml"
NOTEBOOKS = ROOT / "notebooks"
SERIES = ROOT / "src" / "snowpark_local" / "series.py"
FIX = "run `make times` (or `.venv/bin/python docs/times.py`)"
HEADER = "**Time and cost on AWS:**"
# A block's text: on lines of its own between the markers, or inline between them.
MARKED = re.compile(r"<!-- times: ([\w-]+) -->(\n?)(.*?)\n?<!-- /times -->", re.DOTALL)
REAL_COST = re.compile(r'^REAL_COST = \(\n(?:    "[^"\n]*"\n)+\)\n', re.MULTILINE)
# The Markdown blocks each page holds, by marker name.
PAGES = {
    "README.md": ("opening", "table", "real-account"),
    "docs/infrastructure.md": ("real-run",),
    "docs/notebooks.md": ("totals",),
}


class TimesError(Exception):
    """A place to render is missing or not as expected; the message says which and where."""


# --- the source ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    service: str
    kind: str  # minute, hour, gb-month, month or credit-hour (docs/times.toml)
    machine: str = ""
    usd: float = 0.0
    credits: float = 0.0
    credit_usd: tuple[float, float] = (0.0, 0.0)

    @property
    def rate(self) -> str:
        return {
            "minute": f"{price(self.usd)} a minute",
            "hour": f"{price(self.usd)} an hour",
            "gb-month": f"{price(self.usd)} per GB-month",
            "month": f"{price(self.usd)} a month",
            "credit-hour": (
                f"{self.credits:g} credit an hour, billed per second with a 60-second minimum"
            ),
        }[self.kind]


@dataclass(frozen=True)
class Use:
    price: Price
    what: str
    minutes: float = 0
    gb: float = 0
    instances: int = 1

    @property
    def monthly(self) -> float:
        """A stored resource's price for a month (ECR's images, the secret)."""
        return self.price.usd * (self.gb if self.price.kind == "gb-month" else 1)

    def usd(self, days: float) -> float:
        kind = self.price.kind
        if kind == "minute":
            return self.minutes * self.price.usd
        if kind == "hour":
            return self.minutes / 60 * self.price.usd * self.instances
        if kind in ("gb-month", "month"):
            return self.monthly * days / 30
        return 0.0

    @property
    def credits(self) -> float:
        return self.minutes / 60 * self.price.credits if self.price.kind == "credit-hour" else 0

    @property
    def stored(self) -> bool:
        """Billed by the month while it exists (ECR's images, the secret)."""
        return self.price.kind in ("gb-month", "month")

    @property
    def subject(self) -> str:
        """What is used, and how much: `the training job, one ml.m5.large for about 3 ...`."""
        p = self.price
        if p.kind == "minute":
            return f"{self.what}, about {self.minutes:g} minutes of {p.service} {p.machine}"
        if p.kind == "hour":
            count, each = ("one", "") if self.instances == 1 else (self.instances, " each")
            minutes = f"about {self.minutes:g} billable minutes{each}"
            return f"{self.what}, {count} {p.machine} for {minutes}"
        if p.kind == "gb-month":
            return f"{self.what} in {p.service}, about {self.gb:g} GB"
        if p.kind == "month":
            return f"{self.what} in {p.service}"
        return f"{self.what}, about {self.minutes:g} minutes of the {p.service} {p.machine}"

    def amount(self, days: float) -> str:
        if self.price.kind == "credit-hour":
            return credit(self.credits)
        if self.stored:
            per_day = f"{cost(self.monthly / 30)} a day"
            return (
                f"{cost(self.monthly)} a month, {per_day}"
                if self.price.kind == "gb-month"
                else per_day
            )
        return cost(self.usd(days))


@dataclass(frozen=True)
class Step:
    title: str
    minutes: int
    who: str = ""
    note: str = ""
    space: bool = False  # the Studio space runs during the step
    file: str = ""  # a notebook's
    does: str = ""
    unattended: int = 0
    uses: tuple[Use, ...] = ()

    def usd(self, days: float) -> float:
        return sum(use.usd(days) for use in self.uses)

    @property
    def credits(self) -> float:
        return sum(use.credits for use in self.uses)


@dataclass(frozen=True)
class Series:
    region: str
    checked: str
    days: float
    prices: dict[str, Price]
    setup: tuple[Step, ...]
    notebooks: tuple[Step, ...]
    finish: tuple[Step, ...]

    @property
    def minutes(self) -> int:
        return sum(step.minutes for step in (*self.setup, *self.notebooks, *self.finish))

    @property
    def notebook_minutes(self) -> int:
        return sum(step.minutes for step in self.notebooks)

    @property
    def space_minutes(self) -> int:
        return sum(step.minutes for step in self.setup if step.space) + self.notebook_minutes

    def space_usd(self, minutes: float) -> float:
        return minutes / 60 * self.prices["space"].usd

    @property
    def notebooks_usd(self) -> float:
        return sum(step.usd(self.days) for step in self.notebooks)

    @property
    def usd(self) -> float:
        return self.notebooks_usd + self.space_usd(self.space_minutes)

    @property
    def credits(self) -> float:
        return sum(step.credits for step in self.notebooks)

    @property
    def unattended(self) -> int:
        return sum(step.unattended for step in self.notebooks)


def load(path: Path = SOURCE) -> Series:
    data = tomllib.loads(path.read_text())
    prices = {
        key: Price(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
        for key, fields in data["price"].items()
    }

    def step(fields: dict) -> Step:
        fields = dict(fields)
        uses = tuple(
            Use(price=prices[u.pop("price")], **u) for u in map(dict, fields.pop("cost", []))
        )
        return Step(title=fields.pop("step", None) or fields.pop("title"), uses=uses, **fields)

    assumptions = data["assumptions"]
    return Series(
        region=assumptions["region"],
        checked=assumptions["checked"],
        days=assumptions["days_kept"],
        prices=prices,
        setup=tuple(map(step, data["setup"])),
        notebooks=tuple(map(step, data["notebook"])),
        finish=tuple(map(step, data["finish"])),
    )


# --- words --------------------------------------------------------------------------------------


def price(usd: float) -> str:
    """A unit price, to its last digit: $0.115, $0.10."""
    digits = f"{usd:.3f}".rstrip("0")
    return f"${digits}" if len(digits.split(".")[1]) >= 2 else f"${usd:.2f}"


def cost(usd: float) -> str:
    """An amount, in cents."""
    if usd == 0:
        return "$0"
    return "under $0.01" if usd < 0.005 else f"${usd:.2f}"


def credit(credits: float) -> str:
    return f"{credits:.2f} credit"


def duration(minutes: int) -> str:
    hours, minutes = divmod(minutes, 60)
    words = [f"{hours} hour{'s' if hours > 1 else ''}"] if hours else []
    if minutes or not hours:
        words.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(words)


def short(minutes: int) -> str:
    """For a table cell: ~25&nbsp;min, ~2&nbsp;h&nbsp;15&nbsp;min."""
    hours, minutes = divmod(minutes, 60)
    words = ([f"{hours}&nbsp;h"] if hours else []) + ([f"{minutes}&nbsp;min"] if minutes else [])
    return "~" + "&nbsp;".join(words)


def credits_in_dollars(series: Series, credits: float) -> str:
    low, high = series.prices["warehouse"].credit_usd
    return f"{cost(credits * low)} to {cost(credits * high)}"


def step_cost(series: Series, step: Step) -> str:
    """A table cell: $0.17, 0.05 Snowflake credit, or both."""
    parts = [cost(step.usd(series.days))] if step.usd(series.days) or not step.credits else []
    if step.credits:
        parts.append(f"{credit(step.credits)} in Snowflake")
    return " and ".join(parts)


def notebook_number(step: Step) -> str:
    return step.file[:2]


def clean_up_number(series: Series) -> str:
    """The clean-up's number: the series' last notebook."""
    return notebook_number(series.notebooks[-1])


# --- the places ---------------------------------------------------------------------------------


def header(series: Series, step: Step) -> str:
    """A notebook's `**Time and cost on AWS:**` paragraph."""
    days, space = series.days, series.prices["space"]
    text = f"{HEADER} about {duration(step.minutes)}" + (f", {step.note}." if step.note else ".")
    aws = [use for use in step.uses if not use.credits]
    snowflake = [use for use in step.uses if use.credits]
    if aws:
        text += f" About {cost(step.usd(days))} on AWS: {items(aws, days)}."
    if snowflake:
        text += f" In Snowflake, about {credit(step.credits)}: {items(snowflake, days)}."
    if not step.uses:
        text += " It uses nothing billable of its own."
    return text + (
        f" Plus your SageMaker Studio space while it runs ({space.machine} at {space.rate}): "
        f"{cost(series.space_usd(step.minutes))} for these {duration(step.minutes)}."
    )


def items(uses: list[Use], days: float) -> str:
    """Each use at its price; its amount too where the total alone does not say it."""
    return "; ".join(
        f"{use.subject} at {use.price.rate}"
        + (f" ({use.amount(days)})" if len(uses) > 1 or use.stored else "")
        for use in uses
    )


def cost_table(series: Series) -> str:
    """Notebook 00's table: every use, the space, and the series in all."""
    days, space = series.days, series.prices["space"]
    rows = [
        "| Notebook | What | Price | For the series |",
        "|---|---|---|---|",
    ]
    for step in series.notebooks:
        for use in step.uses:
            cells = (notebook_number(step), use.subject, use.price.rate, use.amount(days))
            rows.append("| " + " | ".join(cells) + " |")
    rows.append(
        f"| all | your {space.service}, {space.machine}, while it runs: about "
        f"{duration(series.space_minutes)} (the set-up and the notebooks) | {space.rate} | "
        f"{cost(series.space_usd(series.space_minutes))} |"
    )
    rows.append(
        f"| **In all** | the series in {days_words(days)}, cleaned up by notebook "
        f"{clean_up_number(series)} | | "
        f"**{cost(series.usd)} and {credit(series.credits)} in Snowflake** |"
    )
    return "\n".join(rows)


def days_words(days: float) -> str:
    return "one day" if days == 1 else f"{days:g} days"


def opening(series: Series) -> str:
    """The README's first word on time and cost."""
    setup = sum(step.minutes for step in series.setup)
    return (
        f"**Time and cost:** about {duration(series.minutes)} on your AWS and Snowflake accounts, "
        f"{duration(setup)} of set-up included; about {cost(series.usd)} on AWS and "
        f"{credit(series.credits)} in Snowflake ({credits_in_dollars(series, series.credits)} "
        "at on-demand prices), "
        f"when you run the series in {days_words(series.days)} and let notebook "
        f"{clean_up_number(series)} clean up "
        f"({series.region} list prices, {series.checked}). With no account, on the local stack, "
        "it costs nothing."
    )


def readme_table(series: Series) -> str:
    space = series.prices["space"]
    rows = ["| Step | What you do | Time | Cost |", "|---|---|---|---|"]
    for step in series.setup:
        rows.append(
            f"| [Set-up](#real-accounts) | {step.title} ({step.who}) | {short(step.minutes)} | "
            f"{'the space' if step.space else '$0'} |"
        )
    for step in series.notebooks:
        link = f"[{notebook_number(step)} {step.title}](notebooks/{step.file})"
        rows.append(f"| {link} | {step.does} | {short(step.minutes)} | {step_cost(series, step)} |")
    for step in series.finish:
        rows.append(
            f"| [After {clean_up_number(series)}](#real-accounts) | {step.title} ({step.who}) | "
            f"{short(step.minutes)} | $0 |"
        )
    rows.append(
        f"| The space | {space.machine} at {space.rate} while it runs, about "
        f"{duration(series.space_minutes)} | | {cost(series.space_usd(series.space_minutes))} |"
    )
    rows.append(
        f"| **In all** | | **{short(series.minutes)}** | **{cost(series.usd)} and "
        f"{credit(series.credits)} in Snowflake** |"
    )
    return "\n".join(rows)


def totals(series: Series) -> str:
    """docs/notebooks.md's sentence."""
    return wrap(
        f"In all, the notebooks take about {duration(series.notebook_minutes)} on AWS "
        f"({duration(series.minutes)} with the set-up and the stack's deletion) and cost about "
        f"{cost(series.notebooks_usd)} on AWS, plus "
        f"{cost(series.space_usd(series.space_minutes))} for the Studio space, and "
        f"{credit(series.credits)} in Snowflake."
    )


def real_cost(series: Series) -> str:
    """What `make real-account` states before it starts (REAL_COST): the notebooks' costs without
    a Studio space, and their unattended time."""
    build = series.prices["codebuild"]
    compute = build.machine.removeprefix("BUILD_").lower().replace("1_", "1.")
    uses = [use for step in series.notebooks for use in step.uses]
    build_minutes = sum(use.minutes for use in uses if use.price is build)
    training = sum(use.instances for use in uses if use.price is series.prices["training"])
    scoring = sum(use.instances for use in uses if use.price is series.prices["processing"])
    machines = {series.prices["training"].machine, series.prices["processing"].machine}
    if len(machines) != 1:
        raise TimesError("REAL_COST names one instance type for training and scoring.")
    warehouse = sum(use.minutes for use in uses if use.price.kind == "credit-hour")
    return (
        f"about USD {series.notebooks_usd:.2f} on AWS ({build_minutes:g} CodeBuild build minutes "
        f"on {compute} at USD {build.usd:.2f} a minute, {training + scoring} {machines.pop()} "
        f"instances for a few minutes each: {training} training and {scoring} scoring, ECR, S3 "
        f"and Secrets Manager for {days_words(series.days)}) "
        f"and about {series.credits:.2f} Snowflake credit (an X-Small warehouse for about "
        f"{warehouse:g} minutes); it takes about {series.unattended} minutes"
    )


def real_run(series: Series) -> str:
    """docs/infrastructure.md's quote of REAL_COST."""
    return wrap(f"It first states what a run costs and takes: {real_cost(series)}.")


def real_account(series: Series) -> str:
    """The README's word on `make real-account` (inline): REAL_COST's first figure."""
    return f"(about USD {series.notebooks_usd:.2f} on AWS)"


def wrap(text: str) -> str:
    return textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False)


BLOCKS = {
    "opening": opening,
    "table": readme_table,
    "real-account": real_account,
    "real-run": real_run,
    "totals": totals,
}


def page(relative: str, text: str, series: Series) -> str:
    found = {match[1] for match in MARKED.finditer(text)}
    if unknown := sorted(found - set(BLOCKS)):
        raise TimesError(
            f"{relative} has a <!-- times: {unknown[0]} --> block, which docs/times.py does not "
            f"render: name one of {', '.join(BLOCKS)}."
        )
    missing = [name for name in PAGES[relative] if name not in found]
    if missing:
        raise TimesError(
            f"{relative} has no <!-- times: {missing[0]} --> ... <!-- /times --> block: put the "
            f"markers back where its text goes, then {FIX}."
        )

    def block(m: re.Match) -> str:
        name, newline = m[1], m[2]  # a newline after the opening marker: a block of lines
        return f"<!-- times: {name} -->{newline}{BLOCKS[name](series)}{newline}<!-- /times -->"

    return MARKED.sub(block, text)


def notebook(path: Path, step: Step, series: Series) -> str:
    book = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    first = book.cells[0]
    paragraphs = first.source.split("\n\n")
    at = [i for i, text in enumerate(paragraphs) if text.startswith(HEADER)]
    if len(at) != 1:
        raise TimesError(
            f"notebooks/{path.name}: its first cell needs one paragraph starting {HEADER} "
            f"(found {len(at)}): put it back, then {FIX}."
        )
    paragraphs[at[0]] = header(series, step)
    first.source = "\n\n".join(paragraphs)
    if path.name.startswith("00_"):
        costs = costs_cell(book, path)
        costs.source = TABLE_UNDER_COSTS.sub(
            lambda m: m[1] + cost_table(series) + "\n", costs.source, count=1
        )
    text = nbformat.writes(book)
    return text if text.endswith("\n") else text + "\n"


# The table under `## Costs`: its heading, what comes before the table, then the table's rows.
TABLE_UNDER_COSTS = re.compile(r"(^## Costs\n(?:(?!\|).*\n|\n)*?)(?:\|.*(?:\n|$))+", re.MULTILINE)


def costs_cell(book, path: Path):
    cells = [cell for cell in book.cells if TABLE_UNDER_COSTS.search(cell.source)]
    if len(cells) != 1:
        raise TimesError(
            f"notebooks/{path.name}: needs one Markdown cell with a `## Costs` heading followed by "
            f"a table (found {len(cells)}): put it back, then {FIX}."
        )
    return cells[0]


def series_module(text: str, series: Series) -> str:
    if len(REAL_COST.findall(text)) != 1:
        raise TimesError(
            f"{SERIES.relative_to(ROOT)} needs one `REAL_COST = (` block of string lines: put it "
            f"back, then {FIX}."
        )
    lines = textwrap.wrap(real_cost(series), width=93, break_long_words=False)
    body = "".join(
        f'    "{line}{" " if n < len(lines) - 1 else ""}"\n' for n, line in enumerate(lines)
    )
    return REAL_COST.sub(lambda _: f"REAL_COST = (\n{body})\n", text)


def rendered(root: Path = ROOT, series: Series | None = None) -> dict[Path, str]:
    """Every place's file as it should be: path to text."""
    series = series or load(root / SOURCE.relative_to(ROOT))
    found = sorted(path.name for path in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    listed = [step.file for step in series.notebooks]
    if found != listed:
        raise TimesError(
            f"docs/times.toml lists the notebooks {listed}, but notebooks/ holds {found}: give "
            f"each notebook one [[notebook]] entry, in order, then {FIX}."
        )
    files = {}
    for relative in PAGES:
        path = root / relative
        files[path] = page(relative, path.read_text(), series)
    for step in series.notebooks:
        path = root / "notebooks" / step.file
        files[path] = notebook(path, step, series)
    path = root / SERIES.relative_to(ROOT)
    files[path] = series_module(path.read_text(), series)
    return files


def main(argv: list[str], root: Path = ROOT) -> int:
    check = "--check" in argv
    try:
        files = rendered(root)
    except TimesError as error:
        print(f"times: {error}", file=sys.stderr)
        return 1
    changed = [path for path, text in files.items() if path.read_text() != text]
    for path in changed:
        name = path.relative_to(root).as_posix()
        if check:
            print(f"{name} differs from docs/times.toml: {FIX}.")
        else:
            path.write_text(files[path])
            print(f"wrote {name}")
    if not changed:
        print("Every time and cost agrees with docs/times.toml.")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
