"""Benchmark 4: scoring, the `score` program of notebook 05, at growing table sizes.

A model is trained once (on 10,000 generated rows); then, for each size, the program scores that
many generated machines through the local stack as a separate process, reading and writing in
batches, and reports wall time, rows per second and the process's peak resident memory. Last,
one line of ratios: the goal is a peak RSS at the largest size no more than 1.5x that at the one
before (memory follows the batch size, not the table).
    python bench/scoring.py [ROWS ...]      (default: 1000000 5000000)
"""

from __future__ import annotations

import re
import sys
import tarfile
import tempfile
from pathlib import Path

from common import TRAIN, bench_stack, job_tree, measure, python, secret_for

from sagemaker_snowpark import connection, data

ROOT = Path(__file__).resolve().parent.parent
SCORE = ROOT / "training_container" / "score"
MODEL_ROWS = 10_000


def train_model(scratch: Path) -> Path:
    """A model.tar.gz of the training program, trained on MODEL_ROWS generated rows."""
    tree = job_tree(scratch, "algo-1", ["algo-1"], {"secret_name": secret_for(MODEL_ROWS)})
    measure([python(), str(TRAIN)], env={"SAGEMAKER_BASE_DIR": str(tree)})  # raises on failure
    archive = scratch / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for item in (tree / "model").iterdir():
            tar.add(item, arcname=item.name)
    return archive


def readings_for(rows: int) -> str:
    """The secret of a database holding `rows` generated machines' readings (built once)."""
    secret = secret_for(rows)
    session = connection.session(secret)
    try:
        try:
            if session.table(data.READINGS_TABLE).count() == rows:
                return secret
        except Exception:  # the table does not exist yet
            pass
        # Every machine of the table, not only the held-back fifth notebook 05 scores: the
        # benchmark measures scoring `rows` rows.
        readings = session.table(data.JOINED_TABLE).drop("MACHINE_FAILURE")
        readings.write.save_as_table(data.READINGS_TABLE, mode="overwrite")
        return secret
    finally:
        session.close()


def main(sizes: list[int]) -> None:
    results = {}
    with bench_stack(), tempfile.TemporaryDirectory() as scratch:
        model = train_model(Path(scratch))
        for rows in sizes:
            secret = readings_for(rows)
            root = Path(scratch) / f"score-{rows}"
            (root / "processing" / "model").mkdir(parents=True)
            (root / "processing" / "model" / "model.tar.gz").write_bytes(model.read_bytes())
            run = measure(
                [python(), str(SCORE), "--secret-name", secret, "--model-version", "bench"],
                env={"SAGEMAKER_BASE_DIR": str(root)},
            )
            scored = int(re.findall(r"rows_scored=(\d+)", run.output)[-1])
            results[rows] = run
            print(
                f"  {rows:>10,} rows  {run.seconds:7.1f} s  {scored / run.seconds:10,.0f} rows/s  "
                f"{run.peak_rss_mb:8.0f} MB",
                flush=True,
            )
    print("\n| rows | wall time (s) | rows per second | peak RSS (MB) |")
    print("|---:|---:|---:|---:|")
    for rows, run in results.items():
        print(
            f"| {rows:,} | {run.seconds:.1f} | {rows / run.seconds:,.0f} | {run.peak_rss_mb:.0f} |"
        )
    largest = sizes[-1]
    line = (
        f"\nscoring at {largest:,} rows: rows_per_second={largest / results[largest].seconds:.0f}"
    )
    if len(sizes) > 1:
        ratio = results[largest].peak_rss_mb / results[sizes[-2]].peak_rss_mb
        line += f" rss_{largest}_over_{sizes[-2]}={ratio:.2f} (goal <= 1.5)"
    print(line)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000_000, 5_000_000])
