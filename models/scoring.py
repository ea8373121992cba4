"""Score parsed records with a trained model bundle (task-side and CLI).

One implementation shared by `jeeves predict` (scripts/cmd_predict.py) and the
scoring job (jobs/mr_score_messages.py): every record is one document; it goes
through the bundle's analyzer and the vectorizer settings recorded at training
time, so a message is scored whole, in the feature space of the bundle.
"""

from __future__ import annotations

import scipy.sparse as sp

from jeeves.features.text import Analyzer
from jeeves.features.tfidf import build_hasher, document_entries
from jeeves.features.vocabulary import read_whole_vocabulary

# vectorizer settings of a bundle that does not record them: the job defaults
DEFAULT_VECTORS = {"sublinear_tf": False, "norm": "l2", "hash_features": 0}


class BundleVectorizer:
    """A bundle's analyzer, vocabulary and vectorizer settings, loaded once:
    ``transform(records)`` -> CSR matrix of their tf-idf vectors in the
    bundle's feature space (a scoring task transforms many batches)."""

    def __init__(self, bundle):
        settings = dict(DEFAULT_VECTORS, **bundle.model.get("extra", {}).get("vectors", {}))
        self.sublinear_tf, self.norm = settings["sublinear_tf"], settings["norm"]
        self.analyzer = Analyzer(bundle.analyzer_config)
        self.table = read_whole_vocabulary(bundle.vocabulary_path)
        self.bucket_of = (build_hasher(settings["hash_features"])
                          if settings["hash_features"] else None)
        self.n_features = bundle.model["n_features"]

    def transform(self, records):
        # the vector job's kernel, so a message scores as its job vector would
        rows, columns, values = document_entries(records, self.analyzer, self.table,
                                                 self.sublinear_tf, self.norm, self.bucket_of)
        return sp.csr_matrix((values, (rows, columns)), shape=(len(records), self.n_features))


def takes_documents(bundle):
    """True when the bundle's model reads tf-idf rows and records together
    (jeeves.models.email_features.Documents), not the tf-idf matrix alone."""
    return bundle.model.get("extra", {}).get("input") == "documents"


def vectorize(records, bundle):
    """CSR matrix of the records' tf-idf vectors in the bundle's feature space."""
    return BundleVectorizer(bundle).transform(records)


def predict_records(bundle, records, vectorizer=None):
    """[{"message_id", "score", "label", "source"}] for parsed records.

    ``vectorizer`` (a BundleVectorizer of the same bundle) spares reloading
    the vocabulary when many batches are scored.
    """
    if not records:
        return []
    matrix = (vectorizer or BundleVectorizer(bundle)).transform(records)
    if takes_documents(bundle):
        # an email pipeline: every feature group computed from the record and
        # the state its fitted transformers hold (models/email_features.py)
        from jeeves.models.documents import Documents

        matrix = Documents(matrix, records)
    scores = bundle.score(matrix)
    labels = bundle.label(scores)
    return [{"message_id": record["message_id"], "score": float(score), "label": int(label),
             "source": record.get("source")}
            for record, score, label in zip(records, scores, labels)]
