"""`jeeves learn`: labels read from the mailbox as the user files mail, and retraining.

``Learner(url, model_dir, settings, trainer).run()`` keeps, under
``DIR/learn/`` (``DIR`` is the versioned model directory,
jeeves.models.versions):

- ``labels.jsonl``: the label log (jeeves.mailbox.labellog), one line per
  change of a message's label;
- ``mail/``: every message the log names, one mbox entry per file (named by
  the SHA-1 of its message id), written before its label is logged;
- ``state.json``: per scanned folder its UIDVALIDITY, the HIGHESTMODSEQ
  seen (CONDSTORE), and for each UID the message's id, INTERNALDATE and
  whether it carries the label; the log sequence of the last retraining;
- ``work/``: the last retraining's `jeeves run` outputs (replaced each time);
- ``online-NNNNNN/`` and ``ONLINE``: the online copy published between
  retrainings and its token (jeeves.scoring).

One pass:

1. **Scan.** The watched folder (``--folder``) and, for ``folder:NAME``, the
   label folder: ``UID SEARCH ALL`` gives the UIDs there now (the ones gone
   were moved or deleted); only new UIDs are fetched, their Message-ID
   header, INTERNALDATE and flags first, the whole message only when the
   store does not hold it yet. For ``label:NAME`` the flags of the known
   UIDs are read again: with CONDSTORE only those changed since the last
   HIGHESTMODSEQ (``FETCH ... (CHANGEDSINCE n)``), else all of them (one
   FLAGS fetch, no bodies). The label is an IMAP keyword, or on Gmail
   (X-GM-EXT-1) also an X-GM-LABELS label, as the ``labels`` of the records.
2. **Label.** Positive: in the label folder, or carrying the label. Negative:
   in the watched folder, not positive, and arrived (INTERNALDATE) at least
   ``settle`` seconds ago; a message that was positive and is now in the
   watched folder without the label is negative at once (unlearned: the
   user took it out). A message that leaves both folders (deleted,
   archived elsewhere) keeps its label. Each difference from the log's
   current label is appended to the log, synced; then the labels posted to
   `jeeves serve` since the last pass (``DIR/serve-labels.jsonl``,
   ``ServeLabels``) are logged, ``why: serve``, once each; then the state is
   saved: a run killed anywhere repeats at most the scan, never an entry.
   A label from the daemon holds until the message moves or its flag
   changes (``label_changes``).
3. **Retrain** (``Trainer``, jeeves.pipeline.run: `jeeves run`'s pipeline
   and defaults) when ``min_new`` entries were logged since the deployed
   version was trained, or since the last refused candidate. The labels,
   ordered by arrival, are split: the newest fifth is held out, the
   candidate is fitted on the rest, and the candidate and the deployed
   version score the held-out messages (the same records, the same scoring
   code as `jeeves predict`). Only when the candidate's average precision
   there is at least the deployed one's is a model refitted on all labels
   and deployed (jeeves.models.versions.deploy) with its metrics. Cold
   start (nothing deployed yet): a model is fitted on all labels and
   deployed once each class has ``min_labels`` labels.
4. **Online model** (jeeves.models.online, with ``online`` or when the
   deployed version has ``online/``): refitted on all labels, in arrival
   order, into each new version; between retrainings, after each pass, the
   log entries it has not learnt are learnt by a copy, published for
   `serve`, `watch` and `predict --scorer online` (``update_online``,
   jeeves.scoring.publish).
"""

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from jeeves import scoring
from jeeves.errors import JeevesError, UserError
from jeeves.features.mailformats import iter_found
from jeeves.features.parsing import message_record, outcome_of
from jeeves.files import write_atomically
from jeeves.mailbox.connection import (
    CONNECTION_ERRORS,
    ConnectionLost,
    MailboxError,
    TLSSettings,
    close,
    connect,
    select,
)
from jeeves.mailbox.fetch import (
    GMAIL_CAPABILITY,
    fetch_messages,
    gmail_labels_of,
    keywords_of,
    mbox_entry,
)
from jeeves.mailbox.labellog import Change, LabelLog, LabelLogError, utc_text
from jeeves.mailbox.state import JSONState
from jeeves.models import versions
from jeeves.models.bundle import BundleError, load_predictor
from jeeves.models.labels import FolderLabeller, MailboxLabelLabeller, labeller_from_spec
from jeeves.scoring import SERVE_WHY

