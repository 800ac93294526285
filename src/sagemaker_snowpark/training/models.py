"""The two models of the training program, and the trained model the scoring program loads.

- the baseline of the 2023 sample: scikit-learn LogisticRegression on the six numeric columns
  (on a table's own columns: on all its features, a NULL taking its feature's mean), unscaled,
  on a uniform sample of at most `baseline_max_rows` training rows and
  `dataset.BASELINE_MAX_VALUES` values (`train_baseline`);
- the tutorial's model: XGBoost on the features (the physics set, or the table's), built from the
  batch files through a DataIter into a QuantileDMatrix (`quantile_matrix`: external memory on
  one host, its quantised pages waiting on local disk), so the data's memory follows the batch
  size, not the table (XGBoost's own training state still takes about 4 bytes a value of a
  training row: 40 bytes a row of the lesson's 10 features, about 1 KB a row of 300).

Both are evaluated on the same validation split (`evaluate`); the counts of a multi-host job's
hosts are summed, as one model was trained. `metrics` and `evaluation_report` make what the job
writes, `log_metrics` the log lines SageMaker's metric definitions read, and `load_model` reads
the model back from a training job's model.tar.gz for scoring.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TutorialError, cut
from . import dataset
from .contract import Hosts, disk_error, print_line
from .features import Definition
from .job import Phases, log
from .metrics import ScoreCounts

BASELINE = "baseline_logistic_regression"
# The XGBoost model's name in metrics.json, by its feature set (features.FEATURE_SETS).
MODELS = {"physics": "xgboost_physics_features", "columns": "xgboost_table_columns"}
MODEL = MODELS["physics"]
# Fewer validation rows of a class than this make its metrics noise: the log says so.
MIN_VALIDATION_ROWS_PER_CLASS = 50


@dataclass(frozen=True)
class Rows:
    """The rows of all the job's hosts: training, validation, and the validation failures."""

    train: int
    validation: int
    validation_failures: int


def count_rows(fetched: dataset.Fetched, communicator, table: str) -> Rows:
    """The rows of all hosts; an error when they cannot train a model, and a warning in the log
    (the notebook shows it) when the validation split is too small to say much."""
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
    train_rows, positives, validation_rows, failures = (int(v) for v in counts)
    table = cut(table)
    if train_rows == 0:
        raise TutorialError(f"Table {table} is empty: load it with notebook 03.")
    if positives in (0, train_rows):
        label = "every label 1" if positives else "every label 0"
        raise TutorialError(
            f"Table {table} has labels of a single class ({label} in {train_rows:,} training "
            "rows): a classifier needs both; load rows of both classes."
        )
    if validation_rows == 0:
        raise TutorialError(
            f"No validation rows in {table}: raise validation_fraction or load more rows."
        )
    others = validation_rows - failures
    if min(failures, others) < MIN_VALIDATION_ROWS_PER_CLASS:
        log(
            f"warning: only {failures:,} failing and {others:,} non-failing rows in the "
            f"validation split (fewer than {MIN_VALIDATION_ROWS_PER_CLASS} of a class): its "
            "metrics say little; load more rows or raise validation_fraction."
        )
    return Rows(train_rows, validation_rows, failures)


# --- Training -----------------------------------------------------------------------------------


