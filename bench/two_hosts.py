"""Benchmark 3: the training program on two hosts against one, on the same table.

Two hosts run as two processes on this machine, each reading its shard and training one model
together (XGBoost's tracker on the first), the way the local runtime runs a two-instance job.
    python bench/two_hosts.py [ROWS]      (default: 5000000)
"""

from __future__ import annotations

import socket
import sys
import tempfile
from pathlib import Path

from common import TRAIN, bench_stack, job_tree, measure_together, python, secret_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(secret: str, hosts: list[str]):
    with tempfile.TemporaryDirectory() as scratch:
        network = {"TRACKER_HOST": "127.0.0.1", "TRACKER_PORT": str(free_port())}
        runs = []
        for host in hosts:
            tree = job_tree(Path(scratch), host, hosts, {"secret_name": secret})
            env = {"SAGEMAKER_BASE_DIR": str(tree), **(network if len(hosts) > 1 else {})}
            runs.append(([python(), str(TRAIN)], env))
        return measure_together(runs)


def main(rows: int) -> None:
    with bench_stack():
        secret = secret_for(rows)
        one_seconds, (one,) = run(secret, ["algo-1"])
        two_seconds, two = run(secret, ["algo-1", "algo-2"])
    print(f"\n{rows:,} rows\n\n| hosts | wall time (s) | peak RSS per host (MB) |")
    print("|---:|---:|---|")
    print(f"| 1 | {one_seconds:.1f} | {one.peak_rss_mb:.0f} |")
    print(f"| 2 | {two_seconds:.1f} | {' / '.join(f'{m.peak_rss_mb:.0f}' for m in two)} |")
    peak_two = max(m.peak_rss_mb for m in two)
    print(
        f"\nratios at {rows:,} rows: time_ratio_two_over_one={two_seconds / one_seconds:.2f} "
        f"peak_rss_per_host_ratio={peak_two / one.peak_rss_mb:.2f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000)
