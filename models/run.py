"""One call from the jobs' feature output to the report and the model bundle.

``train_and_bundle`` is what `jeeves run` does after the MapReduce stages:
compare the models on the labelled vectors, write ``report/`` and ``model/``
under a local directory, and return the part of ``summary.json`` that
concerns training. ``train_from_features`` does the same from a local
``features/`` directory (``vocabulary.tsv`` and ``tfidf/``) and a labels dict.
The settings travel whole (jeeves.models.training.TrainingSettings), the
inputs grouped: the labelled rows, the feature space the bundle records,
the email records, the report's extras.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp

from jeeves.features.vocabulary import read_vocabulary_by_id
from jeeves.models.ablation import ablate
from jeeves.models.bundle import save_bundle
from jeeves.models.documents import Documents
from jeeves.models.email_features import (
    check_groups,
    feature_names,
    row_contributions,
    top_contributions,
)
from jeeves.models.metrics import binary_metrics
from jeeves.models.registry import EMAIL_MODEL, email_model_spec, linear_feature_weights
from jeeves.models.report import error_examples, write_report
from jeeves.models.training import (
    TrainingSettings,
    compare_models,
    model_input,
    model_spec,
    positive_scores,
)
from jeeves.models.vectors import join_labels, load_vectors

# the contributions listed per example message in the report
EXPLAINED_FEATURES = 5


@dataclass(frozen=True)
class LabelledVectors:
    """The labelled tf-idf rows: `X` (sparse), `y` (0/1) and each row's message id."""

    X: object
    y: object
    message_ids: Sequence[str]


@dataclass(frozen=True)
class FeatureSpace:
    """What the rows were built with, stored in the bundle so prediction builds the
    same vectors: the vocabulary's terms (by feature id) and its file (its
    path, or vocabulary.tsv's bytes when the caller holds them: the train
    stage), the analyzer config and the tf-idf settings (`vectors`:
    sublinear_tf, norm, hash_features)."""

    terms: Sequence[str]
    vocabulary_path: Union[str, bytes]
    analyzer_config: dict
    vectors: Optional[dict] = None


@dataclass(frozen=True)
class ReportInputs:
    """What the report shows besides the comparison: paragraphs of `notes` and the
    corpus block (jeeves.models.report.corpus_rows' arguments)."""

    notes: Sequence[str] = ()
    corpus: Optional[dict] = None


@dataclass
class EmailInput:
    """What the email model (models/email_features.py) needs besides the tf-idf rows.

    `records` are the labelled messages' parsed records, row for row with
    the labelled rows; `test_records` those of a held-out test set. With
    `groups` empty the records serve the report only (its example
    messages) and no email model is built. `ablation` asks for the
    feature-group table (models/ablation.py) when the email model is
    compared.
    """

    records: Sequence[dict]
    groups: Sequence[str] = ()
    intent_model: object = None
    corpus_svd: object = None
    ablation: bool = True
    test_records: Optional[Sequence[dict]] = None


def train_from_features(features_dir, labels, output_dir, analyzer_config, settings=None,
                        vectors=None, **inputs):
    """Train, report and bundle from a local `features_dir` -> the training summary dict.

    `labels` maps message_id -> 0, 1 or None (jeeves.models.labels.label_records).
    Messages with features but no label are counted, not trained on.
    `settings` (TrainingSettings, default ones when None) and the keyword
    `inputs` (email, test, report, progress, compare) are those of
    ``train_and_bundle``.
    """
    vocabulary_path = os.path.join(features_dir, "vocabulary.tsv")
    terms, _ = read_vocabulary_by_id(vocabulary_path)
    X, message_ids = load_vectors(os.path.join(features_dir, "tfidf"), n_features=len(terms))
    labelled = LabelledVectors(*join_labels(X, message_ids, labels))
    features = FeatureSpace(terms, vocabulary_path, analyzer_config, vectors)
    summary = train_and_bundle(labelled, features, output_dir, settings, **inputs)
    summary["featurized"] = len(message_ids)
    summary["unlabelled_featurized"] = len(message_ids) - len(labelled.y)
    return summary