STATE_VERSION = 1
FETCH_BATCH = 100
FLAGS_BATCH = 2000  # UIDs per FLAGS fetch (servers cap a command line near 64 KB)
HELD_OUT_FRACTION = 5  # the newest 1/5 of the labels
METRIC = "average_precision"
_HEADER_ITEM = b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_HEADER_KEY = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"


@dataclass(frozen=True)
class LabelSpec:
    """``folder:NAME`` (a folder whose messages are positive) or ``label:NAME``."""

    kind: str
    name: str
    segments: tuple = ()

    @classmethod
    def parse(cls, text):
        try:
            labeller = labeller_from_spec(text)
        except ValueError as error:
            raise MailboxError("--labels: %s" % error) from None
        if isinstance(labeller, FolderLabeller):
            return cls("folder", "/".join(labeller.segments), tuple(labeller.segments))
        if isinstance(labeller, MailboxLabelLabeller):
            return cls("label", labeller.label)
        raise MailboxError("--labels for learn is folder:NAME or label:NAME, not %r" % text)

    def __str__(self):
        return "%s:%s" % (self.kind, self.name)


@dataclass(frozen=True)
class LearnSettings:
    labels: LabelSpec
    folder: str = "INBOX"
    settle: float = 86400.0
    min_new: int = 20
    min_labels: int = 20
    once: bool = True
    interval: float = 3600.0
    max_backoff: float = 300.0
    # every new version also gets an online model (jeeves.models.online) in online/
    online: bool = False

    def __post_init__(self):
        if self.settle < 0:
            raise MailboxError("--settle must be 0 or more, not %r" % self.settle)
        if self.min_new < 1 or self.min_labels < 1:
            raise MailboxError("--min-new and --min-labels must be at least 1")
        if self.interval <= 0:
            raise MailboxError("--interval must be above 0 seconds, not %r" % self.interval)


def _now():
    return datetime.now(timezone.utc)


def _arrived(internaldate):
    """INTERNALDATE (imapclient gives it naive, in local time) -> UTC text."""
    when = internaldate or datetime(1970, 1, 1, tzinfo=timezone.utc)
    if when.tzinfo is None:
        when = when.astimezone()  # local time, as imapclient normalised it
    return utc_text(when)


def first_record(entry, uri="learn:store"):
    """The parsed record of one stored mbox entry (None when the parser quarantines it)."""
    for found in iter_found(entry, uri, "mail"):
        kind, record, _ = outcome_of(found)
        return record if kind == "message" else None
    return None


def header_message_id(header):
    """The parser's message id from a Message-ID header block (None when there is none)."""
    record, _ = message_record(header.rstrip(b"\r\n") + b"\r\n\r\n", {}, [])
    return None if record["message_id_generated"] else record["message_id"]


class MailStore:
    """Messages by id, one mbox entry per file (written whole, synced, renamed)."""

    def __init__(self, directory):
        self.directory = directory

    def path(self, message_id):
        name = hashlib.sha1(message_id.encode("utf-8")).hexdigest()
        return os.path.join(self.directory, name + ".mbox")

    def clean(self):
        """Remove what a write cut short by a kill left (write_atomically's temporary files)."""
        if os.path.isdir(self.directory):
            for name in os.listdir(self.directory):
                if name.startswith(".tmp-"):
                    os.unlink(os.path.join(self.directory, name))

    def has(self, message_id):
        return os.path.exists(self.path(message_id))

    def add(self, message_id, entry):
        if not self.has(message_id):
            write_atomically(self.path(message_id), entry)

    def entry(self, message_id):
        with open(self.path(message_id), "rb") as handle:
            return handle.read()

    def records(self, message_ids):
        """Parsed records of stored messages, in the given order (quarantined ones left out)."""
        records = []
        for message_id in message_ids:
            record = first_record(self.entry(message_id))
            if record is not None:
                records.append(record)
        return records


