"""The training program SageMaker runs (`docker run IMAGE train`).

It signs in to Snowflake with the tutorial's connection helper (the secret named by the
`secret_name` hyperparameter, or workload identity without one), reads the training table in
batches, and trains two models on the same split:

- the baseline of the 2023 sample: scikit-learn LogisticRegression on the six numeric columns,
  unscaled, on a sample of at most `baseline_max_rows` training rows;
- the tutorial's model: XGBoost on the numeric columns plus physics features, built from the
  streamed batches through a DataIter into a QuantileDMatrix, so memory follows the batch size.

With several instances, each host reads its own shard of the table and the hosts train one
XGBoost model together through XGBoost's collective communication (the tracker runs on algo-1).

It writes the models and metrics.json to /opt/ml/model, the evaluation curves and a report to
/opt/ml/output/data, and on any error a one-line reason to /opt/ml/output/failure, then exits
non-zero. Its log lines `validation:roc_auc=...` feed SageMaker metric definitions.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import socket
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import connection
from ..errors import TutorialError
from . import dataset
from .contract import Hosts, Paths, parse_hyperparameters, read_hosts, read_json, write_failure
from .metrics import ScoreCounts

BASELINE = "baseline_logistic_regression"
MODEL = "xgboost_physics_features"


class StopRequested(Exception):
    """SageMaker sent SIGTERM (StopTrainingJob): stop now, keep nothing half-written."""


def log(message: str) -> None:
    print(f"[train] {message}", flush=True)


def _on_sigterm(signum, frame):
    raise StopRequested()


# --- Multi-host: one XGBoost model trained by all hosts together ------------------------


@contextmanager
def collective(hosts: Hosts, port: int):
    """XGBoost's communicator across hosts; the tracker runs on the first host."""
    if hosts.count == 1:
        yield None
        return
    import xgboost
    from xgboost.tracker import RabitTracker

    # On SageMaker, hosts resolve by name. The local runtime runs every host on one machine and
    # says so through TRACKER_HOST (and a free TRACKER_PORT).
    address = os.environ.get("TRACKER_HOST") or socket.gethostbyname(hosts.all[0])
    port = int(os.environ.get("TRACKER_PORT", port))
    tracker = None
    if hosts.rank == 0:
        tracker = RabitTracker(n_workers=hosts.count, host_ip=address, port=port, sortby="task")
        tracker.start()
    args = {
        "dmlc_tracker_uri": address,
        "dmlc_tracker_port": port,
        "dmlc_task_id": hosts.current,
        "dmlc_retry": 30,
        "dmlc_timeout": 600,
    }
    with xgboost.collective.CommunicatorContext(**args):
        yield xgboost.collective
    if tracker is not None:
        tracker.wait_for(60)


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


def train_xgboost(train_files: dataset.BatchFiles, params: dict):
    import xgboost

    class Batches(xgboost.DataIter):
        def __init__(self):
            self._iterator = None
            super().__init__()

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

    matrix = xgboost.QuantileDMatrix(Batches(), max_bin=params["max_bin"])
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
    import xgboost

    numeric = [dataset.MODEL_FEATURES.index(name) for name in dataset.NUMERIC_FEATURES]
    counts = {BASELINE: ScoreCounts(threshold), MODEL: ScoreCounts(threshold)}
    for x, y in validation:
        counts[BASELINE].add(baseline.predict_proba(x[:, numeric])[:, 1], y)
        matrix = xgboost.DMatrix(x, feature_names=list(dataset.MODEL_FEATURES))
        counts[MODEL].add(booster.predict(matrix), y)
    return counts


# --- The job ------------------------------------------------------------------------------


