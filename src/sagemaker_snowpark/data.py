"""The workshop's data: where its three CSV files come from, and how they reach Snowflake.

A data source is one of:

- `quickstart` (the default): the files of Snowflake's quickstart repository at a pinned commit,
  shipped in this repository's data/quickstart/ (downloaded once and cached where that folder is
  not found), checked against their SHA-256;
- `generated`: this package's own generator (AI4I 2020 rules), any row count, seeded;
- the path of a folder holding maintenance.csv, city_udi.csv and humidity.csv.

Loading goes through a stage: PUT the file, then COPY INTO the table. It is Snowflake's bulk path,
and the same statements run on the local stack. The joined table is then split by machine: the
training job learns from one part, and notebook 05 scores the other, which the model never saw.
A CSV file of your own loads the same way (notebook 06): `csv_table` reads its header and infers
each column's type from its values, `load_csv` loads it, and `number_rows` gives its rows an id
when none of its columns is one.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import generator
from .errors import TutorialError
from .training.features import quoted  # a name kept exactly (case, spaces), in double quotes

QUICKSTART_REPOSITORY = "Snowflake-Labs/sfguide-getting-started-snowpark-python-sagemaker"
QUICKSTART_COMMIT = "2f04abae619cd2add6647d92a17ec4f788082cd2"
QUICKSTART_URL = f"https://raw.githubusercontent.com/{QUICKSTART_REPOSITORY}/{QUICKSTART_COMMIT}"
DOWNLOAD_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class SourceTable:
    """A table of the workshop and the CSV file it loads from."""

    table: str
    file: str
    sha256: str  # of the quickstart's copy ("" for a file of your own: csv_table)
    columns: tuple[tuple[str, str], ...]  # (name, Snowflake type), in the file's column order

    @property
    def header(self) -> str:
        return ",".join(name for name, _ in self.columns)

    @property
    def create_statement(self) -> str:
        columns = ", ".join(f"{name} {kind}" for name, kind in self.columns)
        return f"CREATE OR REPLACE TABLE {self.table} ({columns})"


SOURCE_TABLES = (
    SourceTable(
        "MAINTENANCE",
        "maintenance.csv",
        "01827533f52f0d2ffa34f4fa6a93e15750f231d0853c4c60103f0db3a150faca",
        (
            ("UDI", "NUMBER(38,0)"),
            ("PRODUCT_ID", "VARCHAR"),
            ("TYPE", "VARCHAR(1)"),
            ("AIR_TEMPERATURE_K", "FLOAT"),
            ("PROCESS_TEMPERATURE", "FLOAT"),
            ("ROTATIONAL_SPEED_RPM", "NUMBER(38,0)"),
            ("TORQUE_NM", "FLOAT"),
            ("TOOL_WEAR_MIN", "NUMBER(38,0)"),
            ("MACHINE_FAILURE", "NUMBER(1,0)"),
            ("TWF", "NUMBER(1,0)"),
            ("HDF", "NUMBER(1,0)"),
            ("PWF", "NUMBER(1,0)"),
            ("OSF", "NUMBER(1,0)"),
            ("RNF", "NUMBER(1,0)"),
        ),
    ),
    # The quickstart names this table CITY_UDF although its file is city_udi.csv.
    SourceTable(
        "CITY_UDF",
        "city_udi.csv",
        "218cadad1d7b0f73729e268ebe6da923ddac506ea5de2c86c8c50f2e7752435e",
        (("UDI", "NUMBER(38,0)"), ("CITY", "VARCHAR")),
    ),
    SourceTable(
        "HUMIDITY",
        "humidity.csv",
        "5904aebf7306e36b9e5f299df82e73e3fa806e13f39dff8d00eaaa0e182154f9",
        (("CITY_NAME", "VARCHAR"), ("HUMIDITY_RELATIVE_AVG", "FLOAT")),
    ),
)
# The quickstart's join of the three tables, every machine: its columns plus UDI, which
# identifies each machine (and splits and shards the rows).
JOINED_TABLE = "MAINTENANCE_HUM"
# The joined table split by machine: the training job reads only TRAINING_TABLE; HELD_OUT_TABLE
# keeps the other machines and what happened to them, for notebook 05 to check its flags against.
TRAINING_TABLE = "MAINTENANCE_TRAINING"
HELD_OUT_TABLE = "MAINTENANCE_HELD_OUT"
HELD_OUT_EVERY = 5  # every fifth machine: a fifth of the table
TRAINING_COLUMNS = (
    "UDI",
    "TYPE",
    "AIR_TEMPERATURE_K",
    "PROCESS_TEMPERATURE",
    "ROTATIONAL_SPEED_RPM",
    "TORQUE_NM",
    "TOOL_WEAR_MIN",
    "HUMIDITY_RELATIVE_AVG",
    "MACHINE_FAILURE",
)
READINGS_TABLE = "MAINTENANCE_READINGS"
# Where this repository ships the quickstart's files, from the repository's root.
SHIPPED_FOLDER = Path("data") / "quickstart"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sagemaker-snowpark"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_quickstart(
    cache_dir: Path,
    base_url: str = QUICKSTART_URL,
    sources: tuple[SourceTable, ...] = SOURCE_TABLES,
) -> Path:
    """The quickstart's three files, downloaded once into cache_dir and checked by SHA-256."""
    folder = cache_dir / f"quickstart-{QUICKSTART_COMMIT[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        target = folder / source.file
        if target.is_file() and sha256_of(target) == source.sha256:
            continue
        url = f"{base_url}/{source.file}"
        partial = target.with_name(target.name + ".partial")
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
                partial.write_bytes(response.read())
        except (TimeoutError, urllib.error.URLError, OSError) as error:
            partial.unlink(missing_ok=True)
            reason = getattr(error, "reason", None) or error
            raise TutorialError(
                f"Cannot download {source.file} from {url} ({reason}): check the internet "
                "connection, or use DATA=generated, or DATA=<a folder with the three CSV files>."
            ) from None
        found = sha256_of(partial)
        if found != source.sha256:
            partial.unlink()
            raise TutorialError(
                f"{source.file} from {url} has SHA-256 {found[:12]}..., not the pinned "
                f"{source.sha256[:12]}...: the download is damaged or the file changed; retry, "
                "or pass the files as a folder with DATA=<folder>."
            )
        partial.replace(target)  # only complete, verified files carry the final name
    return folder


