"""Compare classifiers with nested cross-validation, choose one, and set its threshold.

Every model is evaluated on the same outer ``StratifiedKFold`` folds (fixed
seed). Inside each outer training part a ``GridSearchCV`` (inner stratified
folds, same seed) picks the model's parameters by the selection metric; the
tuned model then scores the outer held-out part. The pooled held-out
("out-of-fold") scores give each model's decision threshold: the largest
one reaching the target recall. Per-fold ROC AUC and PR AUC, and precision,
recall, F1 and accuracy at that threshold, are reported as mean and std.

The chosen model is the one with the best mean selection metric (PR AUC by
default, ROC AUC as an option; never accuracy). Its final estimator uses the
parameters the inner searches chose most often and is fit on all the
labelled data; the linear models are fit the same way so that their top
features can be reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from threadpoolctl import threadpool_limits

from jeeves.models import metrics
from jeeves.models.documents import Documents
from jeeves.models.email_features import feature_names as email_feature_names
from jeeves.models.registry import (  # noqa: F401 (SettingError, TrainingSettings: their old home)
    REGISTRY,
    SettingError,
    TrainingSettings,
    linear_feature_weights,
    select_models,
)

# how many top positive and top negative features the report lists
TOP_FEATURES = 20
# sklearn scorer names of the selection metrics
SCORERS = {"pr_auc": "average_precision", "roc_auc": "roc_auc"}


# Below this many labelled messages a grid search is over before worker
# processes would have started: n_jobs=0 then means one process.
PARALLEL_MIN_SAMPLES = 2000


def resolve_n_jobs(n_jobs, n_samples):
    """The processes training uses: ``n_jobs`` when given (1 or more); for 0,
    every core of the machine once there are PARALLEL_MIN_SAMPLES samples,
    else one. Results do not depend on it (each fit is seeded)."""
    if n_jobs:
        return n_jobs
    return (os.cpu_count() or 1) if n_samples >= PARALLEL_MIN_SAMPLES else 1


@dataclass
class ModelResult:
    """One model's cross-validated evaluation (and final fit, when made)."""

    name: str
    fold_params: list  # the inner search's best parameters, per outer fold
    oof_scores: np.ndarray  # held-out score of every sample
    threshold: float
    fold_metrics: list  # metrics.binary_metrics per outer fold, at `threshold`
    confusion: list  # [[tn, fp], [fn, tp]] of the pooled held-out scores at `threshold`
    seconds: float
    estimator: object = None  # fitted on all data with `final_params`
    final_params: dict = field(default_factory=dict)
    top_features: dict = None  # {"positive": [(name, weight)], "negative": [...]}

    @property
    def cv(self):
        """{metric: {"mean", "std"}} over the outer folds."""
        return metrics.mean_std(self.fold_metrics)


@dataclass
class Comparison:
    """The outcome of compare_models: every model's result and the choice."""

    results: dict  # name -> ModelResult, in comparison order
    chosen: str
    y: np.ndarray
    folds: list  # [(train_indices, test_indices)] shared by every model
    select_by: str
    target_recall: float
    seed: int

    @property
    def chosen_result(self):
        return self.results[self.chosen]

    def summary(self):
        """A JSON-ready dict: per-model CV metrics (mean, std), the chosen model and threshold."""
        models = {}
        for name, result in self.results.items():
            models[name] = {
                "cv": result.cv,
                "threshold": result.threshold,
                "confusion": result.confusion,
                "fold_params": [_jsonable(params) for params in result.fold_params],
                "final_params": _jsonable(result.final_params),
                "seconds": round(result.seconds, 3),
            }
        return {
            "chosen_model": self.chosen,
            "threshold": self.chosen_result.threshold,
            "select_by": self.select_by,
            "target_recall": self.target_recall,
            "n_splits": len(self.folds),
            "seed": self.seed,
            "samples": int(len(self.y)),
            "positives": int(self.y.sum()),
            "models": models,
        }


def _jsonable(params):
    return {key: value.item() if isinstance(value, np.generic) else value
            for key, value in params.items()}


def positive_scores(estimator, X):
    """Scores for class 1: predict_proba when the estimator has it, else decision_function."""
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)[:, 1]
    return estimator.decision_function(X)


def check_labels(y, n_splits):
    """Raise ValueError unless y is 0/1 with at least n_splits samples of each class."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be a 1-d array of 0 and 1")
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if min(positives, negatives) < n_splits:
        raise ValueError(
            "%d-fold cross-validation needs at least %d positive and %d negative "
            "labelled messages; got %d positive and %d negative"
            % (n_splits, n_splits, n_splits, positives, negatives))
    return y.astype(int)


def shared_folds(y, n_splits=5, seed=0):
    """The outer StratifiedKFold folds, as a list of (train, test) index arrays."""
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def _most_common_params(fold_params):
    """The parameter set chosen in most folds; ties go to the earliest fold's choice."""
    keys = [tuple(sorted(params.items(), key=lambda item: item[0])) for params in fold_params]
    counts = Counter(keys)
    best = max(keys, key=lambda key: (counts[key], -keys.index(key)))
    return dict(best)


