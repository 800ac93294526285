"""The training data: featurised in Snowflake, streamed in batches to local files.

A features.Definition says what the model reads (the lesson's physics features, or a table's own
columns); its Snowpark expressions make Snowflake compute the features, and the train/validation
split and the multi-host shard are computed there too, from a hash of the id (or of the whole row
when the table has none). The program then reads the result batch by batch
(`to_pandas_batches`), keeps each batch as compact float32 arrays in a local folder, and lets it
go: memory holds one batch at a time, never the table.
"""

from __future__ import annotations

import errno
import math
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from snowflake.snowpark.exceptions import SnowparkSQLException
from snowflake.snowpark.functions import abs as abs_
from snowflake.snowpark.functions import col, lit, when
from snowflake.snowpark.functions import hash as hash_
from snowflake.snowpark.types import StringType, _NumericType

from ..connection import HYPERPARAMETERS, Settings
from ..errors import TutorialError, cut
from .contract import disk_error

LABEL = "MACHINE_FAILURE"
# The 2023 sample's six numeric features, which the baseline uses.
NUMERIC_FEATURES = (
    "AIR_TEMPERATURE_K",
    "PROCESS_TEMPERATURE",
    "ROTATIONAL_SPEED_RPM",
    "TORQUE_NM",
    "TOOL_WEAR_MIN",
    "HUMIDITY_RELATIVE_AVG",
)
# What physics says drives the failures: power, heat dissipation, tool strain, product quality.
PHYSICS_FEATURES = ("TYPE_CODE", "POWER_W", "TEMP_DIFF_K", "STRAIN_MIN_NM")
MODEL_FEATURES = NUMERIC_FEATURES + PHYSICS_FEATURES
SPLIT = "IS_VALIDATION"
LABEL_ALIAS = "LABEL_"  # the label's column in the batches, whatever the table calls it
_SPLIT_BUCKETS = 10_000
# Scratch space a row takes: its float32 batch row (44 bytes) plus XGBoost's quantised pages.
SCRATCH_BYTES_PER_ROW = 64
# The baseline's sample is bounded in values (rows x features) as well as in rows: the default
# baseline_max_rows of the lesson's six readings are 1.5 million values, but the same rows of a
# table 300 columns wide would be 75 million (900 MB in memory as the float32 sample and the
# float64 copy scikit-learn fits). This many values are about 300 MB so.
BASELINE_MAX_VALUES = 25_000_000
# Where the tables are, as notebook 03 creates them: used where neither the job's settings nor
# the secret name one, so the session always has a database, schema and warehouse (a
# workload-identity sign-in has no secret, and a user without DEFAULT_NAMESPACE would otherwise
# have no current database).
NAMESPACE_DEFAULTS = {"warehouse": "HOL_WH", "database": "HOL_DB", "schema": "PUBLIC"}


def sign_in_settings(values: dict) -> dict:
    """What a container program's settings (hyperparameters or arguments: `secret_name`,
    `snowflake_account`, `warehouse`, `database`, `schema`) change in connection.session's
    sign-in: the namespace given (empty: the secret's or NAMESPACE_DEFAULTS), the account when
    there is no secret (workload identity), and the connector's download threads."""
    settings = {name: values[name] or None for name in NAMESPACE_DEFAULTS}
    if not values["secret_name"]:
        settings["account"] = values["snowflake_account"] or None
    # Two chunks downloading ahead keep the reader busy; more would only hold more memory.
    settings["client_prefetch_threads"] = 2
    return settings


@dataclass(frozen=True)
class Table:
    """A table the program reads, checked: its name as the learner gave it, its rows (`frame`)
    with the program's column names (UDI, TYPE, ...), the table's own identifier of each (e.g.
    '"udi"' for a column created in quotes), and what builds it, for the messages."""

    name: str
    frame: object  # a Snowpark DataFrame
    identifiers: dict[str, str]
    made_by: str

    @property
    def shown(self) -> str:
        """The name as messages show it (a long one cut)."""
        return cut(self.name)


def expected_columns(label: bool = True) -> dict[str, type]:
    """The columns the program reads, by the name it uses, with the type each must have."""
    expected = {"UDI": _NumericType, "TYPE": StringType}
    if label:
        expected[LABEL] = _NumericType
    expected.update({name: _NumericType for name in NUMERIC_FEATURES})
    return expected


def check_table(
    session,
    table: str,
    label: bool = True,
    made_by: str = "notebook 03",
    settings: Settings = HYPERPARAMETERS,
    setting: str = "table",
) -> Table:
    """The table, after checking it exists and has the expected columns (the label too when
    `label`), each found by resolve_columns. The errors say to rebuild it with `made_by`, or to
    set `setting` (and the database and schema) the way the learner sets them (`settings`)."""
    source = open_table(session, table, made_by, settings, setting)
    schema = source.schema
    identifiers = resolve_columns(schema, table, expected_columns(label), made_by)
    # The program's names from here on: the table's own ones only in this projection.
    frame = source.select(*[col(ident).alias(name) for name, ident in identifiers.items()])
    return Table(table, frame, identifiers, made_by)