def shipped_quickstart(sources: tuple[SourceTable, ...] = SOURCE_TABLES) -> Path | None:
    """This repository's copy of the quickstart's files, if this package or the notebook (which
    runs from notebooks/) sits in the repository and every file is there and unchanged."""
    package_root = Path(__file__).resolve().parents[2]  # src/sagemaker_snowpark/data.py
    for root in (package_root, Path.cwd().parent, Path.cwd()):
        folder = root / SHIPPED_FOLDER
        if all(
            (folder / s.file).is_file() and sha256_of(folder / s.file) == s.sha256 for s in sources
        ):
            return folder
    return None


def write_generated(cache_dir: Path, rows: int, seed: int) -> Path:
    """The generator's three files for (rows, seed), written once into cache_dir."""
    folder = cache_dir / f"generated-{rows}-seed{seed}"
    if all((folder / s.file).is_file() for s in SOURCE_TABLES):
        return folder
    data = generator.generate(rows=rows, seed=seed)
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    data.maintenance.to_csv(partial / "maintenance.csv", index=False)
    data.city_udi.to_csv(partial / "city_udi.csv", index=False)
    data.humidity.to_csv(partial / "humidity.csv", index=False)
    partial.replace(folder)
    return folder


def check_folder(folder: Path) -> Path:
    """A folder of the workshop's files: each present, each with the expected header."""
    if not folder.is_dir():
        raise TutorialError(
            f"DATA={folder} is not a folder: use generated, quickstart, or a folder holding "
            + ", ".join(s.file for s in SOURCE_TABLES)
            + "."
        )
    for source in SOURCE_TABLES:
        path = folder / source.file
        if not path.is_file():
            raise TutorialError(
                f"{folder} has no {source.file}: put the workshop's {source.file} there "
                f"(header {source.header})."
            )
        with open(path, encoding="utf-8-sig") as handle:
            header = handle.readline().strip()
        if header.replace('"', "").upper() != source.header:
            raise TutorialError(
                f"{path.name} has the header {header[:80]!r}, expected {source.header!r}: use the "
                "workshop's file unchanged."
            )
    return folder


