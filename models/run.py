"""One call from the jobs' feature output to the report and the model bundle.

``train_and_bundle`` is what `jeeves run` does after the MapReduce stages:
compare the models on the labelled vectors, write ``report/`` and ``model/``
under a local directory, and return the part of ``summary.json`` that
concerns training. ``train_from_features`` does the same from a local
``features/`` directory (``vocabulary.tsv`` and ``tfidf/``) and a labels dict.
"""

import os

import numpy as np

from features.vocabulary import read_vocabulary_by_id
from models.bundle import save_bundle
from models.metrics import binary_metrics
from models.report import write_report
from models.training import compare_models, positive_scores
from models.vectors import join_labels, load_vectors


def train_from_features(features_dir, labels, output_dir, analyzer_config, **options):
    """Train, report and bundle from a local `features_dir` -> the training summary dict.

    `labels` maps message_id -> 0, 1 or None (models.labels.label_records).
    Messages with features but no label are counted, not trained on. The
    keyword options are those of ``train_and_bundle``.
    """
    vocabulary_path = os.path.join(features_dir, "vocabulary.tsv")
    terms, _ = read_vocabulary_by_id(vocabulary_path)
    X, message_ids = load_vectors(os.path.join(features_dir, "tfidf"), n_features=len(terms))
    X_labelled, y, labelled_ids = join_labels(X, message_ids, labels)
    summary = train_and_bundle(X_labelled, y, labelled_ids, terms, vocabulary_path, output_dir,
                               analyzer_config, **options)
    summary["featurized"] = len(message_ids)
    summary["unlabelled_featurized"] = len(message_ids) - len(y)
    return summary


def train_and_bundle(X, y, message_ids, terms, vocabulary_path, output_dir, analyzer_config,
                     models=None, n_splits=5, seed=0, select_by="pr_auc", target_recall=0.95,
                     n_jobs=1, report_notes=(), progress=None, vectors=None,
                     compare=compare_models, test=None):
    """Compare the models on labelled rows, write report/ and model/ under the
    local `output_dir` -> the training summary dict.

    Raises ValueError (with the counts) when there are too few labelled
    messages. `vectors` (the tf-idf settings: sublinear_tf, norm,
    hash_features) is stored in the bundle so prediction builds the same
    vectors. `compare` is compare_models, or a drop-in such as
    scripts.pipeline.cluster_cv.compare_on_cluster bound to a runner.
    `test` is a held-out ``(X_test, y_test)`` in the same feature space: the
    chosen model scores it, at its CV threshold -> summary["test"] and the
    report's held-out block.
    """
    # rows in message-id order: the part files' layout depends on the runner,
    # and the folds (so the metrics and the model) must not
    order = sorted(range(len(message_ids)), key=message_ids.__getitem__)
    X, y = X[order], y[order]
    comparison = compare(X, y, models=models, n_splits=n_splits, seed=seed,
                         select_by=select_by, target_recall=target_recall,
                         n_jobs=n_jobs, feature_names=terms, progress=progress)
    summary = comparison.summary()
    if test is not None:
        summary["test"] = held_out_metrics(comparison, *test)
    summary["report"] = write_report(comparison, os.path.join(output_dir, "report"),
                                     notes=report_notes, test=summary.get("test"))
    chosen = comparison.chosen_result
    summary["bundle"] = save_bundle(
        os.path.join(output_dir, "model"), chosen.estimator, chosen.threshold,
        analyzer_config, vocabulary_path, comparison.chosen, len(terms),
        extra={"vectors": vectors or {}, "cv": chosen.cv, "select_by": select_by,
               "target_recall": target_recall,
               "final_params": summary["models"][comparison.chosen]["final_params"]})
    return summary


def held_out_metrics(comparison, X_test, y_test):
    """The chosen model's figures on a held-out test set, at its CV threshold:
    {"messages", "positives", "roc_auc", "pr_auc", "precision", "recall", "f1",
    "accuracy"}."""
    chosen = comparison.chosen_result
    scores = positive_scores(chosen.estimator, X_test)
    figures = binary_metrics(y_test, scores, chosen.threshold)
    return dict(figures, messages=int(len(y_test)), positives=int(np.sum(y_test)))
