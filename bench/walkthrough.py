"""Benchmark 2: the walk-through, every notebook in order on a fresh local stack, timed.

Installation excluded. Goal: the whole series under 3 minutes on 2 cores.
    python bench/walkthrough.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from snowpark_local import stack
from snowpark_local.series import execute, notebooks

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 180


def main() -> None:
    timings = []
    with tempfile.TemporaryDirectory(prefix="walkthrough-") as scratch:
        state = Path(scratch) / "state"
        saved = dict(os.environ)
        for name in [k for k in os.environ if k.startswith("TUTORIAL_")]:
            del os.environ[name]
        # Process mode unless asked otherwise: SNOWPARK_LOCAL_RUNTIME=docker times the containers.
        os.environ.setdefault("SNOWPARK_LOCAL_RUNTIME", "process")
        stack.up(state)
        print(f"  {stack.status(state).split('; ')[1]}", flush=True)
        try:
            stack.apply_environment(stack.client_environment(state))
            os.environ["TUTORIAL_ARTIFACTS"] = str(Path(scratch) / "artifacts")
            for path in notebooks(ROOT / "notebooks"):
                seconds = execute(path, Path(scratch) / path.name)
                timings.append((path.name, seconds))
                print(f"  {path.name:<40} {seconds:6.1f} s", flush=True)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            stack.down(state)
    total = sum(seconds for _, seconds in timings)
    print("\n| notebook | wall time (s) |")
    print("|---|---:|")
    for name, seconds in timings:
        print(f"| {name} | {seconds:.1f} |")
    print(f"| total | {total:.1f} |")
    print(f"\nratios: walkthrough_seconds={total:.1f} goal_ratio={total / GOAL_SECONDS:.2f}")


if __name__ == "__main__":
    main()
