"""The online learner: logistic regression over hashed character 4-grams, updated per label.

What the best TREC 2007 spam filters did (Sculley & Wachman 2007, Goodman &
Yih 2006), chosen by measurement on the replay (docs/models.md, "Online
learner"):

- **features**: the message's first ``max_bytes`` bytes (default 4,000),
  headers included, read one character per byte (latin-1), whitespace runs
  folded to one space; its character 4-grams, hashed into ``n_features``
  (2**20) binary columns by scikit-learn's ``HashingVectorizer`` (no
  vocabulary, so nothing is ever refitted);
- **learner**: plain stochastic gradient descent on the log loss, one step
  per label, ``w += rate * (y - p) * x`` with a constant rate (default
  0.005) and no regularization, over numpy arrays. It is the update of
  ``SGDClassifier(loss="log_loss", penalty=None, learning_rate="constant")``
  (the two gave the same (1-ROCA)% on the replay), written out because
  ``partial_fit`` costs about 5 ms per message in scikit-learn's checks
  against 20 us here: a replay of 6,000 messages is 30 s against 0.2 s;
- **thick threshold**: a label is learned unless the message is already on
  the right side with probability at least ``confident`` (default 0.95), so
  the model keeps learning near the boundary without being dragged by mail
  it already knows (Sculley's "train on error" with a margin; measured
  slightly better than learning every label). ``confident=1`` learns all.

A message is a parsed record (docs/records.md) or the raw message as bytes.
Raw bytes are the better input (the headers, ``Received`` lines included,
carry much of the signal): `jeeves replay` learns from them. A record, which
keeps no raw headers, is rendered as a small message (``From:``, ``To:``,
``Cc:``, ``Subject:`` header lines, a blank line, the body) and read the
same way; a model should be scored on the kind of input it learned from.

Saved as ``online.json`` (settings, counts, bias) and ``weights.npz`` (the
non-zero weights by index, numpy arrays): no pickle.
"""

import json
import os
import tempfile

import numpy as np
from scipy.special import expit
from sklearn.feature_extraction.text import HashingVectorizer

FORMAT_VERSION = 1
SETTINGS_FILE = "online.json"
WEIGHTS_FILE = "weights.npz"
DEFAULTS = {
    "max_bytes": 4000,
    "n_features": 2 ** 20,
    "ngram": 4,
    "learning_rate": 0.005,
    "confident": 0.95,
}


def message_text(message, max_bytes):
    """The text the features are read from: raw bytes as they are, a record rendered
    as a message; its first ``max_bytes`` bytes, one character per byte."""
    if isinstance(message, (bytes, bytearray)):
        raw = bytes(message[:max_bytes])
    elif isinstance(message, dict):
        raw = render_record(message).encode("utf-8", "replace")[:max_bytes]
    else:
        raise TypeError("OnlineModel takes message records (dict) or raw messages (bytes), "
                        "not %s" % type(message).__name__)
    return raw.decode("latin-1")


def render_record(record):
    """A parsed record as the header lines it keeps and its body."""
    sender = record.get("from") or {}
    lines = []
    if sender:
        name, address = sender.get("name") or "", sender.get("address") or ""
        lines.append("From: %s <%s>" % (name, address) if name else "From: %s" % address)
    for field, header in (("to", "To"), ("cc", "Cc")):
        if record.get(field):
            lines.append("%s: %s" % (header, ", ".join(record[field])))
    lines.append("Subject: %s" % (record.get("subject") or ""))
    return "\n".join(lines) + "\n\n" + (record.get("body") or "")


