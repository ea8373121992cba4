"""The spam-track replay: messages in delivery order, each scored, then its label fed back.

The TREC spam track's protocol (Cormack & Lynam, TREC 2005-2007): a filter
sees the messages one at a time in the order they were delivered; it scores
each one, and only afterwards learns its true label, as the feedback mode
says:

- ``immediate``: the label of message i right after message i is scored;
- ``delayed:N``: the label of message i after message i+N is scored (so it
  first helps message i+N+1); labels still pending at the end are never fed;
- ``partial:F``: the labels of a fixed subset of round(F * n) messages,
  drawn with a seeded random permutation, each right after its message is
  scored; the others are never fed.

The model is ``online`` (jeeves.models.online.OnlineModel, one step per
label, on the raw message bytes) or ``batch:EVERY``: the email model
refitted on every label fed so far after each EVERY messages, scoring with
the last fitted one; before the first fit (and while a class has no label)
every score is 0 (even odds). The batch model is a lighter equivalent of
`jeeves run`'s (measured too slow to refit dozens of times): the same
analyzer and tf-idf settings (RUN_DEFAULTS), the ``text``, ``headers`` and
``cues`` groups of the email pipeline with its group weight, and its
balanced logistic regression with C fixed at 10 (no grid search, no
``graph``, ``intent`` or ``lsa`` group).

Scores are log-odds of spam (positive), so nothing saturates at 1.0 and the
ROC sees every distinction; the class is positive when the score is above 0.

Delivery order: the date of the first (topmost, the last hop's) ``Received``
header, else the ``Date`` header, else the record's date; ties keep input
order; messages without any date come last, in input order, and are counted.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
from dataclasses import dataclass
from typing import Optional

import numpy as np

from jeeves.features.mailformats import expand_inputs, iter_found
from jeeves.features.parsing import DEFAULT_MAX_MESSAGE_BYTES, outcome_of

BATCH_C = 10.0
BATCH_GROUPS = ("text", "headers", "cues")
# the bootstrap of the (1-ROCA)% interval
BOOTSTRAP_SAMPLES = 1000
CONFIDENCE = 0.95


@dataclass
class Message:
    """One labelled message of the replay: its record, its raw bytes (None when it was
    read from parsed records), its label, its position in the input and its delivery
    time (a POSIX timestamp, or None)."""

    record: dict
    raw: Optional[bytes]
    label: int
    position: int
    delivered: Optional[float]


def _header_time(value):
    try:
        return email.utils.parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def delivery_time(raw, record=None):
    """When a message was delivered (a POSIX timestamp, or None): the first ``Received``
    header's date (after its last ``;``), else ``Date``, else the record's date."""
    if raw is not None:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        received = headers.get_all("Received") or []
        if received and ";" in str(received[0]):
            moment = _header_time(str(received[0]).rsplit(";", 1)[1])
            if moment is not None:
                return moment
        if headers.get("Date"):
            moment = _header_time(str(headers["Date"]))
            if moment is not None:
                return moment
    date = (record or {}).get("date")
    if date:
        from datetime import datetime

        try:
            return datetime.fromisoformat(date).timestamp()
        except ValueError:
            return None
    return None


def read_messages(paths, labeller, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES):
    """Labelled messages of local ``paths`` in input order -> (messages, counts).

    counts: ``read``, ``quarantined``, ``unlabelled`` (left out of the replay).
    """
    messages, counts = [], {"read": 0, "quarantined": 0, "unlabelled": 0}
    for file_path, uri, relpath in expand_inputs(paths):
        with open(file_path, "rb") as handle:
            data = handle.read()
        for found in iter_found(data, uri, relpath):
            counts["read"] += 1
            kind, record, _ = outcome_of(found, max_message_bytes)
            if kind != "message":
                counts["quarantined"] += 1
                continue
            label = labeller(record)
            if label is None:
                counts["unlabelled"] += 1
                continue
            raw = found.data[:max_message_bytes] if found.kind in ("rfc822", "subject_body") \
                else None
            messages.append(Message(record, raw, int(label), len(messages),
                                    delivery_time(raw, record)))
    return messages, counts


def read_periods(periods, labeller, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES):
    """Each period's messages (a list of paths each) in delivery order, the periods one
    after the other -> (messages, counts); counts as read_messages' summed, plus
    ``periods``, the labelled messages of each."""
    ordered, counts = [], {"read": 0, "quarantined": 0, "unlabelled": 0, "periods": []}
    for paths in periods:
        messages, period_counts = read_messages(paths, labeller, max_message_bytes)
        ordered += delivery_order(messages)
        for name, value in period_counts.items():
            counts[name] += value
        counts["periods"].append(len(messages))
    return ordered, counts


def delivery_order(messages):
    """The messages sorted by delivery time; ties in input order, undated last."""
    return sorted(messages, key=lambda message: (message.delivered is None,
                                                 message.delivered or 0.0, message.position))


# --- feedback and model specs ----------------------------------------------

def parse_feedback(spec):
    """``immediate``, ``delayed:N`` or ``partial:F`` -> (kind, N or F); ValueError otherwise."""
    kind, _, value = (spec or "").strip().partition(":")
    try:
        if kind == "immediate" and not value:
            return "immediate", 0
        if kind == "delayed" and int(value) >= 0:
            return "delayed", int(value)
        if kind == "partial" and 0.0 <= float(value) <= 1.0:
            return "partial", float(value)
    except ValueError:
        pass
    raise ValueError("bad feedback %r: expected immediate, delayed:N (N >= 0) or "
                     "partial:FRACTION (0 to 1)" % spec)


def parse_model(spec):
    """``online`` or ``batch:EVERY`` -> (kind, EVERY or None); ValueError otherwise."""
    kind, _, value = (spec or "").strip().partition(":")
    if kind == "online" and not value:
        return "online", None
    if kind == "batch" and value.isdigit() and int(value) > 0:
        return "batch", int(value)
    raise ValueError("bad model %r: expected online or batch:EVERY (EVERY > 0)" % spec)


def feedback_schedule(n, feedback, seed=0):
    """For each step i of n, the positions whose labels are fed right after message i
    is scored (module docstring)."""
    kind, value = feedback
    schedule = [[] for _ in range(n)]
    if kind == "partial":
        chosen = np.random.default_rng(seed).permutation(n)[:int(round(value * n))]
        for position in sorted(chosen.tolist()):
            schedule[position].append(position)
        return schedule
    delay = value if kind == "delayed" else 0
    for position in range(n):
        if position + delay < n:
            schedule[position + delay].append(position)
    return schedule


# --- learners ----------------------------------------------------------------

class OnlineLearner:
    """The online model over the raw bytes (the rendered record without them)."""

    def __init__(self, messages, **options):
        from jeeves.models.online import OnlineModel

        self.model = OnlineModel.new(**options)
        self.rows = self.model.transform(
            [message.raw if message.raw is not None else message.record
             for message in messages])

    def score(self, position):
        rows = self.rows
        columns = rows.indices[rows.indptr[position]:rows.indptr[position + 1]]
        return float(self.model.weights[columns].sum() + self.model.bias)

    def learn(self, positions, labels):
        for position, label in zip(positions, labels):
            self.model.learn_rows(self.rows[position], [label])


class BatchEmailLearner:
    """The lighter batch email model (module docstring), refitted every ``every`` messages
    on all labels fed so far."""

    def __init__(self, messages, every, analyzer_config, min_df=2, max_df=0.5):
        from jeeves.features.text import Analyzer

        analyze = Analyzer(analyzer_config).load()
        self.min_df, self.max_df = min_df, max_df
        self.records = [message.record for message in messages]
        self.terms = [analyze(record) for record in self.records]
        self.every = every
        self.fed = []  # (position, label) in the order the labels came
        self.pipeline = None
        self.vectorizer = None
        self.fits = 0

    def score(self, position):
        if self.pipeline is None:
            return 0.0
        from jeeves.models.documents import Documents

        tfidf = self.vectorizer.transform([self.terms[position]])
        return float(self.pipeline.decision_function(
            Documents(tfidf, [self.records[position]]))[0])

    def learn(self, positions, labels):
        self.fed.extend(zip(positions, labels))

    def after(self, step):
        """Refit after each ``every`` messages scored (step counts from 0)."""
        if (step + 1) % self.every:
            return
        labels = [label for _, label in self.fed]
        if len(set(labels)) < 2:
            return
        from sklearn.feature_extraction.text import TfidfVectorizer

        from jeeves.models.documents import Documents
        from jeeves.models.email_features import GROUP_WEIGHT, email_pipeline

        positions = [position for position, _ in self.fed]
        vectorizer = TfidfVectorizer(analyzer=_given_terms, sublinear_tf=True,
                                     min_df=self.min_df, max_df=self.max_df)
        try:
            tfidf = vectorizer.fit_transform([self.terms[p] for p in positions])
        except ValueError:  # no term left by min_df/max_df yet: keep the last model
            return
        pipeline = email_pipeline(BATCH_GROUPS, C=BATCH_C, group_weight=GROUP_WEIGHT)
        pipeline.fit(Documents(tfidf, [self.records[p] for p in positions]), np.array(labels))
        self.vectorizer, self.pipeline = vectorizer, pipeline
        self.fits += 1


def _given_terms(terms):
    return terms


# --- the replay ----------------------------------------------------------------

@dataclass
class Replay:
    """What a replay did: the messages in delivery order, each one's score (log-odds
    of positive) and the step after which its label was fed (None: never)."""

    messages: list
    scores: np.ndarray
    fed_after: list
    feedback: tuple
    model: tuple
    batch_fits: int = 0

    @property
    def labels(self):
        return np.array([message.label for message in self.messages], dtype=int)


def replay(messages, feedback=("immediate", 0), model=("online", None), seed=0,
           analyzer_config=None, online_options=None):
    """Replay ``messages`` (already in delivery order) -> Replay.

    Each message is scored before any label fed after it; ``seed`` draws the
    partial feedback's subset; ``analyzer_config`` is the batch model's analyzer
    (jeeves.features.text configuration).
    """
    kind, every = model
    if kind == "online":
        learner = OnlineLearner(messages, **(online_options or {}))
    else:
        learner = BatchEmailLearner(messages, every, analyzer_config)
    schedule = feedback_schedule(len(messages), feedback, seed)
    scores = np.zeros(len(messages))
    fed_after = [None] * len(messages)
    for step in range(len(messages)):
        scores[step] = learner.score(step)
        revealed = schedule[step]
        if revealed:
            learner.learn(revealed, [messages[position].label for position in revealed])
            for position in revealed:
                fed_after[position] = step
        if kind == "batch":
            learner.after(step)
    return Replay(messages, scores, fed_after, feedback, model,
                  learner.fits if kind == "batch" else 0)


# --- measures ------------------------------------------------------------------

def one_minus_roca_percent(labels, scores):
    """100 * (1 - ROC AUC); None without both classes."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    if len(set(labels.tolist())) < 2:
        return None
    return 100.0 * (1.0 - roc_auc_score(labels, scores))


