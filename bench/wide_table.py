"""Benchmark 5: a wide table of one's own (feature_set=columns), at two row counts.

The same generated table, 300 numeric columns (five of which decide the label) and an id, at
two sizes, trained by the training program as a separate process through the local stack,
streamed, with 50 boosting rounds: wall time, the process's peak resident memory, and its peak
after each phase (the batches read, the baseline, XGBoost). Last, one line: the ratio of peak RSS
between the two sizes beside the ratio of their rows (goal: at most 1.5 for 5 times the rows).
    python bench/wide_table.py [ROWS ...]      (default: 100000 500000)
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import TRAIN, bench_stack, job_tree, measure, python, store_local_secret

from sagemaker_snowpark import connection

COLUMNS = 300
INFORMATIVE = {7: 1.5, 42: -1.2, 150: 1.0, 231: -0.8, 299: 1.2}  # column: weight in the logit
CHUNK_ROWS = 50_000  # rows generated and loaded at a time
DATABASE = "BENCH_WIDE"
SECRET = "bench/snowflake-wide"
PHASES = ("fetch", "train_baseline", "train_xgboost")
# Fewer rounds than the default 200: 300 columns make each round's histograms 30 times wider,
# and the rounds add time, not memory.
NUM_ROUND = 50


def chunk(start: int, rows: int) -> pd.DataFrame:
    """Rows start .. start + rows of the wide table: the same rows whatever the table's size."""
    rng = np.random.default_rng(start)
    x = rng.normal(0, 1, (rows, COLUMNS)).astype(np.float32)
    z = sum(weight * x[:, column] for column, weight in INFORMATIVE.items())
    frame = pd.DataFrame(x, columns=[f"C_{i:03d}" for i in range(COLUMNS)])
    frame.insert(0, "ID", np.arange(start, start + rows))
    frame["TARGET"] = (rng.random(rows) < 1 / (1 + np.exp(-3 * z))).astype(np.int8)
    return frame


def secret() -> str:
    store_local_secret(SECRET, DATABASE)
    return SECRET


def table_of(rows: int) -> str:
    """A table of `rows` rows of the wide table (loaded once; build/bench/ keeps it)."""
    name = f"WIDE_{rows}"
    session = connection.session(SECRET)
    try:
        session.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}").collect()
        session.sql(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.PUBLIC").collect()
        session.use_schema(f"{DATABASE}.PUBLIC")
        try:
            if session.table(name).count() == rows:
                return name
        except Exception:  # the table does not exist yet
            pass
        started = time.time()
        for start in range(0, rows, CHUNK_ROWS):
            session.write_pandas(
                chunk(start, min(CHUNK_ROWS, rows - start)),
                name,
                auto_create_table=True,
                overwrite=start == 0,
            )
        print(f"  loaded {rows:,} rows x {COLUMNS} columns in {time.time() - started:.0f} s")
        return name
    finally:
        session.close()


def phase_peaks(output: str) -> dict[str, float]:
    """Each phase's peak RSS, from the program's log ("... in 1.2 s (peak memory 312 MB)")."""
    lines = {
        "fetch": r"fetched [\d,]+ rows",
        "train_baseline": r"baseline trained",
        "train_xgboost": r"XGBoost trained",
    }
    found = {}
    for phase, pattern in lines.items():
        match = re.search(pattern + r".*\(peak memory (\d+) MB\)", output)
        found[phase] = float(match.group(1)) if match else float("nan")
    return found


def roc_auc(output: str) -> str:
    found = re.findall(r"validation:roc_auc=([0-9.]+)", output)
    return found[-1] if found else "-"


def main(sizes: list[int]) -> None:
    results = {}
    with bench_stack():
        secret()
        for rows in sizes:
            table = table_of(rows)
            with tempfile.TemporaryDirectory() as scratch:
                hyperparameters = {
                    "secret_name": SECRET,
                    "table": table,
                    "feature_set": "columns",
                    "label": "TARGET",
                    "id": "ID",
                    "num_round": NUM_ROUND,
                }
                tree = job_tree(Path(scratch), "algo-1", ["algo-1"], hyperparameters)
                run = measure([python(), str(TRAIN)], env={"SAGEMAKER_BASE_DIR": str(tree)})
            batches = re.findall(r"fetched [\d,]+ rows in (\d+) batches", run.output)
            results[rows] = (run, phase_peaks(run.output), int(batches[-1]) if batches else 0)
            print(
                f"  {rows:>10,} rows  {run.seconds:7.1f} s  {run.peak_rss_mb:8.0f} MB  "
                f"ROC AUC {roc_auc(run.output)}",
                flush=True,
            )
    print(
        "\n| rows | columns | batches | wall time (s) | peak RSS (MB) | after reading (MB) | "
        "after the baseline (MB) | after XGBoost (MB) | ROC AUC |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rows, (run, peaks, batches) in results.items():
        phases = " | ".join(f"{peaks[p]:.0f}" for p in PHASES)
        print(
            f"| {rows:,} | {COLUMNS} | {batches} | {run.seconds:.1f} | {run.peak_rss_mb:.0f} | "
            f"{phases} | {roc_auc(run.output)} |"
        )
    if len(sizes) > 1:
        small, large = sizes[-2], sizes[-1]
        rss = results[large][0].peak_rss_mb / results[small][0].peak_rss_mb
        print(
            f"\nwide table ({COLUMNS} columns) at {large:,} and {small:,} rows: "
            f"rows_ratio={large / small:.2f} peak_rss_ratio={rss:.2f} (goal <= 1.5)"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 500_000])