def source_folder(
    data: str, rows: int = 10_000, seed: int = 42, cache_dir: Path | None = None
) -> Path:
    """The folder holding the three CSV files for the data source `data`."""
    cache_dir = cache_dir or default_cache_dir()
    if data == "generated":
        if rows < 1:
            raise TutorialError(f"ROWS={rows}: the generator needs at least 1 row.")
        return write_generated(cache_dir, rows, seed)
    if data == "quickstart":
        return shipped_quickstart() or download_quickstart(cache_dir)
    return check_folder(Path(data).expanduser())


def describe_source(data: str, rows: int = 10_000, seed: int = 42) -> str:
    """One line saying which data a source is, for the notebook's output."""
    if data == "generated":
        return f"generated by AI4I 2020's rules: {rows:,} machines, seed {seed}"
    if data == "quickstart":
        return (
            "the workshop's files (Snowflake-Labs' quickstart, commit "
            f"{QUICKSTART_COMMIT[:8]}), SHA-256 checked"
        )
    return f"the workshop-format files in the folder {Path(data).name}"


def load_csv(session, path: Path, source: SourceTable, stage: str = "TUTORIAL_LOAD") -> int:
    """Replace the table with the file's rows through a temporary stage; returns the row count.

    An empty field loads as NULL (Snowflake's default for CSV files); a file name with spaces or
    other characters is quoted in COPY INTO's stage path."""
    session.sql(source.create_statement).collect()
    session.sql(f"CREATE TEMPORARY STAGE IF NOT EXISTS {stage}").collect()
    session.file.put(str(path), f"@{stage}", auto_compress=False, overwrite=True)
    staged = f"@{stage}/{path.name}"
    if not re.fullmatch(r"[\w.-]+", path.name):
        staged = "'" + staged.replace("\\", "\\\\").replace("'", "\\'") + "'"
    session.sql(
        f"COPY INTO {source.table} FROM {staged} "
        "FILE_FORMAT = (TYPE = CSV SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"') "
        "FORCE = TRUE"
    ).collect()
    return session.table(source.table).count()


# --- A CSV file of your own (notebook 06) ---------------------------------------------------------

# The Snowflake type csv_table gives a column, from what every one of its values looks like.
INTEGER, DECIMAL, BOOLEAN, TEXT = "NUMBER(38,0)", "FLOAT", "BOOLEAN", "VARCHAR"
_INTEGER = r"[+-]?\d{1,38}"
_LEADING_ZERO = r"[+-]?0\d"  # 007, a code rather than a number: it stays text
_DECIMAL = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def _column_type(values) -> str | None:
    """The type of a column's values in one chunk (a pandas Series of text, NaN for an empty
    field), or None when every value is empty."""
    values = values.dropna()
    if values.empty:
        return None
    numeric = not values.str.match(_LEADING_ZERO).any()
    if numeric and values.str.fullmatch(_INTEGER).all():
        return INTEGER
    if numeric and values.str.fullmatch(_DECIMAL).all():
        return DECIMAL
    if values.str.lower().isin(("true", "false")).all():
        return BOOLEAN
    return TEXT


def _wider(first: str | None, second: str | None) -> str | None:
    """The type that holds the values of both types: integers and decimals make decimals, any
    other mix text."""
    if first is None or first == second:
        return second
    if second is None:
        return first
    return DECIMAL if {first, second} == {INTEGER, DECIMAL} else TEXT


