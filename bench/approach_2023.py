"""The 2023 sample's way, for comparison: the whole table into one pandas DataFrame, then train.

It trains the same two models as the training program, on the same features and split, but fetches
with `to_pandas()` (every row in memory at once) and fits each model on the full frame.
    python bench/approach_2023.py SECRET_NAME
"""

from __future__ import annotations

import sys
import time

import numpy as np
import xgboost
from sklearn.linear_model import LogisticRegression

from sagemaker_snowpark import connection
from sagemaker_snowpark.training import contract, dataset, features
from sagemaker_snowpark.training.memory import limit_malloc_arenas, peak_memory_mb
from sagemaker_snowpark.training.metrics import ScoreCounts


def main(secret_name: str) -> None:
    limit_malloc_arenas()  # the same allocator setting as the training program, to be fair
    started = time.time()
    session = connection.session(secret_name)
    # The training program's defaults: the lesson's physics features on the workshop's columns.
    params = contract.parse_hyperparameters({"table": "MAINTENANCE_HUM"})
    source = features.define(session, params)
    frame = dataset.featurised(source.frame, source.definition, source.columns, 0.25, 123)
    table = frame.to_pandas()  # the whole table, at once
    fetched = time.time()
    held_out = table[dataset.SPLIT].to_numpy(dtype=bool)
    columns = [features.feature_alias(i) for i in range(len(source.definition.features))]
    features_ = table[columns].to_numpy()
    labels = table[dataset.LABEL_ALIAS].to_numpy()
    numeric = [columns[i] for i in source.definition.baseline_indices]  # the six readings
    baseline = LogisticRegression(random_state=123).fit(
        table.loc[~held_out, numeric], labels[~held_out]
    )
    matrix = xgboost.DMatrix(features_[~held_out], label=labels[~held_out])
    booster = xgboost.train(
        {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6, "eta": 0.1},
        matrix,
        num_boost_round=200,
    )
    counts = ScoreCounts()
    counts.add(booster.predict(xgboost.DMatrix(features_[held_out])), labels[held_out])
    baseline_counts = ScoreCounts()
    readings = np.asarray(table.loc[held_out, numeric])
    baseline_counts.add(baseline.predict_proba(readings)[:, 1], labels[held_out])
    print(f"rows={len(table)} fetch_seconds={fetched - started:.1f}")
    print(f"validation:roc_auc={counts.roc_auc():.6f}")
    print(f"baseline:roc_auc={baseline_counts.roc_auc():.6f}")
    session.close()
    print(f"peak_rss_mb={peak_memory_mb():.0f}")


if __name__ == "__main__":
    main(sys.argv[1])