def open_table(
    session,
    table: str,
    made_by: str = "notebook 03",
    settings: Settings = HYPERPARAMETERS,
    setting: str = "table",
):
    """The table as a Snowpark DataFrame, after checking that Snowflake finds it (its schema)."""
    source = session.table(table)
    try:
        source.schema  # noqa: B018 - asks Snowflake, once; Snowpark keeps the answer
    except SnowparkSQLException as error:
        if "does not exist" in str(error) or "not authorized" in str(error):
            raise missing_table(table, made_by, settings, setting) from None
        raise
    return source


def missing_table(table: str, made_by: str, settings: Settings, setting: str) -> TutorialError:
    """One line for a table Snowflake does not find, with the case rule when quotes explain it."""
    lower = [part for part in re.findall(r'"((?:[^"]|"")+)"', table) if part != part.upper()]
    case = (
        f'; names in double quotes are case-sensitive: "{cut(lower[-1])}" is not '
        f"{cut(lower[-1].upper())} (the name without the quotes)"
        if lower
        else ""
    )
    return TutorialError(
        f"Table {cut(table)} does not exist (or the role may not read it): run {made_by}, or set "
        f"{settings(setting, 'database', 'schema')}{case}."
    )


def resolve_columns(schema, table: str, expected: dict[str, type], made_by: str) -> dict[str, str]:
    """The table's identifier of each expected column, checked for its type.

    A column resolves to the one of exactly its name (UDI) or, when there is none, to the one
    whose name differs only in case: a column created in quotes, e.g. "udi" by write_pandas from
    a pandas frame's lower-case names. Two such columns ("udi" and "Udi") are ambiguous.
    """
    fields = {f.name: f.datatype for f in schema.fields}
    stored = {name: name.strip('"') for name in fields}  # '"udi"' -> 'udi', 'UDI' -> 'UDI'
    identifiers = {}
    for name, kind in expected.items():
        exact = [i for i, s in stored.items() if s == name]
        found = exact or [i for i, s in stored.items() if s.upper() == name]
        if not found:
            raise TutorialError(
                f"Table {cut(table)} has no column {name}: rebuild it with {made_by}."
            )
        if len(found) > 1:
            raise TutorialError(
                f"Table {cut(table)} has columns {' and '.join(found)}, which differ only in "
                f"case: rename all but one of them (ALTER TABLE ... RENAME COLUMN), or rebuild "
                f"the table with {made_by}."
            )
        identifier = found[0]
        if not isinstance(fields[identifier], kind):
            wanted = "a number" if kind is _NumericType else "text"
            raise TutorialError(
                f"Column {identifier} of {cut(table)} is {fields[identifier]}, not {wanted}: "
                f"rebuild the table with {made_by}."
            )
        identifiers[name] = identifier
    return identifiers


def shard(frame, key: list, rank: int, hosts: int):
    """The rows of one host out of `hosts`: the hash of the key (the id, or the whole row) puts
    each row in exactly one shard."""
    if hosts == 1:
        return frame
    return frame.filter((abs_(hash_(*key)) % lit(hosts)) == lit(rank))


def physics_columns() -> dict:
    """The physics features as Snowpark expressions, by name, in PHYSICS_FEATURES order (notebook
    05's documented failure rules compare the same expressions with the rules' bounds)."""
    two_pi_over_60 = 2 * math.pi / 60
    return {
        # L, M, H: the product's quality; a NULL or unknown type is missing.
        "TYPE_CODE": when(col("TYPE") == lit("L"), lit(0.0))
        .when(col("TYPE") == lit("M"), lit(1.0))
        .when(col("TYPE") == lit("H"), lit(2.0))
        .otherwise(lit(None)),
        "POWER_W": col("TORQUE_NM") * col("ROTATIONAL_SPEED_RPM") * lit(two_pi_over_60),
        "TEMP_DIFF_K": col("PROCESS_TEMPERATURE") - col("AIR_TEMPERATURE_K"),
        "STRAIN_MIN_NM": col("TOOL_WEAR_MIN") * col("TORQUE_NM"),
    }


def featurised(
    frame,
    definition,
    columns: list[str],
    validation_fraction: float,
    split_seed: int,
    rank: int = 0,
    hosts: int = 1,
):
    """Features (F_0, F_1, ...), label and split flag, computed in Snowflake by `definition`
    (features.Definition) on `frame`, whose stored column names are `columns`; rows without a
    label left out; one host's shard when hosts > 1."""
    key = definition.row_key(columns)
    label = definition.label_expression()
    frame = shard(frame.filter(label.is_not_null()), key, rank, hosts)
    return frame.select(
        *definition.feature_expressions(),
        label.alias(LABEL_ALIAS),
        is_validation(key, validation_fraction, split_seed).alias(SPLIT),
    )


def is_validation(key: list, validation_fraction: float, split_seed: int):
    """True for the rows of the validation split: a hash of the key, the same on every host."""
    bucket = abs_(hash_(*key, lit(split_seed))) % lit(_SPLIT_BUCKETS)
    return bucket < lit(int(validation_fraction * _SPLIT_BUCKETS))


