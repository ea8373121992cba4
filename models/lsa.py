"""The unlabelled corpus put to work: LSA (TruncatedSVD) of all messages' tf-idf rows.

``fit_corpus_svd(matrix)`` fits a TruncatedSVD on the tf-idf rows of every
parsed message, labelled or not (no label is read, so fitting it on
messages of held-out folds leaks nothing about their labels). To bound the
bundle, only the ``max_terms`` columns present in most rows take part: the
fitted ``CorpusSvd`` keeps their ids and the ``n_components x max_terms``
components as float32 (100 x 20,000 is 8 MB).

``LsaFeatures(svd=corpus_svd)`` projects each message's tf-idf row on those
components: the ``lsa`` group. Without ``svd`` it fits the SVD on the rows
it is fitted on (a training fold), which is how it runs when no unlabelled
corpus is at hand.

How it scales: the fit is randomized SVD (Halko et al.), a few passes of
products of the matrix with thin dense matrices; each pass is a map over
tf-idf rows emitting ``X_part.T @ (X_part @ Q)`` (``max_terms x k``
floats) and one summing reduce, so on a cluster it is one job per power
iteration over ``OUT/features/tfidf``, with the driver holding only
``max_terms x k`` numbers. Here it takes a CSR matrix; 184k Enron messages
x 20,000 columns fit in memory on one machine (a few hundred MB).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD

from jeeves.models.documents import Documents

DEFAULT_COMPONENTS = 100
DEFAULT_MAX_TERMS = 20000


class CorpusSvd:
    """A fitted projection: tf-idf columns ``columns`` -> ``components`` (k x len(columns)).

    A plain holder, not an estimator, so ``sklearn.base.clone`` copies it
    into every fold instead of dropping the fit.
    """

    def __init__(self, columns, components, n_features):
        self.columns = np.asarray(columns, dtype=np.int64)
        self.components = np.asarray(components, dtype=np.float32)
        self.n_features = int(n_features)

    def project(self, matrix):
        matrix = sp.csr_matrix(matrix)
        if matrix.shape[1] != self.n_features:
            raise ValueError("LSA was fitted on %d tf-idf columns, got %d"
                             % (self.n_features, matrix.shape[1]))
        return np.asarray(matrix[:, self.columns] @ self.components.T, dtype=float)


def fit_corpus_svd(matrix, n_components=DEFAULT_COMPONENTS, max_terms=DEFAULT_MAX_TERMS,
                   random_state=0):
    """TruncatedSVD of the tf-idf rows `matrix` (all messages) -> CorpusSvd."""
    matrix = sp.csr_matrix(matrix)
    if matrix.shape[0] < 2 or matrix.shape[1] < 2:
        raise ValueError("LSA needs at least 2 rows and 2 columns, got %d x %d" % matrix.shape)
    document_frequency = np.bincount(matrix.indices, minlength=matrix.shape[1])
    # most frequent columns first; ties to the lower id, so the choice is stable
    columns = np.sort(np.argsort(-document_frequency, kind="stable")[:max_terms])
    reduced = matrix[:, columns]
    components = max(1, min(n_components, reduced.shape[1] - 1, reduced.shape[0] - 1))
    svd = TruncatedSVD(n_components=components, random_state=random_state).fit(reduced)
    return CorpusSvd(columns, svd.components_, matrix.shape[1])


class LsaFeatures(BaseEstimator, TransformerMixin):
    """The ``lsa`` group: a message's tf-idf row projected on SVD components.

    ``svd`` is a CorpusSvd fitted on the whole corpus (fit_corpus_svd);
    when None, fit learns one from the rows it is given.
    """

    def __init__(self, svd=None, n_components=DEFAULT_COMPONENTS,
                 max_terms=DEFAULT_MAX_TERMS, random_state=0):
        self.svd = svd
        self.n_components = n_components
        self.max_terms = max_terms
        self.random_state = random_state

    def fit(self, X, y=None):
        tfidf = _tfidf(X)
        self.svd_ = self.svd if self.svd is not None else fit_corpus_svd(
            tfidf, self.n_components, self.max_terms, self.random_state)
        return self

    def transform(self, X):
        return self.svd_.project(_tfidf(X))

    def get_feature_names_out(self, input_features=None):
        return np.array(["lsa:%d" % index for index in range(len(self.svd_.components))],
                        dtype=object)


def _tfidf(X):
    return X.tfidf if isinstance(X, Documents) else X


class RowProjection:
    """``CorpusSvd.project`` of one tf-idf row given as entries (ids, values),
    without building a sparse matrix: ``project`` multiplies the whole
    ``components`` block (k x max_terms, cast to float64 on every call,
    milliseconds for one message), this gathers the components of the row's
    terms only (kept transposed as float64: the same products, summed in
    another order)."""

    def __init__(self, svd):
        self.n_features = svd.n_features
        self.position = np.full(svd.n_features, -1, dtype=np.int64)
        self.position[svd.columns] = np.arange(len(svd.columns))
        self.rows = np.ascontiguousarray(svd.components.T, dtype=np.float64)

    def project(self, ids, values):
        """The k LSA components of the row whose nonzero entries are (ids, values)."""
        positions = self.position[np.asarray(ids, dtype=np.int64)]
        kept = positions >= 0
        return np.asarray(values, dtype=np.float64)[kept] @ self.rows[positions[kept]]
