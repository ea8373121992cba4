"""The cluster grid search chooses what GridSearchCV chooses, on the same folds."""

import json
import os
import tempfile

import numpy as np
import pytest
import scipy.sparse
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

from jeeves.jobs.mr_cross_validate import MRCrossValidate
from jeeves.models import cluster
from jeeves.models.registry import REGISTRY
from jeeves.models.training import compare_models, shared_folds
from jeeves.pipeline import cluster_cv
from tests.helpers import run_both, run_job

MODELS = ["logistic_regression", "multinomial_nb"]
N_SPLITS, INNER_SPLITS, SEED = 3, 2, 0


@pytest.fixture(scope="module")
def dataset():
    X, y = make_classification(n_samples=90, n_features=12, n_informative=5,
                               weights=[0.7], random_state=3)
    # non-negative, sparse: what tf-idf looks like to the naive Bayes models
    return scipy.sparse.csr_matrix(np.abs(X)), y


@pytest.fixture(scope="module")
def data_file(dataset, tmp_path_factory):
    X, y = dataset
    folds = shared_folds(y, N_SPLITS, SEED)
    path = tmp_path_factory.mktemp("cv") / "cv_data.npz"
    cluster.write_cv_data(path, X, y, folds, cluster.inner_folds(y, folds, INNER_SPLITS, SEED))
    return str(path), folds


def job_args(path):
    return ["--cv-data", path, "--seed", str(SEED)]


def test_empty_input_gives_no_output(data_file):
    assert run_both(MRCrossValidate, [b""], job_args(data_file[0])) == []


def test_bad_and_unknown_task_lines_are_skipped(data_file):
    lines = ["not json", json.dumps({"model": "no_such_model", "params": {}, "outer": 0,
                                     "inner": 0, "params_index": 0})]
    assert run_job(MRCrossValidate, [lines], job_args(data_file[0])) == []


def test_choice_per_outer_fold_equals_grid_search(dataset, data_file):
    X, y = dataset
    path, folds = data_file
    lines = cluster.task_lines(MODELS, N_SPLITS, INNER_SPLITS)
    output = [value for _, value in run_both(MRCrossValidate, [lines], job_args(path))]
    assert len(output) == len(MODELS) * N_SPLITS
    by_key = {(value["model"], value["outer"]): value for value in output}
    for name in MODELS:
        for outer, (train, test) in enumerate(folds):
            inner = cluster.inner_folds(y, folds, INNER_SPLITS, SEED)[outer]
            search = GridSearchCV(REGISTRY[name].make_pipeline(SEED, X.shape[1]),
                                  REGISTRY[name].param_grid, scoring="average_precision",
                                  cv=inner).fit(X[train], y[train])
            value = by_key[(name, outer)]
            assert value["params"] == search.best_params_
            assert value["params_index"] == search.best_index_
            assert value["best_score"] == search.best_score_
            assert value["candidate_scores"] == list(search.cv_results_["mean_test_score"])
            assert value["test_indices"] == list(test)
            np.testing.assert_allclose(
                value["test_scores"], search.best_estimator_.predict_proba(X[test])[:, 1])


def test_ties_go_to_the_first_candidate_in_grid_order():
    assert cluster.best_candidate([(2, 0.9, "c"), (0, 0.5, "a"), (1, 0.9, "b")])[0] == 1
    assert cluster.best_candidate([(0, float("nan"), "a"), (1, 0.1, "b")])[0] == 1
    assert cluster.mean_score([(1, 0.5), (0, 0.25)]) == 0.375


@pytest.mark.parametrize("runner", ["inline", "local"])
def test_compare_on_cluster_equals_compare_models(dataset, runner):
    X, y = dataset
    local = compare_models(X, y, models=MODELS, n_splits=N_SPLITS, inner_splits=INNER_SPLITS,
                           seed=SEED, target_recall=0.9)
    remote = cluster_cv.compare_on_cluster(X, y, models=MODELS, runner=runner, n_splits=N_SPLITS,
                                        inner_splits=INNER_SPLITS, seed=SEED, target_recall=0.9,
                                        tasks_per_file=18)
    assert remote.chosen == local.chosen
    for name in MODELS:
        assert remote.results[name].fold_params == local.results[name].fold_params
        np.testing.assert_allclose(remote.results[name].oof_scores,
                                   local.results[name].oof_scores)
        assert remote.results[name].threshold == pytest.approx(local.results[name].threshold)
    summary, expected = remote.summary(), local.summary()
    for name in MODELS:
        assert summary["models"][name]["final_params"] == expected["models"][name]["final_params"]
        for metric, stats in expected["models"][name]["cv"].items():
            assert summary["models"][name]["cv"][metric] == pytest.approx(stats), metric


def test_task_files_hold_every_line_once():
    lines = cluster.task_lines(MODELS, N_SPLITS, INNER_SPLITS)
    # both grids have one parameter: the candidates are its values
    grid = sum(len(values) for name in MODELS for values in REGISTRY[name].param_grid.values())
    assert len(lines) == grid * N_SPLITS * INNER_SPLITS
    with tempfile.TemporaryDirectory() as tmp:
        paths = cluster.write_task_files(lines, tmp, tasks_per_file=4)
        written = [line.rstrip("\n") for path in paths for line in open(path)]
        assert written == lines
        assert len(paths) == -(-len(lines) // 4)
        assert all(os.path.getsize(path) for path in paths)
