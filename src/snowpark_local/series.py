"""Run the whole walk-through on the local stack (`make tutorial`), or re-save the notebooks.

python -m snowpark_local.series run    executed copies and artifacts go to build/tutorial/
python -m snowpark_local.series save   re-executes notebooks/ in place on a fresh stack
python -m snowpark_local.series real   runs the series on your AWS and Snowflake accounts
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from sagemaker_snowpark.errors import TutorialError

from . import stack

NOTEBOOKS_DIR = Path("notebooks")
BUILD_DIR = Path("build") / "tutorial"
CELL_TIMEOUT_SECONDS = 1800
REAL_DIR = Path("build") / "real-account"
# What one unattended run of the series costs and takes on real accounts, stated before it starts.
# Written by `make times` (docs/times.py) from docs/times.toml, the one source of the series' times
# and prices (us-east-1 list prices); edit that file, never these lines (tests/test_times.py fails
# when they differ). docs/infrastructure.md and the README quote it.
REAL_COST = (
    "about USD 0.27 on AWS (20 CodeBuild build minutes on general1.medium at USD 0.01 a minute, 6 "
    "ml.m5.large instances for a few minutes each: 4 training and 2 scoring, ECR, S3 and Secrets "
    "Manager for one day) and about 0.23 Snowflake credit (an X-Small warehouse for about 14 "
    "minutes); it takes about 61 minutes"
)
SCORING_SUMMARY = "scoring-summary.json"  # notebook 05 downloads the scoring job's summary
# Notebook 06 keeps its training job's metrics.json and its scoring job's summary under these names.
OWN_METRICS = "own-table-metrics.json"
OWN_SUMMARY = "own-table-scoring-summary.json"


def notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise TutorialError(
            f"No notebooks in {folder.resolve()}: run this from the repository's root."
        )
    return found


@contextmanager
def local_stack(state_dir: Path):
    """The running stack at state_dir, started (and afterwards stopped) if it is not running."""
    try:
        stack.running_info(stack.StackFiles(state_dir))
        started_here = False
    except TutorialError:
        stack.up(state_dir)
        started_here = True
    try:
        stack.apply_environment(stack.client_environment(state_dir))
        yield
    finally:
        if started_here:
            stack.down(state_dir)


def _failed_cell(notebook, error: CellExecutionError) -> str:
    """'cell N' (1-based among code cells) of the first cell whose output holds an error."""
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for number, cell in enumerate(code, start=1):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return f"code cell {number}"
    return "a cell"


def _first_error_line(error: CellExecutionError) -> str:
    """The cell's exception as one line: its name and message."""
    if getattr(error, "ename", None):
        return " ".join(f"{error.ename}: {error.evalue}".split())
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else "the cell raised an error"


def execute(path: Path, output: Path) -> float:
    """Execute one notebook with the kernel in its folder; write the executed copy to `output`."""
    notebook = nbformat.read(path, as_version=4)
    started = time.time()
    # The kernel talks over Unix sockets in a private folder: no TCP port, nothing to encrypt.
    with tempfile.TemporaryDirectory(prefix="kernel-") as sockets:
        client = NotebookClient(
            notebook,
            km=KernelManager(kernel_name="python3", transport="ipc", ip=f"{sockets}/ipc"),
            timeout=CELL_TIMEOUT_SECONDS,
            # A cell's printed lines are saved as one block, as JupyterLab shows them.
            coalesce_streams=True,
            resources={"metadata": {"path": str(path.parent.resolve())}},
        )
        try:
            client.execute()
        except CellExecutionError as error:
            raise TutorialError(
                f"{path.name} failed at {_failed_cell(notebook, error)}: {_first_error_line(error)}"
            ) from None
        finally:
            output.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, output)
            client.km.shutdown_kernel()  # a kernel manager passed in is not shut down by nbclient
    return time.time() - started


def _metrics_summary(metrics_file: Path) -> list[str]:
    if not metrics_file.is_file():
        return []
    metrics = json.loads(metrics_file.read_text())
    if not metrics.get("models"):
        return []
    lines = ["", "Trained models (validation split):"]
    for name, model in metrics.get("models", {}).items():
        scores = ", ".join(
            f"{key} {model[key]:.4f}" for key in ("roc_auc", "pr_auc", "f1") if key in model
        )
        lines.append(f"  {name:<28} {scores}")
    return lines


def _scoring_summary(summary_file: Path) -> list[str]:
    if not summary_file.is_file():
        return []
    summary = json.loads(summary_file.read_text())
    return [
        "",
        f"Scored with {summary['model_version']} (notebook 05):",
        f"  rows scored {summary['rows_scored']:,}, flagged share {summary['flagged_share']:.2%} "
        f"at threshold {summary['threshold']:g}",
    ]


def own_table(folder: Path) -> dict | None:
    """What notebook 06 did with its table, from the two files it kept in `folder`: the table,
    the label, the validation metrics (XGBoost's ROC AUC, PR AUC and F1, the baseline's ROC AUC)
    and the rows scored; None when it left neither."""
    metrics_file, summary_file = folder / OWN_METRICS, folder / OWN_SUMMARY
    if not (metrics_file.is_file() and summary_file.is_file()):
        return None
    metrics = json.loads(metrics_file.read_text())
    summary = json.loads(summary_file.read_text())
    models = metrics["models"]
    xgboost = next(model for name, model in models.items() if name.startswith("xgboost"))
    return {
        "table": metrics.get("table"),
        "label": metrics.get("label"),
        "roc_auc": xgboost["roc_auc"],
        "pr_auc": xgboost["pr_auc"],
        "f1": xgboost["f1"],
        "baseline_roc_auc": models["baseline_logistic_regression"]["roc_auc"],
        "rows_scored": summary["rows_scored"],
    }