def run(paths: Paths) -> dict:
    started = time.time()
    timings: dict[str, float] = {}

    def phase(name: str, since: float) -> float:
        timings[name] = round(time.time() - since, 3)
        return time.time()

    params = parse_hyperparameters(read_json(paths.hyperparameters, "SageMaker writes them there"))
    hosts = read_hosts(paths)
    region = (
        params["region"] or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    log(f"host {hosts.current} of {hosts.count}; table {params['table']}; region {region}")
    overrides = {k: params[k] or None for k in ("database", "schema", "warehouse")}
    if not params["secret_name"]:
        overrides["account"] = params["snowflake_account"] or None
        log("no secret_name: signing in with workload identity (the job's IAM role)")
    session = connection.session(params["secret_name"] or None, region, **overrides)
    now = phase("connect", started)

    frame = dataset.check_table(session, params["table"])
    prepared = dataset.featurised(
        frame, params["validation_fraction"], params["split_seed"], hosts.rank, hosts.count
    )
    expected = prepared.count()
    log(f"{expected:,} rows to read" + (f" (shard {hosts.rank})" if hosts.count > 1 else ""))
    with tempfile.TemporaryDirectory(prefix="batches-") as scratch:
        fetched = dataset.fetch(
            prepared, Path(scratch), expected, params["baseline_max_rows"], params["split_seed"]
        )
        now = phase("fetch", now)
        log(
            f"fetched {fetched.train.rows + fetched.validation.rows:,} rows in "
            f"{fetched.batches} batches ({fetched.train.rows:,} train, "
            f"{fetched.validation.rows:,} validation) in {timings['fetch']:.1f} s"
        )
        with collective(hosts, params["tracker_port"]) as communicator:
            _check_rows(fetched, communicator, params["table"])
            baseline = _train_shared_baseline(fetched, communicator, hosts, params["split_seed"])
            now = phase("train_baseline", now)
            log(f"baseline trained in {timings['train_baseline']:.1f} s")
            booster = train_xgboost(fetched.train, params)
            now = phase("train_xgboost", now)
            log(
                f"XGBoost trained ({params['num_round']} rounds) in "
                f"{timings['train_xgboost']:.1f} s"
            )
            counts = evaluate(fetched.validation, baseline, booster, params["threshold"])
            if communicator is not None:
                for model_counts in counts.values():
                    total = communicator.allreduce(model_counts.as_vector(), communicator.Op.SUM)
                    model_counts.replace_with(total)
            now = phase("evaluate", now)
        rows = {
            "train": fetched.train.rows,
            "validation": fetched.validation.rows,
            "batches": fetched.batches,
            "hosts": hosts.count,
        }
    session.close()

    metrics = {
        "table": params["table"],
        "rows": rows,
        "hyperparameters": params,
        "timings_seconds": timings,
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
            log_metric = f"{prefix}:{key}={metrics['models'][name][key]:.6f}"
            print(log_metric, flush=True)
    if hosts.rank == 0:  # one host writes the results, as one model was trained
        _write_results(paths, metrics, counts, baseline, booster)
    metrics["timings_seconds"]["total"] = round(time.time() - started, 3)
    log(f"done in {metrics['timings_seconds']['total']:.1f} s")
    return metrics


def _check_rows(fetched: dataset.Fetched, communicator, table: str) -> None:
    counts = np.array(
        [fetched.train.rows, fetched.train.positives, fetched.validation.rows], dtype=np.float64
    )
    if communicator is not None:
        counts = communicator.allreduce(counts, communicator.Op.SUM)
    train_rows, positives, validation_rows = (int(v) for v in counts)
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
    """Write everything into a staging folder, then move it in: never a half-written model."""
    staging = paths.model / ".incomplete"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    booster.save_model(staging / "xgboost-model.json")
    with open(staging / "baseline-logistic-regression.pkl", "wb") as handle:
        pickle.dump(baseline, handle)
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=2))
    for item in staging.iterdir():
        item.replace(paths.model / item.name)
    staging.rmdir()

    paths.output_data.mkdir(parents=True, exist_ok=True)
    curves = {name: c.curves() for name, c in counts.items()}
    (paths.output_data / "evaluation.json").write_text(json.dumps(curves))
    lines = ["# Evaluation on the validation split", ""]
    lines.append("| model | ROC AUC | PR AUC | F1 | TN | FP | FN | TP |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for name, model in metrics["models"].items():
        c = model["confusion_matrix"]
        lines.append(
            f"| {name} | {model['roc_auc']:.4f} | {model['pr_auc']:.4f} | {model['f1']:.4f} | "
            f"{c['tn']} | {c['fp']} | {c['fn']} | {c['tp']} |"
        )
    (paths.output_data / "report.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    paths = Paths.from_environment()
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        run(paths)
        return 0
    except StopRequested:
        shutil.rmtree(paths.model / ".incomplete", ignore_errors=True)
        write_failure(paths, "Stopped by StopTrainingJob before the model was complete.")
        log("stopped (SIGTERM): no model written")
        return 143
    except TutorialError as error:
        shutil.rmtree(paths.model / ".incomplete", ignore_errors=True)
        write_failure(paths, str(error))
        log(f"failed: {error}")
        return 1
    except Exception as error:  # a bug or an unforeseen service error: still one line
        shutil.rmtree(paths.model / ".incomplete", ignore_errors=True)
        message = " ".join(f"{type(error).__name__}: {error}".split())[:500]
        write_failure(paths, f"Unexpected error: {message}")
        log(f"failed unexpectedly: {message}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
