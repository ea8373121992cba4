"""The label log of `jeeves learn`: every change of a message's label, durably, in order.

One JSON object per line (``DIR/learn/labels.jsonl``)::

    {"seq": 7, "message_id": "a@b", "label": 1, "when": "2026-12-06T13:20:00Z",
     "why": "in folder Meetings", "arrived": "2026-12-01T09:00:00Z"}

``seq`` counts from 1 with no gap; ``label`` is 1 or 0; ``when`` is when the
change was seen, ``arrived`` the message's IMAP INTERNALDATE (the time order
of the retraining split), both UTC.

Durability: ``append`` writes its lines in one write, then fsyncs, before it
returns; the log is only ever appended to. Opening the log replays it: the
current label of each message is its last entry, and a change equal to the
current label is not written again, so a run that repeats the work of a run
killed midway adds nothing twice. A kill can only tear the last line (a
write cut short): opening cuts a torn last line off, and the run that comes
next finds that change again because it was never recorded. Anything else
that does not read (a bad line before the last, a gap in ``seq``) is an
error naming the line: the log is never rewritten behind the user's back.
One process at a time: ``LabelLog.open`` takes an exclusive lock beside the
log and refuses a second writer.

A change that comes from another source's own log (a label posted to `jeeves
serve`) carries a ``key`` naming its place there (``serve:OFFSET``): it is
written exactly once whatever the current label (the log knows the keys it
holds), so the log says that the label was given and where it came from,
and a run repeating the work of a killed one finds the key and adds nothing.
"""

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone

LOCK_SUFFIX = ".lock"


class LabelLogError(Exception):
    """The label log cannot be read or is in use (one line)."""


@dataclass(frozen=True)
class Change:
    """A label a message should have now, and why."""

    message_id: str
    label: int
    why: str
    arrived: str = None
    key: str = None  # written once per key, whatever the current label (module docstring)
    extra: tuple = ()  # more (name, value) fields of the entry


def utc_text(when):
    """A datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (naive ones are taken as UTC)."""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_entry(entry, expected_seq, where):
    if not isinstance(entry, dict):
        raise LabelLogError("%s: not a JSON object" % where)
    if entry.get("seq") != expected_seq:
        raise LabelLogError("%s: seq %r where %d was due (entries lost or doubled)"
                            % (where, entry.get("seq"), expected_seq))
    if entry.get("label") not in (0, 1) or not isinstance(entry.get("message_id"), str):
        raise LabelLogError("%s: needs a message_id and a label 0 or 1" % where)


class LabelLog:
    """The entries of a label log, and appends to it (see the module docstring)."""

    def __init__(self, path, handle, lock, entries):
        self.path = path
        self._handle = handle
        self._lock = lock
        self.entries = entries
        self.current = {}
        self.keys = set()
        for entry in entries:
            self.current[entry["message_id"]] = entry
            if entry.get("key") is not None:
                self.keys.add(entry["key"])

    @classmethod
    def open(cls, path):
        """Lock, replay and (when the last line is torn) repair the log at ``path``."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        lock = open(path + LOCK_SUFFIX, "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise LabelLogError("label log %s is in use by another process (another "
                                "jeeves learn on the same --model?)" % path) from None
        try:
            handle = open(path, "a+b")
            entries = cls._replay(path, handle)
        except BaseException:
            lock.close()
            raise
        return cls(path, handle, lock, entries)

    @staticmethod
    def _replay(path, handle):
        handle.seek(0)
        data = handle.read()
        entries, offset = [], 0
        lines = data.split(b"\n")
        for number, line in enumerate(lines, 1):
            last = number == len(lines)
            if last and not line:
                break  # the file ends with a newline
            try:
                entry = json.loads(line)
                if last:
                    raise ValueError("no newline")  # a write cut short
            except ValueError:
                if last:
                    handle.truncate(offset)
                    handle.flush()
                    os.fsync(handle.fileno())
                    break
                raise LabelLogError("%s:%d is not a JSON line" % (path, number)) from None
            _check_entry(entry, len(entries) + 1, "%s:%d" % (path, number))
            entries.append(entry)
            offset += len(line) + 1
        return entries

    @property
    def last_seq(self):
        return len(self.entries)

    def labels(self):
        """message_id -> current label (0 or 1)."""
        return {message_id: entry["label"] for message_id, entry in self.current.items()}

    def label_of(self, message_id):
        entry = self.current.get(message_id)
        return None if entry is None else entry["label"]

    def append(self, changes, now=None):
        """Record the ``changes`` that differ from the current labels (in order; a
        message named twice keeps its last), and the keyed ones whose key the log
        does not hold yet -> the entries written, synced to disk."""
        when = utc_text(now or datetime.now(timezone.utc))
        wanted, keys = {}, set()
        for change in changes:
            if change.key is not None:
                if change.key not in self.keys and change.key not in keys:
                    keys.add(change.key)
                    wanted[("key", change.key)] = change
                continue
            wanted.pop(("id", change.message_id), None)
            wanted[("id", change.message_id)] = change
        written, seq, current = [], self.last_seq, {}
        for change in wanted.values():
            label = current.get(change.message_id, self.label_of(change.message_id))
            if change.key is None and label == change.label:
                continue
            seq += 1
            entry = dict(change.extra)
            entry.update(seq=seq, message_id=change.message_id, label=int(change.label),
                         when=when, why=change.why)
            if change.arrived is not None:
                entry["arrived"] = change.arrived
            if change.key is not None:
                entry["key"] = change.key
            current[change.message_id] = entry["label"]
            written.append(entry)
        if not written:
            return []
        data = b"".join(json.dumps(entry, sort_keys=True).encode("utf-8") + b"\n"
                        for entry in written)
        self._handle.seek(0, os.SEEK_END)
        self._handle.write(data)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        for entry in written:
            self.entries.append(entry)
            self.current[entry["message_id"]] = entry
            if "key" in entry:
                self.keys.add(entry["key"])
        return written

    def close(self):
        self._handle.close()
        self._lock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