def model_spec(name, specs=None):
    """The ModelSpec of `name`: from `specs` (e.g. registry.email_model_spec()), else REGISTRY."""
    return (specs or {}).get(name) or REGISTRY[name]


def model_input(spec, X):
    """What `spec`'s pipeline takes: Documents as they are for an email model, else the
    tf-idf matrix (of Documents, or X itself)."""
    if not spec.documents and isinstance(X, Documents):
        return X.tfidf
    return X


def _encode_param(value):
    """A grid value as JSON, tuples tagged so they come back as tuples."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, tuple):
        return {"tuple": [_encode_param(item) for item in value]}
    if isinstance(value, list):
        return [_encode_param(item) for item in value]
    if isinstance(value, dict):
        return {"dict": {key: _encode_param(item) for key, item in value.items()}}
    return value


def _decode_param(value):
    if isinstance(value, list):
        return [_decode_param(item) for item in value]
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(_decode_param(item) for item in value["tuple"])
        return {key: _decode_param(item) for key, item in value["dict"].items()}
    return value


def _same(a, b):
    """Equal values of the same types, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    return a == b


class FoldCheckpoints:
    """What the outer folds already evaluated leave behind, so that a killed
    training run, run again, evaluates only the folds it had not finished.

    ``store`` holds named blobs: ``get(name) -> bytes or None`` and
    ``put(name, data)`` (jeeves.pipeline.train keeps them beside the stage's
    output, through its Storage; whoever owns the store clears it when the
    inputs or options change). An entry is one fold of one model: the inner
    search's best parameters and the outer held-out scores, as JSON (floats
    written by ``repr``, which reads back to the same double). It is used
    only when everything it follows from matches: the model, the fold's
    index and count, the inner folds, seed and selection metric, and a
    sha256 of the fold's training and test indices and labels. A fold whose
    parameters do not survive JSON exactly is not checkpointed."""

    FORMAT = 1

    def __init__(self, store):
        self.store = store
        self.restored = 0

    @staticmethod
    def _key(name, index, n_folds, inner_splits, seed, select_by, train, test, y):
        digest = hashlib.sha256()
        for part in (np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64),
                     np.asarray(y, dtype=np.int64)):
            digest.update(part.tobytes())
            digest.update(b"|")
        return {"format": FoldCheckpoints.FORMAT, "model": name, "fold": index,
                "folds": n_folds, "inner_splits": inner_splits, "seed": seed,
                "select_by": select_by, "indices": digest.hexdigest()}

    @staticmethod
    def _name(name, index):
        return "%s-fold%d.json" % (name, index)

    def load(self, name, index, key, n_test):
        """(best params, held-out scores) of a matching entry, else None."""
        data = self.store.get(self._name(name, index))
        if data is None:
            return None
        try:
            entry = json.loads(data)
            if entry.get("key") != key or len(entry["scores"]) != n_test:
                return None
            params = _decode_param({"dict": entry["params"]})
            scores = np.asarray(entry["scores"], dtype=float)
        except (ValueError, KeyError, TypeError):
            return None
        self.restored += 1
        return params, scores

    def save(self, name, index, key, params, scores):
        encoded = _encode_param(dict(params))["dict"]
        if not _same(_decode_param({"dict": json.loads(json.dumps(encoded))}),
                     {key_: (value.item() if isinstance(value, np.generic) else value)
                      for key_, value in params.items()}):
            return
        entry = {"key": key, "params": encoded, "scores": [float(v) for v in scores]}
        self.store.put(self._name(name, index), json.dumps(entry).encode("utf-8"))


def evaluate_model(name, X, y, folds, select_by="pr_auc", target_recall=0.95,
                   inner_splits=3, seed=0, n_jobs=1, specs=None, checkpoints=None):
    """Nested cross-validation of one registry model on the given outer folds -> ModelResult.

    X is a (sparse) matrix, or jeeves.models.email_features.Documents for the
    email models; `specs` maps extra model names to their ModelSpec.
    `checkpoints` (FoldCheckpoints): folds evaluated by an earlier,
    interrupted run are read back instead of fitted again, and each fold
    evaluated here is saved; the result is the same either way.
    """
    spec = model_spec(name, specs)
    X = model_input(spec, X)
    started = time.perf_counter()
    oof_scores = np.zeros(len(y), dtype=float)
    fold_params = []
    for index, (train, test) in enumerate(folds):
        key = None
        if checkpoints is not None:
            key = FoldCheckpoints._key(name, index, len(folds), inner_splits, seed, select_by,
                                       train, test, y)
            restored = checkpoints.load(name, index, key, len(test))
            if restored is not None:
                fold_params.append(restored[0])
                oof_scores[test] = restored[1]
                continue
        inner = StratifiedKFold(n_splits=inner_splits, shuffle=True, random_state=seed)
        search = GridSearchCV(spec.make_pipeline(seed, X.shape[1]), spec.param_grid,
                              scoring=SCORERS[select_by], cv=inner, n_jobs=n_jobs)
        search.fit(X[train], y[train])
        fold_params.append(search.best_params_)
        oof_scores[test] = positive_scores(search.best_estimator_, X[test])
        if checkpoints is not None:
            checkpoints.save(name, index, key, search.best_params_, oof_scores[test])
    threshold = metrics.threshold_for_recall(y, oof_scores, target_recall)
    fold_metrics = [metrics.binary_metrics(y[test], oof_scores[test], threshold)
                    for _, test in folds]
    return ModelResult(
        name=name,
        fold_params=fold_params,
        oof_scores=oof_scores,
        threshold=threshold,
        fold_metrics=fold_metrics,
        confusion=metrics.confusion_at(y, oof_scores, threshold),
        seconds=time.perf_counter() - started,
    )


