"""``--train-on-cluster``'s grid search on Hadoop and Spark: the inline choice.

jeeves.pipeline.cluster_cv.run_cross_validation runs
jobs/mr_cross_validate.py (two steps: every (model, outer fold, inner fold,
parameters) fit in the map tasks, the means and the refit of the best in
the reducers) through an Engine, as the pipeline runs its jobs, on one
small sparse, non-negative matrix (what tf-idf looks like to the naive
Bayes model): inline, on the local Hadoop cluster and on Spark
(``local[2]``).

- Each (model, outer fold) gets the same parameters, candidate means and
  held-out scores on every runner, floats within 1e-9. (On Spark the job
  once ran without the Engine's driver environment, and its workers'
  ``python3`` was not the project's: no numpy.)
- The job's output lines on Hadoop are its JSON values as they are. Its
  last step writes values without keys; Hadoop streaming reads such a
  line as a key with an empty value and would write it back with a tab
  after it (the step asks for ``keyonlytext``,
  jobs.WHOLE_LINE_REDUCER_OUTPUT_JOBCONF).

Two Hadoop jobs, about half a minute; one Spark application.
"""

import numpy as np
import pytest
import scipy.sparse
from sklearn.datasets import make_classification

from jeeves.features.parts import part_files
from jeeves.models.training import shared_folds
from jeeves.pipeline import cluster_cv
from jeeves.runjob import read_json_values
from tests.engines.runners import assert_same_records

pytestmark = pytest.mark.slow

MODELS = ["logistic_regression", "multinomial_nb"]
N_SPLITS, INNER_SPLITS = 3, 2
# the 36 fits in three input files, three map tasks (one a file by default:
# 36 containers on the one-node cluster)
TASKS_PER_FILE = 12


def recorded_output(monkeypatch):
    """The lines of the job's output, as the driver copied them, recorded into
    a list when run_cross_validation reads them."""
    lines = []

    def reading(output_dir):
        for path in part_files(output_dir):
            with open(path, "rb") as handle:
                lines.extend(handle.read().splitlines())
        return read_json_values(output_dir)

    monkeypatch.setattr(cluster_cv, "read_json_values", reading)
    return lines


@pytest.fixture(scope="module")
def problem():
    """(X, y, folds) and the inline run's output."""
    X, y = make_classification(n_samples=60, n_features=8, n_informative=4, weights=[0.7],
                               random_state=5)
    X = scipy.sparse.csr_matrix(np.abs(X))
    folds = shared_folds(y, N_SPLITS, 0)
    inline = cluster_cv.run_cross_validation(X, y, folds, MODELS, runner="inline",
                                             inner_splits=INNER_SPLITS,
                                             tasks_per_file=TASKS_PER_FILE)
    assert len(inline) == len(MODELS) * N_SPLITS
    return X, y, folds, inline


def run_on(runner, problem):
    X, y, folds, inline = problem
    output = cluster_cv.run_cross_validation(X, y, folds, MODELS, runner=runner,
                                             inner_splits=INNER_SPLITS,
                                             tasks_per_file=TASKS_PER_FILE)
    assert sorted(inline) == sorted(output)
    assert_same_records(sorted(inline.items()), sorted(output.items()))


def test_cross_validation_on_spark_equals_inline(spark, problem):
    run_on("spark", problem)


def test_cross_validation_on_hadoop_equals_inline(hadoop_cluster, problem, monkeypatch):
    lines = recorded_output(monkeypatch)
    run_on("hadoop", problem)
    assert len(lines) == len(MODELS) * N_SPLITS
    assert all(line.startswith(b"{") and line.endswith(b"}") for line in lines), lines[0][-40:]
