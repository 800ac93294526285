"""How the training program runs and ends: one reason, the right exit code, and never a hang.

`train` hands its `main(paths)` to `run`, which:

- blocks SIGTERM and waits for it in a thread of its own (`stop_on_sigterm`): SageMaker sends it
  on StopTrainingJob, at MaxRuntimeInSeconds, or when another host of the job failed, and it must
  end the job at once, even while XGBoost waits in native code for a host that is gone;
- sets aside the failure file's space first (`contract.reserve_space`), so its reason reaches
  SageMaker even when the job fails because the disk is full;
- turns whatever ends `main` into one line in /opt/ml/output/failure and an exit code: 0; 1 for
  a reason the learner can fix (a TutorialError, or a library's error whose cause is known:
  `explain`); 2 for a bug; 143 for SIGTERM. The first reason wins (`record_failure`), and the
  process ends as soon as it is written (`exit_now`): threads of the connector or of XGBoost
  still waiting on a socket do not keep it alive.

The program's other guards live here too: `Watchdog` ends the job when Snowflake stops answering
while the table is read, `scratch_folder` holds the batch files and is removed however the job
ends, `write_results` moves the model into /opt/ml/model whole or not at all, and `Phases` logs
each phase's time and peak memory.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from ..errors import TutorialError, fit
from . import dataset
from .contract import Paths, disk_error, print_line, release_space, reserve_space, write_failure
from .memory import limit_malloc_arenas, peak_memory_mb

STOPPED = (
    "Stopped by SageMaker (SIGTERM: StopTrainingJob, MaxRuntimeInSeconds, or another host of "
    "the job failed) before the model was complete; nothing half-written was kept."
)


def log(message: str) -> None:
    """One line of the job's log; never raises (see print_line)."""
    print_line(f"[train] {message}")


# --- Running and ending -----------------------------------------------------------------------


def run(main: Callable[[Paths], object]) -> NoReturn:
    """The image's `train`: SIGTERM watched from the start, and the process ends at once."""
    paths = Paths.from_environment()
    stop_on_sigterm(paths)
    code = exit_code(main, paths)
    with _ending:  # a SIGTERM that came first ends the process with its code, not main's
        code = _other_ending[0] if _other_ending else code
    if code:
        exit_now(code)  # threads still waiting on a socket must not keep the process alive
    sys.stdout.flush()
    sys.exit(0)


def exit_code(main: Callable[[Paths], object], paths: Paths) -> int:
    """Run `main(paths)`; the exit code (0, 1 for a reason the learner can fix, 2 for a bug),
    with the reason of a failure written to the failure file."""
    limit_malloc_arenas()
    # First: the failure reason's space, while the disk still has it.
    reserve_space(paths.failure)
    _ended.clear()
    _other_ending.clear()
    _scratch.clear()
    try:
        main(paths)
        release_space(paths.failure)
        return 0
    except TutorialError as error:
        record_failure(paths, str(error))
        return 1
    except Exception as error:
        known = explain(error)
        if known is not None:
            record_failure(paths, str(known))
            return 1
        # A bug or an unforeseen service error: still one line, and no stack trace.
        message = " ".join(f"{type(error).__name__}: {error}".split())
        message = message.split(" Stack trace:")[0][:500]  # XGBoost appends its native one
        record_failure(paths, f"Unexpected error: {message}")
        return 2


def explain(error: Exception) -> TutorialError | None:
    """A reason for errors whose cause is known although they come from deep inside a library."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        where = Path(error.filename or tempfile.gettempdir())
        return disk_error(error, where, 0, "the job's files")
    if type(error).__name__ == "XGBoostError" and re.search(
        r"socket|connection|peer|recv|send", str(error), re.I
    ):
        return TutorialError(
            "Another host of the job stopped while the hosts trained together (XGBoost lost its "
            "connection to it): that host's log and the job's FailureReason say why."
        )
    return None


# The first reason wins, and the process ends as soon as it is written.
_ending = threading.Lock()
_ended = threading.Event()
_other_ending: list[int] = []  # the exit code of an ending from another thread, once written
_scratch: list[Path] = []  # the scratch folder, removed by an ending from another thread


def record_failure(
    paths: Paths, message: str, outcome: str = "failed", exit_code: int | None = None
) -> bool:
    """Write the job's failure reason and log it; False when another reason came first.
    `exit_code` is given by an ending from another thread, which the process's code must be."""
    with _ending:
        if _ended.is_set():
            return False
        _ended.set()
        if exit_code is not None:
            _other_ending.append(exit_code)
        shutil.rmtree(paths.model / ".incomplete", ignore_errors=True)
        write_failure(paths, message)
        log(f"{outcome}: {fit(message)}")  # as the failure file has it
        return True


def exit_now(code: int) -> None:
    """Flush the log and end the process, whatever threads still wait (on a socket, in XGBoost)."""
    for folder in _scratch:
        shutil.rmtree(folder, ignore_errors=True)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # nothing reads the log any more: end all the same
            pass
    os._exit(code)


def fail_now(paths: Paths, message: str, code: int, outcome: str = "failed") -> None:
    """From a thread other than the main one: write the reason (if first) and end the process."""
    if record_failure(paths, message, outcome, exit_code=code):
        exit_now(code)