class OnlineModel:
    """Hashed character n-grams and an online logistic regression (module docstring).

    ``learn(messages, labels)`` takes one step per message, in order;
    ``score(messages)`` gives P(positive) as a numpy array; ``n_seen`` counts
    the labels given per class (``n_seen[0]``, ``n_seen[1]``), ``n_updates``
    the steps taken.
    """

    def __init__(self, max_bytes=DEFAULTS["max_bytes"], n_features=DEFAULTS["n_features"],
                 ngram=DEFAULTS["ngram"], learning_rate=DEFAULTS["learning_rate"],
                 confident=DEFAULTS["confident"]):
        if int(max_bytes) < 1 or int(n_features) < 1 or int(ngram) < 1:
            raise ValueError("max_bytes, n_features and ngram must be positive")
        if not learning_rate > 0:
            raise ValueError("learning_rate must be positive, not %r" % (learning_rate,))
        if not 0.5 < confident <= 1:
            raise ValueError("confident must be in (0.5, 1], not %r" % (confident,))
        self.max_bytes = int(max_bytes)
        self.n_features = int(n_features)
        self.ngram = int(ngram)
        self.learning_rate = float(learning_rate)
        self.confident = float(confident)
        self.weights = np.zeros(self.n_features)
        self.bias = 0.0
        self.n_seen = [0, 0]
        self.n_updates = 0
        self._vectorizer = HashingVectorizer(
            analyzer="char", ngram_range=(self.ngram, self.ngram), binary=True,
            alternate_sign=False, norm=None, lowercase=False, n_features=self.n_features,
            dtype=np.float32)

    @classmethod
    def new(cls, **options):
        """A model that has learned nothing, with ``options`` over DEFAULTS."""
        unknown = sorted(set(options) - set(DEFAULTS))
        if unknown:
            raise ValueError("unknown OnlineModel option %s (known: %s)"
                             % (", ".join(unknown), ", ".join(DEFAULTS)))
        return cls(**options)

    def settings(self):
        return {name: getattr(self, name) for name in DEFAULTS}

    # --- features and scores ------------------------------------------------

    def transform(self, messages):
        """Messages -> CSR rows of hashed binary n-grams (what score_rows/learn_rows take)."""
        return self._vectorizer.transform(
            [message_text(message, self.max_bytes) for message in messages]).tocsr()

    def score_rows(self, X):
        return expit(X @ self.weights + self.bias)

    def score(self, messages):
        """P(positive) of each message, a numpy array."""
        messages = list(messages)
        if not messages:
            return np.zeros(0)
        return self.score_rows(self.transform(messages))

    def learn_rows(self, X, labels):
        """One step per row, in order (thick threshold: module docstring)."""
        labels = [int(label) for label in labels]
        if X.shape[0] != len(labels):
            raise ValueError("%d messages but %d labels" % (X.shape[0], len(labels)))
        if any(label not in (0, 1) for label in labels):
            raise ValueError("labels must be 0 or 1")
        # the loop's names bound once: it runs once per label
        weights, indptr, indices = self.weights, X.indptr, X.indices
        rate, confident = self.learning_rate, self.confident
        for row, label in enumerate(labels):
            self.n_seen[label] += 1
            columns = indices[indptr[row]:indptr[row + 1]]
            p = 1.0 / (1.0 + np.exp(-(self.bias + weights[columns].sum())))
            if (p if label else 1.0 - p) >= confident:
                continue
            step = rate * (label - p)
            weights[columns] += step
            self.bias += step
            self.n_updates += 1
        return self

    def learn(self, messages, labels):
        """Learn the labels (0/1) of the messages, one step each, in order."""
        messages = list(messages)
        if not messages:
            return self
        return self.learn_rows(self.transform(messages), labels)

    def explain(self, message, top=5):
        """The ``top`` n-grams of the message with the largest weights, by absolute value:
        [(n-gram, contribution to the log-odds of positive), ...]."""
        grams = list(dict.fromkeys(self._vectorizer.build_analyzer()(
            message_text(message, self.max_bytes))))
        if not grams:
            return []
        # each n-gram alone is one document of exactly that n-gram
        columns = self._vectorizer.transform(grams).indices
        contributions = self.weights[columns]
        order = np.argsort(-np.abs(contributions), kind="stable")[:top]
        return [(grams[i], float(contributions[i])) for i in order if contributions[i] != 0]

    # --- persistence --------------------------------------------------------

    def save(self, directory):
        """Write online.json and weights.npz into ``directory`` (created if needed)."""
        os.makedirs(directory, exist_ok=True)
        nonzero = np.flatnonzero(self.weights)
        _replace_file(directory, WEIGHTS_FILE, lambda handle: np.savez_compressed(
            handle, indices=nonzero.astype(np.int64), values=self.weights[nonzero]))
        state = {"format_version": FORMAT_VERSION, "settings": self.settings(),
                 "bias": self.bias, "n_seen": list(self.n_seen), "n_updates": self.n_updates}
        _replace_file(directory, SETTINGS_FILE, lambda handle: handle.write(
            json.dumps(state, indent=2, sort_keys=True).encode("utf-8")))
        return directory

    @classmethod
    def load(cls, directory):
        """The model saved in ``directory``; ValueError naming what is wrong."""
        settings_path = os.path.join(directory, SETTINGS_FILE)
        try:
            with open(settings_path, encoding="utf-8") as handle:
                state = json.load(handle)
            with np.load(os.path.join(directory, WEIGHTS_FILE), allow_pickle=False) as arrays:
                indices, values = arrays["indices"], arrays["values"]
        except (OSError, ValueError, KeyError) as error:
            raise ValueError("not an online model in %s: %s" % (directory, error)) from None
        if state.get("format_version") != FORMAT_VERSION:
            raise ValueError("%s: online model format %r, expected %d"
                             % (settings_path, state.get("format_version"), FORMAT_VERSION))
        model = cls.new(**state["settings"])
        if len(indices) and (indices.min() < 0 or indices.max() >= model.n_features):
            raise ValueError("%s: weight index out of range" % directory)
        model.weights[indices] = values
        model.bias = float(state["bias"])
        model.n_seen = [int(count) for count in state["n_seen"]]
        model.n_updates = int(state["n_updates"])
        return model


def _replace_file(directory, name, write):
    """Write a file through a temporary one and os.replace: never half written."""
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix="." + name + ".")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        os.unlink(temporary)
        raise