# -- scanning -----------------------------------------------------------------

class Scanner:
    """One pass over the watched folder and the label folder (see the module docstring)."""

    def __init__(self, client, settings, store, log):
        self.client, self.settings, self.store, self.log = client, settings, store, log
        self.touched = set()  # ids of the messages that arrived or whose label flag changed
        self.gmail = client.has_capability(GMAIL_CAPABILITY)
        self.condstore = client.has_capability("CONDSTORE")
        if self.condstore and settings.labels.kind == "label":
            client.enable("CONDSTORE")

    def label_folder(self):
        """The server's name of the folder:NAME folder (MailboxError when not exactly one)."""
        segments = list(self.settings.labels.segments)
        found = []
        for flags, delimiter, name in self.client.list_folders():
            if b"\\Noselect" in flags:
                continue
            delimiter = delimiter.decode() if isinstance(delimiter, bytes) else delimiter
            parts = name.split(delimiter) if delimiter else [name]
            if parts == segments:
                return name
            if parts[-len(segments):] == segments:
                found.append(name)
        if len(found) == 1:
            return found[0]
        if not found:
            raise MailboxError("no folder %r on the server" % self.settings.labels.name)
        raise MailboxError("folder:%s names %d folders (%s): give more of the path"
                           % (self.settings.labels.name, len(found), ", ".join(found)))

    def _labelled(self, data):
        name = self.settings.labels.name
        if self.settings.labels.kind != "label":
            return False
        labels = set(keywords_of(data.get(b"FLAGS", ())))
        if self.gmail:
            labels.update(gmail_labels_of(data.get(b"X-GM-LABELS", ())))
        return name in labels

    def _flag_items(self):
        return [b"FLAGS"] + ([b"X-GM-LABELS"] if self.gmail else [])

    def scan(self, folder, folder_state):
        """Bring ``folder_state`` (UIDVALIDITY, MODSEQ, {uid: [id, arrived, labelled]})
        up to date with ``folder`` -> the new folder state."""
        info = select(self.client, folder)
        uidvalidity = info[b"UIDVALIDITY"]
        if folder_state.get("uidvalidity") != uidvalidity:
            folder_state = {"uidvalidity": uidvalidity, "messages": {}}
        known = folder_state["messages"]
        present = set(self.client.search("ALL"))
        for uid in [uid for uid in known if int(uid) not in present]:
            del known[uid]
        new = sorted(uid for uid in present if str(uid) not in known)
        for start in range(0, len(new), FETCH_BATCH):
            self._add(new[start:start + FETCH_BATCH], known)
        want_flags = self.settings.labels.kind == "label"
        modseq = info.get(b"HIGHESTMODSEQ")
        if want_flags and known and len(new) < len(known):
            if self.condstore and folder_state.get("modseq"):
                # RFC 7162: the messages whose flags changed since the last pass
                uids = self.client.search(["MODSEQ", str(folder_state["modseq"] + 1)])
            else:
                uids = [int(uid) for uid in known]  # no CONDSTORE: read every message's flags
            uids = sorted(uid for uid in uids if str(uid) in known)
            for start in range(0, len(uids), FLAGS_BATCH):
                changed = self.client.fetch(uids[start:start + FLAGS_BATCH], self._flag_items())
                for uid, data in changed.items():
                    row, labelled = known[str(uid)], self._labelled(data)
                    if row[2] != labelled:
                        self.touched.add(row[0])
                    row[2] = labelled
        if modseq is not None:
            folder_state["modseq"] = int(modseq)
        return folder_state

    def _add(self, uids, known):
        response = self.client.fetch(uids, [_HEADER_ITEM, b"INTERNALDATE"] + self._flag_items())
        need_body = []
        for uid in sorted(response):
            data = response[uid]
            message_id = header_message_id(data.get(_HEADER_KEY) or b"")
            if message_id is None or not self.store.has(message_id):
                need_body.append(uid)
            else:
                known[str(uid)] = [message_id, _arrived(data.get(b"INTERNALDATE")),
                                   self._labelled(data)]
                self.touched.add(message_id)
        if not need_body:
            return
        for uid, raw, internaldate, _, _ in fetch_messages(self.client, need_body):
            entry = mbox_entry(raw, internaldate)
            record = first_record(entry)
            if record is None:  # remembered without an id, so not fetched again
                self.log("uid %d: the parser quarantines it; not learnt" % uid)
                known[str(uid)] = [None, _arrived(internaldate), False]
                continue
            self.store.add(record["message_id"], entry)
            known[str(uid)] = [record["message_id"], _arrived(internaldate),
                               self._labelled(response.get(uid, {}))]
            self.touched.add(record["message_id"])


