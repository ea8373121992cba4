"""Label adapters: a `--labels` SPEC string -> a labeller of parsed message records.

A labeller is called with one parsed record (docs/records.md) and returns
1, 0, or None for "unlabelled" (featurized, not trained on, counted). SPEC
forms, tried in this order:

- ``cats:TOP,SUB`` -- the Berkeley Enron ``<id>.cats`` file next to the
  record's source ``<id>.txt``; positive when a line ``TOP,SUB,count`` is in
  it, negative otherwise, unlabelled when there is no ``.cats`` file.
- the path of an existing CSV or TSV file of ``message_id,label`` rows (an
  optional header row; ids with or without angle brackets; labels 0 or 1).
- ``folder:NAME`` -- 1 when the record's folder ends with NAME (its
  ``/``-separated segments: ``folder:Meetings``, ``folder:Work/Meetings``),
  0 otherwise: a mailbox folder fetched by `jeeves fetch`, or any directory;
- ``label:NAME`` -- 1 when NAME is among the record's ``labels`` (IMAP
  keywords, Gmail or Google Takeout labels), 0 otherwise;
- folder patterns ``PATTERN=LABEL,...`` (e.g. ``spam*=1,*ham*=0``): fnmatch
  patterns on the record's folder segments. The innermost segment that any
  pattern matches decides, trying patterns in the given order, so that
  ``spamassassin/easy-ham-1`` is ham under ``spam*=1,*ham*=0``. A pattern
  containing ``/`` is matched against the whole source path instead.

A bad SPEC raises ValueError naming the bad part.
"""

import csv
import json
import os
from collections import Counter
from fnmatch import fnmatchcase
from urllib.parse import unquote, urlparse

_LABEL_VALUES = {"0": 0, "1": 1}


def _label_value(text, where):
    value = _LABEL_VALUES.get(text.strip())
    if value is None:
        raise ValueError("%s: label must be 0 or 1, not %r" % (where, text))
    return value


def source_path(record):
    """The local file path of a record's source (None when it is not a file:// URI)."""
    uri = (record.get("source") or {}).get("uri") or ""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file") or not parsed.path:
        return None
    return unquote(parsed.path)


class FolderPatternLabeller:
    """Labels by fnmatch patterns on folder segments (see the module docstring)."""

    def __init__(self, rules):
        self.rules = list(rules)  # [(pattern, 0 or 1)]

    def __call__(self, record):
        for segment in reversed(record.get("folder") or []):
            for pattern, label in self.rules:
                if "/" not in pattern and fnmatchcase(segment, pattern):
                    return label
        path = source_path(record)
        if path is not None:
            for pattern, label in self.rules:
                if "/" in pattern and fnmatchcase(path, pattern):
                    return label
        return None

    @classmethod
    def from_spec(cls, spec):
        rules = []
        for part in spec.split(","):
            pattern, equals, label = part.strip().rpartition("=")
            if not equals or not pattern.strip():
                raise ValueError("bad folder label rule %r: expected PATTERN=LABEL "
                                 "(e.g. 'spam*=1,*ham*=0')" % part.strip())
            rules.append((pattern.strip(), _label_value(label, "folder rule %r" % part.strip())))
        return cls(rules)


class FolderLabeller:
    """1 for records whose folder ends with the given segments, 0 for the rest."""

    def __init__(self, segments):
        self.segments = list(segments)

    def __call__(self, record):
        folder = record.get("folder") or []
        return int(folder[len(folder) - len(self.segments):] == self.segments)

    @classmethod
    def from_spec(cls, spec):
        name = spec[len("folder:"):]
        segments = [segment for segment in name.strip().split("/") if segment]
        if not segments:
            raise ValueError("bad folder spec %r: expected folder:NAME (e.g. folder:Meetings)"
                             % spec)
        return cls(segments)


class MailboxLabelLabeller:
    """1 for records carrying the given mailbox label, 0 for the rest."""

    def __init__(self, label):
        self.label = label

    def __call__(self, record):
        return int(self.label in (record.get("labels") or ()))

    @classmethod
    def from_spec(cls, spec):
        label = spec[len("label:"):].strip()
        if not label:
            raise ValueError("bad label spec %r: expected label:NAME (e.g. label:Meetings)"
                             % spec)
        return cls(label)


