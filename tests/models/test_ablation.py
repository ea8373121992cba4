"""models/ablation.py and the email path of jeeves.models.run.train_and_bundle."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from jeeves.features.vocabulary import read_vocabulary_by_id
from jeeves.models.ablation import ALL_GROUPS_ROW, ablate, ablation_variants
from jeeves.models.bundle import load_bundle
from jeeves.models.documents import Documents
from jeeves.models.intent import train_intent_model
from jeeves.models.lsa import fit_corpus_svd
from jeeves.models.registry import EMAIL_MODEL
from jeeves.models.run import (
    EmailInput,
    FeatureSpace,
    LabelledVectors,
    ReportInputs,
    train_and_bundle,
)
from jeeves.models.scoring import BundleVectorizer, predict_records
from jeeves.models.training import TrainingSettings, shared_folds
from jeeves.models.vectors import load_vectors
from tests.models.test_email_features import INTENT_LABELS, INTENT_SENTENCES, corpus
from tests.models.test_run import write_features


def test_the_variants_are_text_then_each_group_then_all():
    assert ablation_variants(["cues", "graph"]) == [
        ("text", ["text"]), ("text + cues", ["text", "cues"]),
        ("text + graph", ["text", "graph"]), (ALL_GROUPS_ROW, ["text", "cues", "graph"])]
    assert ablation_variants(["text", "cues"]) == [("text", ["text"]),
                                                   ("text + cues", ["text", "cues"])]
    with pytest.raises(ValueError, match="unknown feature group 'nope'"):
        ablation_variants(["nope"])


def test_ablation_rows_are_fold_lists_on_the_given_folds():
    docs, y = corpus()
    folds = shared_folds(y, 3, 0)
    rows = ablate(docs, y, folds, ["headers", "cues"], C=3.0)
    assert [row["name"] for row in rows] == ["text", "text + headers", "text + cues",
                                             ALL_GROUPS_ROW]
    for row in rows:
        assert len(row["roc_auc"]) == len(row["pr_auc"]) == 3
        assert all(0 <= value <= 1 for value in row["roc_auc"] + row["pr_auc"])
    # the text row is a plain fit per fold: recomputed here, equal
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    expected = []
    for train, test in folds:
        clf = LogisticRegression(solver="liblinear", class_weight="balanced", C=3.0,
                                 max_iter=1000, random_state=0).fit(docs.tfidf[train], y[train])
        expected.append(roc_auc_score(y[test], clf.predict_proba(docs.tfidf[test])[:, 1]))
    assert rows[0]["roc_auc"] == pytest.approx(expected, abs=1e-12)


@pytest.fixture(scope="module")
def email_run(tmp_path_factory):
    """train_and_bundle with the email model on records, as `jeeves run` calls it."""
    directory = tmp_path_factory.mktemp("email")
    docs, y = corpus()
    texts = [record["body"] for record in docs.records]
    ids = [record["message_id"] for record in docs.records]
    features = write_features(directory, texts, ids)
    terms, _ = read_vocabulary_by_id(features + "/vocabulary.tsv")
    X, read_ids = load_vectors(features + "/tfidf", len(terms))
    by_id = {record["message_id"]: record for record in docs.records}
    labels = dict(zip(ids, y))
    records = [by_id[message_id] for message_id in read_ids]
    y_read = np.array([labels[message_id] for message_id in read_ids])
    email = EmailInput(records, ("text", "headers", "cues", "graph", "intent", "lsa"),
                       train_intent_model(INTENT_SENTENCES, INTENT_LABELS),
                       fit_corpus_svd(X, n_components=5), ablation=True)
    summary = train_and_bundle(
        LabelledVectors(X, y_read, read_ids),
        FeatureSpace(terms, features + "/vocabulary.tsv", {}), str(directory / "out"),
        TrainingSettings(models=EMAIL_MODEL, n_splits=3), email=email,
        report=ReportInputs(corpus={"counts": {"read": 9, "parsed": 8},
                                    "vocabulary_size": len(terms)}))
    return directory, summary, records, X


def test_the_email_model_is_bundled_with_its_ablation_and_examples(email_run):
    directory, summary, records, _ = email_run
    assert summary["chosen_model"] == EMAIL_MODEL
    names = [row["name"] for row in summary["ablation"]["rows"]]
    assert names == ["text", "text + headers", "text + cues", "text + graph", "text + intent",
                     "text + lsa", ALL_GROUPS_ROW]
    assert summary["ablation"]["C"] == summary["models"][EMAIL_MODEL]["final_params"]["clf__C"]
    json.dumps(summary)
    html = (directory / "out" / "report" / "report.html").read_text()
    assert "Feature groups (ablation, same folds)" in html and "text + intent" in html
    assert "vocabulary size" in html and "Most confident false positives" in html
    bundle = load_bundle(directory / "out" / "model")
    assert bundle.model["extra"]["input"] == "documents"
    assert bundle.model["extra"]["groups"] == ["text", "headers", "cues", "graph", "intent",
                                               "lsa"]


def test_the_bundle_scores_records_alone_as_the_training_pipeline(email_run):
    """jeeves predict's path (one message = one document, every group from the bundle)
    equals the fitted pipeline on Documents of the same messages, to 1e-9.
    (The tf-idf rows here come from the bundle's vectorizer, the jobs' kernel:
    tests/scripts/test_run_email.py checks them against the jobs' rows.)"""
    directory, _, records, _ = email_run
    bundle = load_bundle(directory / "out" / "model")
    order = sorted(range(len(records)), key=lambda row: records[row]["message_id"])
    ordered = [records[row] for row in order]
    X = BundleVectorizer(bundle).transform(ordered)
    expected = bundle.estimator.predict_proba(Documents(X, ordered))[:, 1]
    one_by_one = [predict_records(bundle, [dict(records[row])])[0]["score"] for row in order]
    assert np.allclose(one_by_one, expected, atol=1e-9, rtol=0)
    batch = predict_records(bundle, [records[row] for row in order])
    assert np.allclose([row["score"] for row in batch], expected, atol=1e-9, rtol=0)
    assert sp.issparse(X)


def test_the_explainer_of_a_tfidf_model_lists_weight_times_value():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from jeeves.models.run import explainer

    docs, y = corpus()
    terms = ["t%d" % column for column in range(docs.shape[1])]
    model = Pipeline([("clf", LogisticRegression(C=10.0))]).fit(docs.tfidf, y)
    explain = explainer(model, docs, terms, count=3)
    row = docs.tfidf[0].toarray().ravel()
    contributions = row * model.named_steps["clf"].coef_[0]
    expected = sorted(((terms[i], contributions[i]) for i in np.flatnonzero(contributions)),
                      key=lambda item: -abs(item[1]))[:3]
    got = explain(0)
    assert [name for name, _ in got] == [name for name, _ in expected]
    assert np.allclose([value for _, value in got], [value for _, value in expected])
