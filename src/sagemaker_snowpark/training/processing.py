"""The SageMaker Processing contract from the `score` program's side, and how its job ends.

A Processing job gives the program its arguments (`ContainerArguments`, parsed and checked by
`parse_arguments`) and the training job's model.tar.gz as a processing input at
/opt/ml/processing/model/; SageMaker uploads what it leaves in /opt/ml/processing/output/ to S3.
SAGEMAKER_BASE_DIR moves the /opt/ml root, so the program also runs outside a container.

`score` hands its `main(paths, argv)` to `run`, which:

- sets aside, first, the space of the one-line reason in /opt/ml/output/message (the job's
  ExitMessage), as training does for its failure file, so a full disk cannot swallow it;
- turns SIGTERM (StopProcessingJob, or the job's MaxRuntimeInSeconds) into StopRequested inside
  the program, whose clean-up then runs (the session closes, an open transaction rolls back);
- turns whatever ends `main` into that one line and an exit code: 0; 1 for a reason the learner
  can fix; 2 for a bug (with its stack trace in the log, before the reason); 143 for SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from .. import connection
from ..errors import TutorialError, cut, fit
from . import contract
from .dataset import NAMESPACE_DEFAULTS
from .memory import limit_malloc_arenas, peak_memory_mb

# A Snowflake table name, optionally qualified: TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE, each
# part unquoted or in double quotes ("My Table"), as the training program's table hyperparameter
# takes it (connection.check_identifier).
TABLE_NAME = connection.QUALIFIED_NAME
_PARTS = re.compile(r'"(?:[^"]|"")*"|[^".]+')
# A SageMaker training job's name, which is the model version.
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
STOPPED = (
    "Stopped by SageMaker (StopProcessingJob, or the job's MaxRuntimeInSeconds): no predictions "
    "were written."
)


def log(message: str) -> None:
    """One line of the job's log; never raises (see contract.print_line)."""
    contract.print_line(f"[score] {message}")


class Paths(contract.Paths):
    """The Processing contract's paths, under the same root as training's (SAGEMAKER_BASE_DIR)."""

    @property
    def model_archive(self) -> Path:
        return self.root / "processing" / "model" / "model.tar.gz"

    @property
    def output(self) -> Path:
        return self.root / "processing" / "output"

    @property
    def message(self) -> Path:
        return self.root / "output" / "message"


# --- The arguments --------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line in the job's ExitMessage, not a usage text on stderr
        raise TutorialError(f"Bad arguments: {cut(message, 300)} (the job's ContainerArguments).")


def _table(value: str) -> str:
    if not TABLE_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{cut(value)!r} is not a table name: use TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE"
        )
    # Unquoted parts as Snowflake resolves them, in upper case; quoted ones exactly as given.
    return _PARTS.sub(lambda part: part[0] if part[0].startswith('"') else part[0].upper(), value)


def _version(value: str) -> str:
    if not JOB_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{cut(value)!r} is not a training job name (letters, digits and hyphens, up to 63)"
        )
    return value


def _batch_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if not 1_000 <= size <= 10_000_000:
        raise argparse.ArgumentTypeError(f"{cut(value, 20)!r} is not 1000 to 10000000 rows")
    return size


def _identifier(option: str):
    """The checker of a name that goes into SQL (a TutorialError passes through argparse)."""
    return lambda value: value and connection.check_identifier(value, f"Argument --{option}")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="score", description="Score a Snowflake table with the trained model.")
    parser.add_argument("--model-version", type=_version, required=True, help="training job name")
    parser.add_argument("--secret-name", default="", help="empty: workload identity")
    parser.add_argument("--region", default="", help="the secret's Region; empty: the job's")
    parser.add_argument("--snowflake-account", default="", help="for workload identity")
    parser.add_argument("--source-table", type=_table, default="MAINTENANCE_READINGS")
    parser.add_argument("--target-table", type=_table, default="MAINTENANCE_PREDICTIONS")
    parser.add_argument("--id", default="", help="the id column; empty: the model's (UDI)")
    parser.add_argument("--batch-size", type=_batch_size, default=100_000, help="rows a batch")
    for name in NAMESPACE_DEFAULTS:
        parser.add_argument(
            f"--{name}", type=_identifier(name), default="", help=f"overrides the secret's {name}"
        )
    return parser.parse_args(argv)


