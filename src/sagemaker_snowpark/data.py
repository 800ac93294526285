"""The workshop's data: where its three CSV files come from, and how they reach Snowflake.

A data source is one of:

- `quickstart`: the files of Snowflake's quickstart repository at a pinned commit, downloaded once,
  checked against their SHA-256 and cached;
- `generated`: this package's own generator (AI4I 2020 rules), any row count, seeded;
- the path of a folder holding maintenance.csv, city_udi.csv and humidity.csv.

Loading goes through a stage: PUT the file, then COPY INTO the table. It is Snowflake's bulk path,
and the same statements run on the local stack.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import generator
from .errors import TutorialError

QUICKSTART_REPOSITORY = "Snowflake-Labs/sfguide-getting-started-snowpark-python-sagemaker"
QUICKSTART_COMMIT = "2f04abae619cd2add6647d92a17ec4f788082cd2"
QUICKSTART_URL = f"https://raw.githubusercontent.com/{QUICKSTART_REPOSITORY}/{QUICKSTART_COMMIT}"
DOWNLOAD_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class SourceTable:
    """A table of the workshop and the CSV file it loads from."""

    table: str
    file: str
    sha256: str  # of the quickstart's copy
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
# The training table: the quickstart's columns, plus UDI to identify (and shard) the rows.
TRAINING_TABLE = "MAINTENANCE_HUM"
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
        return download_quickstart(cache_dir)
    return check_folder(Path(data).expanduser())


def load_csv(session, path: Path, source: SourceTable, stage: str = "TUTORIAL_LOAD") -> int:
    """Replace the table with the file's rows through a temporary stage; returns the row count."""
    session.sql(source.create_statement).collect()
    session.sql(f"CREATE TEMPORARY STAGE IF NOT EXISTS {stage}").collect()
    session.file.put(str(path), f"@{stage}", auto_compress=False, overwrite=True)
    session.sql(
        f"COPY INTO {source.table} FROM @{stage}/{path.name} "
        "FILE_FORMAT = (TYPE = CSV SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"') "
        "FORCE = TRUE"
    ).collect()
    return session.table(source.table).count()


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


def maintenance_readings(session):
    """Each machine's readings without the label, as a lazy DataFrame: the rows to score.

    The same join as the training table, one row per machine (UDI), without MACHINE_FAILURE: a
    scoring job sees what a new reading holds, never the outcome.
    """
    return maintenance_hum(session).drop("MACHINE_FAILURE")


def load_workshop_tables(session, folder: Path) -> dict[str, int]:
    """Load the three source tables from `folder` and build the training table; row counts."""
    counts = {s.table: load_csv(session, folder / s.file, s) for s in SOURCE_TABLES}
    maintenance_hum(session).write.save_as_table(TRAINING_TABLE, mode="overwrite")
    counts[TRAINING_TABLE] = session.table(TRAINING_TABLE).count()
    return counts