def label_changes(settings, watched, label_folder, log, now, touched=None):
    """The labels the messages should have now, as Changes (the log drops the ones
    it holds already). ``watched``/``label_folder``: {uid: [id, arrived, labelled]}.

    A label given to `jeeves serve` (the log's current entry for the message is
    ``why: serve``) is newer than where the message lies: it holds until the
    message moves or its label flag changes (its id in ``touched``, the ids the
    scan saw arrive or change; None: every message)."""
    spec = settings.labels
    watched = {uid: row for uid, row in watched.items() if row[0] is not None}
    label_folder = {uid: row for uid, row in label_folder.items() if row[0] is not None}
    if spec.kind == "folder":
        positive = {row[0]: (row[1], "in folder %s" % spec.name)
                    for row in label_folder.values()}
    else:
        positive = {row[0]: (row[1], "labelled %s in %s" % (spec.name, settings.folder))
                    for row in watched.values() if row[2]}
    changes = [Change(message_id, 1, why, arrived)
               for message_id, (arrived, why) in sorted(positive.items())]
    settled = utc_text(datetime.fromtimestamp(now.timestamp() - settings.settle, timezone.utc))
    for message_id, arrived, _ in sorted(watched.values()):
        if message_id in positive:
            continue
        if log.label_of(message_id) == 1:
            changes.append(Change(message_id, 0, "no longer %s (in %s)" % (
                "in folder " + spec.name if spec.kind == "folder" else "labelled " + spec.name,
                settings.folder), arrived))
        elif arrived <= settled:
            changes.append(Change(message_id, 0, "in %s, not %s, arrived before %s" % (
                settings.folder, "in " + spec.name if spec.kind == "folder"
                else "labelled " + spec.name, settled), arrived))
    if touched is None:
        return changes
    return [change for change in changes
            if (log.current.get(change.message_id) or {}).get("why") != SERVE_WHY
            or change.message_id in touched]


# -- labels posted to jeeves serve ------------------------------------------------