# --- Progress and the summary ---------------------------------------------------------------------


class Progress:
    """The rows scored and flagged so far, in a log line every 10 seconds and at the last row."""

    def __init__(self, total: int, started: float):
        self.total = total
        self.started = started  # when the program started: the summary's seconds count from it
        self.rows = self.flagged = 0
        self._next_line = 0.0

    def add(self, rows: int, flagged: int) -> None:
        self.rows += rows
        self.flagged += flagged
        if time.time() >= self._next_line or self.rows == self.total:
            peak = peak_memory_mb()
            memory = f" (peak memory {peak:.0f} MB)" if peak else ""
            log(f"scored {self.rows:,} of {self.total:,} rows{memory}")
            self._next_line = time.time() + 10

    def summary(self, args: argparse.Namespace, threshold: float) -> dict:
        """What /opt/ml/processing/output/summary.json holds (notebook 05 reads it)."""
        return {
            "model_version": args.model_version,
            "source_table": args.source_table,
            "target_table": args.target_table,
            "rows_scored": self.rows,
            "flagged": self.flagged,
            "flagged_share": round(self.flagged / self.rows, 6),
            "threshold": threshold,
            "seconds": round(time.time() - self.started, 3),
            "peak_rss_mb": round(peak_memory_mb() or 0, 1) or None,
        }


def write_summary(paths: Paths, summary: dict) -> None:
    """The summary into /opt/ml/processing/output, and the log's closing lines."""
    paths.output.mkdir(parents=True, exist_ok=True)
    (paths.output / "summary.json").write_text(json.dumps(summary, indent=2))
    rows, flagged, peak = summary["rows_scored"], summary["flagged"], summary["peak_rss_mb"]
    # Lines short enough to read in a notebook (120 characters with the longest names).
    log(
        f"wrote {rows:,} predictions to {summary['target_table']} ({flagged:,} flagged, "
        f"{flagged / rows:.2%}) in {summary['seconds']:.1f} s"
        + (f"; peak_rss_mb={peak:.0f}" if peak else "")
    )
    contract.print_line(f"rows_scored={rows}")


# --- Running and ending ---------------------------------------------------------------------------


class StopRequested(Exception):
    """SageMaker sent SIGTERM (StopProcessingJob): stop now, write nothing."""


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the clean-up must not be interrupted
    raise StopRequested()


def write_message(paths: Paths, message: str) -> bool:
    """The reason SageMaker shows as the job's ExitMessage (its first 1 KB), written into the
    space set aside at the start; False (and the reason in the log) if it cannot be written."""
    return contract.write_reason(paths.message, message, "[score]")


def run(main: Callable[[Paths, list[str]], object]) -> NoReturn:
    """The image's `score`: the job's arguments from the command line, its paths from /opt/ml."""
    sys.exit(exit_code(main, Paths.from_environment(), sys.argv[1:]))


def exit_code(main: Callable[[Paths, list[str]], object], paths: Paths, argv: list[str]) -> int:
    """Run `main(paths, argv)`; the exit code, with the reason of a failure written first."""
    limit_malloc_arenas()
    # First: the exit message's space, while the disk still has it.
    contract.reserve_space(paths.message)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        main(paths, argv)
        contract.release_space(paths.message)
        return 0
    except StopRequested:
        message, code = STOPPED, 143
    except TutorialError as error:
        message, code = str(error), 1
    except Exception as error:  # a bug or an unforeseen service error: still one line
        message = "Unexpected error: " + " ".join(f"{type(error).__name__}: {error}".split())[:500]
        code = 2
        try:
            traceback.print_exc()  # where, for a bug report; the reason stays the log's last line
        except (OSError, ValueError):  # nothing reads the log: the message must still be written
            pass
    write_message(paths, message)
    log(f"failed: {fit(message)}")
    return code
