"""Measure the email feature groups: an ablation table on a labelled corpus, same folds.

    python -m tools.bench_models --input ../shared/data/enron-berkeley --labels cats:1,4
    python -m tools.bench_models --input ../shared/data/spamassassin/easy-ham-1 \\
        ../shared/data/spamassassin/spam-1 --labels 'spam*=1,*ham*=0' \\
        --test-input ../shared/data/spamassassin/easy-ham-2 ../shared/data/spamassassin/spam-2

Messages are parsed as the parse job does (jeeves.features.mailformats.iter_found,
jeeves.features.parsing.outcome_of; first record of a message id kept), labelled
with a ``--labels`` spec (models/labels.py), and vectorized as the jobs do:
Jeeves' analyzer, tf-idf fitted on every parsed message (no label is read).
Then, on the shared folds of models/training.py (StratifiedKFold, 5,
shuffled, seed 0), rows of the table:

- ``plain script``: ``TfidfVectorizer(sublinear_tf=True, min_df=2)`` +
  ``LogisticRegression(class_weight="balanced")`` over subject + body, the
  vectorizer fitted per fold (what a user's five lines do);
- ``text``: the Jeeves tf-idf alone, ``email_pipeline(["text"])``;
- ``text + G`` for each group G of jeeves.models.email_features.GROUPS;
- ``all groups``.

Jeeves rows tune C by an inner 3-fold grid search (PR AUC) in each outer
training part; ROC AUC and PR AUC are the mean ± std over the outer folds.
With ``--test-input``, the ``--groups`` model is trained on ``--input``
(tf-idf fitted on it alone) and scores the test messages instead: one ROC
AUC / PR AUC line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from jeeves.features.mailformats import expand_inputs, iter_found
from jeeves.features.parsing import outcome_of
from jeeves.features.text import Analyzer
from jeeves.models.ablation import ablation_variants
from jeeves.models.documents import Documents
from jeeves.models.email_features import (
    C_GRID,
    DEFAULT_FIELDS,
    DEFAULT_GROUPS,
    GROUP_WEIGHT,
    GROUPS,
    check_groups,
    email_pipeline,
)
from jeeves.models.intent import load_intent_model
from jeeves.models.labels import labeller_from_spec
from jeeves.models.lsa import fit_corpus_svd
from jeeves.models.training import shared_folds

PLAIN_SCRIPT = "plain script"


def read_corpus(paths):
    """Parse every file under `paths` -> (records, counts).

    counts: read, parsed, quarantined (by reason), duplicates (same
    message_id: the first record in path order is kept), as the parse job
    reconciles them.
    """
    records, seen = [], set()
    counts = {"read": 0, "parsed": 0, "quarantined": {}, "duplicates": 0}
    for path, uri, relpath in expand_inputs(paths):
        with open(path, "rb") as handle:
            data = handle.read()
        for found in iter_found(data, uri, relpath):
            counts["read"] += 1
            kind, record, _ = outcome_of(found)
            if kind == "quarantine":
                reason = record["reason"]
                counts["quarantined"][reason] = counts["quarantined"].get(reason, 0) + 1
            elif record["message_id"] in seen:
                counts["duplicates"] += 1
            else:
                seen.add(record["message_id"])
                records.append(record)
    counts["parsed"] = len(records)
    return records, counts


def labelled(records, spec):
    """(records with a 0/1 label, y, unlabelled count) under a --labels spec."""
    labeller = labeller_from_spec(spec)
    kept, y = [], []
    for record in records:
        label = labeller(record)
        if label is not None:
            kept.append(record)
            y.append(int(label))
    return kept, np.array(y, dtype=int), len(records) - len(kept)


def jeeves_vectorizer(fields=DEFAULT_FIELDS, ngram_max=2, min_df=2, max_df=0.5):
    """The tf-idf the jobs build (Jeeves' analyzer, sublinear tf, l2), as a vectorizer."""
    analyzer = Analyzer({"fields": list(fields), "ngram_max": ngram_max})
    return TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, min_df=min_df, max_df=max_df)


def plain_script():
    return Pipeline([("tfidf", TfidfVectorizer(sublinear_tf=True, min_df=2)),
                     ("clf", LogisticRegression(class_weight="balanced"))])


def plain_texts(records):
    return np.array([(record.get("subject") or "") + "\n" + (record.get("body") or "")
                     for record in records], dtype=object)


def _scores(model, X):
    return model.predict_proba(X)[:, 1]


def cross_validate(make_model, X, y, folds):
    """Per-fold ROC AUC and PR AUC, and out-of-fold scores, of make_model() on folds."""
    roc, pr, oof = [], [], np.zeros(len(y))
    for train, test in folds:
        scores = _scores(make_model().fit(X[train], y[train]), X[test])
        oof[test] = scores
        roc.append(roc_auc_score(y[test], scores))
        pr.append(average_precision_score(y[test], scores))
    return {"roc_auc": roc, "pr_auc": pr, "oof": oof}


def tuned(groups, intent_model, corpus_svd, seed=0, c_grid=C_GRID):
    """A maker of the grid search over C of email_pipeline(groups)."""
    def make():
        inner = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        return GridSearchCV(
            email_pipeline(groups, intent_model=intent_model, corpus_svd=corpus_svd,
                           group_weight=GROUP_WEIGHT, seed=seed),
            {"clf__C": list(c_grid)}, scoring="average_precision", cv=inner)
    return make


