"""The task side of the model comparison fanned out over a MapReduce cluster.

``scripts/pipeline/cluster_cv.compare_on_cluster`` gives the same result as
``training.compare_models`` (a ``Comparison``) but runs the nested
cross-validation as one MRJob (``jobs/mr_cross_validate.py``): every (model,
parameters, outer fold, inner fold) combination is one task line, fitted and
scored by a mapper with the functions here; reducers average the inner
scores of each candidate, pick the best candidate per (model, outer fold)
the way ``GridSearchCV`` does, refit it on the outer training part and score
the held-out part. The driver then sets thresholds, chooses the model and
fits the final estimators exactly as compare_models. This module imports
nothing from jobs/ or scripts/.

The folds are the driver's, never recomputed on the nodes: the outer
``shared_folds`` and, inside each outer training part, the inner
``StratifiedKFold`` that ``evaluate_model`` gives its ``GridSearchCV``. They
travel with X and y in one ``.npz`` file shipped to the tasks.

The task-side functions here (``load_cv_data``, ``fit_and_score``,
``best_candidate``, ``refit_and_score``) run on the nodes' Python 3.9; the
job ships this package with it.
"""

import json
import os

import numpy as np
import scipy.sparse
from sklearn.metrics import get_scorer
from sklearn.model_selection import ParameterGrid, StratifiedKFold

from jeeves.models.registry import REGISTRY
from jeeves.models.training import (
    SCORERS,
    positive_scores,
)

# how many task lines go into one input file: each file is at least one map
# task on Hadoop/EMR, so 1 gives one fit per map task
TASKS_PER_FILE = 1


class CVData:
    """X, y and the shared folds, as the tasks see them.

    outer_fold[i] is the outer fold whose held-out part holds sample i;
    inner_fold[k][i] is the inner fold (within outer training part k) whose
    held-out part holds sample i, or -1 when i is not in that training part.
    """

    def __init__(self, X, y, outer_fold, inner_fold):
        self.X = X
        self.y = y
        self.outer_fold = outer_fold
        self.inner_fold = inner_fold

    def outer_split(self, outer):
        """(train indices, test indices) of outer fold `outer`."""
        return (np.flatnonzero(self.outer_fold != outer),
                np.flatnonzero(self.outer_fold == outer))

    def inner_split(self, outer, inner):
        """(train, test) indices *within the outer training part*, as GridSearchCV sees them."""
        in_part = self.inner_fold[outer][self.outer_fold != outer]
        return np.flatnonzero(in_part != inner), np.flatnonzero(in_part == inner)


def inner_folds(y, folds, inner_splits=3, seed=0):
    """Per outer fold, the inner StratifiedKFold splits evaluate_model's GridSearchCV uses."""
    inner = StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=seed)
    return [list(inner.split(np.zeros(len(train)), y[train])) for train, _ in folds]


def write_cv_data(path, X, y, folds, inner):
    """Write X (as CSR), y and the folds to one .npz file for the tasks."""
    X = scipy.sparse.csr_matrix(X)
    n = len(y)
    outer_fold = np.full(n, -1, dtype=np.int64)
    inner_fold = np.full((len(folds), n), -1, dtype=np.int64)
    for outer, (train, test) in enumerate(folds):
        outer_fold[test] = outer
        for number, (_, inner_test) in enumerate(inner[outer]):
            inner_fold[outer, train[inner_test]] = number
    np.savez(path, data=X.data, indices=X.indices, indptr=X.indptr,
             shape=np.asarray(X.shape), y=np.asarray(y), outer_fold=outer_fold,
             inner_fold=inner_fold)


def load_cv_data(path):
    """The CVData of a file written by write_cv_data."""
    with np.load(path) as saved:
        X = scipy.sparse.csr_matrix((saved["data"], saved["indices"], saved["indptr"]),
                                    shape=tuple(saved["shape"]))
        return CVData(X, saved["y"], saved["outer_fold"], saved["inner_fold"])


def task_lines(names, n_outer, n_inner):
    """One JSON task per (model, parameters, outer fold, inner fold), in grid order."""
    lines = []
    for name in names:
        for index, params in enumerate(ParameterGrid(REGISTRY[name].param_grid)):
            for outer in range(n_outer):
                for inner in range(n_inner):
                    lines.append(json.dumps({
                        "model": name, "params_index": index, "params": params,
                        "outer": outer, "inner": inner}, sort_keys=True))
    return lines


def _pipeline(data, name, params, seed):
    return REGISTRY[name].make_pipeline(seed, data.X.shape[1]).set_params(**params)


def fit_and_score(data, name, params, outer, inner, select_by="pr_auc", seed=0):
    """Fit one candidate on an inner training part and score it with the selection scorer.

    The same fit and score as one cell of GridSearchCV's cv_results_.
    """
    outer_train, _ = data.outer_split(outer)
    train, test = data.inner_split(outer, inner)
    X_part, y_part = data.X[outer_train], data.y[outer_train]
    estimator = _pipeline(data, name, params, seed).fit(X_part[train], y_part[train])
    return float(get_scorer(SCORERS[select_by])(estimator, X_part[test], y_part[test]))


def mean_score(inner_scores):
    """Mean over the inner folds, given [(inner fold, score)] in any order; NaN if one is NaN."""
    ordered = [score for _, score in sorted(inner_scores)]
    # GridSearchCV averages the splits in split order with np.average
    return float(np.average(np.asarray(ordered, dtype=float)))


def best_candidate(candidates):
    """The best of [(params_index, mean score, params)], as GridSearchCV ranks them.

    Highest mean wins; ties go to the first in grid order; NaN means rank last.
    """
    ordered = sorted(candidates, key=lambda candidate: candidate[0])
    means = np.asarray([mean for _, mean, _ in ordered], dtype=float)
    if np.isnan(means).all():
        return ordered[0]
    means = np.nan_to_num(means, nan=np.nanmin(means) - 1)
    return ordered[int(np.argmax(means))]


def refit_and_score(data, name, params, outer, seed=0):
    """Fit the chosen candidate on the outer training part -> (test indices, test scores)."""
    train, test = data.outer_split(outer)
    estimator = _pipeline(data, name, params, seed).fit(data.X[train], data.y[train])
    return test, positive_scores(estimator, data.X[test])


def write_task_files(lines, directory, tasks_per_file=TASKS_PER_FILE):
    """Split task lines into files of `tasks_per_file` lines -> their paths."""
    paths = []
    for start in range(0, len(lines), tasks_per_file):
        path = os.path.join(directory, "tasks-%05d.jsonl" % len(paths))
        with open(path, "w") as handle:
            handle.write("".join(line + "\n" for line in lines[start:start + tasks_per_file]))
        paths.append(path)
    return paths
