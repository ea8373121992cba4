"""Driver side of training on the cluster: the nested CV grid as an MRJob.

``compare_on_cluster`` is a drop-in for ``jeeves.models.training.compare_models``
that runs the grid search as jobs/mr_cross_validate.py on the engine's
runner; models/cluster.py holds the task-side functions (docs/models.md).
"""

import os
import tempfile
import time

import numpy as np
from sklearn.model_selection import ParameterGrid

from jeeves.jobs.mr_cross_validate import MRCrossValidate
from jeeves.models import metrics
from jeeves.models.cluster import (
    TASKS_PER_FILE,
    inner_folds,
    task_lines,
    write_cv_data,
    write_task_files,
)
from jeeves.models.registry import REGISTRY, select_models
from jeeves.models.training import (
    Comparison,
    ModelResult,
    check_labels,
    choose,
    fit_final,
    shared_folds,
)
from jeeves.pipeline.engine import Engine
from jeeves.runjob import MRJOB_CONF, read_json_values


def run_cross_validation(X, y, folds, names, runner="inline", inner_splits=3, seed=0,
                         select_by="pr_auc", tasks_per_file=TASKS_PER_FILE, conf=None,
                         extra_args=(), engine=None):
    """Run jobs/mr_cross_validate.py -> {(model, outer fold): the job's output value}.

    The job runs as the pipeline's jobs do (jeeves.pipeline.engine.Engine.run:
    the runner's driver environment, such as Spark's workers' Python, the
    tasks' code, a failed step as one line): on ``engine``, else on an
    Engine of ``runner`` and mrjob.conf ``conf``. Its output, a few lines,
    is copied to a local directory and read there."""
    if engine is None:
        engine = Engine(runner, conf or MRJOB_CONF, progress=False)
    inner = inner_folds(y, folds, inner_splits, seed)
    with tempfile.TemporaryDirectory(prefix="jeeves-cv-") as tmp:
        data_path = os.path.join(tmp, "cv_data.npz")
        write_cv_data(data_path, X, y, folds, inner)
        task_dir = os.path.join(tmp, "tasks")
        os.mkdir(task_dir)
        inputs = write_task_files(task_lines(names, len(folds), inner_splits), task_dir,
                                  tasks_per_file)
        output = os.path.join(tmp, "output")
        engine.run(MRCrossValidate, inputs, output, [
            "--cv-data", data_path, *metrics.SELECT_BY.job_args(select_by),
            *metrics.SEED.job_args(seed), *extra_args])
        return {(value["model"], value["outer"]): value for value in read_json_values(output)}


def compare_on_cluster(X, y, models=None, runner="inline", n_splits=5, inner_splits=3,
                       seed=0, select_by="pr_auc", target_recall=0.95, n_jobs=1,
                       feature_names=None, tasks_per_file=TASKS_PER_FILE, conf=None,
                       progress=None, engine=None):
    """compare_models with the nested cross-validation run as an MRJob on `runner`.

    A drop-in for compare_models: ``functools.partial(compare_on_cluster,
    runner="emr")`` takes the same arguments (n_jobs is accepted and unused:
    the cluster's tasks are the parallelism) and returns the same Comparison: per-fold
    parameters, held-out scores, thresholds and metrics, the choice, and the
    final estimators fit on the driver. `seconds` is each model's share of
    the job's wall time, split by task count. ``engine``: the pipeline's
    (jeeves.pipeline.engine.Engine: its runner, mrjob.conf and counted
    storage), in place of ``runner`` and ``conf``.
    """
    if select_by not in metrics.SELECTION_METRICS:
        raise ValueError("cannot choose a model by %r (choose from: %s)"
                         % (select_by, ", ".join(metrics.SELECTION_METRICS)))
    metrics.check_target_recall(target_recall)
    names = select_models(models) if models is None or isinstance(models, str) else \
        select_models(",".join(models))
    y = check_labels(y, n_splits)
    folds = shared_folds(y, n_splits, seed)
    started = time.perf_counter()
    fold_values = run_cross_validation(X, y, folds, names, runner, inner_splits, seed,
                                       select_by, tasks_per_file, conf, engine=engine)
    elapsed = time.perf_counter() - started
    grid_sizes = {name: len(ParameterGrid(REGISTRY[name].param_grid)) for name in names}
    results = {}
    for name in names:
        oof_scores = np.zeros(len(y), dtype=float)
        fold_params = []
        for outer in range(len(folds)):
            value = fold_values[(name, outer)]
            fold_params.append(value["params"])
            oof_scores[np.asarray(value["test_indices"], dtype=int)] = value["test_scores"]
        threshold = metrics.threshold_for_recall(y, oof_scores, target_recall)
        results[name] = ModelResult(
            name=name,
            fold_params=fold_params,
            oof_scores=oof_scores,
            threshold=threshold,
            fold_metrics=[metrics.binary_metrics(y[test], oof_scores[test], threshold)
                          for _, test in folds],
            confusion=metrics.confusion_at(y, oof_scores, threshold),
            seconds=elapsed * grid_sizes[name] / sum(grid_sizes.values()),
        )
        if progress is not None:
            progress(results[name])
    chosen = choose(results, select_by)
    for name, result in results.items():
        if name == chosen or REGISTRY[name].linear:
            fit_final(result, X, y, seed, feature_names)
    return Comparison(results=results, chosen=chosen, y=y, folds=folds,
                      select_by=select_by, target_recall=target_recall, seed=seed)