def complete_lines(path, offset):
    """([(start offset, line)], end offset) of the whole lines of ``path`` from
    ``offset`` (a last line without its newline is being written: left for later)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    whole = data[:data.rfind(b"\n") + 1]
    lines, start = [], offset
    for line in whole.split(b"\n")[:-1]:
        lines.append((start, line))
        start += len(line) + 1
    return lines, offset + len(whole)


class ServeLabels:
    """The labels posted to `jeeves serve` (``DIR/serve-labels.jsonl``), each taken
    into the label log exactly once, as ``why: serve`` with the key ``serve:OFFSET``
    (the line's byte offset): state.json keeps the offset read up to and the labels
    whose message is not stored yet, and the log's keys make a pass that repeats a
    killed one add nothing."""

    def __init__(self, model_dir, store, log):
        self.model_dir, self.store, self.log = model_dir, store, log
        self.path = os.path.join(model_dir, scoring.SERVE_LABELS)
        self.mail_dir = os.path.realpath(os.path.join(model_dir, scoring.SERVE_MAIL))

    def _stored(self, label):
        """True when the labelled message is in the store (copied there from the
        daemon's serve-mail/ when it kept it), False to wait for it, None to drop."""
        if self.store.has(label["message_id"]):
            return True
        if not label.get("mail"):
            return False  # a message id alone: the mailbox scan may bring the message
        path = os.path.realpath(os.path.join(self.model_dir, label["mail"]))
        if os.path.dirname(path) != self.mail_dir:
            self.log("serve label at offset %d: its mail %r is not in %s/; dropped"
                     % (label["offset"], label["mail"], scoring.SERVE_MAIL))
            return None
        try:
            with open(path, "rb") as handle:
                entry = mbox_entry(handle.read(), None)
        except OSError as error:
            self.log("serve label at offset %d: %s; dropped" % (label["offset"], error))
            return None
        record = first_record(entry)
        if record is None or record["message_id"] != label["message_id"]:
            self.log("serve label at offset %d: %s is not the message <%s>; dropped"
                     % (label["offset"], label["mail"], label["message_id"]))
            return None
        self.store.add(label["message_id"], entry)
        return True

    def _read(self, offset):
        lines, end = complete_lines(self.path, offset)
        labels = []
        for start, line in lines:
            try:
                entry = json.loads(line)
                if not isinstance(entry.get("message_id"), str) or entry.get("label") not in (0, 1):
                    raise ValueError
            except (ValueError, AttributeError):
                self.log("%s at offset %d: not a label line; skipped" % (self.path, start))
                continue
            labels.append({"offset": start, "message_id": entry["message_id"],
                           "label": entry["label"], "when": entry.get("when"),
                           "mail": entry.get("mail"), "version": entry.get("version")})
        return labels, end

    def take(self, state, label_log, arrived_of):
        """Log the daemon's new labels -> the entries written; state["serve"] advances."""
        serve = state.setdefault("serve", {"offset": 0, "pending": []})
        try:
            size = os.path.getsize(self.path)
        except FileNotFoundError:
            size = 0
        if size < serve["offset"]:
            self.log("%s is shorter than the %d bytes read: replaced; read from its start"
                     % (self.path, serve["offset"]))
            serve.update(offset=0)
        new, end = self._read(serve["offset"])
        changes, waiting = [], []
        for label in serve["pending"] + new:
            key = "serve:%d" % label["offset"]
            if key in label_log.keys:
                continue
            stored = self._stored(label)
            if stored is None:
                continue
            if not stored:
                waiting.append(label)
                continue
            changes.append(Change(
                label["message_id"], label["label"], SERVE_WHY,
                arrived_of.get(label["message_id"]) or label["when"], key=key,
                extra=(("served_by", label["version"]),)))
        written = label_log.append(changes)
        serve.update(offset=end, pending=waiting)
        if written or waiting:
            self.log("%d labels from jeeves serve (%d positive)%s" % (
                len(written), sum(entry["label"] for entry in written),
                "; %d wait for their message to be fetched" % len(waiting) if waiting else ""))
        return written


# -- retraining -----------------------------------------------------------------

def _split(labelled):
    """(train, held out) of [(arrived, message_id, label)]: the newest fifth held out."""
    ordered = sorted(labelled)
    held = max(1, len(ordered) // HELD_OUT_FRACTION)
    return ordered[:-held], ordered[-held:]


def held_out_metrics(y, scores):
    """average precision and ROC AUC of scores (None when the labels have one class)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(set(y)) < 2:
        return None
    return {METRIC: round(float(average_precision_score(y, scores)), 6),
            "roc_auc": round(float(roc_auc_score(y, scores)), 6)}


class Trainer:
    """Fits `jeeves run`'s pipeline on stored messages and labels.

    ``make_config(inputs, output, labels)`` -> a jeeves.pipeline.run.RunConfig
    (the CLI builds it from `jeeves run`'s own options and defaults);
    ``engine`` the runner."""

    def __init__(self, make_config, engine, work_dir, store):
        self.make_config, self.engine = make_config, engine
        self.work_dir, self.store = work_dir, store

    def fit(self, name, rows):
        """Fit on [(arrived, message_id, label)] under work/NAME -> (bundle dir, summary)."""
        import csv
        import io

        from jeeves.pipeline.run import run_pipeline

        directory = os.path.join(self.work_dir, name)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        mbox = os.path.join(directory, "mail.mbox")
        with open(mbox, "wb") as handle:
            for _, message_id, _ in rows:
                handle.write(self.store.entry(message_id))
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["message_id", "label"])
        for _, message_id, label in rows:
            writer.writerow([message_id, label])
        labels = os.path.join(directory, "labels.csv")
        with open(labels, "w", encoding="utf-8", newline="") as handle:
            handle.write(text.getvalue())
        output = os.path.join(directory, "out")
        summary = run_pipeline(self.make_config((mbox,), output, labels), self.engine)
        return os.path.join(output, "model"), summary


def score_bundle(bundle_dir, records):
    """message_id -> score of ``records`` by the bundle (as `jeeves predict` scores)."""
    predictor = load_predictor(bundle_dir)
    return {row["message_id"]: row["score"] for row in predictor.predict(records)}


def deployed_version(model_dir):
    """(version dir, its metrics) of the newest deployed version, or (None, {})."""
    try:
        path = versions.resolve(model_dir)
    except BundleError:
        return None, {}
    return path, versions.read_metrics(path)


def _online_model_class():
    try:
        from jeeves.models.online import OnlineModel
    except ImportError:
        raise MailboxError("this jeeves has no online model (jeeves.models.online)") from None
    return OnlineModel


class Retrainer:
    """Decides when to retrain, compares, deploys (module docstring, step 3)."""

    def __init__(self, model_dir, settings, trainer, store, log):
        self.model_dir, self.settings = model_dir, settings
        self.trainer, self.store, self.log = trainer, store, log

    def due(self, label_log, state):
        """(labelled rows, deployed dir, deployed metrics) when a retraining is due, else None."""
        deployed, metrics = deployed_version(self.model_dir)
        labelled = [(entry.get("arrived") or entry["when"], message_id, entry["label"])
                    for message_id, entry in sorted(label_log.current.items())]
        counts = [sum(1 for row in labelled if row[2] == label) for label in (0, 1)]
        if deployed is None:
            if min(counts) < self.settings.min_labels:
                self.log("cold start: %d positive and %d negative labels; the first model "
                         "needs %d of each" % (counts[1], counts[0], self.settings.min_labels))
                return None
            return labelled, None, {}
        since = max(int(metrics.get("label_seq", 0)), int(state.get("last_attempt_seq", 0)))
        new = label_log.last_seq - since
        if new < self.settings.min_new:
            self.log("%d new labels since %s; retraining needs %d"
                     % (new, os.path.basename(deployed), self.settings.min_new))
            return None
        return labelled, deployed, metrics

    def retrain(self, label_log, state):
        """Retrain when due -> the new version's path, or None."""
        found = self.due(label_log, state)
        if found is None:
            return None
        labelled, deployed, _ = found
        seq = label_log.last_seq
        state["last_attempt_seq"] = seq
        counts = {"positive": sum(row[2] for row in labelled)}
        counts["negative"] = len(labelled) - counts["positive"]
        metrics = {"label_seq": seq, "labels": counts, "metric": METRIC,
                   "serve_offset": int(state.get("serve", {}).get("offset", 0)),
                   "trained": utc_text(_now()), "held_out": None}
        try:
            if deployed is not None:
                compared = self.compare(labelled, deployed)
                metrics["held_out"] = compared
                if not compared["deploy"]:
                    return None
            bundle, summary = self.trainer.fit("full", labelled)
        except JeevesError as error:
            self.log("retraining failed, nothing deployed: %s" % error)
            return None
        metrics["model"] = summary.get("chosen_model")
        metrics["training"] = (summary.get("models") or {}).get(summary.get("chosen_model"))
        online = self.settings.online or (
            deployed is not None and os.path.isdir(os.path.join(deployed, "online")))

        def write(directory):
            shutil.copytree(bundle, directory, dirs_exist_ok=True)
            if online:
                self.fit_online(labelled).save(os.path.join(directory, "online"))

        path = versions.deploy(self.model_dir, write, metrics)
        self.log("deployed %s: %s on %d labels (%d positive)"
                 % (os.path.basename(path), metrics["model"], len(labelled),
                    counts["positive"]))
        return path

    def compare(self, labelled, deployed):
        """Fit a candidate on all but the newest fifth; score both there -> held_out metrics."""
        train, held = _split(labelled)
        if len({label for _, _, label in train}) < 2:
            raise UserError("the older four fifths of the labels have one class only")
        candidate, _ = self.trainer.fit("candidate", train)
        records = self.store.records([message_id for _, message_id, _ in held])
        label_of = {message_id: label for _, message_id, label in held}
        y = [label_of[record["message_id"]] for record in records]
        result = {"messages": len(y), "positives": int(sum(y)), "from": held[0][0],
                  "deployed_version": os.path.basename(deployed)}
        for name, bundle in (("candidate", candidate), ("deployed", deployed)):
            try:
                scores = score_bundle(bundle, records)
            except BundleError as error:
                if name == "candidate":
                    raise
                self.log("the deployed model cannot score (%s): the candidate replaces it"
                         % error)
                result[name] = None
                continue
            result[name] = held_out_metrics(y, [scores[record["message_id"]]
                                                for record in records])
        if len(set(y)) < 2:
            result["deploy"] = False
            why = "the newest fifth has one class only, no comparison"
        elif result.get("deployed") is None:
            result["deploy"] = True
            why = "the deployed model cannot score"
        else:
            result["deploy"] = result["candidate"][METRIC] >= result["deployed"][METRIC]
            why = "%s %.4f against %.4f (ROC AUC %.4f against %.4f)" % (
                METRIC.replace("_", " "), result["candidate"][METRIC],
                result["deployed"][METRIC], result["candidate"]["roc_auc"],
                result["deployed"]["roc_auc"])
        self.log("candidate on the newest %d labels (%d positive) against %s: %s: %s" % (
            result["messages"], result["positives"], result["deployed_version"], why,
            "refit on all labels" if result["deploy"] else "worse, not deployed"))
        return result

    def fit_online(self, labelled):
        model = _online_model_class().new()
        ordered = sorted(labelled)
        records = self.store.records([message_id for _, message_id, _ in ordered])
        label_of = {message_id: label for _, message_id, label in ordered}
        model.learn(records, [label_of[record["message_id"]] for record in records])
        return model


# -- the loop -------------------------------------------------------------------

class Learner:
    def __init__(self, url, model_dir, settings, trainer_factory, tls=None, log=print,
                 sleep=time.sleep):
        self.url, self.model_dir, self.settings = url, os.fspath(model_dir), settings
        self.tls = tls or TLSSettings()
        self.log, self.sleep = log, sleep
        self.home = os.path.join(self.model_dir, "learn")
        self.store = MailStore(os.path.join(self.home, "mail"))
        self.state_file = JSONState(os.path.join(self.home, "state.json"))
        trainer = trainer_factory(os.path.join(self.home, "work"), self.store)
        self.retrainer = Retrainer(self.model_dir, settings, trainer, self.store, self._log)
        self.serve_labels = ServeLabels(self.model_dir, self.store, self._log)

    def _log(self, line):
        self.log("%s %s" % (utc_text(_now()), line))

    def _load_state(self):
        try:
            state = self.state_file.load()
        except ValueError as error:
            raise MailboxError(str(error)) from None
        made_for = {"account": self.url.account, "labels": str(self.settings.labels),
                    "folder": self.settings.folder}
        for key, value in made_for.items():
            if state.get(key, value) != value:
                raise MailboxError("%s learns %s=%s, not %s: use another --model DIR" % (
                    self.home, key, state[key], value))
        state.update(made_for, version=STATE_VERSION)
        state.setdefault("folders", {})
        return state

    def learn_pass(self, client, state, label_log):
        """Scan, log the label changes, update the online copy -> the entries written."""
        scanner = Scanner(client, self.settings, self.store, self._log)
        folders = state["folders"]
        folders[self.settings.folder] = scanner.scan(
            self.settings.folder, folders.get(self.settings.folder, {}))
        label_folder = {}
        if self.settings.labels.kind == "folder":
            name = scanner.label_folder()
            if name == self.settings.folder:
                raise MailboxError("the label folder and --folder are both %r" % name)
            folders[name] = scanner.scan(name, folders.get(name, {}))
            label_folder = folders[name]["messages"]
        watched = folders[self.settings.folder]["messages"]
        changes = label_changes(self.settings, watched, label_folder, label_log, _now(),
                                scanner.touched)
        written = label_log.append(changes)
        arrived_of = {row[0]: row[1] for folder in folders.values()
                      for row in folder["messages"].values() if row[0] is not None}
        written += self.serve_labels.take(state, label_log, arrived_of)
        self.state_file.save(state)
        labels = label_log.labels()
        positive = sum(labels.values())
        self._log("%d new labels (%d positive, %d negative); %d in all (%d positive, "
                  "%d negative)" % (len(written), sum(e["label"] for e in written),
                                    sum(1 - e["label"] for e in written), len(labels),
                                    positive, len(labels) - positive))
        self.update_online(label_log, state)
        return written

    def update_online(self, label_log, state):
        """Between retrainings, the labels the deployed version's online model has not
        learnt (log entries after its label_seq, or after the published copy's) are
        learnt by a copy, published for serve and watch (jeeves.scoring.publish)
        -> the copy's directory, or None when there was nothing to learn."""
        deployed, metrics = deployed_version(self.model_dir)
        if deployed is None or not os.path.isdir(os.path.join(deployed, scoring.ONLINE_DIR)):
            return None
        version = versions.version_label(self.model_dir, deployed)
        seen = int(metrics.get("label_seq") or 0)
        source = os.path.join(deployed, scoring.ONLINE_DIR)
        _, pointer = scoring.read_published(self.model_dir)
        if pointer and pointer.get("version") == version and int(pointer["label_seq"]) > seen:
            seen = int(pointer["label_seq"])
            source = os.path.join(self.home, pointer["directory"])
        new = label_log.entries[seen:]
        if not new:
            return None
        try:
            model = _online_model_class().load(source)
        except ValueError as error:  # a broken copy: the labels wait for the next version
            self._log("online model not updated: %s" % error)
            return None
        pairs = [(first_record(self.store.entry(entry["message_id"])), entry["label"])
                 for entry in new]
        pairs = [(record, label) for record, label in pairs if record is not None]
        if pairs:
            model.learn([record for record, _ in pairs], [label for _, label in pairs])
        path = scoring.publish(self.model_dir, model, version, label_log.last_seq,
                               state.get("serve", {}).get("offset", 0))
        self._log("online model of %s learnt labels %d to %d: published %s"
                  % (version, seen + 1, label_log.last_seq, os.path.basename(path)))
        return path

    def run(self, stop=lambda: False):
        """Pass after pass (one with ``once``) -> the path of the last version deployed."""
        try:
            label_log = LabelLog.open(os.path.join(self.home, "labels.jsonl"))
        except LabelLogError as error:
            raise MailboxError(str(error)) from None
        deployed, backoff = None, 1.0
        try:
            self.store.clean()
            state = self._load_state()
            while True:
                try:
                    client = connect(self.url, self.tls)
                    try:
                        self.learn_pass(client, state, label_log)
                    finally:
                        close(client)
                    backoff = 1.0
                except CONNECTION_ERRORS as error:
                    message = "connection to %s lost: %s" % (self.url, error)
                    if self.settings.once:
                        raise ConnectionLost(message + "; run again to resume") from None
                    self._log(message + "; retrying in %gs" % backoff)
                    self.sleep(backoff)
                    backoff = min(backoff * 2, self.settings.max_backoff)
                    continue
                deployed = self.retrainer.retrain(label_log, state) or deployed
                self.state_file.save(state)
                if self.settings.once or stop():
                    return deployed
                self.sleep(self.settings.interval)
        finally:
            label_log.close()


def parse_duration(text):
    """``1d``, ``12h``, ``30m``, ``45s`` or a number of seconds -> seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    text = text.strip().lower()
    unit = units.get(text[-1:]) if text else None
    try:
        value = float(text[:-1] if unit else text)
    except ValueError:
        raise MailboxError("bad duration %r: expected e.g. 1d, 12h, 30m, 45s or 0" % text
                           ) from None
    if value < 0:
        raise MailboxError("a duration is 0 or more, not %r" % text)
    return value * (unit or 1)


def config_with(template, inputs, output, labels):
    """``template`` (a RunConfig) for other inputs, output and labels."""
    return replace(template, inputs=tuple(inputs), output=output, labels=labels)