def _fit_baseline(x: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    # As the 2023 sample: defaults, unscaled. A missing value (NULL) takes its feature's mean,
    # which leaves a table without NULLs (the workshop's) exactly as the 2023 sample had it.
    model = make_pipeline(
        SimpleImputer(strategy="mean", keep_empty_features=True),
        LogisticRegression(random_state=seed),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        log("baseline: lbfgs stopped at 100 iterations without converging (as in the 2023 sample)")
    return model


def train_baseline(fetched: dataset.Fetched, communicator, hosts: Hosts, seed: int):
    """The baseline on the sample `fetched` kept; with several hosts, on every host's sample
    together: gathered on algo-1, fitted there, shared back. The sample is let go once fitted,
    before XGBoost's matrix is built (on a wide table it is hundreds of MB)."""
    if communicator is None:
        model = _fit_baseline(fetched.baseline_x, fetched.baseline_y, seed)
        fetched.drop_sample()
        return model
    samples = [
        communicator.broadcast((fetched.baseline_x, fetched.baseline_y), root)
        for root in range(hosts.count)
    ]
    fetched.drop_sample()
    model = None
    if hosts.rank == 0:
        x = np.concatenate([s[0] for s in samples])
        y = np.concatenate([s[1] for s in samples])
        model = _fit_baseline(x, y, seed)
    del samples
    return communicator.broadcast(model, 0)


def quantile_matrix(
    train_files: dataset.BatchFiles, names: list[str], max_bin: int, cache: Path, hosts: int = 1
):
    """XGBoost's training matrix, built from the batch files read batch by batch.

    On one host the quantised data waits on disk (`cache`) as external memory. With several, it
    stays in memory: XGBoost's external memory synchronises the hosts page by page, which makes
    distributed training several times slower, and each host holds only its shard anyway. A
    full disk while XGBoost writes its pages is one line naming the folder and the space needed.
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
            input_data(data=x, label=y, feature_names=list(names))
            return True

        def reset(self) -> None:
            self._iterator = None

    kind = xgboost.ExtMemQuantileDMatrix if external else xgboost.QuantileDMatrix
    try:
        return kind(Batches(), max_bin=max_bin)
    except xgboost.core.XGBoostError as error:
        # XGBoost's own writes of its pages: its message is native, with a stack trace.
        if re.search(r"No space|Write incomplete|errno:? ?28|Disk quota", str(error), re.I):
            needed = train_files.rows * dataset.SCRATCH_BYTES_PER_ROW
            full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise disk_error(full, cache, needed, "XGBoost's pages of the table") from None
        raise


# --- Evaluation and what the job writes ---------------------------------------------------------


def evaluate(
    validation: dataset.BatchFiles,
    definition: Definition,
    baseline,
    booster,
    threshold: float,
    communicator=None,
) -> dict[str, ScoreCounts]:
    """Both models' scores on the validation split, counted; summed over the hosts."""
    columns = definition.baseline_indices
    model = MODELS[definition.feature_set]
    counts = {BASELINE: ScoreCounts(threshold), model: ScoreCounts(threshold)}
    for x, y in validation:
        counts[BASELINE].add(baseline.predict_proba(x[:, columns])[:, 1], y)
        # inplace_predict builds no DMatrix, which in a multi-host job would wait for the other
        # hosts (each host has its own number of validation batches).
        counts[model].add(booster.inplace_predict(x), y)
    if communicator is not None:
        for model_counts in counts.values():
            total = communicator.allreduce(model_counts.as_vector(), communicator.Op.SUM)
            model_counts.replace_with(total)
    return counts


def metrics(
    params: dict,
    definition: Definition,
    rows: Rows,
    hosts: int,
    batches: int,
    phases: Phases,
    counts,
    booster,
    dropped: int = 0,
) -> dict:
    """What metrics.json holds: the rows (and those left out for a NULL label), the
    hyperparameters, the timings and peak memory, and each model's metrics, features and
    (XGBoost's) feature importance."""
    model = MODELS[definition.feature_set]
    found = {
        "table": params["table"],
        "feature_set": definition.feature_set,
        "label": definition.label,
        "id": definition.id,
        "rows": {
            "train": rows.train,
            "validation": rows.validation,
            "dropped_null_labels": dropped,
            "hosts": hosts,
            "batches_on_this_host": batches,
        },
        "hyperparameters": params,
        "timings_seconds": phases.timings(),
        "peak_rss_mb": phases.peak_rss_mb,
        "models": {name: c.summary() for name, c in counts.items()},
    }
    found["models"][BASELINE]["features"] = list(definition.baseline)
    found["models"][model]["features"] = definition.names
    importance = booster.get_score(importance_type="gain")
    found["models"][model]["feature_importance"] = {
        name: round(importance.get(name, 0.0), 4) for name in definition.names
    }
    return found


def log_metrics(metrics: dict, rows: Rows) -> None:
    """The lines SageMaker's metric definitions read (`validation:roc_auc=0.98...`), and a
    warning instead where the validation rows cannot define a metric."""
    model = MODELS[metrics["feature_set"]]
    for prefix, name in (("validation", model), ("baseline", BASELINE)):
        for key in ("roc_auc", "pr_auc", "f1"):
            value = metrics["models"][name][key]
            if value is None:  # no metric line: SageMaker's metric regex wants a number
                log(
                    f"warning: {prefix}:{key} cannot be computed (the validation split has "
                    f"{rows.validation_failures:,} failures of {rows.validation:,} rows): "
                    "metrics.json holds null"
                )
            else:
                print_line(f"{prefix}:{key}={value:.6f}")


def evaluation_report(metrics: dict, counts: dict[str, ScoreCounts]) -> dict[str, bytes]:
    """The files of /opt/ml/output/data: the curves (evaluation.json) and a table (report.md)."""
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
    return {
        "evaluation.json": json.dumps(curves, allow_nan=False).encode(),
        "report.md": ("\n".join(lines) + "\n").encode(),
    }


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


# --- The trained model, for scoring -------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    booster: object
    definition: Definition
    threshold: float

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.definition.names)


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    """A file at the archive's top level, named `name` or `./name`; KeyError if there is none."""
    for member in tar.getmembers():
        if member.isfile() and member.name.removeprefix("./") == name:
            return tar.extractfile(member).read()
    raise KeyError(name)


def load_model(archive: Path) -> Model:
    """The XGBoost model, what it reads (features.json) and its threshold, from the training
    job's archive."""
    import xgboost

    if not archive.is_file():
        raise TutorialError(
            f"No model at {archive}: give the training job's model.tar.gz as a processing input "
            "with LocalPath /opt/ml/processing/model."
        )
    try:
        # Only the members it needs, read in memory: nothing from the archive reaches a path.
        with tarfile.open(archive) as tar:
            metrics = json.loads(_member(tar, "metrics.json"))
            booster = xgboost.Booster()
            booster.load_model(bytearray(_member(tar, "xgboost-model.json")))
            definition = Definition.from_json(_member(tar, "features.json"))
        threshold = float(metrics["hyperparameters"]["threshold"])
    except (OSError, tarfile.TarError, ValueError, KeyError, TypeError, xgboost.core.XGBoostError):
        raise TutorialError(
            f"{archive.name} is not a model of the training program (it needs xgboost-model.json, "
            "features.json and metrics.json): give the model.tar.gz of a training job of this "
            "image (notebook 04 or 06)."
        ) from None
    if tuple(booster.feature_names or ()) != tuple(definition.names):
        raise TutorialError(
            f"{archive.name}'s model reads {cut(', '.join(booster.feature_names or ()), 200)}, "
            "not the features its features.json names: give the archive a training job wrote."
        )
    return Model(booster, definition, threshold)
