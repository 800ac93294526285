"""The training program SageMaker runs (`docker run IMAGE train`).

It signs in to Snowflake with the tutorial's connection helper (the secret named by the
`secret_name` hyperparameter, or workload identity without one), reads the training table in
batches, and trains two models on the same split:

- the baseline of the 2023 sample: scikit-learn LogisticRegression on the six numeric columns,
  unscaled, on a uniform sample of at most `baseline_max_rows` training rows;
- the tutorial's model: XGBoost on the numeric columns plus physics features, built from the
  streamed batches through a DataIter into a QuantileDMatrix (external memory on one host: its
  quantised pages wait on local disk), so the data's memory follows the batch size, not the
  table (XGBoost's own training state still takes about 40 bytes a training row).

The batch files and XGBoost's pages wait in a folder under the temporary directory: /tmp, which
SageMaker documents as a training job's scratch space (it mounts the instance's storage volume
there; a folder of your own directly under /opt/ml would be on the container's root file system).
The folder is removed when the program ends.

With several instances, each host reads its own shard of the table and the hosts train one
XGBoost model together through XGBoost's collective communication (the tracker runs on algo-1).

It writes the models and metrics.json to /opt/ml/model, the evaluation curves and a report to
/opt/ml/output/data, and on any error a one-line reason to /opt/ml/output/failure, then exits
non-zero at once (threads of the connector or of XGBoost that still wait on a socket do not keep
it alive). Its log lines `validation:roc_auc=...` feed SageMaker metric definitions.

Faults stay bounded and visible: the table's labels and NULLs are checked in Snowflake before it
is read; from those checks to the last batch, a line every `progress_seconds` (30) says how far it
got, and `stall_seconds` (120) without a step forward ends the job, whatever the connection does
(and whether or not anyone still reads the log); SIGTERM (StopTrainingJob, or the end of a
multi-host job whose other host failed) ends it at once, even while XGBoost waits in native code.
The failure file's space is set aside when the program starts, so the reason reaches SageMaker
even when the job fails because the disk is full.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import pickle
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from .. import connection
from ..errors import TutorialError, cut, fit
from . import dataset
from .contract import (
    Hosts,
    Paths,
    disk_error,
    parse_hyperparameters,
    print_line,
    read_hosts,
    read_json,
    release_space,
    reserve_space,
    tree,
    write_failure,
)
from .hosts import collective
from .metrics import ScoreCounts

BASELINE = "baseline_logistic_regression"
MODEL = "xgboost_physics_features"
# Fewer validation rows of a class than this make its metrics noise: the log says so.
MIN_VALIDATION_ROWS_PER_CLASS = 50
STOPPED = (
    "Stopped by SageMaker (SIGTERM: StopTrainingJob, MaxRuntimeInSeconds, or another host of "
    "the job failed) before the model was complete; nothing half-written was kept."
)


def log(message: str) -> None:
    """One line of the job's log; never raises (see print_line)."""
    print_line(f"[train] {message}")


# --- Ending: the first reason wins, and the process ends as soon as it is written ---------

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
    later inherit the mask; the `train` script blocks it before its imports start any) and one
    thread waits for it.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait():
        signal.sigwait({signal.SIGTERM})
        fail_now(paths, STOPPED, 143, "stopped")

    thread = threading.Thread(target=wait, name="sigterm", daemon=True)
    thread.start()
    return thread


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


def peak_memory_mb() -> float | None:
    """This process's peak resident memory (VmHWM), or None where /proc is not available."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Keep glibc to a few malloc arenas, as MALLOC_ARENA_MAX=2 would.

    The threads that download result chunks would each get an arena of their own (up to 8 per
    core), and each arena keeps the memory it freed: peak memory then grows with the number of
    chunks, not with the batch. Must run before those threads start; a no-op off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def release_freed_memory() -> None:
    """Hand the memory the fetch freed back to the system before training (glibc keeps it)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# --- Models -------------------------------------------------------------------------------


