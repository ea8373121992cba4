"""A bundle's linear model as plain numpy arrays: scoring without scikit-learn or skops.

Importing scikit-learn and skops costs a fresh `jeeves predict` over a
second and a half, most of its cold start. For the models that are linear
over the tf-idf vector, the positive-class score the estimator reports
(jeeves.models.training.positive_scores) is one formula::

    score(x) = mean over k of  sigmoid(scale[k] * (x . weights[k] + offset[k]) + shift[k])

with ``x`` binarized first (``x > binarize``) when ``binarize`` is not NaN.

- LogisticRegression (binary): one row, coef_ and intercept_, scale 1, shift 0
  (predict_proba is the expit of the decision function).
- MultinomialNB, ComplementNB: the positive probability of two classes is
  the sigmoid of the difference of their joint log likelihoods, linear in x:
  the difference of ``feature_log_prob_`` rows and of the class log priors
  (ComplementNB adds no prior with two classes).
- BernoulliNB: the same over the binarized x, with the log probabilities of
  absence folded into the weights and the offset.
- CalibratedClassifierCV over LinearSVC with sigmoid calibration: one row
  per calibrated copy, the SVC's coef_ and intercept_, Platt's ``-a`` and
  ``-b``; predict_proba is their mean.

Any other estimator, or a pipeline with steps before ``clf`` (selection,
SVD, the email feature groups), gets no scorer and is scored by the full
bundle. ``scorer_arrays`` also checks the formula against the estimator on
probe rows when the bundle is saved, so a model whose arithmetic differs
(another scikit-learn version, another option) falls back instead of scoring
differently.

The file (``scorer.npz``) is a zip of .npy arrays, read with
``allow_pickle=False``: plain numbers, no code. Its entries are dated
1980-01-01 so that equal models give equal files (and checksums). It also
holds the vocabulary as a term table (``term_table``: each term's id and idf under a
64-bit BLAKE2b key of the term, with its CRC-32 as a check, sorted by key):
reading the 270,000 rows of vocabulary.tsv costs a fresh process more than
half a second, loading these arrays a few milliseconds, and only the terms
of the messages scored are hashed. A term outside the vocabulary is taken
for one inside only if both checksums collide (about one chance in 2^96, as
jeeves.features.vocabulary.HashedVocabulary); two vocabulary terms with the same
key (or a bundle saved without the table) make the scorer read
vocabulary.tsv instead.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib

import numpy as np

SCORER_FILE = "scorer.npz"
SCORER_FORMAT = 1
# largest difference allowed between the formula and the estimator on the probe rows
PROBE_TOLERANCE = 1e-10
PROBE_ROWS = 16
PROBE_TERMS = 40
ARRAYS = ("format", "estimator", "weights", "offsets", "scales", "shifts", "binarize")
# the vocabulary as a term table: absent when two terms share a key
TERM_ARRAYS = ("term_keys", "term_checks", "term_ids", "term_idf")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# vectorizer settings of a bundle that does not record them: the job defaults
# (models/scoring.py's DEFAULT_VECTORS)
DEFAULT_VECTORS = {"sublinear_tf": False, "norm": "l2", "hash_features": 0}


def _final_step(estimator):
    """The classifier of a Pipeline whose only step is ``clf`` (or a bare classifier), else None."""
    from sklearn.pipeline import Pipeline

    if type(estimator) is Pipeline:
        return estimator.steps[0][1] if [name for name, _ in estimator.steps] == ["clf"] \
            else None
    return estimator


def _linear_rows(clf):
    """(name, weights, offsets, scales, shifts, binarize) of a supported binary classifier,
    else None."""
    from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import BernoulliNB, ComplementNB, MultinomialNB
    from sklearn.svm import LinearSVC

    kind = type(clf)
    if len(getattr(clf, "classes_", ())) != 2:
        return None
    if kind is LogisticRegression:
        return (kind.__name__, clf.coef_[:1], clf.intercept_[:1], np.ones(1), np.zeros(1),
                np.nan)
    if kind in (MultinomialNB, ComplementNB):
        log_prob = clf.feature_log_prob_
        offset = 0.0 if kind is ComplementNB else \
            clf.class_log_prior_[1] - clf.class_log_prior_[0]
        return (kind.__name__, (log_prob[1] - log_prob[0])[None, :], np.array([offset]),
                np.ones(1), np.zeros(1), np.nan)
    if kind is BernoulliNB:
        log_prob = clf.feature_log_prob_
        absent = np.log(1 - np.exp(log_prob))
        present = log_prob - absent
        prior = clf.class_log_prior_ + absent.sum(axis=1)
        return (kind.__name__, (present[1] - present[0])[None, :],
                np.array([prior[1] - prior[0]]), np.ones(1), np.zeros(1),
                np.nan if clf.binarize is None else float(clf.binarize))
    if kind is CalibratedClassifierCV:
        copies = clf.calibrated_classifiers_
        if not all(type(copy.estimator) is LinearSVC and copy.method == "sigmoid"
                   and len(copy.calibrators) == 1
                   and type(copy.calibrators[0]) is _SigmoidCalibration for copy in copies):
            return None
        return ("CalibratedClassifierCV(LinearSVC)",
                np.vstack([copy.estimator.coef_[:1] for copy in copies]),
                np.array([copy.estimator.intercept_[0] for copy in copies]),
                np.array([-copy.calibrators[0].a_ for copy in copies], dtype=np.float64),
                np.array([-copy.calibrators[0].b_ for copy in copies], dtype=np.float64),
                np.nan)
    return None


def _probe(n_features, seed=0):
    """PROBE_ROWS sparse rows like tf-idf vectors (non-negative, l2-normalized), one empty."""
    import scipy.sparse as sp

    generator = np.random.default_rng(seed)
    rows, columns, values = [], [], []
    for row in range(1, PROBE_ROWS):
        terms = generator.choice(n_features, size=min(PROBE_TERMS, n_features), replace=False)
        weights = generator.random(len(terms)) + 0.01
        rows.extend([row] * len(terms))
        columns.extend(terms.tolist())
        values.extend((weights / np.sqrt(np.sum(weights * weights))).tolist())
    return sp.csr_matrix((values, (rows, columns)), shape=(PROBE_ROWS, n_features))


def scorer_arrays(estimator, n_features, vocabulary_path=None):
    """The scorer file's arrays for a fitted estimator (with the term table of
    ``vocabulary_path``) -> dict, or None when it is not one of the supported
    linear models or the formula does not reproduce its scores on probe rows."""
    from jeeves.models.training import positive_scores

    clf = _final_step(estimator)
    rows = _linear_rows(clf) if clf is not None else None
    if rows is None:
        return None
    name, weights, offsets, scales, shifts, binarize = rows
    arrays = {"format": np.array(SCORER_FORMAT), "estimator": np.array(name),
              "weights": np.ascontiguousarray(weights, dtype=np.float64),
              "offsets": np.asarray(offsets, dtype=np.float64),
              "scales": np.asarray(scales, dtype=np.float64),
              "shifts": np.asarray(shifts, dtype=np.float64),
              "binarize": np.array(binarize, dtype=np.float64)}
    if arrays["weights"].shape[1] != n_features:
        return None
    probe = _probe(n_features)
    owner, ids = probe.nonzero()
    expected = positive_scores(estimator, probe)
    found = linear_scores(arrays, owner, ids, probe.data, PROBE_ROWS)
    if not np.all(np.abs(found - expected) <= PROBE_TOLERANCE):
        return None
    if vocabulary_path is not None:
        arrays.update(term_arrays(vocabulary_path))
    return arrays


def write_scorer(path, arrays):
    """Write ``arrays`` as an .npz file with fixed entry dates (the same bytes for
    the same arrays)."""
    # stored, not deflated: hashes do not compress, and inflating costs the cold start
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for name in ARRAYS + TERM_ARRAYS:
            if name not in arrays:
                continue
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, arrays[name], allow_pickle=False)
            target.writestr(zipfile.ZipInfo(name + ".npy", date_time=ZIP_EPOCH),
                            buffer.getvalue())


def read_scorer(path):
    """The arrays of a scorer file -> dict, or None when it has another format version
    (the caller falls back to the full bundle); ValueError when it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in ARRAYS}
            if all(name + ".npy" in stored.zip.namelist() for name in TERM_ARRAYS):
                arrays.update((name, stored[name]) for name in TERM_ARRAYS)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError("cannot read the scorer %s: %s" % (path, error)) from None
    if arrays["format"].shape != () or int(arrays["format"]) != SCORER_FORMAT:
        return None
    weights = arrays["weights"]
    count = weights.shape[0] if weights.ndim == 2 else -1
    if count < 1 or any(arrays[name].shape != (count,)
                        for name in ("offsets", "scales", "shifts")):
        raise ValueError("the scorer %s has weights %r with offsets, scales and shifts %r"
                         % (path, weights.shape,
                            [arrays[name].shape for name in ("offsets", "scales", "shifts")]))
    if "term_keys" in arrays and len({arrays[name].shape for name in TERM_ARRAYS}) != 1:
        raise ValueError("the scorer %s has term arrays of shapes %r" % (
            path, [arrays[name].shape for name in TERM_ARRAYS]))
    return arrays