@dataclass
class BatchFiles:
    """Batches saved as .npz files (features as float32, labels), one folder per split."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    positives: int = 0

    def save(self, features: np.ndarray, labels: np.ndarray) -> None:
        if not len(labels):
            return
        path = self.folder / f"batch-{len(self.files):06d}.npz"
        np.savez(path, x=features, y=labels)
        self.files.append(path)
        self.rows += len(labels)
        self.positives += int(labels.sum())

    def __iter__(self):
        for path in self.files:
            with np.load(path) as batch:
                yield batch["x"], batch["y"]


@dataclass
class Fetched:
    train: BatchFiles
    validation: BatchFiles
    baseline_x: np.ndarray
    baseline_y: np.ndarray
    batches: int
    seconds: float

    def drop_sample(self) -> None:
        """Let the baseline's sample go (it is fitted): XGBoost's matrix needs the memory."""
        self.baseline_x = np.zeros((0, self.baseline_x.shape[1]), dtype=np.float32)
        self.baseline_y = np.zeros(0, dtype=np.float32)


def baseline_share(rows: int, features: int, baseline_max_rows: int) -> float:
    """The share of rows the baseline's sample keeps: at most baseline_max_rows rows and
    BASELINE_MAX_VALUES values of its `features` features, whatever the table's size."""
    rows = max(1, rows)
    values = BASELINE_MAX_VALUES / (rows * max(1, features))
    return min(1.0, baseline_max_rows / rows, values)


# Errors of the connection while a result is read (the connector's vendored requests, urllib3,
# the connector's own), by class name: the job can only report them and stop.
_NETWORK_ERRORS = {
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "Timeout",
    "ChunkedEncodingError",
    "ProtocolError",
    "MaxRetryError",
    "OperationalError",
    "RetryRequest",
}


def is_network_error(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | TimeoutError | socket.timeout):
        return True
    return any(kind.__name__ in _NETWORK_ERRORS for kind in type(error).__mro__)


def stalled_message(rows: int, expected: int, cause: str, bound: str | None = None) -> str:
    """The one line for a Snowflake that stopped answering part-way; `bound`: the setting whose
    wait ran out, which a Snowflake that is only slow on a large table needs raised."""
    read = f", after {rows:,} of {expected:,} rows" if expected else ""
    slow = f"; if Snowflake is only slow on a large table, raise {bound}" if bound else ""
    return (
        f"Snowflake stopped answering while the table was being read ({cause}{read}): check the "
        f"network and Snowflake's status page, then start the job again{slow}."
    )


def fetch(
    frame,
    definition,
    folder: Path,
    expected_rows: int,
    baseline_max_rows: int,
    seed: int,
    progress: Callable[[int], None] = lambda rows: None,
) -> Fetched:
    """Stream the featurised rows into batch files, and keep a bounded sample for the baseline
    (baseline_share: at most baseline_max_rows rows and BASELINE_MAX_VALUES values).

    `progress(rows)` is called as each batch arrives (the program's watchdog listens). A broken
    connection ends in one line naming it; a full or read-only scratch folder in one naming the
    folder and the space the table needs there.
    """
    started = time.time()
    train = BatchFiles(folder / "train")
    validation = BatchFiles(folder / "validation")
    rng = np.random.default_rng(seed)
    features = [f"F_{i}" for i in range(len(definition.features))]
    baseline = definition.baseline_indices
    # Bernoulli sampling keeps the baseline's sample near its bounds whatever the table's size.
    keep = baseline_share(expected_rows, len(baseline), baseline_max_rows)
    sample_x, sample_y, batches, rows = [], [], 0, 0
    needed = expected_rows * SCRATCH_BYTES_PER_ROW
    try:
        train.folder.mkdir(parents=True)
        validation.folder.mkdir(parents=True)
        for batch in frame.to_pandas_batches():
            batches += 1
            rows += len(batch)
            x = batch[features].to_numpy(dtype=np.float32, na_value=np.nan)
            y = batch[LABEL_ALIAS].to_numpy(dtype=np.float32)
            held_out = batch[SPLIT].to_numpy(dtype=bool)
            train.save(x[~held_out], y[~held_out])
            validation.save(x[held_out], y[held_out])
            chosen = rng.random(int((~held_out).sum())) < keep
            sample_x.append(x[~held_out][chosen][:, baseline])
            sample_y.append(y[~held_out][chosen])
            del batch, x, y
            progress(rows)
    except Exception as error:
        # Network errors first: the connector's are OSErrors too.
        if is_network_error(error):
            cause = f"the connection failed: {type(error).__name__}"
            raise TutorialError(stalled_message(rows, expected_rows, cause)) from None
        if isinstance(error, OSError) and error.errno in _DISK_ERRNOS:
            what = "the table's batches and XGBoost's pages"
            raise disk_error(error, folder, needed, what) from None
        raise
    empty_x = np.zeros((0, len(baseline)), dtype=np.float32)
    return Fetched(
        train,
        validation,
        np.concatenate(sample_x) if sample_x else empty_x,
        np.concatenate(sample_y) if sample_y else np.zeros(0, dtype=np.float32),
        batches,
        time.time() - started,
    )


_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
