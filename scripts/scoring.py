"""Which model scores a message (``--scorer batch|online``), and the online model's
newest copy as `jeeves learn` publishes it between retrainings.

A deployed version (jeeves.models.versions) may hold, besides its batch model,
an online model (jeeves.models.online) in ``online/``, fitted by `jeeves
learn` on every label up to the version's ``metrics.json`` ``label_seq``.
Between retrainings `learn` teaches a copy of it each new label of its label
log and publishes the copy (``publish``)::

    DIR/learn/online-000057/   online.json, weights.npz (the copy at label 57)
    DIR/learn/ONLINE           {"directory": "online-000057", "version": "v000002",
                                "label_seq": 57, "serve_offset": 1234}

``ONLINE`` is replaced atomically (temporary file + os.replace) after the
directory it names is complete, so a reader never sees half a copy. The
token says what the copy holds: the version it descends from, the label log's
``seq`` it has learned up to, and the byte offset of `jeeves serve`'s
``serve-labels.jsonl`` up to which `learn` has taken the daemon's labels.
A reader (`serve`, `watch`, `predict`) takes the copy only when it
descends from the version it scores with and holds more labels than the
online model it has (``OnlineCopy.refresh``); reading the token is one small
file read, done before each request or pass.

``--scorer online`` with no online model in the version scores with the
batch model and says so in one log line (``resolve_scorer``).
"""

import json
import os
import shutil
import tempfile

from jeeves.files import write_atomically

SCORERS = ("batch", "online")
# chosen by measurement (docs/models.md, "Batch or online"): on the meeting task
# the batch model ranks far better than the online one until thousands of labels
DEFAULT_SCORER = "batch"
ONLINE_DIR = "online"
ONLINE_THRESHOLD = 0.5  # the online model's score is P(positive)
LEARN_DIR = "learn"
PUBLISHED_FILE = "ONLINE"
PUBLISHED_PREFIX = "online-"
SERVE_LABELS = "serve-labels.jsonl"  # the daemon's /learn labels, in DIR
SERVE_MAIL = "serve-mail"  # the raw messages of those labels, in DIR
SERVE_WHY = "serve"  # the `why` of a daemon's label in learn's label log


# the lemma memo of a process that runs for weeks (jeeves.features.text):
# bounded so that months of new words do not grow it without end; a
# least-recently-used cache of this many tokens is full after a few hundred
# messages (23,000 distinct tokens in SpamAssassin's first 1,000)
LONG_RUNNING_LEMMA_MEMO = 1 << 14
# each of the parser's memos (jeeves.features.parsing: address header values,
# their unique addresses, dates, Content-Types; 4,096 to 65,536 values for a
# batch job's mailbox): 512 values, which the first 1,000 messages fill (about
# 1,300 distinct address values and 1,000 dates in SpamAssassin's)
LONG_RUNNING_PARSER_MEMO = 1 << 9


# glibc's mallopt parameters M_ARENA_MAX and M_MMAP_THRESHOLD
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3
# a block this large or larger is its own mapping, returned to the system when
# freed (glibc's default, which glibc otherwise raises to the largest block freed)
_MMAP_THRESHOLD = 128 * 1024


def bound_memory_for_long_runs():
    """What `jeeves watch` and `jeeves serve` call first, before they load a
    model, so that their resident memory reaches its level within the first
    thousand messages and stays there (`make soak`, docs/mailbox.md "Soak"):
    the caches bounded (``bound_caches_for_long_runs``) and, under glibc, two
    malloc arenas (the daemon's thread per connection otherwise spreads its
    memory over up to eight arenas a core: the soak measured 45% more
    resident memory over 20,000 requests) and a fixed mmap threshold: the
    large buffers of a large message are their own mappings, returned to the
    system once it is scored, instead of growing the heap where the small
    blocks allocated meanwhile keep that memory resident (glibc otherwise
    raises the threshold to the largest block freed so far)."""
    import ctypes

    bound_caches_for_long_runs()
    try:
        mallopt = ctypes.CDLL(None).mallopt
        mallopt(_M_ARENA_MAX, 2)
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    except (AttributeError, OSError):  # not glibc
        pass


def bound_caches_for_long_runs():
    """The caches of a process that scores mail for weeks, sized to be full
    within its first thousand messages and to keep that size after: the
    analyzers' lemma memo a least-recently-used cache of
    ``LONG_RUNNING_LEMMA_MEMO`` tokens (batch jobs keep it unbounded), and
    every memo of the parser (a module-level ``functools.lru_cache``, looked
    up by its name at each call) one of ``LONG_RUNNING_PARSER_MEMO`` values:
    a batch job's sizes would fill over weeks of mail. Call it before any
    analyzer is built."""
    from functools import lru_cache

    from jeeves.features import parsing, text

    text.LEMMA_MEMO_LIMIT = LONG_RUNNING_LEMMA_MEMO
    for name, memo in list(vars(parsing).items()):
        if not (callable(getattr(memo, "cache_info", None)) and hasattr(memo, "__wrapped__")):
            continue
        maxsize = memo.cache_info().maxsize
        if maxsize is None or maxsize > LONG_RUNNING_PARSER_MEMO:
            setattr(parsing, name, lru_cache(maxsize=LONG_RUNNING_PARSER_MEMO)(memo.__wrapped__))