def stop_on_sigterm(paths: Paths) -> threading.Thread:
    """SIGTERM ends the job at once, from a thread of its own.

    A Python signal handler only runs when the main thread runs Python code: blocked in XGBoost's
    collective (waiting for a host that failed) it would never run, and raised inside XGBoost's
    data callback it would be swallowed. So SIGTERM is blocked in every thread (threads started
    later inherit the mask; the `train` program blocks it before its imports start any) and one
    thread waits for it.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait():
        signal.sigwait({signal.SIGTERM})
        fail_now(paths, STOPPED, 143, "stopped")

    thread = threading.Thread(target=wait, name="sigterm", daemon=True)
    thread.start()
    return thread


# --- The job's files ----------------------------------------------------------------------------


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A folder for the batch files and XGBoost's pages, removed however the job ends.

    It is under the temporary directory: /tmp, which SageMaker documents as a training job's
    scratch space (it mounts the instance's storage volume there; a folder of your own directly
    under /opt/ml would be on the container's root file system).
    """
    with tempfile.TemporaryDirectory(prefix="batches-") as folder:
        _scratch.append(Path(folder))
        yield Path(folder)


def write_results(paths: Paths, model: dict[str, bytes], output_data: dict[str, bytes]) -> None:
    """Write the `model` files into /opt/ml/model through a staging folder, then moved in: never
    a half-written model; then the `output_data` files into /opt/ml/output/data.

    The files come serialised in memory, so a full or read-only disk is one Python error naming
    the folder and the bytes it needed (not XGBoost's native one).
    """
    staging = paths.model / ".incomplete"
    needed = sum(len(data) for data in model.values())
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, data in model.items():
            (staging / name).write_bytes(data)
        with _ending:  # a SIGTERM now waits until the model is whole, or not there at all
            if _ended.is_set():  # it came first: the process is ending without a model
                return
            for item in staging.iterdir():
                item.replace(paths.model / item.name)
            staging.rmdir()
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise disk_error(error, paths.model, needed, "the model") from None
    try:
        paths.output_data.mkdir(parents=True, exist_ok=True)
        for name, data in output_data.items():
            (paths.output_data / name).write_bytes(data)
    except OSError as error:
        needed = sum(len(data) for data in output_data.values())
        raise disk_error(error, paths.output_data, needed, "the evaluation report") from None


# --- Bounds and progress ------------------------------------------------------------------------


class Watchdog:
    """From the table's checks to its last batch: a progress line every `progress_seconds`, and
    the end of the job when `stall_seconds` pass without a step forward (a check answered, a
    batch read), whatever the step. The connector's own retries of a silent or refusing
    Snowflake can take ten minutes, and its timeouts do not bound every wait: the watchdog is a
    thread of its own that measures the time since the last step, so it fires while the reading
    thread is blocked in the connector or a socket, before the first batch, during the checks,
    and when nothing reads the log any more (its lines never raise). A broken connection the
    connector does report ends the job with the same line.
    """

    READING = "reading the table"

    def __init__(self, paths: Paths, stall_seconds: float, progress_seconds: float):
        self.paths = paths
        self.stall_seconds = stall_seconds
        self.progress_seconds = progress_seconds
        self.expected = 0
        self.rows = 0
        self.step = "checking the table"
        self._last = self._started = time.monotonic()
        self._done = threading.Event()

    def tick(self, rows: int | None = None, step: str | None = None) -> None:
        if rows is not None:
            self.rows = rows
        if step is not None:
            self.step = step
        self._last = time.monotonic()

    def __enter__(self):
        threading.Thread(target=self._watch, name="watchdog", daemon=True).start()
        return self

    def __exit__(self, kind, error, traceback):
        self._done.set()
        if error is not None and dataset.is_network_error(error):
            cause = f"the connection failed: {type(error).__name__} while {self.step}"
            raise TutorialError(dataset.stalled_message(self.rows, self.expected, cause)) from None

    def _watch(self) -> None:
        last_line = time.monotonic()
        while not self._done.wait(min(1.0, self.progress_seconds)):
            now = time.monotonic()
            if now - self._last >= self.stall_seconds:
                self._fire()
            if now - last_line >= self.progress_seconds:
                elapsed = now - self._started
                if self.expected:
                    log(
                        f"{self.step}: {self.rows:,} of {self.expected:,} rows so far "
                        f"({self.rows / elapsed:,.0f} rows/s)"
                    )
                else:
                    log(f"{self.step} ({elapsed:.0f} s)")
                last_line = now

    def _fire(self) -> None:
        """End the job: no step forward for stall_seconds."""
        cause = f"no answer for {self.stall_seconds:g} s while {self.step}"
        message = dataset.stalled_message(self.rows, self.expected, cause, bound="stall_seconds")
        fail_now(self.paths, message, 1)


class Phases:
    """Each phase's time and the process's peak memory after it, logged as they end."""

    def __init__(self):
        self.started = self._since = time.time()
        self.seconds: dict[str, float] = {}
        self.peak_rss_mb: dict[str, float | None] = {}

    def done(self, name: str, message: str) -> None:
        self.seconds[name] = round(time.time() - self._since, 3)
        self._since = time.time()
        peak = self.peak_rss_mb[name] = peak_memory_mb()
        memory = f" (peak memory {peak:.0f} MB)" if peak else ""
        log(f"{message} in {self.seconds[name]:.1f} s{memory}")

    def timings(self) -> dict[str, float]:
        """Each phase's seconds and the total so far, as metrics.json holds them."""
        return {**self.seconds, "total": round(time.time() - self.started, 3)}

    def finish(self) -> None:
        """The log's line for a job that ended well: its time and the process's peak memory."""
        peak = peak_memory_mb()
        log(
            f"done in {time.time() - self.started:.1f} s"
            + (f"; peak_rss_mb={peak:.0f}" if peak else "")
        )
