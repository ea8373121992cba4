import io
import json
import math

import numpy as np
import pytest
from sklearn.datasets import load_svmlight_file
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer

from features.tfidf import build_hasher, hashed_counts, svmlight_line, tfidf_vector

DOCS = ["gas price gas gas", "gas deal", "price deal meet", "meet meet lunch", "budget"]


def counts_of(doc):
    counts = {}
    for word in doc.split():
        counts[word] = counts.get(word, 0) + 1
    return counts


@pytest.mark.parametrize("options", [
    {}, {"sublinear_tf": True, "norm": "l1"}, {"smooth_idf": False, "norm": None}])
def test_rows_equal_tfidf_vectorizer(options):
    vectorizer = TfidfVectorizer(token_pattern=r"\S+", **options)
    expected = vectorizer.fit_transform(DOCS).toarray()
    table = {term: (term_id, vectorizer.idf_[term_id])
             for term, term_id in vectorizer.vocabulary_.items()}
    for row, doc in enumerate(DOCS):
        pairs = tfidf_vector(counts_of(doc), table, options.get("sublinear_tf", False),
                             options.get("norm", "l2") or "none")
        assert [term_id for term_id, _ in pairs] == sorted(term_id for term_id, _ in pairs)
        ours = np.zeros(len(table))
        for term_id, value in pairs:
            ours[term_id] = value
        np.testing.assert_allclose(ours, expected[row], rtol=0, atol=1e-12)


def test_terms_outside_the_vocabulary_are_ignored():
    assert tfidf_vector({"gone": 3}, {"kept": (0, 1.0)}) == []
    assert tfidf_vector({"kept": 2, "gone": 3}, {"kept": (4, 2.0)}, norm="none") == [(4, 4.0)]


def test_bad_norm_names_the_value():
    with pytest.raises(ValueError, match="l3"):
        tfidf_vector({}, {}, norm="l3")


def test_svmlight_lines_read_back_exactly():
    values = [(0, 1 / 3), (5, math.pi), (7, 1e-300)]
    line = svmlight_line(values, "<id@x>\nwith  # break")
    assert "\n" not in line
    assert json.loads(line.split(" # ", 1)[1]) == "<id@x>\nwith  # break"
    empty = svmlight_line([], "b@x")
    matrix, labels = load_svmlight_file(io.BytesIO((line + "\n" + empty + "\n").encode()),
                                        n_features=8, zero_based=True)
    assert list(labels) == [0.0, 0.0]
    assert [matrix[0, i] for i, _ in values] == [value for _, value in values]
    assert matrix[1].nnz == 0


def test_hasher_equals_hashing_vectorizer():
    n_features = 16
    vectorizer = HashingVectorizer(token_pattern=r"\S+", n_features=n_features,
                                   alternate_sign=False, norm=None, lowercase=False)
    bucket_of = build_hasher(n_features, memo_size=2)
    for doc in DOCS + ["naïve café ünïcode"]:
        row = vectorizer.transform([doc])
        expected = {str(i): v for i, v in zip(row.indices, row.data)}
        assert hashed_counts(counts_of(doc), bucket_of) == expected
