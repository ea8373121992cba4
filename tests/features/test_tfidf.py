import io
import json
import math

import numpy as np
import pytest
from sklearn.datasets import load_svmlight_file
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer

from jeeves.features.tfidf import (
    build_hasher,
    hashed_counts,
    svmlight_line,
    tfidf_lines,
    tfidf_vector,
)
from jeeves.features.vocabulary import VocabularyTable

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


@pytest.mark.parametrize("sublinear_tf,norm", [
    (False, "l2"), (True, "l1"), (False, "none"), (True, "l2")])
def test_batch_lines_equal_the_per_message_lines(sublinear_tf, norm):
    import random

    rng = random.Random(7)
    words = ["w%d" % number for number in range(300)]
    # ids not in term order and not contiguous, as in hashing mode
    table = {word: (rng.randrange(10 ** 6), rng.uniform(1.0, 9.0)) for word in words}
    batch = []
    for number in range(200):
        counts = {rng.choice(words + ["unknown%d" % number]): rng.randrange(0, 5)
                  for _ in range(rng.randrange(0, 40))}
        batch.append(("id%d" % (number % 150), counts))  # some ids twice
    batch.append(("empty", {}))
    index = {term: row for row, term in enumerate(table)}
    vocabulary = VocabularyTable(index, np.array([table[t][0] for t in table], dtype=np.int64),
                                 np.array([table[t][1] for t in table]))
    lines = tfidf_lines(batch, vocabulary, sublinear_tf, norm)
    assert len(lines) == len(batch)
    for line, (message_id, counts) in zip(lines, batch):
        expected = svmlight_line(tfidf_vector(counts, table, sublinear_tf, norm), message_id)
        ours_features, ours_comment = line.split(" # ")
        theirs_features, theirs_comment = expected.split(" # ")
        assert ours_comment == theirs_comment
        ours = [pair.split(":") for pair in ours_features.split()[1:]]
        theirs = [pair.split(":") for pair in theirs_features.split()[1:]]
        assert [term_id for term_id, _ in ours] == [term_id for term_id, _ in theirs]
        np.testing.assert_allclose([float(v) for _, v in ours], [float(v) for _, v in theirs],
                                   rtol=1e-12, atol=0)
    assert tfidf_lines([], vocabulary) == []
    with pytest.raises(ValueError, match="l3"):
        tfidf_lines(batch, vocabulary, norm="l3")