def train_and_bundle(labelled, features, output_dir, settings=None, *, email=None, test=None,
                     report=None, progress=None, compare=compare_models, checkpoints=None,
                     save=None):
    """Compare the models on `labelled` (LabelledVectors) as `settings` (TrainingSettings,
    default ones when None) say, write report/ and model/ under the local
    `output_dir` -> the training summary dict.

    Raises ValueError (with the counts) when there are too few labelled
    messages. `features` (FeatureSpace) is stored in the bundle so
    prediction builds the same vectors. `compare` is compare_models, or a
    drop-in such as jeeves.pipeline.cluster_cv.compare_on_cluster bound to a
    runner. `test` is a held-out ``(X_test, y_test)`` in the same feature
    space: the chosen model scores it, at its CV threshold -> summary["test"]
    and the report's held-out block. `report` (ReportInputs) brings the
    report's notes and corpus block; `progress` is called with each
    finished model's result; `checkpoints` (jeeves.models.training.FoldCheckpoints)
    lets compare_models resume from the folds an interrupted run evaluated.
    `save` writes the bundle: by default save_bundle into `output_dir`/model,
    or a function of save_bundle's arguments but the directory that writes it
    elsewhere and returns where (the train stage sends the files through its
    Storage: scripts/pipeline/train.py).

    `email` (EmailInput) brings the labelled messages' records: the email
    model is compared too (``models`` "fast" and "all" include it, or name
    ``email_logistic_regression``), the report lists the most confident
    out-of-fold mistakes with their subjects, senders and dates, and, with
    ``email.ablation``, the feature-group ablation table.
    """
    settings = settings or TrainingSettings()
    report = report or ReportInputs()
    terms = features.terms
    # rows in message-id order: the part files' layout depends on the runner,
    # and the folds (so the metrics and the model) must not
    message_ids = labelled.message_ids
    order = sorted(range(len(message_ids)), key=message_ids.__getitem__)
    X, y = labelled.X[order], labelled.y[order]
    records = [{"message_id": message_ids[row]} for row in order]
    specs = None
    if email is not None:
        records = [email.records[row] for row in order]
        if email.groups:
            X = Documents(X, records)
            spec = email_model_spec(email.groups, email.intent_model, email.corpus_svd)
            specs = {spec.name: spec}
            if test is not None:
                test = (Documents(test[0], email.test_records), test[1])
    comparison = compare(X, y, models=settings.models, n_splits=settings.n_splits,
                         inner_splits=settings.inner_splits, seed=settings.seed,
                         select_by=settings.select_by, target_recall=settings.target_recall,
                         n_jobs=settings.n_jobs, feature_names=terms, progress=progress,
                         **({"specs": specs} if specs else {}),
                         **({"checkpoints": checkpoints} if checkpoints is not None else {}))
    summary = comparison.summary()
    if test is not None:
        summary["test"] = held_out_metrics(comparison, *test, specs=specs)
    chosen = comparison.chosen_result
    errors = error_examples(records, comparison.y, chosen.oof_scores, chosen.threshold,
                            explainer(chosen.estimator, X, terms))
    ablation = None
    if specs and email.ablation and EMAIL_MODEL in comparison.results:
        final = comparison.results[EMAIL_MODEL].final_params
        ablation = ablate(X, comparison.y, comparison.folds, email.groups, final["clf__C"],
                          email.intent_model, email.corpus_svd, settings.seed)
        summary["ablation"] = {"C": final["clf__C"], "rows": ablation}
    summary["report"] = write_report(comparison, os.path.join(output_dir, "report"),
                                     notes=report.notes, test=summary.get("test"),
                                     corpus=report.corpus, errors=errors, ablation=ablation)
    extra = {"vectors": features.vectors or {}, "cv": chosen.cv,
             "select_by": settings.select_by, "target_recall": settings.target_recall,
             "final_params": summary["models"][comparison.chosen]["final_params"]}
    if comparison.chosen == EMAIL_MODEL:
        # jeeves.models.scoring builds Documents (tf-idf row + record) for this input
        extra.update(input="documents", groups=check_groups(email.groups))
    save = save or functools.partial(save_bundle, os.path.join(output_dir, "model"))
    summary["bundle"] = save(chosen.estimator, chosen.threshold, features.analyzer_config,
                             features.vocabulary_path, comparison.chosen, len(terms),
                             extra=extra)
    return summary


def explainer(estimator, X, terms, count=EXPLAINED_FEATURES):
    """A function of a row of X -> its `count` largest weight x value contributions
    [(feature, contribution)] in a fitted linear estimator, or None when its
    weights do not apply to the row as it is (a selection or projection step)."""
    if estimator is None:
        return None
    steps = estimator.named_steps
    if "features" in steps:  # an email pipeline
        names = feature_names(estimator, terms)
        return lambda row: top_contributions(estimator, X[[row]], names, count)[0]
    weights = linear_feature_weights(estimator) if list(steps) == ["clf"] else None
    if weights is None:
        return None
    matrix = sp.csr_matrix(X.tfidf if isinstance(X, Documents) else X)
    return lambda row: row_contributions(matrix, row, weights, terms, count)


def held_out_metrics(comparison, X_test, y_test, specs=None):
    """The chosen model's figures on a held-out test set, at its CV threshold:
    {"messages", "positives", "roc_auc", "pr_auc", "precision", "recall", "f1",
    "accuracy"}. X_test is a matrix, or Documents when the comparison had
    the email model (`specs`)."""
    chosen = comparison.chosen_result
    X_test = model_input(model_spec(comparison.chosen, specs), X_test)
    scores = positive_scores(chosen.estimator, X_test)
    figures = binary_metrics(y_test, scores, chosen.threshold)
    return dict(figures, messages=int(len(y_test)), positives=int(np.sum(y_test)))
