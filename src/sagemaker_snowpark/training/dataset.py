"""The training data: checked and featurised in Snowflake, streamed in batches to local files.

The features are Snowpark expressions, so Snowflake computes them; the train/validation split and
the multi-host shard are computed there too, from a hash of UDI. The program then reads the result
batch by batch (`to_pandas_batches`), keeps each batch as compact float32 arrays in a local folder,
and lets it go: memory holds one batch at a time, never the table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from snowflake.snowpark.exceptions import SnowparkSQLException
from snowflake.snowpark.functions import abs as abs_
from snowflake.snowpark.functions import col, iff, lit
from snowflake.snowpark.functions import hash as hash_
from snowflake.snowpark.types import StringType, _NumericType

from ..errors import TutorialError

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
_SPLIT_BUCKETS = 10_000


def check_table(session, table: str, label: bool = True, made_by: str = "notebook 03"):
    """The table as a DataFrame, after checking it exists and has the expected columns (the label
    too when `label`); the errors say to rebuild it with `made_by`."""
    try:
        frame = session.table(table)
        schema = frame.schema
    except SnowparkSQLException as error:
        if "does not exist" in str(error) or "not authorized" in str(error):
            raise TutorialError(
                f"Table {table} does not exist (or the role may not read it): run {made_by}, "
                "or set the table, database and schema parameters."
            ) from None
        raise
    types = {f.name.strip('"').upper(): f.datatype for f in schema.fields}
    expected = {"UDI": _NumericType, "TYPE": StringType}
    if label:
        expected[LABEL] = _NumericType
    expected.update({name: _NumericType for name in NUMERIC_FEATURES})
    for name, kind in expected.items():
        if name not in types:
            raise TutorialError(f"Table {table} has no column {name}: rebuild it with {made_by}.")
        if not isinstance(types[name], kind):
            wanted = "a number" if kind is _NumericType else "text"
            raise TutorialError(
                f"Column {name} of {table} is {types[name]}, not {wanted}: rebuild the table "
                f"with {made_by}."
            )
    return frame


def shard(frame, rank: int, hosts: int):
    """The rows of one host out of `hosts`: the hash of UDI puts each row in exactly one shard."""
    if hosts == 1:
        return frame
    return frame.filter((abs_(hash_(col("UDI"))) % lit(hosts)) == lit(rank))


def feature_columns() -> list:
    """The model's features as Snowpark expressions, in MODEL_FEATURES order: the one definition
    that training and scoring (scoring.py) both select, so Snowflake computes them alike."""
    two_pi_over_60 = 2 * math.pi / 60
    return [
        *[col(name).cast("double").alias(name) for name in NUMERIC_FEATURES],
        iff(
            col("TYPE") == lit("L"), lit(0.0), iff(col("TYPE") == lit("M"), lit(1.0), lit(2.0))
        ).alias("TYPE_CODE"),
        (col("TORQUE_NM") * col("ROTATIONAL_SPEED_RPM") * lit(two_pi_over_60)).alias("POWER_W"),
        (col("PROCESS_TEMPERATURE") - col("AIR_TEMPERATURE_K")).alias("TEMP_DIFF_K"),
        (col("TOOL_WEAR_MIN") * col("TORQUE_NM")).alias("STRAIN_MIN_NM"),
    ]


def featurised(frame, validation_fraction: float, split_seed: int, rank: int = 0, hosts: int = 1):
    """Features, label and split flag, computed in Snowflake; one host's shard when hosts > 1."""
    frame = shard(frame, rank, hosts)
    bucket = abs_(hash_(col("UDI"), lit(split_seed))) % lit(_SPLIT_BUCKETS)
    return frame.select(
        *feature_columns(),
        col(LABEL).cast("double").alias(LABEL),
        (bucket < lit(int(validation_fraction * _SPLIT_BUCKETS))).alias(SPLIT),
    )


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


def fetch(frame, folder: Path, expected_rows: int, baseline_max_rows: int, seed: int) -> Fetched:
    """Stream the featurised rows into batch files, and keep a bounded sample for the baseline."""
    started = time.time()
    train = BatchFiles(folder / "train")
    validation = BatchFiles(folder / "validation")
    train.folder.mkdir(parents=True)
    validation.folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    # Bernoulli sampling keeps the baseline's sample near baseline_max_rows whatever the size.
    keep = min(1.0, baseline_max_rows / max(1, expected_rows))
    sample_x, sample_y, batches = [], [], 0
    numeric = [MODEL_FEATURES.index(name) for name in NUMERIC_FEATURES]
    for batch in frame.to_pandas_batches():
        batches += 1
        x = batch[list(MODEL_FEATURES)].to_numpy(dtype=np.float32)
        y = batch[LABEL].to_numpy(dtype=np.float32)
        held_out = batch[SPLIT].to_numpy(dtype=bool)
        train.save(x[~held_out], y[~held_out])
        validation.save(x[held_out], y[held_out])
        chosen = rng.random(int((~held_out).sum())) < keep
        sample_x.append(x[~held_out][chosen][:, numeric])
        sample_y.append(y[~held_out][chosen])
        del batch, x, y
    empty_x = np.zeros((0, len(NUMERIC_FEATURES)), dtype=np.float32)
    return Fetched(
        train,
        validation,
        np.concatenate(sample_x) if sample_x else empty_x,
        np.concatenate(sample_y) if sample_y else np.zeros(0, dtype=np.float32),
        batches,
        time.time() - started,
    )
