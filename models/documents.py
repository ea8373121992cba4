"""Messages as the email model's input: tf-idf rows and parsed records, row for row.

The bottom of the email model's modules: jeeves.models.email_features,
jeeves.models.intent and jeeves.models.lsa take ``Documents`` and import it
from here.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class Documents:
    """Messages as model input: tf-idf rows (CSR) and parsed records, row for row.

    ``docs[indices]`` (an integer array, a slice or a boolean mask) is the
    sub-collection; ``shape`` is the tf-idf matrix's, so scikit-learn counts
    samples from it. Sub-collections share one memo of per-record feature
    rows (``feature_rows``): a nested cross-validation fits hundreds of
    pipelines on the same messages, and a record's cues or sentence scores
    do not depend on the fold.
    """

    def __init__(self, tfidf, records, _rows=None, _memo=None):
        tfidf = sp.csr_matrix(tfidf)
        records = list(records)
        if tfidf.shape[0] != len(records):
            raise ValueError("Documents: %d tf-idf rows but %d records"
                             % (tfidf.shape[0], len(records)))
        self.tfidf = tfidf
        self.records = records
        # each row's position in the collection the memo belongs to
        self._rows = np.arange(len(records)) if _rows is None else _rows
        self._memo = {} if _memo is None else _memo

    @property
    def shape(self):
        return self.tfidf.shape

    def __len__(self):
        return self.tfidf.shape[0]

    def __getitem__(self, key):
        if isinstance(key, tuple) and len(key) == 2 and key[1] is Ellipsis:
            key = key[0]  # scikit-learn's _safe_indexing asks for docs[indices, ...]
        rows = np.arange(len(self))[key if isinstance(key, slice) else np.asarray(key)]
        if rows.ndim != 1:
            raise IndexError("Documents index must select rows, got %r" % (key,))
        return Documents(self.tfidf[rows], [self.records[row] for row in rows],
                         self._rows[rows], self._memo)

    def feature_rows(self, key, function):
        """[function(record) for each record] as a float array, memoized per (key, message).

        `key` names the function and any state it depends on; rows of the
        same original message share one entry.
        """
        memo = self._memo.setdefault(key, {})
        out = []
        for row, record in zip(self._rows.tolist(), self.records):
            if row not in memo:
                memo[row] = function(record)
            out.append(memo[row])
        return np.array(out, dtype=float).reshape(len(self), -1)

    def __repr__(self):
        return "Documents(%d messages, %d tf-idf columns)" % self.shape


def check_documents(X):
    """``X`` itself when it is Documents; TypeError otherwise."""
    if not isinstance(X, Documents):
        raise TypeError("email feature pipelines take jeeves.models.documents.Documents, "
                        "not %s" % type(X).__name__)
    return X