def csv_header(path: Path) -> list[str]:
    """The names in a CSV file's first line, exactly as written; one line of error otherwise."""
    if not path.is_file():
        raise TutorialError(f"CSV={path} is not a file: give the path of a CSV file to load.")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    if not header or any(not name.strip() for name in header):
        raise TutorialError(
            f"{path.name} needs a header line naming every column (found {header[:8]}): the "
            "first line of the file gives the table's column names."
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise TutorialError(f"{path.name} names the column {repeated[0]!r} twice: rename one.")
    return header


def csv_table(path: Path, table: str, chunk_rows: int = 100_000) -> SourceTable:
    """A CSV file of your own as a table to load with load_csv: the header's names kept as they
    are (quoted, so case and spaces stay), each column's type inferred from all of its values.

    Whole numbers are NUMBER(38,0) (a value with a leading zero, like a code, keeps its column
    text), other numbers FLOAT, true/false BOOLEAN, anything else VARCHAR (dates included: cast
    them in Snowflake if you want dates). An empty field is NULL and says nothing of the type; a
    column with no value at all is VARCHAR. The file is read in chunks, so memory holds one.
    """
    import pandas as pd

    path = Path(path).expanduser()
    header = csv_header(path)
    types: dict[str, str | None] = dict.fromkeys(header)
    chunks = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        na_values=[""],  # only an empty field is missing, as COPY INTO reads it
        encoding="utf-8-sig",
        chunksize=chunk_rows,
    )
    for chunk in chunks:
        chunk.columns = header
        for name in header:
            types[name] = _wider(types[name], _column_type(chunk[name]))
    columns = tuple((quoted(name), types[name] or TEXT) for name in header)
    return SourceTable(table, path.name, "", columns)


def number_rows(session, table: str, column: str = "ROW_ID") -> str:
    """Give a table without an id one: a first column numbering its rows 1, 2, ... (by the
    order of all its columns' values, since a table keeps no order of its own, so not the file's
    lines). Returns the new column's name: `column`, or with _ added if the table has one."""
    names = [row["name"] for row in session.sql(f"DESCRIBE TABLE {table}").collect()]
    while column.upper() in {name.upper() for name in names}:
        column += "_"
    order = ", ".join(quoted(name) for name in names)
    session.sql(
        f"CREATE OR REPLACE TABLE {table} AS SELECT ROW_NUMBER() OVER (ORDER BY {order}) AS "
        f"{quoted(column)}, * FROM {table}"
    ).collect()
    return column


def describe_table(session, table: str):
    """A table's row count, and its columns as a pandas DataFrame: each one's type, NULLs and
    distinct values, counted in the warehouse in one query."""
    import pandas as pd
    from snowflake.snowpark.functions import col, count, count_distinct, lit

    described = session.sql(f"DESCRIBE TABLE {table}").collect()
    names = [(row["name"], row["type"]) for row in described]
    counts = []
    for number, (name, _) in enumerate(names):
        counts += [
            count(col(quoted(name))).alias(f"V{number}"),
            count_distinct(col(quoted(name))).alias(f"D{number}"),
        ]
    found = session.table(table).agg(count(lit(1)).alias("ROWS"), *counts).collect()[0]
    rows = found["ROWS"]
    columns = pd.DataFrame(
        [
            {
                "column": name,
                "type": kind,
                "NULLs": rows - found[f"V{number}"],
                "distinct values": found[f"D{number}"],
            }
            for number, (name, kind) in enumerate(names)
        ]
    ).set_index("column")
    return rows, columns


def maintenance_hum(session):
    """MAINTENANCE joined with each machine's city and that city's humidity, as a lazy DataFrame.

    Nothing runs until the DataFrame is saved or read: the join then runs in the warehouse.
    """
    from snowflake.snowpark.functions import col

    maintenance = session.table("MAINTENANCE")
    city = session.table("CITY_UDF")
    humidity = session.table("HUMIDITY")
    return (
        maintenance.join(city, maintenance["UDI"] == city["UDI"])
        .join(humidity, city["CITY"] == humidity["CITY_NAME"])
        .select(maintenance["UDI"].alias("UDI"), *[col(c) for c in TRAINING_COLUMNS[1:]])
    )


