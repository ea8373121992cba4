"""Binary classification metrics and the recall-targeted decision threshold.

Scores are "higher means more likely positive" (a probability or a decision
value). Ranking quality is measured by ROC AUC and PR AUC (average
precision); precision, recall, F1, accuracy and the confusion matrix are
measured at a threshold: a message is predicted positive when its score is
``>= threshold``. Accuracy is reported for completeness only: on imbalanced
mail it says little, so nothing in `models/` uses it to choose.
"""

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from jeeves.models.defaults import (  # noqa: F401
    SEED,
    SELECT_BY,
    SELECTION_METRICS,
    check_target_recall,
)

# metrics computed per cross-validation fold, in report order
FOLD_METRICS = ("roc_auc", "pr_auc", "precision", "recall", "f1", "accuracy")


def threshold_for_recall(y_true, scores, target_recall):
    """The largest score threshold whose recall on (y_true, scores) is >= target_recall.

    Missing a positive costs more than a false alarm, so the threshold is
    lowered until the target share of positives is caught, and no further.
    """
    check_target_recall(target_recall)
    y_true = np.asarray(y_true)
    if not y_true.any():
        raise ValueError("cannot set a threshold for recall without positive examples")
    _, recall, thresholds = precision_recall_curve(y_true, scores)
    # precision_recall_curve gives one more recall value than thresholds (the
    # final recall=0 point has no threshold); recall falls as thresholds rise
    reaching = thresholds[recall[:-1] >= target_recall]
    return float(reaching.max())


def predict_at(scores, threshold):
    """0/1 predictions: positive when the score is at or above the threshold."""
    return (np.asarray(scores) >= threshold).astype(int)


def binary_metrics(y_true, scores, threshold):
    """ROC AUC, PR AUC, and precision, recall, F1, accuracy at `threshold`.

    Returns a dict of floats keyed by FOLD_METRICS.
    """
    predicted = predict_at(scores, threshold)
    return {
        "roc_auc": float(roc_auc_score(y_true, scores)),
        "pr_auc": float(average_precision_score(y_true, scores)),
        "precision": float(precision_score(y_true, predicted, zero_division=0)),
        "recall": float(recall_score(y_true, predicted, zero_division=0)),
        "f1": float(f1_score(y_true, predicted, zero_division=0)),
        "accuracy": float(accuracy_score(y_true, predicted)),
    }


def confusion_at(y_true, scores, threshold):
    """The 2x2 confusion matrix [[tn, fp], [fn, tp]] at `threshold`, as nested lists."""
    predicted = predict_at(scores, threshold)
    return confusion_matrix(y_true, predicted, labels=[0, 1]).tolist()


def mean_std(fold_metrics):
    """{metric: {"mean": m, "std": s}} over a list of per-fold metric dicts."""
    summary = {}
    for name in FOLD_METRICS:
        values = np.array([fold[name] for fold in fold_metrics], dtype=float)
        summary[name] = {"mean": float(values.mean()), "std": float(values.std())}
    return summary
