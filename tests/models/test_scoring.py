"""jeeves.models.scoring: the vectors and scores of `jeeves predict` and the scoring job."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from jeeves.features.text import Analyzer
from jeeves.models.bundle import load_bundle, save_bundle
from jeeves.models.registry import REGISTRY
from jeeves.models.scoring import predict_records, vectorize
from tests.models.corpus import texts_and_labels

# no WordNet: the analyzer is plain scikit-learn tokenization
ANALYZER = {"lemmatize": False, "stop_words": None, "ngram_max": 2}


def records_of(texts):
    return [{"message_id": "m%d@x" % number, "subject": "", "body": text,
             "source": {"uri": "file:///m%d" % number}}
            for number, text in enumerate(texts)]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    texts, labels = texts_and_labels()
    records = records_of(texts)
    vectorizer = TfidfVectorizer(analyzer=Analyzer(ANALYZER))
    X = vectorizer.fit_transform(records)
    estimator = REGISTRY["logistic_regression"].make_pipeline(0, X.shape[1]).fit(X, labels)
    directory = tmp_path_factory.mktemp("scoring")
    vocabulary = directory / "vocabulary.tsv"
    with open(vocabulary, "w", encoding="utf-8") as handle:
        handle.write("term\tid\tdf\tidf\n")
        for index, (term, idf) in enumerate(zip(vectorizer.get_feature_names_out(),
                                                vectorizer.idf_)):
            handle.write("%s\t%d\t1\t%r\n" % (term, index, float(idf)))
    bundle_dir = save_bundle(directory / "model", estimator, 0.5, ANALYZER, str(vocabulary),
                             "logistic_regression", X.shape[1])
    return load_bundle(bundle_dir), vectorizer, estimator


def test_vectorize_equals_scikit_learn_on_new_mail(fitted):
    bundle, vectorizer, _ = fitted
    records = records_of(["Can we meet on Monday about the gas budget?",
                          "Nothing here matches any known term zzzz"])
    got = vectorize(records, bundle)
    assert got.shape == (2, len(vectorizer.idf_))
    np.testing.assert_allclose(got.toarray(), vectorizer.transform(records).toarray(),
                               rtol=0, atol=1e-12)
    assert got[1].nnz < got[0].nnz


def test_predict_records_scores_each_record_as_one_document(fitted):
    bundle, vectorizer, estimator = fitted
    records = records_of(["Let's schedule a meeting on Friday.",
                          "The quarterly report is attached."])
    predictions = predict_records(bundle, records)
    expected = estimator.predict_proba(vectorizer.transform(records))[:, 1]
    assert [row["message_id"] for row in predictions] == ["m0@x", "m1@x"]
    np.testing.assert_allclose([row["score"] for row in predictions], expected, atol=1e-12)
    assert [row["label"] for row in predictions] == [int(score >= 0.5) for score in expected]
    assert predictions[0]["source"] == {"uri": "file:///m0"}


def test_no_records_no_predictions(fitted):
    assert predict_records(fitted[0], []) == []
