import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from jeeves.models.documents import Documents
from jeeves.models.lsa import LsaFeatures, fit_corpus_svd
from tests.models.corpus import tfidf_corpus


def test_the_corpus_svd_keeps_the_most_frequent_columns():
    X, _, _, _ = tfidf_corpus()
    svd = fit_corpus_svd(X, n_components=4, max_terms=10)
    frequency = np.bincount(X.indices, minlength=X.shape[1])
    assert len(svd.columns) == 10
    assert frequency[svd.columns].min() >= np.sort(frequency)[-10]
    assert svd.components.shape == (4, 10) and svd.components.dtype == np.float32
    assert svd.project(X[:3]).shape == (3, 4)
    with pytest.raises(ValueError, match="fitted on %d tf-idf columns, got 5" % X.shape[1]):
        svd.project(sp.csr_matrix((1, 5)))


def test_a_prefitted_svd_is_used_as_is_and_survives_clone():
    X, y, _, _ = tfidf_corpus()
    svd = fit_corpus_svd(X, n_components=3)
    docs = Documents(X, [{}] * X.shape[0])
    features = clone(LsaFeatures(svd=svd)).fit(docs[:10], y[:10])
    np.testing.assert_allclose(features.transform(docs), svd.project(X))
    assert list(features.get_feature_names_out()) == ["lsa:0", "lsa:1", "lsa:2"]


def test_without_a_corpus_the_svd_is_fitted_on_the_training_rows():
    X, y, _, _ = tfidf_corpus()
    features = LsaFeatures(n_components=3).fit(X[:20])
    assert features.transform(X).shape == (X.shape[0], 3)
    # fitted on other rows, other components
    other = LsaFeatures(n_components=3).fit(X[20:])
    assert not np.allclose(np.abs(features.svd_.components), np.abs(other.svd_.components))


def test_too_small_a_matrix_is_refused():
    with pytest.raises(ValueError, match="at least 2 rows and 2 columns, got 1 x 3"):
        fit_corpus_svd(sp.csr_matrix(np.ones((1, 3))))