def _own_table_summary(own: dict | None) -> list[str]:
    if own is None:
        return []

    def shown(value) -> str:
        return "none" if value is None else f"{value:.4f}"

    return [
        "",
        f"Your own table (notebook 06): {own['table']}, label {own['label']}",
        f"  XGBoost roc_auc {shown(own['roc_auc'])}, pr_auc {shown(own['pr_auc'])}, "
        f"f1 {shown(own['f1'])}; baseline roc_auc {shown(own['baseline_roc_auc'])}",
        f"  rows scored {own['rows_scored']:,}",
    ]


def add_own_table(build: Path) -> dict | None:
    """Put notebook 06's summary into build/tutorial/metrics.json as `own_table`."""
    own = own_table(build)
    if own is not None:
        metrics_file = build / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        metrics["own_table"] = own
        metrics_file.write_text(json.dumps(metrics, indent=2))
    return own


def run(state_dir: Path) -> None:
    shutil.rmtree(BUILD_DIR, ignore_errors=True)
    artifacts = (BUILD_DIR / "artifacts").resolve()
    artifacts.mkdir(parents=True)
    os.environ["TUTORIAL_ARTIFACTS"] = str(artifacts)
    timings: list[tuple[str, float]] = []
    with local_stack(state_dir):
        print(f"Running the notebooks on the local stack ({os.environ['AWS_ENDPOINT_URL']}).")
        for path in notebooks():
            print(f"  {path.name} ...", end="", flush=True)
            seconds = execute(path, BUILD_DIR / path.name)
            timings.append((path.name, seconds))
            print(f" {seconds:.1f} s", flush=True)
    for name in ("metrics.json", SCORING_SUMMARY, OWN_METRICS, OWN_SUMMARY):
        if (artifacts / name).is_file():
            shutil.copy(artifacts / name, BUILD_DIR / name)
    own = add_own_table(BUILD_DIR)
    lines = ["", "Notebook                                   time"]
    lines += [f"  {name:<40} {seconds:6.1f} s" for name, seconds in timings]
    lines.append(f"  {'total':<40} {sum(s for _, s in timings):6.1f} s")
    lines += _metrics_summary(BUILD_DIR / "metrics.json")
    lines += _scoring_summary(BUILD_DIR / SCORING_SUMMARY)
    lines += _own_table_summary(own)
    lines.append(f"\nExecuted notebooks and artifacts are in {BUILD_DIR}/.")
    print("\n".join(lines))


def save() -> None:
    """Re-execute the committed notebooks in place, on a fresh stack with default parameters."""
    for name in [k for k in os.environ if k.startswith("TUTORIAL_")]:
        del os.environ[name]
    # The saved outputs are process mode's, which every machine can reproduce (make test does).
    os.environ["SNOWPARK_LOCAL_RUNTIME"] = "process"
    with tempfile.TemporaryDirectory(prefix="tutorial-save-") as scratch:
        os.environ["TUTORIAL_ARTIFACTS"] = str(Path(scratch) / "artifacts")
        with local_stack(Path(scratch) / "state"):
            for path in notebooks():
                seconds = execute(path, path)
                print(f"saved {path} ({seconds:.1f} s)", flush=True)


def clean_up_notebook(found: list[Path]) -> Path:
    """The series' last notebook, which must be its clean-up (NN_clean_up.ipynb)."""
    if not found[-1].name.endswith("_clean_up.ipynb"):
        raise TutorialError(
            f"The last notebook is {found[-1].name}, not a *_clean_up.ipynb: the real-account "
            "run needs the clean-up notebook last, to delete what the series created."
        )
    return found[-1]


def real(assume_yes: bool, ask=input, folder: Path = NOTEBOOKS_DIR) -> None:
    """Run the series on the accounts the environment names, as a learner's kernel would see them
    (credentials, Region, tutorial.env; no local stack is started): stop at the first failing
    notebook, and run the clean-up notebook at the end whatever happened."""
    found = notebooks(folder)
    clean_up = clean_up_notebook(found)
    print(f"This runs {len(found)} notebooks on your AWS and Snowflake accounts: {REAL_COST}.")
    if not assume_yes:
        answer = ask("Continue? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise TutorialError("Not confirmed: nothing ran.")
    shutil.rmtree(REAL_DIR, ignore_errors=True)
    artifacts = (REAL_DIR / "artifacts").resolve()
    artifacts.mkdir(parents=True)
    os.environ["TUTORIAL_ARTIFACTS"] = str(artifacts)
    failure = None
    try:
        for path in found[:-1]:
            print(f"  {path.name} ...", end="", flush=True)
            seconds = execute(path, REAL_DIR / path.name)
            print(f" {seconds:.1f} s", flush=True)
    except TutorialError as error:
        failure = error
        print(" failed", flush=True)
    finally:
        print(f"  {clean_up.name} (always) ...", end="", flush=True)
        try:
            seconds = execute(clean_up, REAL_DIR / clean_up.name)
            print(f" {seconds:.1f} s", flush=True)
        except TutorialError as error:
            print(" failed", flush=True)
            raise TutorialError(
                f"{failure or 'The series ran'}; then the clean-up failed too ({error}): delete "
                "what is left by hand (see the clean-up notebook's inventory)."
            ) from None
    if failure is not None:
        raise TutorialError(f"{failure} (the clean-up notebook ran; see {REAL_DIR}/)")
    print(f"The series ran on your accounts and cleaned up. Executed notebooks: {REAL_DIR}/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["run", "save", "real"])
    parser.add_argument("--yes", action="store_true", help="real: do not ask for confirmation")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            run(stack.default_state_dir())
        elif args.command == "real":
            real(args.yes)
        else:
            save()
    except TutorialError as error:
        print(f"\ntutorial: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
