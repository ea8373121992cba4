"""Email feature pipelines: the Documents container, the groups, no leakage across folds."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg  # noqa: F401  (sp.linalg.norm)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from jeeves.features.cues import CUE_FEATURE_NAMES
from jeeves.features.headers import HEADER_FEATURE_NAMES
from jeeves.models.documents import Documents
from jeeves.models.email_features import (
    CharNgrams,
    ContactFeatures,
    RecordFeatures,
    check_groups,
    email_pipeline,
    feature_names,
    pseudonym,
    top_contributions,
)
from jeeves.models.intent import train_intent_model
from jeeves.models.lsa import fit_corpus_svd
from tests.models.corpus import MEETINGS, OTHERS

INTENT_SENTENCES = ["Can we meet on Friday?", "Please call me tomorrow.",
                    "Let's schedule a meeting.", "Are you free at 3pm?",
                    "The report is attached.", "Prices rose today.",
                    "Thanks for the numbers.", "The deal closed."] * 2
INTENT_LABELS = [1, 1, 1, 1, 0, 0, 0, 0] * 2


def message(number, body, sender="kay@enron.com", to=("vince@enron.com",), subject="note"):
    return {"message_id": "m%d@x" % number, "subject": subject, "body": body, "quoted": "",
            "from": {"address": sender, "name": ""}, "to": list(to), "cc": [], "bcc": [],
            "date": "2001-05-%02dT10:00:00+00:00" % (number % 28 + 1), "attachments": [],
            "references": [], "in_reply_to": None}


def corpus():
    texts = MEETINGS + OTHERS
    y = np.array([1] * len(MEETINGS) + [0] * len(OTHERS))
    records = [message(number, text, sender="s%d@x.com" % (number % 5),
                       to=["r%d@x.com" % (number % 3)])
               for number, text in enumerate(texts)]
    X = TfidfVectorizer().fit_transform(texts)
    return Documents(X, records), y


def test_documents_index_like_a_matrix():
    docs, _ = corpus()
    part = docs[np.array([3, 0])]
    assert part.shape == (2, docs.shape[1])
    assert [record["message_id"] for record in part.records] == ["m3@x", "m0@x"]
    assert (part.tfidf != docs.tfidf[[3, 0]]).nnz == 0
    assert len(docs[np.arange(len(docs)) < 5]) == 5
    assert len(docs[2:6]) == 4
    with pytest.raises(ValueError, match="3 tf-idf rows but 2 records"):
        Documents(sp.csr_matrix((3, 4)), [{}, {}])


def test_feature_rows_are_computed_once_per_message():
    docs, _ = corpus()
    calls = []

    def count(record):
        calls.append(record["message_id"])
        return [1.0]

    docs[np.array([0, 1])].feature_rows("k", count)
    docs[np.array([1, 2])].feature_rows("k", count)
    assert calls == ["m0@x", "m1@x", "m2@x"]


def test_record_groups_are_named_and_shaped():
    docs, y = corpus()
    for group, names in (("headers", HEADER_FEATURE_NAMES), ("cues", CUE_FEATURE_NAMES)):
        transformer = RecordFeatures(group).fit(docs, y)
        assert transformer.transform(docs).shape == (len(docs), len(names))
        assert list(transformer.get_feature_names_out())[0] == "%s:%s" % (group, names[0])
    with pytest.raises(ValueError, match="unknown record feature group 'nope'"):
        RecordFeatures("nope").fit(docs)


def test_contact_features_leave_a_fitted_message_out_of_its_own_statistics():
    records = [message(1, "a", sender="a@x", to=["b@x"]),
               message(2, "b", sender="a@x", to=["b@x", "c@x"]),
               message(3, "c", sender="b@x", to=["a@x"])]
    docs = Documents(sp.csr_matrix((3, 1)), records)
    contact = ContactFeatures().fit(docs)
    assert pseudonym("a@x") in contact.pair_counts_
    assert "a@x" not in str(contact.pair_counts_)  # addresses are stored as pseudonyms
    rows = contact.transform(docs)
    # message 1: a wrote to b once more (message 2), and to c; b wrote back
    np.testing.assert_allclose(rows[0], [np.log1p(2), 1.0, np.log1p(1 + 1)])
    # message 3: b's only message, left out of its own count
    np.testing.assert_allclose(rows[2], [np.log1p(0), 1.0, np.log1p(2)])
    # a new message from a to b sees everything fitted
    new = Documents(sp.csr_matrix((1, 1)), [message(9, "n", sender="a@x", to=["b@x"])])
    np.testing.assert_allclose(contact.transform(new)[0], [np.log1p(2), 1.0, np.log1p(3)])
    unknown = Documents(sp.csr_matrix((1, 1)), [{"message_id": "z"}])
    assert contact.transform(unknown).tolist() == [[0.0, 0.0, 0.0]]


def all_groups_pipeline(docs, C=1.0):
    intent = train_intent_model(INTENT_SENTENCES, INTENT_LABELS)
    svd = fit_corpus_svd(docs.tfidf, n_components=5)
    return email_pipeline(["chars", "headers", "cues", "graph", "intent", "lsa"], C=C,
                          intent_model=intent, corpus_svd=svd)


def test_all_groups_run_in_a_grid_search_and_name_their_columns():
    docs, y = corpus()
    search = GridSearchCV(all_groups_pipeline(docs), {"clf__C": [0.1, 1.0]},
                          cv=StratifiedKFold(3, shuffle=True, random_state=0),
                          scoring="roc_auc").fit(docs, y)
    model = search.best_estimator_
    terms = ["t%d" % index for index in range(docs.shape[1])]
    names = feature_names(model, terms)
    assert len(names) == model.named_steps["clf"].coef_.shape[1]
    assert names[0] == "t0" and "intent:max" in names and "graph:reciprocal" in names
    assert "lsa:4" in names and "headers:is_reply" in names
    assert any(name.startswith("chars:") for name in names)
    top = top_contributions(model, docs[:2], names, count=3)
    assert len(top) == 2 and all(len(row) <= 3 for row in top)
    scores = model.predict_proba(docs)[:, 1]
    assert scores[y == 1].mean() > scores[y == 0].mean()


def test_shuffled_labels_give_chance_auc_with_all_groups_on():
    """Every group is fitted inside the folds: with labels unrelated to the
    messages, held-out ROC AUC stays near 0.5 (here averaged over shuffles)."""
    docs, y = corpus()
    rng = np.random.default_rng(0)
    aucs = []
    for _ in range(4):
        shuffled = rng.permutation(y)
        aucs += list(cross_val_score(all_groups_pipeline(docs), docs, shuffled,
                                     cv=StratifiedKFold(4, shuffle=True, random_state=0),
                                     scoring="roc_auc"))
    assert abs(np.mean(aucs) - 0.5) < 0.15
    # and the same pipeline does learn the real labels
    real = cross_val_score(all_groups_pipeline(docs), docs, y,
                           cv=StratifiedKFold(4, shuffle=True, random_state=0),
                           scoring="roc_auc")
    assert real.mean() > 0.8


def test_group_names_are_checked():
    assert check_groups("cues, headers,text") == ["text", "cues", "headers"]
    with pytest.raises(ValueError, match="unknown feature group 'bogus'"):
        check_groups(["bogus"])
    with pytest.raises(TypeError, match="take jeeves.models.documents.Documents"):
        email_pipeline().fit(sp.csr_matrix((2, 2)), [0, 1])


def test_char_ngrams_are_fitted_on_the_training_rows_only():
    docs, _ = corpus()
    chars = CharNgrams(ngram_min=3, ngram_max=3, min_df=1).fit(docs[:5])
    seen = set(chars.vectorizer_.vocabulary_)
    assert " ca" in seen  # "Can we meet..." of the first message
    rows = chars.transform(docs)
    assert rows.shape == (len(docs), len(seen))
    np.testing.assert_allclose(sp.linalg.norm(rows[:5], axis=1), 1.0)
    assert list(chars.get_feature_names_out())[0].startswith("chars:")
