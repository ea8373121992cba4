"""The email model's fast path (jeeves.models.email_features.FastEmailScorer, the
intent group's SentenceScorer, LSA's RowProjection) against the scikit-learn
pipeline it stands in for, on a `jeeves run` bundle of real SpamAssassin
messages: equal scores, feature rows and top contributions within 1e-9."""

import os
import shutil

import numpy as np
import pytest
import scipy.sparse as sp

from jeeves import cli
from jeeves.features.cues import sentences
from jeeves.features.mailformats import iter_found
from jeeves.features.parsing import DEFAULT_MAX_MESSAGE_BYTES, outcome_of
from jeeves.features.tfidf import document_entries
from jeeves.models.bundle import load_bundle
from jeeves.models.documents import Documents
from jeeves.models.email_features import FastEmailScorer, entry_contributions, feature_names
from jeeves.models.explain import Explainer
from jeeves.models.intent import SentenceScorer, fast_sentence_scorer
from jeeves.models.lsa import RowProjection
from jeeves.models.scoring import BundleVectorizer

TOLERANCE = 1e-9
SPAMASSASSIN = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data",
                            "spamassassin")
# every group, ``chars`` too (a group the fast path leaves to its transformer)
GROUPS = "text,headers,cues,graph,intent,lsa,chars"
TRAIN, UNSEEN = 24, 12


def slice_of(folder, count, start=0):
    path = os.path.join(SPAMASSASSIN, folder)
    if not os.path.isdir(path):
        pytest.skip("the shared SpamAssassin corpus is absent (%s)" % folder)
    return [os.path.join(path, name) for name in sorted(os.listdir(path))[start:start + count]]


def records_of(paths):
    records = []
    for path in paths:
        with open(path, "rb") as handle:
            for found in iter_found(handle.read(), "file://%s" % path, os.path.basename(path)):
                kind, record, _ = outcome_of(found, DEFAULT_MAX_MESSAGE_BYTES)
                if kind == "message":
                    records.append(record)
    return records


@pytest.fixture(scope="module")
def email_model(tmp_path_factory):
    """(the bundle of `jeeves run` on 48 messages of spam-1 and easy-ham-1, the
    records of those and of 24 messages of spam-2 and easy-ham-2 it never saw)."""
    root = tmp_path_factory.mktemp("email-fast")
    for folder in ("spam-1", "easy-ham-1"):
        os.makedirs(root / "mail" / folder)
        for path in slice_of(folder, TRAIN):
            shutil.copy(path, root / "mail" / folder)
    unseen = slice_of("spam-2", UNSEEN) + slice_of("easy-ham-2", UNSEEN)
    assert cli.main(["run", "--input", str(root / "mail"), "--output", str(root / "out"),
                     "--labels", "spam*=1,*ham*=0", "--models", "email_logistic_regression",
                     "--feature-groups", GROUPS, "--no-ablation", "--folds", "2",
                     "--no-graph"]) == 0
    bundle = load_bundle(str(root / "out" / "model"))
    records = records_of(sorted((root / "mail").glob("*/*"))) + records_of(unseen)
    assert len(records) == 2 * (TRAIN + UNSEEN)
    return bundle, records


def test_feature_rows_and_scores_equal_the_pipeline(email_model):
    bundle, records = email_model
    pipeline = bundle.estimator
    fast = FastEmailScorer(pipeline)
    kinds = [kind for kind, *_ in fast.groups]
    assert kinds == ["text", "record", "record", "record", "record", "lsa", "transform"]
    vectorizer = BundleVectorizer(bundle)
    owner, ids, values = document_entries(records, vectorizer.analyzer, vectorizer.table,
                                          vectorizer.sublinear_tf, vectorizer.norm)
    rows = fast.rows(records, owner, ids, values, vectorizer.n_features)
    documents = Documents(vectorizer.transform(records), records)
    expected = sp.csr_matrix(pipeline.named_steps["features"].transform(documents)).toarray()
    found = np.zeros_like(expected)
    for row, (columns, data) in enumerate(rows):
        assert np.all(np.diff(columns) > 0)  # the classifier's column order
        found[row, columns] = data
    assert np.max(np.abs(found - expected)) <= TOLERANCE
    # the dense groups are not all zero, and their columns differ between messages
    assert np.count_nonzero(expected[:, vectorizer.n_features:]) > len(records)
    scores = fast.scores(rows)
    reference = pipeline.predict_proba(documents)[:, 1]
    assert np.max(np.abs(scores - reference)) <= TOLERANCE
    assert 0.0 < scores.min() < 0.5 < scores.max() < 1.0


