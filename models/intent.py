"""Sentence intent transfer: a sentence classifier scores every sentence of a message.

The sentence model is trained on the ParakweetLabs EmailIntentDataSet
(``Ask0729-fixed.txt``, shipped in the package as
``jeeves/models/data/parakweet-intent.txt`` with its licence beside it,
``PARAKWEET-LICENSE``: 3,657 Enron sentences, ``Yes``/``No`` TAB sentence,
"does this sentence ask for or
schedule something"; Apache-2.0): a ``TfidfVectorizer`` (word 1-2-grams,
sublinear tf, min_df 2) and a balanced ``LogisticRegression``, a second of
CPU. It uses none of the corpus' labels, so it is trained once per run,
outside the cross-validation folds, and passed to every fold as an
``IntentModel`` (a plain holder that ``sklearn.base.clone`` copies instead
of refitting). The fitted pipeline keeps it, so the model bundle ships it:
prediction needs nothing but the bundle.

``IntentFeatures`` splits a record's subject and body (jeeves.features.cues
``sentences``) and its quoted history, scores each sentence, and gives the
``intent`` group: ``max`` and ``mean`` score over the new text's
sentences, ``share`` of them scoring at least 0.5, and ``quoted_max``, the
highest score in the quoted history (Berkeley labels describe threads).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from jeeves.features.cues import sentences
from jeeves.models.defaults import DEFAULT_INTENT_DATA  # noqa: F401
from jeeves.models.documents import check_documents

INTENT_FEATURE_NAMES = ("max", "mean", "share", "quoted_max")
# package data (pyproject.toml): the same file in a checkout and in a wheel
_ANSWERS = {"yes": 1, "no": 0}


def read_intent_sentences(path=DEFAULT_INTENT_DATA):
    """Read ``Yes|No TAB sentence`` lines -> (sentences, 0/1 labels).

    Blank lines are skipped; any other line that is not a Yes/No answer and a
    sentence raises ValueError naming the file and line.
    """
    texts, labels = [], []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            answer, separator, text = line.rstrip("\n").partition("\t")
            if not separator or answer.strip().lower() not in _ANSWERS or not text.strip():
                raise ValueError("%s:%d: expected 'Yes' or 'No', a tab and a sentence, got %r"
                                 % (path, number, line[:80]))
            texts.append(text.strip())
            labels.append(_ANSWERS[answer.strip().lower()])
    return texts, np.array(labels, dtype=int)


class IntentModel:
    """A fitted sentence classifier: ``scores(sentences) -> P(ask or schedule)``.

    Deliberately not a scikit-learn estimator: ``clone`` deep-copies it, so
    every fold of a search uses the same trained model.
    """

    def __init__(self, pipeline, key):
        self.pipeline = pipeline
        # names this trained model in Documents' feature memo (copies keep it)
        self.key = key

    def scores(self, texts):
        if not texts:
            return np.zeros(0)
        return self.pipeline.predict_proba(list(texts))[:, 1]


def train_intent_model(texts, labels, C=1.0, seed=0):
    """Fit the sentence classifier on (sentences, 0/1 labels) -> IntentModel."""
    pipeline = Pipeline([
        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
        ("clf", LogisticRegression(solver="liblinear", class_weight="balanced", C=C,
                                   random_state=seed)),
    ])
    digest = hashlib.sha256(repr((list(texts), np.asarray(labels).tolist(), C, seed))
                            .encode("utf-8")).hexdigest()[:16]
    return IntentModel(pipeline.fit(list(texts), np.asarray(labels)), "intent:" + digest)


def load_intent_model(path=DEFAULT_INTENT_DATA, seed=0):
    """train_intent_model on the EmailIntentDataSet file at `path`."""
    texts, labels = read_intent_sentences(path)
    return train_intent_model(texts, labels, seed=seed)


def _text(record, field):
    value = record.get(field) if isinstance(record, dict) else None
    return value if isinstance(value, str) else ""


def intent_row(record, scores):
    """The ``intent`` group of one record (INTENT_FEATURE_NAMES order), its
    sentences scored by ``scores`` (IntentModel.scores or SentenceScorer.scores)."""
    new = sentences(_text(record, "subject")) + sentences(_text(record, "body"))
    quoted = sentences(_text(record, "quoted"))
    found = scores(new + quoted)
    new_scores, quoted_scores = found[:len(new)], found[len(new):]
    if len(new_scores) == 0:
        new_scores = np.zeros(1)
    return [float(new_scores.max()), float(new_scores.mean()),
            float((new_scores >= 0.5).mean()),
            float(quoted_scores.max()) if len(quoted_scores) else 0.0]


class IntentFeatures(BaseEstimator, TransformerMixin):
    """The ``intent`` group: sentence scores of an IntentModel, pooled per message.

    ``model`` is required (an IntentModel, trained once per run); fit only
    checks it, so nothing is learnt from the folds' labels.
    """

    def __init__(self, model=None):
        self.model = model

    def fit(self, X, y=None):
        check_documents(X)
        if not isinstance(self.model, IntentModel):
            raise ValueError("IntentFeatures needs model=IntentModel (jeeves.models.intent."
                             "load_intent_model()), got %r" % (self.model,))
        return self

    def _row(self, record):
        return intent_row(record, self.model.scores)

    def transform(self, X):
        return check_documents(X).feature_rows(("intent", self.model.key), self._row)

    def get_feature_names_out(self, input_features=None):
        return np.array(["intent:%s" % name for name in INTENT_FEATURE_NAMES], dtype=object)


# sentences whose scores a SentenceScorer keeps (quoted history, greetings and
# signatures recur from message to message); a few MB at most, as the process
# may run for weeks (jeeves serve, jeeves watch)
SENTENCE_CACHE = 4096


class SentenceScorer:
    """``IntentModel.scores`` for a few sentences at a time, from the fitted
    parameters with numpy: the vectorizer's own analyzer, the counts of the
    vocabulary's terms, ``1 + log`` (sublinear tf), times idf, l2-normalized,
    dotted with the classifier's weights, the logistic of that plus the
    intercept; what the scikit-learn pipeline computes, without its input
    checks (a millisecond a call, most of a message's intent group).
    ValueError for a model fitted otherwise (``fast_sentence_scorer`` then
    keeps the pipeline). Scores are kept per sentence text: the
    SENTENCE_CACHE most recently scored."""

    def __init__(self, model):
        steps = getattr(model.pipeline, "named_steps", {})
        tfidf, clf = steps.get("tfidf"), steps.get("clf")
        if (type(tfidf) is not TfidfVectorizer or type(clf) is not LogisticRegression
                or list(steps) != ["tfidf", "clf"] or len(clf.classes_) != 2
                or tfidf.norm not in ("l2", None) or tfidf.dtype is not np.float64):
            raise ValueError("not a TfidfVectorizer and binary LogisticRegression pipeline")
        self.analyzer = tfidf.build_analyzer()
        self.vocabulary = tfidf.vocabulary_
        self.binary, self.sublinear_tf, self.norm = tfidf.binary, tfidf.sublinear_tf, tfidf.norm
        self.idf = np.asarray(tfidf.idf_, dtype=np.float64) if tfidf.use_idf else None
        self.weights = np.ravel(clf.coef_).astype(np.float64)
        self.intercept = float(clf.intercept_[0])
        # text -> score, least recently used first (at most SENTENCE_CACHE)
        self.cache = OrderedDict()
        self._cache_lock = threading.Lock()  # `jeeves serve` scores in threads

    def _scores(self, texts):
        """The scores of distinct texts, all in one numpy pass."""
        vocabulary, analyzer = self.vocabulary, self.analyzer
        owner, ids, counts = [], [], []
        for row, text in enumerate(texts):
            found = {}
            for term in analyzer(text):
                index = vocabulary.get(term)
                if index is not None:
                    found[index] = found.get(index, 0) + 1
            owner.extend([row] * len(found))
            ids.extend(found)
            counts.extend(found.values())
        ids = np.asarray(ids, dtype=np.int64)
        owner = np.asarray(owner, dtype=np.int64)
        values = np.asarray(counts, dtype=np.float64)
        if self.binary:
            values = np.ones_like(values)
        if self.sublinear_tf:
            values = np.log(values) + 1.0
        if self.idf is not None:
            values = values * self.idf[ids]
        margins = np.bincount(owner, weights=values * self.weights[ids], minlength=len(texts))
        if self.norm == "l2":
            norms = np.sqrt(np.bincount(owner, weights=values * values, minlength=len(texts)))
            margins = margins / np.where(norms > 0.0, norms, 1.0)
        return _expit(margins + self.intercept)

    def scores(self, texts):
        """P(ask or schedule) of each text, as IntentModel.scores gives it."""
        cache, known, missing = self.cache, {}, []
        with self._cache_lock:
            for text in dict.fromkeys(texts):
                score = cache.get(text)
                if score is None:
                    missing.append(text)
                else:
                    known[text] = score
                    cache.move_to_end(text)
        if missing:
            found = dict(zip(missing, self._scores(missing).tolist()))
            known.update(found)
            # least recently used out: the cache keeps its size once full
            # (emptied and refilled, it would free and reallocate its strings)
            with self._cache_lock:
                cache.update(found)
                while len(cache) > SENTENCE_CACHE:
                    cache.popitem(last=False)
        return np.array([known[text] for text in texts], dtype=np.float64)


def _expit(value):
    from scipy.special import expit

    return expit(value)


# sentences the fast scorer is checked on against the pipeline
_PROBE_SENTENCES = ("Can we meet on Tuesday at 3pm?", "Please send me the report.",
                    "Thanks", "", "zzzz qqqq", "I will be out of the office next week.")


def fast_sentence_scorer(model, probe=_PROBE_SENTENCES, tolerance=1e-10):
    """A SentenceScorer of ``model`` when it reproduces ``model.scores`` on the
    ``probe`` sentences within ``tolerance``, else None (the caller keeps
    model.scores)."""
    try:
        scorer = SentenceScorer(model)
    except (AttributeError, ValueError, TypeError):
        return None
    expected = model.scores(list(probe))
    found = scorer.scores(list(probe))
    scorer.cache.clear()
    if expected.shape != found.shape or not np.all(np.abs(expected - found) <= tolerance):
        return None
    return scorer