def train_baseline(x: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(random_state=seed)  # as the 2023 sample: defaults, unscaled
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        log("baseline: lbfgs stopped at 100 iterations without converging (as in the 2023 sample)")
    return model


def train_xgboost(train_files: dataset.BatchFiles, params: dict, cache: Path, hosts: int = 1):
    """XGBoost from the batch files, read batch by batch.

    On one host the quantised data waits on disk (`cache`) as external memory. With several, it
    stays in memory: XGBoost's external memory synchronises the hosts page by page, which makes
    distributed training several times slower, and each host holds only its shard anyway.
    """
    import xgboost

    external = hosts == 1

    class Batches(xgboost.DataIter):
        def __init__(self):
            self._iterator = None
            super().__init__(cache_prefix=str(cache / "xgboost") if external else None)

        def next(self, input_data) -> bool:
            if self._iterator is None:
                self._iterator = iter(train_files)
            try:
                x, y = next(self._iterator)
            except StopIteration:
                return False
            input_data(data=x, label=y, feature_names=list(dataset.MODEL_FEATURES))
            return True

        def reset(self) -> None:
            self._iterator = None

    kind = xgboost.ExtMemQuantileDMatrix if external else xgboost.QuantileDMatrix
    try:
        matrix = kind(Batches(), max_bin=params["max_bin"])
    except xgboost.core.XGBoostError as error:
        # XGBoost's own writes of its pages: its message is native, with a stack trace.
        if re.search(r"No space|Write incomplete|errno:? ?28|Disk quota", str(error), re.I):
            needed = train_files.rows * dataset.SCRATCH_BYTES_PER_ROW
            full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise disk_error(full, cache, needed, "XGBoost's pages of the table") from None
        raise
    booster = xgboost.train(
        {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "tree_method": "hist",
            "max_depth": params["max_depth"],
            "eta": params["eta"],
            "max_bin": params["max_bin"],
            "seed": params["split_seed"],
            "nthread": os.cpu_count() or 1,
        },
        matrix,
        num_boost_round=params["num_round"],
    )
    del matrix
    return booster


def evaluate(validation: dataset.BatchFiles, baseline, booster, threshold: float):
    numeric = [dataset.MODEL_FEATURES.index(name) for name in dataset.NUMERIC_FEATURES]
    counts = {BASELINE: ScoreCounts(threshold), MODEL: ScoreCounts(threshold)}
    for x, y in validation:
        counts[BASELINE].add(baseline.predict_proba(x[:, numeric])[:, 1], y)
        # inplace_predict builds no DMatrix, which in a multi-host job would wait for the other
        # hosts (each host has its own number of validation batches).
        counts[MODEL].add(booster.inplace_predict(x), y)
    return counts


# --- The job ------------------------------------------------------------------------------


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


# What notebook 03 creates: used where neither the hyperparameters nor the secret name one, so
# the session always has a database, schema and warehouse (a workload-identity sign-in has no
# secret, and a user without DEFAULT_NAMESPACE would otherwise have no current database).
NAMESPACE_DEFAULTS = {"warehouse": "HOL_WH", "database": "HOL_DB", "schema": "PUBLIC"}


def _sign_in(params: dict, region: str | None):
    overrides = {k: params[k] or None for k in NAMESPACE_DEFAULTS}
    if not params["secret_name"]:
        overrides["account"] = params["snowflake_account"] or None
        log("no secret_name: signing in with workload identity (the job's IAM role)")
    # Two chunks downloading ahead keep the reader busy; more would only hold more memory.
    overrides["client_prefetch_threads"] = 2
    return connection.session(
        params["secret_name"] or None,
        region,
        defaults=NAMESPACE_DEFAULTS,
        require_namespace=True,  # a clear reason now, not "table does not exist" later
        **overrides,
    )


def run(paths: Paths) -> dict:
    phases = Phases()
    params = parse_hyperparameters(read_json(paths.hyperparameters, "SageMaker writes them there"))
    hosts = read_hosts(paths)
    region = (
        params["region"] or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    log(f"host {hosts.current} of {hosts.count}; table {cut(params['table'])}; region {region}")
    # What SageMaker gave the container: the contract the program reads, shown in the job's log.
    log("/opt/ml as this program sees it:")
    for line in tree(paths.root):
        log(f"  {line}")
    # The tracker starts first, so the other hosts find it as soon as they need it.
    with (
        collective(hosts, params["tracker_port"]) as communicator,
        tempfile.TemporaryDirectory(prefix="batches-") as scratch,
    ):
        _scratch.append(Path(scratch))
        session = _sign_in(params, region)
        phases.done("connect", "signed in to Snowflake")
        with Watchdog(paths, params["stall_seconds"], params["progress_seconds"]) as watchdog:
            table = dataset.check_table(session, params["table"])
            watchdog.tick(step="checking the table's values")
            # Every host checks the whole table, so all of them stop with the same reason.
            columns = ("TYPE", *dataset.NUMERIC_FEATURES)
            dataset.check_values(table, columns, dataset.LABEL)
            watchdog.tick(step="counting the rows")
            prepared = dataset.featurised(
                table.frame,
                params["validation_fraction"],
                params["split_seed"],
                hosts.rank,
                hosts.count,
            )
            expected = watchdog.expected = prepared.count()
            shard = f" (shard {hosts.rank})" if hosts.count > 1 else ""
            log(f"{expected:,} rows to read{shard}")
            watchdog.tick(step=watchdog.READING)
            fetched = dataset.fetch(
                prepared,
                Path(scratch),
                expected,
                params["baseline_max_rows"],
                params["split_seed"],
                progress=watchdog.tick,
            )
        session.close()
        release_freed_memory()
        phases.done(
            "fetch",
            f"fetched {fetched.train.rows + fetched.validation.rows:,} rows in "
            f"{fetched.batches} batches ({fetched.train.rows:,} train, "
            f"{fetched.validation.rows:,} validation)",
        )
        train_rows, validation_rows, failures = _check_rows(fetched, communicator, params["table"])
        _warn_if_few(validation_rows, failures)
        baseline = _train_shared_baseline(fetched, communicator, hosts, params["split_seed"])
        phases.done("train_baseline", "baseline trained")
        booster = train_xgboost(fetched.train, params, Path(scratch), hosts.count)
        phases.done("train_xgboost", f"XGBoost trained ({params['num_round']} rounds)")
        counts = evaluate(fetched.validation, baseline, booster, params["threshold"])
        if communicator is not None:
            for model_counts in counts.values():
                total = communicator.allreduce(model_counts.as_vector(), communicator.Op.SUM)
                model_counts.replace_with(total)
        phases.done("evaluate", "both models evaluated")
        batches = fetched.batches

    metrics = {
        "table": params["table"],
        "rows": {
            "train": train_rows,
            "validation": validation_rows,
            "hosts": hosts.count,
            "batches_on_this_host": batches,
        },
        "hyperparameters": params,
        "timings_seconds": {**phases.seconds, "total": round(time.time() - phases.started, 3)},
        "peak_rss_mb": phases.peak_rss_mb,
        "models": {name: c.summary() for name, c in counts.items()},
    }
    metrics["models"][BASELINE]["features"] = list(dataset.NUMERIC_FEATURES)
    metrics["models"][MODEL]["features"] = list(dataset.MODEL_FEATURES)
    importance = booster.get_score(importance_type="gain")
    metrics["models"][MODEL]["feature_importance"] = {
        name: round(importance.get(name, 0.0), 4) for name in dataset.MODEL_FEATURES
    }
    for prefix, name in (("validation", MODEL), ("baseline", BASELINE)):
        for key in ("roc_auc", "pr_auc", "f1"):
            value = metrics["models"][name][key]
            if value is None:  # no metric line: SageMaker's metric regex wants a number
                log(
                    f"warning: {prefix}:{key} cannot be computed (the validation split has "
                    f"{failures:,} failures of {validation_rows:,} rows): metrics.json holds null"
                )
            else:
                print_line(f"{prefix}:{key}={value:.6f}")
    if hosts.rank == 0:  # one host writes the results, as one model was trained
        _write_results(paths, metrics, counts, baseline, booster)
    peak = peak_memory_mb()
    log(
        f"done in {time.time() - phases.started:.1f} s"
        + (f"; peak_rss_mb={peak:.0f}" if peak else "")
    )
    return metrics


def _check_rows(fetched: dataset.Fetched, communicator, table: str) -> tuple[int, int, int]:
    """The training and validation rows of all hosts, and the validation rows that are failures;
    an error when they cannot train a model."""
    counts = np.array(
        [
            fetched.train.rows,
            fetched.train.positives,
            fetched.validation.rows,
            fetched.validation.positives,
        ],
        dtype=np.float64,
    )
    if communicator is not None:
        counts = communicator.allreduce(counts, communicator.Op.SUM)
    train_rows, positives, validation_rows, validation_failures = (int(v) for v in counts)
    table = cut(table)
    if train_rows == 0:
        raise TutorialError(f"Table {table} is empty: load it with notebook 03.")
    if positives in (0, train_rows):
        label = "all failures" if positives else "no failures"
        raise TutorialError(
            f"Table {table} has labels of a single class ({label} in {train_rows:,} training "
            "rows): a classifier needs both; load the full data with notebook 03."
        )
    if validation_rows == 0:
        raise TutorialError(
            f"No validation rows in {table}: raise validation_fraction or load more rows."
        )
    return train_rows, validation_rows, validation_failures


def _warn_if_few(validation_rows: int, failures: int) -> None:
    """A warning in the log (the notebook shows it) when the validation split is too small."""
    others = validation_rows - failures
    if min(failures, others) < MIN_VALIDATION_ROWS_PER_CLASS:
        log(
            f"warning: only {failures:,} failing and {others:,} non-failing rows in the "
            f"validation split (fewer than {MIN_VALIDATION_ROWS_PER_CLASS} of a class): its "
            "metrics say little; load more rows or raise validation_fraction."
        )


def _train_shared_baseline(fetched: dataset.Fetched, communicator, hosts: Hosts, seed: int):
    """The baseline on every host's sample together: gathered on algo-1, fitted, shared back."""
    if communicator is None:
        return train_baseline(fetched.baseline_x, fetched.baseline_y, seed)
    samples = [
        communicator.broadcast((fetched.baseline_x, fetched.baseline_y), root)
        for root in range(hosts.count)
    ]
    model = None
    if hosts.rank == 0:
        x = np.concatenate([s[0] for s in samples])
        y = np.concatenate([s[1] for s in samples])
        model = train_baseline(x, y, seed)
    return communicator.broadcast(model, 0)


def _write_results(paths: Paths, metrics: dict, counts, baseline, booster) -> None:
    """Write everything into a staging folder, then move it in: never a half-written model.

    Everything is serialised in memory first, so a full or read-only disk is one Python error
    naming the folder and the bytes it needed (not XGBoost's native one).
    """
    model_files = {
        "xgboost-model.json": bytes(booster.save_raw(raw_format="json")),
        "baseline-logistic-regression.pkl": pickle.dumps(baseline),
        # allow_nan=False: a NaN that slipped through fails here, not in whoever reads the JSON.
        "metrics.json": json.dumps(metrics, indent=2, allow_nan=False).encode(),
    }
    staging = paths.model / ".incomplete"
    needed = sum(len(data) for data in model_files.values())
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name, data in model_files.items():
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

    curves = {name: c.curves() for name, c in counts.items()}
    lines = ["# Evaluation on the validation split", ""]
    lines.append("| model | ROC AUC | PR AUC | F1 | TN | FP | FN | TP |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for name, model in metrics["models"].items():
        c = model["confusion_matrix"]
        scores = [_shown(model[key]) for key in ("roc_auc", "pr_auc", "f1")]
        lines.append(
            f"| {name} | {' | '.join(scores)} | {c['tn']} | {c['fp']} | {c['fn']} | {c['tp']} |"
        )
    outputs = {
        "evaluation.json": json.dumps(curves, allow_nan=False).encode(),
        "report.md": ("\n".join(lines) + "\n").encode(),
    }
    try:
        paths.output_data.mkdir(parents=True, exist_ok=True)
        for name, data in outputs.items():
            (paths.output_data / name).write_bytes(data)
    except OSError as error:
        needed = sum(len(data) for data in outputs.values())
        raise disk_error(error, paths.output_data, needed, "the evaluation report") from None


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def main() -> int:
    """Run the job; the exit code (0, 1 for a reason the learner can fix, 2 for a bug)."""
    limit_malloc_arenas()
    paths = Paths.from_environment()
    # First: the failure reason's space, while the disk still has it.
    reserve_space(paths.failure)
    _ended.clear()
    _other_ending.clear()
    _scratch.clear()
    try:
        run(paths)
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


def serve() -> None:
    """The image's `train`: SIGTERM watched from the start, and the process ends at once."""
    paths = Paths.from_environment()
    stop_on_sigterm(paths)
    code = main()
    with _ending:  # a SIGTERM that came first ends the process with its code, not main's
        code = _other_ending[0] if _other_ending else code
    if code:
        exit_now(code)  # threads still waiting on a socket must not keep the process alive
    sys.stdout.flush()
    sys.exit(0)


if __name__ == "__main__":
    serve()
