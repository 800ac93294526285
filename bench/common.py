"""What the benchmarks share: a local stack of their own, generated tables, measured processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sagemaker_snowpark import connection, data, keypair
from sagemaker_snowpark.errors import TutorialError
from snowpark_local import stack

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "build" / "bench"
TRAIN = ROOT / "training_container" / "train"


@contextmanager
def bench_stack():
    """The benchmarks' own stack; its Snowflake tables persist between runs in build/bench/."""
    state = BENCH_DIR / "state"
    saved = dict(os.environ)
    # The programs run as measured processes; the stack's own jobs (two hosts) likewise.
    os.environ.setdefault("SNOWPARK_LOCAL_RUNTIME", "process")
    stack.up(state)
    try:
        stack.apply_environment(stack.client_environment(state))
        # The benchmarks name their own secrets and tables, outside the learner's policy.
        os.environ.update(stack.administrator_keys(state))
        yield state
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stack.down(state)


def store_local_secret(name: str, database: str) -> None:
    """A secret for the local Snowflake whose default database is `database`."""
    connection.store_secret(
        name,
        {
            "account": os.environ["SNOWFLAKE_ACCOUNT"],
            "user": "SAGEMAKER_TRAINING",
            "privateKey": keypair.generate().private_pem,
            "host": os.environ["SNOWFLAKE_HOST"],
            "port": os.environ["SNOWFLAKE_PORT"],
            "protocol": "http",
            "database": database,
            "schema": "PUBLIC",
        },
    )


def secret_for(rows: int) -> str:
    """A secret whose default database holds `rows` rows of generated data (loaded once)."""
    name = f"bench/snowflake-{rows}"
    database = f"BENCH_{rows}"
    store_local_secret(name, database)
    session = connection.session(name)
    try:
        session.sql(f"CREATE DATABASE IF NOT EXISTS {database}").collect()  # sign-in creates none
        session.sql(f"CREATE SCHEMA IF NOT EXISTS {database}.PUBLIC").collect()
        session.use_schema(f"{database}.PUBLIC")
        try:
            if session.table(data.JOINED_TABLE).count() == rows:
                return name
        except Exception:  # the table does not exist yet
            pass
        started = time.time()
        cache = BENCH_DIR / "data"
        data.load_workshop_tables(session, data.source_folder("generated", rows, 42, cache))
        print(f"  loaded {rows:,} rows into {database} in {time.time() - started:.0f} s")
        return name
    finally:
        session.close()


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    output: str


def measure_together(runs: list[tuple[list[str], dict]]) -> tuple[float, list[Measured]]:
    """Run processes side by side to their end: the wall time of all, and what each measured.

    Each process reports its own peak resident memory (VmHWM): the kernel's ru_maxrss for a child
    would also count the memory of this (large) process, which the fork copied before the exec.
    """
    started = time.time()
    processes = [
        subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for command, env in runs
    ]
    measured = []
    for process in processes:
        output, _ = process.communicate()
        if process.returncode != 0:
            raise TutorialError(f"{process.args[-1]} failed: {output.strip().splitlines()[-1:]}")
        peak = re.findall(r"peak_rss_mb=([0-9.]+)", output)
        measured.append(
            Measured(time.time() - started, float(peak[-1]) if peak else float("nan"), output)
        )
    return time.time() - started, measured


def measure(command: list[str], env: dict | None = None) -> Measured:
    """Run one process to its end: its wall time and peak resident memory."""
    return measure_together([(command, env or {})])[1][0]


def job_tree(base: Path, host: str, hosts: list[str], hyperparameters: dict) -> Path:
    """An /opt/ml-shaped folder for one host of a training run."""
    root = base / host
    (root / "input" / "config").mkdir(parents=True, exist_ok=True)
    (root / "model").mkdir(exist_ok=True)
    (root / "output" / "data").mkdir(parents=True, exist_ok=True)
    config = root / "input" / "config"
    (config / "hyperparameters.json").write_text(
        json.dumps({k: str(v) for k, v in hyperparameters.items()})
    )
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": hosts}))
    return root


def python() -> str:
    return sys.executable
