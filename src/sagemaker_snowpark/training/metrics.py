"""Classification metrics from streamed predictions, in memory that does not grow with the data.

Scores are counted into a fine histogram per class (10,000 bins on [0, 1]); ROC AUC, PR AUC
(average precision) and the curves come from the cumulative counts, and the confusion matrix at
the threshold is counted exactly. Histograms add up, so hosts of a multi-host job sum theirs.
A metric the validation rows cannot define (ROC AUC without both classes, PR AUC without a
failure) is None, which JSON writes as null: never NaN, which JSON cannot hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BINS = 10_000


@dataclass
class ScoreCounts:
    threshold: float = 0.5
    positives: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.float64))
    negatives: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.float64))
    confusion: np.ndarray = field(default_factory=lambda: np.zeros(4, dtype=np.float64))

    def add(self, scores: np.ndarray, labels: np.ndarray) -> None:
        scores = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
        labels = np.asarray(labels).astype(bool)
        index = np.minimum((scores * BINS).astype(np.int64), BINS - 1)
        self.positives += np.bincount(index[labels], minlength=BINS)
        self.negatives += np.bincount(index[~labels], minlength=BINS)
        predicted = scores >= self.threshold
        self.confusion += [
            np.sum(~predicted & ~labels),  # true negatives
            np.sum(predicted & ~labels),  # false positives
            np.sum(~predicted & labels),  # false negatives
            np.sum(predicted & labels),  # true positives
        ]

    def as_vector(self) -> np.ndarray:
        """Everything, in one array: what hosts sum with an allreduce."""
        return np.concatenate([self.positives, self.negatives, self.confusion])

    def replace_with(self, vector: np.ndarray) -> None:
        self.positives = vector[:BINS].copy()
        self.negatives = vector[BINS : 2 * BINS].copy()
        self.confusion = vector[2 * BINS :].copy()

    def _cumulative(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        # From the highest score down: true and false positives above each cut.
        true_positive = np.concatenate([[0.0], np.cumsum(self.positives[::-1])])
        false_positive = np.concatenate([[0.0], np.cumsum(self.negatives[::-1])])
        return true_positive, false_positive, true_positive[-1], false_positive[-1]

    def roc_auc(self) -> float | None:
        tp, fp, positives, negatives = self._cumulative()
        if positives == 0 or negatives == 0:
            return None
        # Trapezoids: a tie inside one bin counts half, as the exact ROC AUC does for equal scores.
        return float(np.trapezoid(tp / positives, fp / negatives))

    def pr_auc(self) -> float | None:
        """Average precision: precision at each cut, weighted by the recall it adds."""
        tp, fp, positives, _ = self._cumulative()
        if positives == 0:
            return None
        gained = np.diff(tp) > 0
        precision = tp[1:][gained] / (tp[1:][gained] + fp[1:][gained])
        return float(np.sum(precision * np.diff(tp)[gained]) / positives)

    def class_counts(self) -> tuple[int, int]:
        """Failures and non-failures among the scored rows."""
        return int(self.positives.sum()), int(self.negatives.sum())

    def confusion_matrix(self) -> dict[str, int]:
        tn, fp, fn, tp = (int(v) for v in self.confusion)
        return {"tn": tn, "fp": fp, "fn": fn, "tp": tp}

    def f1(self) -> float:
        c = self.confusion_matrix()
        denominator = 2 * c["tp"] + c["fp"] + c["fn"]
        return 2 * c["tp"] / denominator if denominator else 0.0

    def curves(self, points: int = 200) -> dict[str, dict[str, list[float]]]:
        """ROC and precision-recall curves, thinned to about `points` points for plotting."""
        tp, fp, positives, negatives = self._cumulative()
        keep = np.unique(np.linspace(0, BINS, points).astype(int))
        recall = tp[keep] / positives if positives else np.zeros(len(keep))
        fpr = fp[keep] / negatives if negatives else np.zeros(len(keep))
        predicted = tp[keep] + fp[keep]
        precision = np.divide(tp[keep], predicted, out=np.ones(len(keep)), where=predicted > 0)
        return {
            "roc": {"fpr": _rounded(fpr), "tpr": _rounded(recall)},
            "pr": {"recall": _rounded(recall), "precision": _rounded(precision)},
        }

    def summary(self) -> dict:
        return {
            "roc_auc": self.roc_auc(),
            "pr_auc": self.pr_auc(),
            "f1": self.f1(),
            "threshold": self.threshold,
            "confusion_matrix": self.confusion_matrix(),
            "rows": int(self.positives.sum() + self.negatives.sum()),
        }


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in values]
