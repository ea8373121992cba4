"""Email-aware feature groups as scikit-learn transformers, next to the tf-idf matrix.

The input of every pipeline built here is a ``Documents``: the tf-idf rows
the jobs computed (a CSR matrix, one row per message) and the parsed records
of the same messages (docs/records.md), row for row. It indexes like an
array (``docs[train]``, ``docs.shape``), so ``StratifiedKFold``,
``GridSearchCV`` and ``jeeves.models.training`` split it as they split a matrix,
and every transformer below is fitted on the training part of each fold
only.

The groups (``GROUPS``), each switchable; the dense ones are standardized
by a ``StandardScaler`` fitted per fold and weighted by ``group_weight``
before they join the tf-idf columns in a ``FeatureUnion``:

- ``text``: ``TfidfColumns``; the tf-idf row as is (always on)
- ``chars``: ``CharNgrams``; tf-idf of character 2-5-grams of subject + body, fitted per fold,
  joined unscaled like ``text``
- ``headers``: ``RecordFeatures("headers")``; features/headers.py
- ``cues``: ``RecordFeatures("cues")``; features/cues.py
- ``graph``: ``ContactFeatures``; the sender's out-degree, reciprocity, prior messages with the
  recipients
- ``intent``: ``jeeves.models.intent.IntentFeatures``; max / mean / share of sentence intent scores
- ``lsa``: ``jeeves.models.lsa.LsaFeatures``; TruncatedSVD components of the tf-idf row

A fitted pipeline holds everything prediction needs (contact statistics,
the sentence model, the SVD components, the character vocabulary), so one new message is scored from
the bundle alone: ``Documents(tfidf_row, [record])``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from jeeves.features.cues import CUE_FEATURE_NAMES, cue_features
from jeeves.features.graph import CONTACT_FEATURE_NAMES
from jeeves.features.headers import HEADER_FEATURE_NAMES, header_features
from jeeves.models.defaults import (  # noqa: F401 (used by importers)
    DEFAULT_GROUPS,
    GROUPS,
    check_groups,
)
from jeeves.models.documents import check_documents

# the record feature functions by group name: transformers store the name,
# so a saved pipeline holds no function objects
RECORD_GROUPS = {
    "headers": (header_features, HEADER_FEATURE_NAMES),
    "cues": (cue_features, CUE_FEATURE_NAMES),
}
# groups that are l2-normalized sparse rows like the tf-idf text, joined
# unscaled and at full weight
SPARSE_GROUPS = ("text", "chars")
# Defaults measured on the Berkeley set (docs/models.md, "Feature groups
# measured"): the groups (models/defaults.py), the C grid of the inner search,
# and the weight of each standardized dense group next to the l2-normalized
# tf-idf row.
DEFAULT_FIELDS = ("subject", "body", "quoted")
C_GRID = (1.0, 3.0, 10.0)
GROUP_WEIGHT = 0.04
# pseudonyms of addresses in the stored contact statistics: 16 hex digits
# (64 bits), as features/graph.py uses for the graph outputs
_PSEUDONYM_HEX_DIGITS = 16


class TfidfColumns(BaseEstimator, TransformerMixin):
    """The tf-idf part of Documents, unchanged (the ``text`` group)."""

    def fit(self, X, y=None):
        self.n_features_in_ = check_documents(X).shape[1]
        return self

    def transform(self, X):
        return check_documents(X).tfidf

    def get_feature_names_out(self, input_features=None):
        return np.array(["tfidf_%d" % index for index in range(self.n_features_in_)],
                        dtype=object)


def _subject_and_body(record):
    if not isinstance(record, dict):
        return ""
    return "\n".join(value for value in (record.get("subject"), record.get("body"))
                     if isinstance(value, str))


class CharNgrams(BaseEstimator, TransformerMixin):
    """The ``chars`` group: tf-idf of character n-grams (``char_wb``) of subject + body.

    The vectorizer (vocabulary and idf) is fitted on the training rows of each
    fold and kept in the fitted pipeline, so prediction rebuilds the same
    columns from the record alone. Character n-grams catch what the word
    analyzer splits or lemmatizes away ("mtg", "3pm", "re:", misspellings).
    """

    def __init__(self, ngram_min=2, ngram_max=5, min_df=2, max_features=100000):
        self.ngram_min = ngram_min
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, X, y=None):
        texts = [_subject_and_body(record) for record in check_documents(X).records]
        self.vectorizer_ = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(self.ngram_min, self.ngram_max),
            sublinear_tf=True, min_df=self.min_df, max_features=self.max_features).fit(texts)
        return self

    def transform(self, X):
        return self.vectorizer_.transform(
            [_subject_and_body(record) for record in check_documents(X).records])

    def get_feature_names_out(self, input_features=None):
        return np.array(["chars:%s" % name for name in self.vectorizer_.get_feature_names_out()],
                        dtype=object)


class RecordFeatures(BaseEstimator, TransformerMixin):
    """One per-record feature group of features/ (``group`` in RECORD_GROUPS) -> dense rows."""

    def __init__(self, group="headers"):
        self.group = group

    def _function(self):
        if self.group not in RECORD_GROUPS:
            raise ValueError("unknown record feature group %r (known: %s)"
                             % (self.group, ", ".join(RECORD_GROUPS)))
        return RECORD_GROUPS[self.group]

    def fit(self, X, y=None):
        check_documents(X)
        self._function()
        return self

    def transform(self, X):
        function, _ = self._function()
        return check_documents(X).feature_rows(("record", self.group), function)

    def get_feature_names_out(self, input_features=None):
        return np.array(["%s:%s" % (self.group, name) for name in self._function()[1]],
                        dtype=object)


def pseudonym(address):
    """A stable 64-bit hex pseudonym of a lowercased address (what the bundle stores)."""
    return hashlib.sha256(address.encode("utf-8")).hexdigest()[:_PSEUDONYM_HEX_DIGITS]


def _sender_and_recipients(record):
    """(sender pseudonym or None, [recipient pseudonyms]) of a record; never raises."""
    if not isinstance(record, dict):
        return None, []
    sender = record.get("from")
    sender = sender.get("address") if isinstance(sender, dict) else None
    if not isinstance(sender, str) or not sender:
        return None, []
    seen, recipients = {sender}, []
    for field in ("to", "cc", "bcc"):
        values = record.get(field)
        for address in values if isinstance(values, list) else ():
            if isinstance(address, str) and address and address not in seen:
                seen.add(address)
                recipients.append(pseudonym(address))
    return pseudonym(sender), recipients


class ContactFeatures(BaseEstimator, TransformerMixin):
    """The ``graph`` group: contact statistics learnt at fit, looked up per message.

    fit counts, over the records it is given, the messages each sender wrote
    to each recipient (addresses pseudonymized, see ``pseudonym``); these
    counts are the fitted state (``pair_counts_``: sender -> {recipient:
    messages}), stored in the bundle. transform gives, per message, in
    jeeves.features.graph.CONTACT_FEATURE_NAMES order: log1p of the sender's
    distinct recipients (``sender_out_degree``), 1 when a recipient has
    written to the sender (``reciprocal``), and log1p of the most messages
    exchanged with one recipient (``prior_messages``).

    A message that was itself counted at fit (same message id) is left out
    of its own statistics, so training rows see what a new message will
    see at prediction. Counts are not time-ordered (unlike the graph job's
    ``message_features``): the whole fitted corpus is "prior" to a new
    message.
    """

    def fit(self, X, y=None):
        pair_counts = {}
        seen = set()
        for record in check_documents(X).records:
            sender, recipients = _sender_and_recipients(record)
            if sender is None:
                continue
            seen.add(str(record.get("message_id")))
            counts = pair_counts.setdefault(sender, Counter())
            for recipient in recipients:
                counts[recipient] += 1
        self.pair_counts_ = {sender: dict(counts) for sender, counts in pair_counts.items()}
        self.message_ids_ = sorted(seen)
        return self

    def _row(self, record, fitted_ids):
        sender, recipients = _sender_and_recipients(record)
        if sender is None:
            return [0.0, 0.0, 0.0]
        own = 1 if str(record.get("message_id")) in fitted_ids else 0
        mine = set(recipients)
        sent = self.pair_counts_.get(sender, {})
        out_degree = sum(1 for recipient, count in sent.items()
                         if count - (own if recipient in mine else 0) > 0)
        reciprocal, prior = 0.0, 0
        for recipient in recipients:
            received = self.pair_counts_.get(recipient, {}).get(sender, 0)
            if received:
                reciprocal = 1.0
            prior = max(prior, sent.get(recipient, 0) - own + received)
        return [float(np.log1p(out_degree)), reciprocal, float(np.log1p(prior))]

    def transform(self, X):
        fitted_ids = set(self.message_ids_)
        return np.array([self._row(record, fitted_ids) for record in check_documents(X).records],
                        dtype=float).reshape(len(X), 3)

    def get_feature_names_out(self, input_features=None):
        return np.array(["graph:%s" % name for name in CONTACT_FEATURE_NAMES], dtype=object)


def scaled(transformer):
    """transformer followed by a StandardScaler fitted on the same (training) rows."""
    return Pipeline([("extract", transformer), ("scale", StandardScaler())])


def group_transformer(group, intent_model=None, corpus_svd=None, seed=0):
    """The (scaled) transformer of one group name of GROUPS.

    `intent_model` (jeeves.models.intent.IntentModel) is needed by ``intent``;
    `corpus_svd` (jeeves.models.lsa.CorpusSvd, fitted on all messages) is used by
    ``lsa``, which otherwise fits its SVD on each training part.
    """
    from jeeves.models.intent import IntentFeatures
    from jeeves.models.lsa import LsaFeatures

    if group == "text":
        return TfidfColumns()
    if group == "chars":
        return CharNgrams()
    if group in RECORD_GROUPS:
        return scaled(RecordFeatures(group))
    if group == "graph":
        return scaled(ContactFeatures())
    if group == "intent":
        return scaled(IntentFeatures(model=intent_model))
    if group == "lsa":
        return scaled(LsaFeatures(svd=corpus_svd, random_state=seed))
    raise ValueError("unknown feature group %r (known: %s)" % (group, ", ".join(GROUPS)))


def email_features(groups, intent_model=None, corpus_svd=None, group_weight=1.0, seed=0):
    """A FeatureUnion of the groups (``text`` always first), the standardized dense
    groups weighted by ``group_weight`` relative to the l2-normalized sparse ones."""
    groups = check_groups(groups)
    weights = {name: (1.0 if name in SPARSE_GROUPS else group_weight) for name in groups}
    return FeatureUnion([(name, group_transformer(name, intent_model, corpus_svd, seed))
                         for name in groups], transformer_weights=weights)


def email_pipeline(groups=("text",), C=10.0, intent_model=None, corpus_svd=None,
                   group_weight=1.0, seed=0):
    """Documents -> email_features(groups) -> balanced LogisticRegression (step ``clf``)."""
    return Pipeline([
        ("features", email_features(groups, intent_model, corpus_svd, group_weight, seed)),
        ("clf", LogisticRegression(solver="liblinear", class_weight="balanced", C=C,
                                   max_iter=1000, random_state=seed)),
    ])


def feature_names(pipeline, terms=None):
    """Names of the columns a fitted email pipeline's classifier sees.

    tf-idf columns take the vocabulary's ``terms`` when given; the other
    groups are named ``group:feature``.
    """
    union = pipeline.named_steps["features"]
    names = []
    for name, transformer in union.transformer_list:
        if name == "text" and terms is not None:
            names.extend(str(term) for term in terms)
        else:
            names.extend(str(item) for item in transformer.get_feature_names_out())
    return names


def row_contributions(matrix, row, weights, names, count=5):
    """The `count` largest |weight x value| terms of one CSR row -> [(name, contribution)]
    (positive pushes toward class 1; ties in the row's column order)."""
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    columns = matrix.indices[start:end]
    values = matrix.data[start:end] * weights[columns]
    order = np.argsort(-np.abs(values), kind="stable")[:count]
    return [(str(names[columns[i]]), float(values[i])) for i in order if values[i] != 0]


def top_contributions(pipeline, documents, names, count=5):
    """Per message, the `count` largest |weight x value| terms of a fitted linear email
    pipeline -> [[(name, contribution), ...], ...] (positive pushes toward class 1)."""
    matrix = sp.csr_matrix(pipeline.named_steps["features"].transform(check_documents(documents)))
    coef = np.ravel(pipeline.named_steps["clf"].coef_)
    return [row_contributions(matrix, row, coef, names, count)
            for row in range(matrix.shape[0])]


class FastEmailScorer:
    """A fitted email pipeline's score of a few messages at a time, from its
    fitted parameters with numpy: what ``pipeline.predict_proba`` computes,
    without scikit-learn's per-call input checks, the FeatureUnion's
    stacking of sparse blocks and the float64 copy of the LSA components
    (most of the tens of milliseconds one message costs through the
    pipeline; `jeeves serve` scores one message a request).

    Per group: ``text`` is the message's tf-idf entries; ``headers``,
    ``cues``, ``graph`` compute their rows with the functions the
    transformers call; ``intent`` scores sentences with
    jeeves.models.intent.SentenceScorer (the pipeline's own scores when it
    does not apply); ``lsa`` gathers the components of the row's terms
    (jeeves.models.lsa.RowProjection); each dense row is then standardized
    with the fitted StandardScaler's mean and scale and weighted as the
    FeatureUnion weights it. A group of another kind (``chars``) is
    computed by its fitted transformer. The classifier is a binary
    LogisticRegression: the logistic of the row dotted with ``coef_`` plus
    ``intercept_``. ValueError for another pipeline (scored as it is).

    tests/models/test_email_fastscore.py holds its scores, columns and
    values equal to the pipeline's within 1e-9 on real messages.
    """

    def __init__(self, pipeline):
        from jeeves.models.intent import IntentFeatures, fast_sentence_scorer
        from jeeves.models.lsa import LsaFeatures, RowProjection

        steps = getattr(pipeline, "named_steps", {})
        union, clf = steps.get("features"), steps.get("clf")
        if (list(steps) != ["features", "clf"] or type(union) is not FeatureUnion
                or type(clf) is not LogisticRegression or len(clf.classes_) != 2):
            raise ValueError("not an email pipeline with a binary LogisticRegression")
        weights = union.transformer_weights or {}
        self.groups = []
        for name, transformer in union.transformer_list:
            if isinstance(transformer, str):
                if transformer == "drop":
                    continue
                raise ValueError("feature group %r is %r" % (name, transformer))
            weight = weights.get(name)
            if type(transformer) is TfidfColumns:
                self.groups.append(("text", None, None, None, weight))
                continue
            inner = getattr(transformer, "named_steps", {})
            extract, scale = inner.get("extract"), inner.get("scale")
            if (type(transformer) is not Pipeline or list(inner) != ["extract", "scale"]
                    or type(scale) is not StandardScaler):
                self.groups.append(("transform", transformer, None, None, weight))
                continue
            mean = scale.mean_ if scale.with_mean else None
            deviation = scale.scale_ if scale.with_std else None
            if type(extract) is RecordFeatures:
                state = extract._function()[0]
                kind = "record"
            elif type(extract) is ContactFeatures:
                state = partial(extract._row, fitted_ids=set(extract.message_ids_))
                kind = "record"
            elif type(extract) is IntentFeatures:
                from jeeves.models.intent import intent_row

                sentence = fast_sentence_scorer(extract.model)
                scores = sentence.scores if sentence is not None else extract.model.scores
                state = partial(intent_row, scores=scores)
                kind = "record"
            elif type(extract) is LsaFeatures:
                state, kind = RowProjection(extract.svd_), "lsa"
            else:
                state, kind = transformer, "transform"
                mean = deviation = None
            self.groups.append((kind, state, mean, deviation, weight))
        self.weights = np.ravel(clf.coef_).astype(np.float64)
        self.intercept = float(clf.intercept_[0])

    def rows(self, records, owner, ids, values, n_features):
        """Each record's feature row as (columns, values), the columns in the
        classifier's order (what the pipeline's features give, zeros left out);
        the tf-idf rows are the entries (owner row, id, value) of
        jeeves.features.tfidf.document_entries, ids sorted within a row."""
        if not records:
            return []
        owner = np.asarray(owner, dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        bounds = np.searchsorted(owner, np.arange(len(records) + 1))
        blocks = [[] for _ in records]
        whole = {}
        offset = 0
        for kind, state, mean, deviation, weight in self.groups:
            if kind == "transform":
                if "documents" not in whole:
                    from jeeves.models.documents import Documents

                    whole["documents"] = Documents(
                        sp.csr_matrix((values, (owner, ids)), shape=(len(records), n_features)),
                        records)
                matrix = state.transform(whole["documents"])
                if weight is not None:
                    matrix = matrix * weight
                matrix = sp.csr_matrix(matrix)
                for row in range(len(records)):
                    start, end = matrix.indptr[row], matrix.indptr[row + 1]
                    blocks[row].append((matrix.indices[start:end] + offset,
                                        np.asarray(matrix.data[start:end], dtype=np.float64)))
                offset += matrix.shape[1]
                continue
            width = n_features if kind == "text" else None
            for row, record in enumerate(records):
                start, end = bounds[row], bounds[row + 1]
                if kind == "text":
                    block = (ids[start:end] + offset, values[start:end])
                    if weight is not None:
                        block = (block[0], block[1] * weight)
                    blocks[row].append(block)
                    continue
                if kind == "lsa":
                    dense = state.project(ids[start:end], values[start:end])
                else:
                    dense = np.array(state(record), dtype=float)
                if mean is not None:
                    dense = dense - mean
                if deviation is not None:
                    dense = dense / deviation
                if weight is not None:
                    dense = dense * weight
                width = len(dense)
                kept = np.flatnonzero(dense)
                blocks[row].append((kept + offset, dense[kept]))
            offset += width
        return [(np.concatenate([columns for columns, _ in block]),
                 np.concatenate([data for _, data in block])) for block in blocks]

    def scores(self, rows):
        """The positive-class score of each (columns, values) row."""
        from scipy.special import expit

        margins = np.array([float(data @ self.weights[columns]) for columns, data in rows],
                           dtype=np.float64) + self.intercept
        return expit(margins)


def fast_email_scorer(pipeline):
    """A FastEmailScorer of a fitted email pipeline, or None when the pipeline
    is not one it computes (the caller scores through the pipeline)."""
    try:
        return FastEmailScorer(pipeline)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def entry_contributions(columns, values, weights, names, count=5):
    """row_contributions of a row given as (columns, values)."""
    contributions = values * weights[columns]
    order = np.argsort(-np.abs(contributions), kind="stable")[:count]
    return [(str(names[columns[i]]), float(contributions[i]))
            for i in order if contributions[i] != 0]
