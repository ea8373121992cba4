import pytest

from jeeves.models.metrics import binary_metrics, confusion_at, mean_std, threshold_for_recall

# five messages, three positive, ranked by score
Y = [1, 0, 1, 1, 0]
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5]


def test_threshold_is_the_largest_reaching_the_target_recall():
    # catching all three positives needs the threshold down to 0.6
    assert threshold_for_recall(Y, SCORES, 0.95) == 0.6
    # two of three (0.67) are caught from 0.7 on
    assert threshold_for_recall(Y, SCORES, 0.6) == 0.7
    assert threshold_for_recall(Y, SCORES, 0.3) == 0.9


def test_threshold_with_tied_scores_catches_the_whole_tie():
    assert threshold_for_recall([1, 0, 1], [0.5, 0.5, 0.5], 0.95) == 0.5


@pytest.mark.parametrize("target", [0.0, 1.5, -1])
def test_threshold_refuses_a_target_outside_zero_one(target):
    with pytest.raises(ValueError, match="target recall"):
        threshold_for_recall(Y, SCORES, target)


def test_threshold_needs_a_positive():
    with pytest.raises(ValueError, match="positive"):
        threshold_for_recall([0, 0], [0.1, 0.2], 0.9)


def test_binary_metrics_at_a_threshold():
    # at 0.6 the predictions are 1 1 1 1 0: tp=3 fp=1 fn=0 tn=1
    values = binary_metrics(Y, SCORES, 0.6)
    assert values["precision"] == pytest.approx(3 / 4)
    assert values["recall"] == pytest.approx(1.0)
    assert values["f1"] == pytest.approx(2 * 0.75 / 1.75)
    assert values["accuracy"] == pytest.approx(4 / 5)
    # of the 6 positive-negative pairs, 4 are ranked right (0.8 beats 0.7 and 0.6)
    assert values["roc_auc"] == pytest.approx(4 / 6)
    # precision at each positive: 1/1, 2/3, 3/4
    assert values["pr_auc"] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)


def test_confusion_matrix_rows_are_actual_columns_predicted():
    assert confusion_at(Y, SCORES, 0.7) == [[1, 1], [1, 2]]


def test_mean_std_over_folds():
    folds = [dict.fromkeys(["roc_auc", "pr_auc", "precision", "recall", "f1", "accuracy"], v)
             for v in (0.5, 1.0)]
    summary = mean_std(folds)
    assert summary["roc_auc"] == {"mean": 0.75, "std": 0.25}
    assert set(summary) == {"roc_auc", "pr_auc", "precision", "recall", "f1", "accuracy"}
