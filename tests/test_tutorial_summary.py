"""What `make tutorial` says of notebook 06's table of your own: the Makefile passes OWN_* to the
notebook as TUTORIAL_OWN_*, and the series runner adds `own_table` to build/tutorial/metrics.json
and to its printed summary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from snowpark_local import series

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)

ROOT = Path(__file__).resolve().parent.parent


def metrics_of(model: str, roc_auc: float | None = 0.91) -> dict:
    scores = {"roc_auc": roc_auc, "pr_auc": 0.5, "f1": 0.25, "confusion_matrix": {}}
    return {
        "table": "OWN_TABLE",
        "feature_set": "columns",
        "label": "Broke Down",
        "id": "part id",
        "rows": {"train": 300, "validation": 100},
        "models": {
            "baseline_logistic_regression": {**scores, "roc_auc": 0.7},
            model: scores,
        },
    }


def keep(folder: Path, metrics: dict, rows_scored: int = 400) -> None:
    """The two files notebook 06 keeps in its artifacts folder."""
    (folder / series.OWN_METRICS).write_text(json.dumps(metrics))
    summary = {"model_version": "snowpark-maintenance-own-1", "rows_scored": rows_scored}
    (folder / series.OWN_SUMMARY).write_text(json.dumps({**summary, "flagged": 9}))


def test_own_table_is_notebook_06_s_table_label_metrics_and_rows_scored(tmp_path):
    assert series.own_table(tmp_path) is None  # notebook 06 did not run
    keep(tmp_path, metrics_of("xgboost_table_columns"))
    assert series.own_table(tmp_path) == {
        "table": "OWN_TABLE",
        "label": "Broke Down",
        "roc_auc": 0.91,
        "pr_auc": 0.5,
        "f1": 0.25,
        "baseline_roc_auc": 0.7,
        "rows_scored": 400,
    }
    # On the physics features (a table with the workshop's columns), the same entry.
    keep(tmp_path, metrics_of("xgboost_physics_features", roc_auc=0.88))
    assert series.own_table(tmp_path)["roc_auc"] == 0.88
    (tmp_path / series.OWN_SUMMARY).unlink()  # the scoring job did not finish: nothing to report
    assert series.own_table(tmp_path) is None


def test_own_table_goes_into_metrics_json_beside_notebook_04_s_models(tmp_path):
    assert series.add_own_table(tmp_path) is None
    assert not (tmp_path / "metrics.json").exists()  # nothing written without notebook 06
    notebook_04 = {"models": {"xgboost_physics_features": {"roc_auc": 0.88}}, "rows": {}}
    (tmp_path / "metrics.json").write_text(json.dumps(notebook_04))
    keep(tmp_path, metrics_of("xgboost_table_columns"), rows_scored=1234)
    own = series.add_own_table(tmp_path)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written == {**notebook_04, "own_table": own}
    assert written["own_table"]["rows_scored"] == 1234


def test_the_printed_summary_names_the_table_its_metrics_and_rows_scored(tmp_path):
    assert series._own_table_summary(None) == []
    keep(tmp_path, metrics_of("xgboost_table_columns", roc_auc=None), rows_scored=12345)
    assert series._own_table_summary(series.own_table(tmp_path)) == [
        "",
        "Your own table (notebook 06): OWN_TABLE, label Broke Down",
        "  XGBoost roc_auc none, pr_auc 0.5000, f1 0.2500; baseline roc_auc 0.7000",
        "  rows scored 12,345",
    ]
    # A metrics.json with own_table alone (notebook 04 left none) prints no model table.
    (tmp_path / "metrics.json").write_text(json.dumps({"own_table": {}}))
    assert series._metrics_summary(tmp_path / "metrics.json") == []


def make_tutorial(*variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-n", "tutorial", *variables], cwd=ROOT, capture_output=True, text=True
    )


def test_make_tutorial_passes_own_csv_as_an_absolute_path_and_the_names_quoted():
    result = make_tutorial("OWN_CSV=data/mine.csv", "OWN_LABEL=Broke Down", "OWN_ID=part id")
    command = next(line for line in result.stdout.splitlines() if "series run" in line)
    assert f"TUTORIAL_OWN_CSV='{ROOT / 'data' / 'mine.csv'}'" in command
    assert "TUTORIAL_OWN_LABEL='Broke Down'" in command
    assert "TUTORIAL_OWN_ID='part id'" in command
    assert "TUTORIAL_OWN_TABLE" not in command  # the notebook's default, OWN_TABLE
    plain = make_tutorial()
    assert "TUTORIAL_OWN" not in plain.stdout  # plain make tutorial: notebook 06 on the workshop's
    missing = make_tutorial("OWN_CSV=/data/mine.csv")
    assert missing.returncode != 0
    assert "OWN_CSV=/data/mine.csv needs OWN_LABEL=<the column to predict>" in missing.stderr