class TableLabeller:
    """Labels from a CSV or TSV table of message_id,label rows."""

    def __init__(self, labels):
        self.labels = dict(labels)  # message_id (no angle brackets) -> 0 or 1

    def __call__(self, record):
        return self.labels.get(record.get("message_id"))

    @classmethod
    def from_file(cls, path):
        with open(path, newline="", encoding="utf-8") as handle:
            first_line = handle.readline()
            handle.seek(0)
            delimiter = "\t" if "\t" in first_line else ","
            labels = {}
            for number, row in enumerate(csv.reader(handle, delimiter=delimiter), 1):
                if not row or not "".join(row).strip():
                    continue
                where = "%s:%d" % (path, number)
                if len(row) < 2:
                    raise ValueError("%s: expected message_id%slabel"
                                     % (where, "<TAB>" if delimiter == "\t" else ","))
                message_id, label = row[0].strip().strip("<>").strip(), row[1].strip()
                if number == 1 and label not in _LABEL_VALUES:
                    continue  # a header row
                value = _label_value(label, where)
                if labels.get(message_id, value) != value:
                    raise ValueError("%s: message %r is labelled both 0 and 1"
                                     % (where, message_id))
                labels[message_id] = value
        return cls(labels)


def source_stem(uri):
    """The path of a file URI (or plain path) without its extension:
    ``file:///d/12.txt`` and ``hdfs://nn:8020/d/12.cats`` -> ``/d/12``.

    A record's source and the ``.cats`` file beside it share it, whatever
    the scheme or the host the URI names (the labelling job joins on it).
    """
    parsed = urlparse(uri)
    path = unquote(parsed.path) if parsed.scheme else uri
    return os.path.splitext(path)[0]


def cats_line_matches(line, category):
    """True when a ``.cats`` line ``TOP,SUB,count`` has the (TOP, SUB) category."""
    fields = [field.strip() for field in line.split(",")]
    return len(fields) >= 2 and (fields[0], fields[1]) == category


def packed_cats_line(uri, text):
    """A whole ``.cats`` file as one input line of the labelling job:
    ``"cats"<TAB>{"uri": URI, "lines": [...]}`` (many small files in one, so
    one map task reads them all; an empty file keeps its label 0)."""
    return '"cats"\t' + json.dumps({"uri": uri, "lines": text.splitlines()})


class CatsLabeller:
    """Labels by a Berkeley Enron category in the ``.cats`` file next to the source."""

    def __init__(self, top, sub):
        self.category = (top, sub)

    def __call__(self, record):
        path = source_path(record)
        if path is None:
            return None
        cats_path = source_stem(path) + ".cats"
        try:
            with open(cats_path, encoding="ascii", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return None
        return int(any(cats_line_matches(line, self.category) for line in lines))

    @classmethod
    def from_spec(cls, spec):
        _, _, category = spec.partition(":")
        parts = [part.strip() for part in category.split(",")]
        if len(parts) != 2 or not all(part.isdigit() for part in parts):
            raise ValueError("bad category %r in %r: expected cats:TOP,SUB (e.g. cats:1,4)"
                             % (category, spec))
        # the files write categories without leading zeros
        return cls(str(int(parts[0])), str(int(parts[1])))


def labeller_from_spec(spec):
    """A labeller for a `--labels` SPEC (see the module docstring)."""
    if not spec or not spec.strip():
        raise ValueError("empty label spec")
    spec = spec.strip()
    if spec.startswith("cats:"):
        return CatsLabeller.from_spec(spec)
    if spec.startswith("folder:"):
        return FolderLabeller.from_spec(spec)
    if spec.startswith("label:"):
        return MailboxLabelLabeller.from_spec(spec)
    if os.path.isfile(spec):
        return TableLabeller.from_file(spec)
    if "=" not in spec:
        raise ValueError("label spec %r is not cats:TOP,SUB, folder:NAME, label:NAME, an "
                         "existing CSV/TSV file, or PATTERN=LABEL rules" % spec)
    return FolderPatternLabeller.from_spec(spec)


def label_records(records, labeller):
    """Apply a labeller to parsed records -> (labels, counts).

    labels maps message_id -> 0, 1 or None; counts has "labelled",
    "unlabelled", "positive" and "negative".
    """
    labels, counts = {}, Counter(labelled=0, unlabelled=0, positive=0, negative=0)
    for record in records:
        label = labeller(record)
        labels[record["message_id"]] = label
        if label is None:
            counts["unlabelled"] += 1
        else:
            counts["labelled"] += 1
            counts["positive" if label == 1 else "negative"] += 1
    return labels, dict(counts)