def fit_final(result, X, y, seed=0, feature_names=None, specs=None):
    """Fit `result`'s model on all data with its most chosen parameters; set top features.

    For an email pipeline the tf-idf columns take `feature_names` and the
    other groups their ``group:feature`` names.
    """
    spec = model_spec(result.name, specs)
    X = model_input(spec, X)
    result.final_params = _most_common_params(result.fold_params)
    estimator = spec.make_pipeline(seed, X.shape[1]).set_params(**result.final_params)
    result.estimator = estimator.fit(X, y)
    weights = linear_feature_weights(result.estimator) if spec.linear else None
    if weights is not None:
        if "features" in result.estimator.named_steps:
            feature_names = email_feature_names(result.estimator, feature_names)
        result.top_features = top_features(weights, feature_names)
    return result


def top_features(weights, feature_names=None, count=TOP_FEATURES):
    """The `count` most positive and most negative features: {"positive"|"negative": [(name, w)]}.

    Names default to "f<index>". Ties in weight go to the lower feature index.
    """
    weights = np.asarray(weights, dtype=float)
    if feature_names is None:
        feature_names = ["f%d" % index for index in range(len(weights))]
    # a stable sort keeps ties in index order
    ascending = np.argsort(weights, kind="stable")
    descending = np.argsort(-weights, kind="stable")

    def named(indices, keep):
        return [(str(feature_names[i]), float(weights[i])) for i in indices[:count] if keep(i)]

    return {
        "positive": named(descending, lambda i: weights[i] > 0),
        "negative": named(ascending, lambda i: weights[i] < 0),
    }


def choose(results, select_by="pr_auc"):
    """The name of the result with the best mean `select_by` metric (first one on ties)."""
    if select_by not in metrics.SELECTION_METRICS:
        raise ValueError("cannot choose a model by %r (choose from: %s)"
                         % (select_by, ", ".join(metrics.SELECTION_METRICS)))
    best_name, best_value = None, -np.inf
    for name, result in results.items():
        value = result.cv[select_by]["mean"]
        if value > best_value:
            best_name, best_value = name, value
    return best_name


def compare_models(X, y, models=None, n_splits=5, inner_splits=3, seed=0,
                   select_by="pr_auc", target_recall=0.95, n_jobs=0,
                   feature_names=None, progress=None, specs=None, checkpoints=None):
    """Evaluate `models` (names, or a select_models() choice string) on shared folds.

    X is a (sparse) feature matrix, or jeeves.models.email_features.Documents when
    the models include email pipelines, y 0/1 labels. `specs` maps extra
    model names (not in REGISTRY) to their ModelSpec, e.g.
    ``{spec.name: spec}`` for ``spec = registry.email_model_spec(...)``;
    they are named in `models` like any other. n_jobs is the number of
    CPUs training may use (grid-search processes, and BLAS/OpenMP threads;
    0: resolve_n_jobs's choice).
    `progress`, when given, is called with each finished ModelResult.
    `checkpoints` (FoldCheckpoints, optional) keeps each model's evaluated
    outer folds, so a run killed while it trains resumes from them.
    Returns a Comparison whose chosen model (and every linear model) is fit
    on all data.
    """
    if select_by not in metrics.SELECTION_METRICS:
        raise ValueError("cannot choose a model by %r (choose from: %s)"
                         % (select_by, ", ".join(metrics.SELECTION_METRICS)))
    metrics.check_target_recall(target_recall)
    names = select_models(models, extra=specs) if models is None or isinstance(models, str) \
        else select_models(",".join(models), extra=specs)
    y = check_labels(y, n_splits)
    n_jobs = resolve_n_jobs(n_jobs, len(y))
    folds = shared_folds(y, n_splits, seed)
    results = {}
    # BLAS and OpenMP threads beyond n_jobs oversubscribe a shared machine;
    # spinning OpenMP threads made HistGradientBoosting 25 times slower here
    with threadpool_limits(limits=n_jobs):
        for name in names:
            results[name] = evaluate_model(name, X, y, folds, select_by, target_recall,
                                           inner_splits, seed, n_jobs, specs, checkpoints)
            if progress is not None:
                progress(results[name])
        chosen = choose(results, select_by)
        for name, result in results.items():
            if name == chosen or model_spec(name, specs).linear:
                fit_final(result, X, y, seed, feature_names, specs)
    return Comparison(results=results, chosen=chosen, y=y, folds=folds,
                      select_by=select_by, target_recall=target_recall, seed=seed)