def ablation(records, y, fields=DEFAULT_FIELDS, groups=GROUPS, seed=0, progress=None,
             variants=None):
    """Every row of the table -> [{"name", "roc_auc", "pr_auc", "seconds"}] (fold lists)."""
    folds = shared_folds(y, 5, seed)
    started = time.perf_counter()
    X = jeeves_vectorizer(fields).fit_transform(records)
    vectorize_seconds = time.perf_counter() - started
    documents = Documents(X, records)
    variants = ablation_variants(groups) if variants is None else variants
    needed = {name for _, names in variants for name in names}
    intent_model = load_intent_model(seed=seed) if "intent" in needed else None
    corpus_svd = fit_corpus_svd(X, random_state=seed) if "lsa" in needed else None
    rows = []
    started = time.perf_counter()
    result = cross_validate(plain_script, plain_texts(records), y, folds)
    rows.append(dict(result, name=PLAIN_SCRIPT, seconds=time.perf_counter() - started))
    if progress:
        progress(rows[-1])
    for name, names in variants:
        started = time.perf_counter()
        result = cross_validate(tuned(names, intent_model, corpus_svd, seed), documents, y, folds)
        rows.append(dict(result, name=name, groups=names, seconds=time.perf_counter() - started))
        if progress:
            progress(rows[-1])
    return rows, {"features": X.shape[1], "vectorize_seconds": vectorize_seconds}


def mean_std(values):
    return "%.3f ± %.3f" % (np.mean(values), np.std(values))


def markdown_table(rows):
    """The ablation rows as a Markdown table (ROC AUC, PR AUC mean ± std, seconds)."""
    lines = ["| features | ROC AUC | PR AUC | seconds |", "|---|---|---|---|"]
    lines += ["| %s | %s | %s | %.0f |" % (row["name"], mean_std(row["roc_auc"]),
                                          mean_std(row["pr_auc"]), row["seconds"])
              for row in rows]
    return "\n".join(lines)


def held_out(train_records, y_train, test_records, y_test, fields=DEFAULT_FIELDS,
             groups=DEFAULT_GROUPS, seed=0):
    """Train on one corpus (tf-idf fitted on it alone), score another -> ROC AUC, PR AUC."""
    vectorizer = jeeves_vectorizer(fields)
    X_train = vectorizer.fit_transform(train_records)
    X_test = vectorizer.transform(test_records)
    names = check_groups(groups)
    intent_model = load_intent_model(seed=seed) if "intent" in names else None
    corpus_svd = fit_corpus_svd(X_train, random_state=seed) if "lsa" in names else None
    search = tuned(names, intent_model, corpus_svd, seed)().fit(
        Documents(X_train, train_records), y_train)
    scores = _scores(search, Documents(X_test, test_records))
    return {"roc_auc": roc_auc_score(y_test, scores),
            "pr_auc": average_precision_score(y_test, scores),
            "C": search.best_params_["clf__C"], "features": X_train.shape[1]}


def _parser():
    parser = argparse.ArgumentParser(prog="python -m tools.bench_models",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", nargs="+", required=True, help="mail files or directories")
    parser.add_argument("--labels", required=True, help="label spec (models/labels.py)")
    parser.add_argument("--test-input", nargs="+", help="score these instead of CV")
    parser.add_argument("--groups", default=",".join(GROUPS),
                        help="feature groups of the ablation (or of the held-out model; "
                             "default for held-out: %s)" % ",".join(DEFAULT_GROUPS))
    parser.add_argument("--fields", default=",".join(DEFAULT_FIELDS))
    parser.add_argument("--limit", type=int, help="keep the first N labelled messages")
    parser.add_argument("--json", help="write the rows (fold metrics) to this file")
    return parser


def main(argv=None):
    options = _parser().parse_args(argv)
    fields = [name.strip() for name in options.fields.split(",") if name.strip()]
    records, counts = read_corpus(options.input)
    records, y, unlabelled = labelled(records, options.labels)
    if options.limit:
        records, y = records[:options.limit], y[:options.limit]
    print("corpus: %s, labelled %d (%d positive), unlabelled %d"
          % (json.dumps(counts, sort_keys=True), len(y), int(y.sum()), unlabelled))
    with threadpool_limits(limits=1):
        if options.test_input:
            test, test_counts = read_corpus(options.test_input)
            test, y_test, _ = labelled(test, options.labels)
            groups = DEFAULT_GROUPS if options.groups == ",".join(GROUPS) else options.groups
            result = held_out(records, y, test, y_test, fields, groups)
            print("held-out: %d test messages (%d positive): ROC AUC %.4f, PR AUC %.4f, C %g"
                  % (len(y_test), int(y_test.sum()), result["roc_auc"], result["pr_auc"],
                     result["C"]))
            output = result
        else:
            rows, info = ablation(records, y, fields, options.groups,
                                  progress=lambda row: print(
                                      "%-20s ROC AUC %s  PR AUC %s  %.0f s" % (
                                          row["name"], mean_std(row["roc_auc"]),
                                          mean_std(row["pr_auc"]), row["seconds"]),
                                      flush=True))
            print("tf-idf: %d features (%.0f s)" % (info["features"], info["vectorize_seconds"]))
            print(markdown_table(rows))
            output = [{key: value for key, value in row.items() if key != "oof"}
                      for row in rows]
    if options.json:
        with open(options.json, "w", encoding="utf-8") as handle:
            json.dump(output, handle, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