def is_held_out(every: int = HELD_OUT_EVERY):
    """True for the machines held back from training: every `every`-th UDI.

    Spread evenly over the table, so the held-back machines mix types, readings and failures as
    the trained ones do (a range would not: in the workshop's copy UDI 9001 to 10000 are all
    labelled failures), and the same machines on any Snowflake account (Snowflake's HASH has no
    published definition, so a local stack cannot reproduce a split by hash).
    """
    from snowflake.snowpark.functions import col, lit

    return col("UDI") % lit(every) == lit(0)


def split_machines(joined, every: int = HELD_OUT_EVERY):
    """The joined table's machines to train on and the machines held back, as lazy DataFrames."""
    held_out = is_held_out(every)
    return joined.filter(~held_out), joined.filter(held_out)


def documented_failure_modes():
    """The failure modes whose published AI4I 2020 rules a machine's readings meet, as a Snowpark
    expression: their names joined by ", " (e.g. "power, overstrain"), NULL when none is met.

    The rules the data was generated by: tool wear of 200 minutes or more (tool wear failure);
    process less than 8.6 K warmer than the air at under 1,380 rpm (heat dissipation); power,
    torque times angular speed, under 3,500 W or over 9,000 W (power); tool wear times torque
    over 11,000, 12,000 or 13,000 min·Nm for types L, M and H (overstrain).
    """
    from snowflake.snowpark.functions import col, concat, iff, lit, nullif, rtrim

    from .training.dataset import physics_columns

    physics = physics_columns()  # the model's own power, temperature difference and strain
    strain_limit = lit(None)
    for quality, limit in generator.OVERSTRAIN_LIMIT_MIN_NM.items():
        strain_limit = iff(col("TYPE") == lit(quality), lit(limit), strain_limit)
    low_power, high_power = generator.POWER_RANGE_W
    rules = {
        "tool wear": col("TOOL_WEAR_MIN") >= lit(generator.TOOL_END_OF_LIFE_MIN[0]),
        "heat dissipation": (physics["TEMP_DIFF_K"] < lit(generator.HEAT_DISSIPATION_MAX_DIFF_K))
        & (col("ROTATIONAL_SPEED_RPM") < lit(generator.HEAT_DISSIPATION_MAX_SPEED_RPM)),
        "power": (physics["POWER_W"] < lit(low_power)) | (physics["POWER_W"] > lit(high_power)),
        "overstrain": physics["STRAIN_MIN_NM"] > strain_limit,
    }
    # Snowflake's CONCAT_WS would give NULL for any NULL part: each part is a name or "".
    joined = concat(*[iff(rule, lit(f"{name}, "), lit("")) for name, rule in rules.items()])
    return nullif(rtrim(joined, lit(", ")), lit(""))


def maintenance_readings(session):
    """The held-back machines' readings without the label, as a lazy DataFrame: the rows to score.

    One row per machine (UDI) that the training job never read, without MACHINE_FAILURE: what a
    scoring job sees of a machine, never its outcome.
    """
    return session.table(HELD_OUT_TABLE).drop("MACHINE_FAILURE")


def load_workshop_tables(session, folder: Path) -> dict[str, int]:
    """What notebook 03 makes: the three source tables from `folder`, their join, and the join
    split into the training table and the held-back machines; each table's row count."""
    counts = {s.table: load_csv(session, folder / s.file, s) for s in SOURCE_TABLES}
    maintenance_hum(session).write.save_as_table(JOINED_TABLE, mode="overwrite")
    training, held_out = split_machines(session.table(JOINED_TABLE))
    training.write.save_as_table(TRAINING_TABLE, mode="overwrite")
    held_out.write.save_as_table(HELD_OUT_TABLE, mode="overwrite")
    for table in (JOINED_TABLE, TRAINING_TABLE, HELD_OUT_TABLE):
        counts[table] = session.table(table).count()
    return counts
