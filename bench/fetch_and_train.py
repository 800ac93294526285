"""Benchmark 1: fetch and train, the 2023 way (whole table in pandas) against ours (streamed).

For each size it runs both as separate processes on generated data through the local stack and
reports wall time and the process's peak resident memory; last, one line of ratios at the
largest size. Goals: peak RSS ratio <= 0.35, time ratio <= 1.0, and ours at the largest size no
more than 1.5x ours at the one before.
    python bench/fetch_and_train.py [ROWS ...]      (default: 10000 1000000 5000000)
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from common import TRAIN, bench_stack, job_tree, measure, python, secret_for

ROOT = Path(__file__).resolve().parent.parent


def roc_auc(output: str) -> str:
    found = re.findall(r"validation:roc_auc=([0-9.]+)", output)
    return found[-1] if found else "-"


def main(sizes: list[int]) -> None:
    results: dict[int, dict[str, object]] = {}
    with bench_stack():
        for rows in sizes:
            secret = secret_for(rows)
            old = measure([python(), str(ROOT / "bench" / "approach_2023.py"), secret])
            with tempfile.TemporaryDirectory() as scratch:
                tree = job_tree(Path(scratch), "algo-1", ["algo-1"], {"secret_name": secret})
                ours = measure([python(), str(TRAIN)], env={"SAGEMAKER_BASE_DIR": str(tree)})
            results[rows] = {"2023": old, "streamed": ours}
            for name, run in results[rows].items():
                print(
                    f"  {rows:>10,} rows  {name:<9} {run.seconds:7.1f} s  "
                    f"{run.peak_rss_mb:8.0f} MB  ROC AUC {roc_auc(run.output)}",
                    flush=True,
                )
    print("\n| rows | approach | wall time (s) | peak RSS (MB) | ROC AUC |")
    print("|---:|---|---:|---:|---:|")
    for rows, runs in results.items():
        for name, run in runs.items():
            print(
                f"| {rows:,} | {name} | {run.seconds:.1f} | {run.peak_rss_mb:.0f} | "
                f"{roc_auc(run.output)} |"
            )
    largest = sizes[-1]
    old, ours = results[largest]["2023"], results[largest]["streamed"]
    line = (
        f"\nratios at {largest:,} rows: peak_rss_ratio={ours.peak_rss_mb / old.peak_rss_mb:.2f} "
        f"time_ratio={ours.seconds / old.seconds:.2f}"
    )
    if len(sizes) > 1:
        previous = results[sizes[-2]]["streamed"]
        line += (
            f" ours_rss_{largest}_over_{sizes[-2]}={ours.peak_rss_mb / previous.peak_rss_mb:.2f}"
        )
    print(line)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 1_000_000, 5_000_000])