def term_key(term):
    """A term's 64-bit key: the first 8 bytes of its BLAKE2b digest (the same in every
    process, unlike hash())."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(),
                          "little")


def term_arrays(vocabulary_path):
    """The TERM_ARRAYS of a vocabulary.tsv -> dict, or {} when two of its terms share a
    key or the file is no vocabulary.tsv that jeeves.features.vocabulary reads (the
    scorer then reads it as the full bundle does, and fails as it does)."""
    from jeeves.features.vocabulary import read_vocabulary_rows

    try:
        rows = read_vocabulary_rows(vocabulary_path)
    except ValueError:
        return {}
    return term_arrays_of_rows(rows)


def term_arrays_of_rows(rows):
    """The TERM_ARRAYS of a vocabulary's rows ``(term, id, df, idf)`` -> dict, or {}
    when two of its terms share a key (``term_arrays`` of a vocabulary held in
    memory: jeeves.models.bundle.bundle_files)."""
    keys = np.fromiter((term_key(row[0]) for row in rows), dtype=np.uint64, count=len(rows))
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    if len(keys) > 1 and np.any(keys[1:] == keys[:-1]):
        return {}
    return {"term_keys": keys,
            "term_checks": np.fromiter((zlib.crc32(row[0].encode("utf-8")) for row in rows),
                                       dtype=np.uint32, count=len(rows))[order],
            "term_ids": np.fromiter((row[1] for row in rows), dtype=np.int64,
                                    count=len(rows))[order],
            "term_idf": np.fromiter((row[3] for row in rows), dtype=np.float64,
                                    count=len(rows))[order]}


def term_table(arrays):
    """The vocabulary from the scorer's TERM_ARRAYS, as jeeves.features.tfidf.tfidf_entries
    takes a table: a jeeves.features.vocabulary.HashedVocabulary keyed by ``term_key``."""
    from jeeves.features.vocabulary import HashedVocabulary

    return HashedVocabulary(arrays["term_keys"], arrays["term_checks"], arrays["term_ids"],
                            arrays["term_idf"], key=term_key)


def _sigmoid(values):
    """1 / (1 + exp(-values)) without overflow: exp of a non-positive number only."""
    small = np.exp(-np.abs(values))
    return np.where(values >= 0, 1.0 / (1.0 + small), small / (1.0 + small))


def linear_scores(arrays, owner, ids, values, count):
    """Scores of ``count`` vectors given as entries (owner row, feature id, value)."""
    values = np.asarray(values, dtype=np.float64)
    binarize = float(arrays["binarize"])
    if not np.isnan(binarize):
        values = (values > binarize).astype(np.float64)
    scores = np.zeros(count, dtype=np.float64)
    for weights, offset, scale, shift in zip(arrays["weights"], arrays["offsets"],
                                             arrays["scales"], arrays["shifts"]):
        margins = np.bincount(owner, weights=values * weights[ids], minlength=count) + offset
        scores += _sigmoid(scale * margins + shift)
    return scores / len(arrays["offsets"])


class FastScorer:
    """A bundle's analyzer, vocabulary and scorer arrays: parsed records -> predictions
    as jeeves.models.scoring.predict_records gives them, with numpy alone.

    The vocabulary is the scorer's term table, else vocabulary.tsv read on
    first use, once (`jeeves watch` scores many batches).
    """

    def __init__(self, arrays, model, analyzer_config, vocabulary_path):
        from jeeves.features.text import Analyzer
        from jeeves.features.tfidf import build_hasher

        settings = dict(DEFAULT_VECTORS, **model.get("extra", {}).get("vectors", {}))
        self.sublinear_tf, self.norm = settings["sublinear_tf"], settings["norm"]
        self.bucket_of = (build_hasher(settings["hash_features"])
                          if settings["hash_features"] else None)
        self.analyzer = Analyzer(analyzer_config)
        self.arrays, self.threshold = arrays, float(model["threshold"])
        self.estimator_name = str(arrays["estimator"])
        self.vocabulary_path = vocabulary_path
        self.table = term_table(arrays) if "term_keys" in arrays else None

    def scores(self, records):
        """Positive-class scores of parsed records, in order."""
        from jeeves.features.tfidf import document_entries
        from jeeves.features.vocabulary import read_whole_vocabulary

        if self.table is None:
            self.table = read_whole_vocabulary(self.vocabulary_path)
        owner, ids, values = document_entries(records, self.analyzer, self.table,
                                              self.sublinear_tf, self.norm, self.bucket_of)
        return linear_scores(self.arrays, owner, ids, values, len(records))

    def predict(self, records):
        """[{"message_id", "score", "label", "source"}] for parsed records; a label is 1
        at or above the bundle's threshold (jeeves.models.metrics.predict_at)."""
        if not records:
            return []
        scores = self.scores(records)
        return [{"message_id": record["message_id"], "score": float(score),
                 "label": int(score >= self.threshold), "source": record.get("source")}
                for record, score in zip(records, scores)]