def online_model_class():
    """jeeves.models.online.OnlineModel, or None where this jeeves has none."""
    try:
        from jeeves.models.online import OnlineModel
    except ImportError:
        return None
    return OnlineModel


def _metrics(version_dir):
    try:
        with open(os.path.join(version_dir, "metrics.json"), encoding="utf-8") as handle:
            metrics = json.load(handle)
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def published_path(model_dir):
    return os.path.join(model_dir, LEARN_DIR, PUBLISHED_FILE)


def read_published(model_dir):
    """(token text, the ONLINE pointer as a dict) of the published copy, or (None, None)."""
    try:
        with open(published_path(model_dir), encoding="utf-8") as handle:
            text = handle.read()
        pointer = json.loads(text)
        directory = pointer["directory"]
        if not (isinstance(directory, str) and directory.startswith(PUBLISHED_PREFIX)
                and os.sep not in directory and "/" not in directory):
            return text, None
        int(pointer["label_seq"])
        return text, pointer
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def publish(model_dir, model, version, label_seq, serve_offset):
    """Save ``model`` as the copy of ``version``'s online model at ``label_seq``, then
    point ONLINE at it; copies older than the one it replaces are removed."""
    home = os.path.join(model_dir, LEARN_DIR)
    name = "%s%06d" % (PUBLISHED_PREFIX, label_seq)
    _, previous = read_published(model_dir)
    staging = tempfile.mkdtemp(prefix=name + ".tmp-", dir=home)
    try:
        model.save(staging)
        final = os.path.join(home, name)
        if os.path.isdir(final):  # written by a run killed before it pointed at it
            shutil.rmtree(final)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pointer = {"directory": name, "version": version, "label_seq": int(label_seq),
               "serve_offset": int(serve_offset)}
    write_atomically(published_path(model_dir),
                     (json.dumps(pointer, sort_keys=True) + "\n").encode("utf-8"))
    keep = {name, (previous or {}).get("directory")}  # a reader may be loading the previous
    for entry in os.listdir(home):
        if entry.startswith(PUBLISHED_PREFIX) and entry not in keep:
            shutil.rmtree(os.path.join(home, entry), ignore_errors=True)
    return final


class OnlineCopy:
    """The online model a reader scores with: the version's, or the newer copy
    `learn` published for that version. ``model`` is None when there is none."""

    def __init__(self, model_dir, version, version_dir, log=None):
        self.model_dir, self.version, self.log = model_dir, version, log
        self.model, self.token = None, None
        metrics = _metrics(version_dir)
        self.label_seq = int(metrics.get("label_seq") or 0)
        self.serve_offset = int(metrics.get("serve_offset") or 0)
        self.source = os.path.join(version_dir, ONLINE_DIR)
        if os.path.isdir(self.source):
            self.model = self._load(self.source)
        if self.model is not None:
            self.refresh()

    def _load(self, directory):
        OnlineModel = online_model_class()
        if OnlineModel is None:
            self._say("online model in %s skipped: jeeves.models.online is not installed"
                      % directory)
            return None
        try:
            return OnlineModel.load(directory)
        except Exception as error:  # a broken online model: the batch model serves
            self._say("online model in %s not loaded: %s" % (directory, error))
            return None

    def _say(self, line):
        if self.log is not None:
            self.log(line)

    def refresh(self):
        """Load the published copy when it descends from this version and holds more
        labels -> True when it was loaded (the caller re-teaches what the copy lacks)."""
        if self.model is None:
            return False
        token, pointer = read_published(self.model_dir)
        if token is None or token == self.token:
            return False
        self.token = token
        if pointer is None or pointer.get("version") != self.version \
                or int(pointer["label_seq"]) <= self.label_seq:
            return False
        directory = os.path.join(self.model_dir, LEARN_DIR, pointer["directory"])
        model = self._load(directory)
        if model is None:
            return False
        self.model, self.source = model, directory
        self.label_seq = int(pointer["label_seq"])
        self.serve_offset = int(pointer.get("serve_offset") or 0)
        self._say("online model of %s updated to label %d (published by jeeves learn)"
                  % (self.version, self.label_seq))
        return True


def resolve_scorer(requested, online_model, say, where):
    """The scorer to use: ``requested``, or batch (said once by the caller's ``say``)
    when it is online and ``where`` has no online model."""
    if requested not in SCORERS:
        raise ValueError("--scorer is batch or online, not %r" % (requested,))
    if requested == "online" and online_model is None:
        say("--scorer online: %s has no online model; scoring with the batch model" % where)
        return "batch"
    return requested


def add_scorer_argument(parser):
    """--scorer, as `serve`, `watch` and `predict` take it."""
    parser.add_argument("--scorer", choices=SCORERS, default=DEFAULT_SCORER,
                        help="the model whose score and label count: the version's batch "
                        "model or its online model, kept up to date by jeeves learn between "
                        "retrainings (batch where there is none; default %(default)s, chosen "
                        "by measurement: docs/models.md)")


def online_predictions(model, records, explain=False, top=5):
    """(predictions as a predictor gives them: message_id, score, label, source;
    the ``top`` n-grams of each when ``explain``, else None) of the online model."""
    scores = model.score(records) if records else []
    predictions = [{"message_id": record["message_id"], "score": float(score),
                    "label": int(score >= ONLINE_THRESHOLD), "source": record.get("source")}
                   for record, score in zip(records, scores)]
    tops = [model.explain(record, top=top) for record in records] if explain else None
    return predictions, tops