def bootstrap_interval(labels, scores, samples=BOOTSTRAP_SAMPLES, confidence=CONFIDENCE,
                       seed=0):
    """The percentile bootstrap interval of (1-ROCA)%: ``samples`` resamples of the
    messages with replacement, stratified by class (each keeps its class counts)."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    positives, negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if not len(positives) or not len(negatives):
        return None, None
    rng = np.random.default_rng(seed)
    values = np.empty(samples)
    for sample in range(samples):
        chosen = np.concatenate([rng.choice(positives, len(positives)),
                                 rng.choice(negatives, len(negatives))])
        values[sample] = _one_minus_roca_fast(labels[chosen], scores[chosen])
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def _one_minus_roca_fast(labels, scores):
    """100 * (1 - AUC) by the rank sum (ties count a half), without sklearn's checks."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    auc = (ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return 100.0 * (1.0 - auc)


def errors_at(labels, scores):
    """1 for each message on the wrong side of 0 (positive when the score is above 0)."""
    return ((np.asarray(scores) > 0).astype(int) != np.asarray(labels)).astype(int)


def learning_curve(labels, scores, window=1000):
    """Rows (messages so far, errors in the last ``window`` messages per 1,000,
    cumulative errors per 1,000), one every ``window // 10`` messages and at the end."""
    errors = errors_at(labels, scores)
    cumulative = np.cumsum(errors)
    step = max(1, window // 10)
    ends = sorted(set(range(step, len(errors) + 1, step)) | ({len(errors)} - {0}))
    rows = []
    for end in ends:
        start = max(0, end - window)
        in_window = int(cumulative[end - 1] - (cumulative[start - 1] if start else 0))
        rows.append((end, 1000.0 * in_window / (end - start),
                     1000.0 * int(cumulative[end - 1]) / end))
    return rows


def summary_of(result, counts, seconds=None):
    """summary.json's content for a Replay and the reading counts."""
    labels, scores = result.labels, result.scores
    value = one_minus_roca_percent(labels, scores)
    low, high = bootstrap_interval(labels, scores) if value is not None else (None, None)
    errors = errors_at(labels, scores)
    kind, value_of_feedback = result.feedback
    summary = {
        "one_minus_roca_percent": {
            "value": value, "low": low, "high": high, "confidence": CONFIDENCE,
            "method": "percentile bootstrap, %d resamples stratified by class, seed 0"
                      % BOOTSTRAP_SAMPLES,
        },
        "messages": len(labels),
        "positive": int(labels.sum()),
        "negative": int(len(labels) - labels.sum()),
        "undated": sum(message.delivered is None for message in result.messages),
        "labels_fed": sum(step is not None for step in result.fed_after),
        "errors": int(errors.sum()),
        "false_positives": int(((scores > 0) & (labels == 0)).sum()),
        "false_negatives": int(((scores <= 0) & (labels == 1)).sum()),
        "feedback": {"kind": kind, "delay" if kind == "delayed" else "fraction"
                     if kind == "partial" else "value": value_of_feedback},
        "model": {"kind": result.model[0], "every": result.model[1]},
        "read": counts,
    }
    if kind == "immediate":
        summary["feedback"] = {"kind": kind}
    if result.model[0] == "batch":
        summary["model"].update(fits=result.batch_fits, groups=list(BATCH_GROUPS), C=BATCH_C)
    if seconds is not None:
        summary["seconds"] = round(seconds, 1)
    return summary


def trec_name(message):
    """The message's name in the TREC result file: its source path relative to the input
    root (folder segments and file name), then ``#offset`` inside an mbox."""
    from jeeves.models.labels import source_path

    source = message.record.get("source") or {}
    path = source_path(message.record) or source.get("uri") or message.record["message_id"]
    folder = message.record.get("folder") or []
    name = path.rsplit("/", 1)[-1]
    if folder and folder[-1] == name.split(".")[0]:  # an mbox: its name is the last segment
        folder = folder[:-1]
    name = "/".join(list(folder) + [name])
    if source.get("offset"):
        name += "#%d" % source["offset"]
    return name.replace(" ", "_")


def trec_lines(result):
    """One ``FILE judge=J class=C score=S`` line per message, in replay order."""
    for message, score in zip(result.messages, result.scores):
        yield "%s judge=%s class=%s score=%.6f\n" % (
            trec_name(message), "spam" if message.label else "ham",
            "spam" if score > 0 else "ham", score)


# --- outputs -------------------------------------------------------------------

SUMMARY_FILE = "summary.json"
TREC_FILE = "trec-results.txt"
REPORT_DIR = "report"


def write_outputs(result, summary, directory):
    """``directory``/summary.json, trec-results.txt and report/ (roc.png, roc.csv,
    learning.png, learning.csv), each file replaced whole."""
    import json
    import os

    from jeeves.files import replaced_directory, write_atomically

    with replaced_directory(os.path.join(directory, REPORT_DIR)) as report:
        write_report(result, summary, report)
    write_atomically(os.path.join(directory, TREC_FILE),
                     "".join(trec_lines(result)).encode("utf-8"))
    write_atomically(os.path.join(directory, SUMMARY_FILE),
                     (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def _title(summary):
    feedback = summary["feedback"]
    model = summary["model"]
    return "%s feedback%s, %s model%s, %d messages" % (
        feedback["kind"],
        "" if feedback["kind"] == "immediate" else " %s" % feedback.get(
            "delay", feedback.get("fraction")),
        model["kind"], " every %d" % model["every"] if model["every"] else "",
        summary["messages"])


def write_report(result, summary, directory):
    """The ROC curve and the learning curve, each a PNG and a CSV."""
    import csv
    import os

    from matplotlib.figure import Figure
    from sklearn.metrics import roc_curve

    labels, scores = result.labels, result.scores
    value = summary["one_minus_roca_percent"]["value"]
    with open(os.path.join(directory, "learning.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["messages", "errors_per_1000_last_1000", "errors_per_1000_cumulative"])
        rows = learning_curve(labels, scores)
        writer.writerows([(end, "%.3f" % window, "%.3f" % total) for end, window, total in rows])
    figure = Figure(figsize=(7, 4.5))
    axes = figure.subplots()
    if rows:
        axes.plot([row[0] for row in rows], [row[1] for row in rows],
                  label="last 1,000 messages")
        axes.plot([row[0] for row in rows], [row[2] for row in rows], linestyle="--",
                  label="cumulative")
    axes.set(xlabel="messages replayed", ylabel="errors per 1,000 messages",
             title="Learning curve: " + _title(summary))
    axes.legend(loc="upper right", fontsize="small")
    figure.savefig(os.path.join(directory, "learning.png"), dpi=100)
    if value is None:
        return
    fpr, tpr, thresholds = roc_curve(labels, scores)
    with open(os.path.join(directory, "roc.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["false_positive_rate", "true_positive_rate", "threshold"])
        writer.writerows(zip(fpr.tolist(), tpr.tolist(), thresholds.tolist()))
    figure = Figure(figsize=(6, 5))
    axes = figure.subplots()
    axes.plot(fpr, tpr, label="(1-ROCA)%% = %.4f" % value)
    axes.set(xlabel="false positive rate (ham misclassified)",
             ylabel="true positive rate (spam caught)", title="ROC: " + _title(summary))
    axes.legend(loc="lower right", fontsize="small")
    figure.savefig(os.path.join(directory, "roc.png"), dpi=100)