def test_the_explainer_scores_and_explains_as_the_pipeline(email_model):
    bundle, records = email_model
    explainer = Explainer(bundle)
    reference = Explainer(bundle)
    reference.email_fast = False  # the pipeline's way
    expected = bundle.predict(records)
    for start in range(0, len(records), 5):
        batch = records[start:start + 5]
        predictions, tops = explainer.predict(batch)
        assert isinstance(explainer.email_fast, FastEmailScorer) and explainer.email_checked
        wanted, wanted_tops = reference.predict(batch)
        for mine, theirs, predicted in zip(predictions, wanted, expected[start:start + 5]):
            assert mine["message_id"] == theirs["message_id"] == predicted["message_id"]
            assert abs(mine["score"] - predicted["score"]) <= TOLERANCE
            assert abs(mine["score"] - theirs["score"]) <= TOLERANCE
            assert mine["label"] == predicted["label"]
        for mine, theirs in zip(tops, wanted_tops):
            assert 0 < len(mine) <= 5
            assert [name for name, _ in mine] == [name for name, _ in theirs]
            assert all(abs(a - b) <= TOLERANCE for (_, a), (_, b) in zip(mine, theirs))
    assert {prediction["label"] for prediction in expected} == {0, 1}


def test_a_fast_path_that_differs_on_its_first_batch_is_turned_off(email_model):
    bundle, records = email_model
    explainer = Explainer(bundle)
    fast = explainer._email_scorer()
    fast.intercept += 1e-6  # a fast path one millionth off
    predictions, tops = explainer.predict(records[:3])
    assert explainer.email_fast is False
    expected = bundle.predict(records[:3])
    assert [p["score"] for p in predictions] == [p["score"] for p in expected]
    assert explainer.predict(records[3:6])[0] == bundle.predict(records[3:6])


def test_entry_contributions_rank_as_row_contributions(email_model):
    bundle, _ = email_model
    names = feature_names(bundle.estimator)
    weights = np.ravel(bundle.estimator.named_steps["clf"].coef_)
    columns = np.array([3, 5, 8, 13, len(weights) - 1])
    values = np.array([0.5, -2.0, 0.0, 1.0, 0.25])
    contributions = values * weights[columns]
    found = entry_contributions(columns, values, weights, names, count=3)
    order = np.argsort(-np.abs(contributions), kind="stable")[:3]
    assert found == [(names[columns[i]], contributions[i]) for i in order
                     if contributions[i] != 0]


def test_sentence_scores_equal_the_intent_pipeline(email_model):
    bundle, records = email_model
    union = dict(bundle.estimator.named_steps["features"].transformer_list)
    model = union["intent"].named_steps["extract"].model
    texts = [sentence for record in records for field in ("subject", "body", "quoted")
             for sentence in sentences(record.get(field) or "")]
    texts += ["", "Shall we meet?", "Shall we meet?", "\u00e9t\u00e9 caf\u00e9 12:30"]
    scorer = fast_sentence_scorer(model)
    assert isinstance(scorer, SentenceScorer)
    expected = model.scores(texts)
    assert len(texts) > 200 and expected.min() < 0.5 < expected.max()
    assert np.max(np.abs(scorer.scores(texts) - expected)) <= TOLERANCE
    assert np.max(np.abs(scorer.scores(texts) - expected)) <= TOLERANCE  # from its cache
    assert len(scorer.cache) == len(set(texts))


def test_lsa_row_projection_equals_the_corpus_projection(email_model):
    bundle, records = email_model
    union = dict(bundle.estimator.named_steps["features"].transformer_list)
    svd = union["lsa"].named_steps["extract"].svd_
    matrix = BundleVectorizer(bundle).transform(records)
    expected = svd.project(matrix)
    projection = RowProjection(svd)
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        found = projection.project(matrix.indices[start:end], matrix.data[start:end])
        assert np.max(np.abs(found - expected[row])) <= TOLERANCE
    assert np.all(projection.project([], []) == 0.0)
