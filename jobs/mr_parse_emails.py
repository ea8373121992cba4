"""Parse raw mail into clean JSON records, deduplicated by Message-ID.

Input: files or directories of mail in any mix of formats (mbox, maildir and
other one-message files, subject-plus-body files, gzip/bz2 of those, JSON
lines of records already parsed), detected by content (features/mailformats).

Two ways in:

- ``--work-list`` (what ``jeeves parse`` runs, docs/engines.md): the input
  files are *work lists* written by the driver's input plan
  (scripts/pipeline/parse_inputs.py), one work item per file, so one map
  task per item on every runner. An item is a JSON object ``{"pieces":
  [piece, ...]}``; a piece names a file where a task can read it (``read``:
  a local path, the name of a file the driver ships with ``--shipped-file``,
  an ``hdfs://`` or ``s3://`` URI), its ``uri`` and ``relpath`` for the
  records, and, for a byte range of a large uncompressed mbox, ``start``,
  ``end``, ``size`` and ``several`` (the file holds more than one message).
  A range yields the messages whose ``From `` line starts inside it
  (features/mbox_ranges.py): the same records as the whole file.
- Without it, each input file reaches one mapper whole (``mapper_raw``), as
  mrjob hands it: for running the job by hand on a few files. Spark refuses
  ``mapper_raw`` input, so there the job needs a work list.

Output (JSONProtocol): ``"message"`` -> a record (docs/records.md), one per
distinct ``message_id`` (or content, ``--dedupe-by content``);
``"quarantine"`` -> a quarantine record for input that could not become a
message. With ``--map-only`` there is no reducer: the output is the
mapper's rows (``["message", dedupe key]`` and ``["quarantine", uri,
index]`` keys), which ``jeeves parse`` dedupes in the driver on the
inline and local runners, where it reads every record anyway to sort them
(scripts/pipeline/parse.py), and there are no records and duplicates
counters. With ``--bare-messages`` (``jeeves parse`` with OUT on HDFS or
S3) the reducer writes each record as a bare line, OUT/messages/ format,
and the quarantine rows keyed as above: when nothing is quarantined the
job's output is messages/ as it stands (scripts/pipeline/parse.py
``_split_remotely``). Counters: group ``parse`` (messages_found =
records + quarantined + duplicates), group ``quarantine`` (one per reason),
group ``warnings`` (field-level oddities), group ``tasks`` (``map``,
``reduce``: tasks run, jobs.CountedJob), group ``progress``
(``input_bytes``: the bytes of the work items' pieces done, piece_bytes).
"""

from __future__ import annotations

import json
import os
from collections import Counter

from mrjob.job import MRJob
from mrjob.step import MRStep

from jeeves.features.mailformats import Found, expand_inputs, iter_found, relpath_of_uri
from jeeves.features.mbox_ranges import found_in_range
from jeeves.features.parsing import (
    DEDUPE_BY,
    MAX_MESSAGE_BYTES,
    content_fingerprint,
    encoded_outcome_of,
)
from jeeves.jobs import WHOLE_LINE_REDUCER_OUTPUT_JOBCONF, CountedJob
from jeeves.jobs.protocols import EncodedJSON, PassThroughJSONProtocol, TupleKeyJSONProtocol
from jeeves.settings import add_settings
from jeeves.storage import Storage

# one per DEDUPE_BY choice
DEDUPE_KEYS = {
    "message_id": lambda record: record["message_id"],
    "content": content_fingerprint,
}


def _preference(record):
    """Sort key of a duplicate: untruncated first, then by source (URI, index,
    offset), then by content."""
    return _source_preference(record) + (json.dumps(record, sort_keys=True),)


def _source_preference(record):
    """``_preference`` but its last item (the content, as sorted JSON text)."""
    source = record.get("source") or {}
    return (bool(record.get("truncated")), str(source.get("uri")), source.get("index") or 0,
            source.get("offset") or 0)


def found_in_piece(piece, location, webhdfs_url=None):
    """The Found items of one work item piece read at ``location``: the
    whole file, or the messages of its byte range (each range fetched
    alone: jeeves.storage's ranged reads)."""
    storage = Storage(webhdfs_url=webhdfs_url)
    if "start" in piece:
        def read(offset, length):
            return storage.read_range(location, offset, length)

        return list(found_in_range(read, piece["uri"], piece["relpath"], piece["start"],
                                   piece["end"], piece["size"], piece["several"]))
    return iter_found(storage.read_all(location), piece["uri"], piece["relpath"])


def piece_bytes(piece, location):
    """The bytes a piece stands for in the progress counter: its range, or
    the size of the file at a local ``location`` (0 for a remote one: the
    driver cannot size it without a request per file). A malformed piece
    (quarantined by the task) stands for 0."""
    try:
        if "start" in piece:
            return max(int(piece["end"]) - int(piece["start"]), 0)
        return os.path.getsize(location) if os.path.isfile(location) else 0
    except (KeyError, TypeError, ValueError, OSError):
        return 0


class MessageRecordsProtocol(PassThroughJSONProtocol):
    """Message records reach the reducer as their JSON text: a message seen
    once (nearly all) is written back as it came, never decoded there."""

    PASS_THROUGH_KINDS = ("message",)


class BareMessagesProtocol(TupleKeyJSONProtocol):
    """TupleKeyJSONProtocol that writes a ``"message"`` row as its record's
    JSON line alone (the bytes JSONProtocol writes after the tab): the
    output's message lines are OUT/messages/ lines. Reads a line without a
    tab as a ``"message"`` row."""

    def read(self, line):
        if b"\t" not in line:
            return "message", self._loads(line)
        return super().read(line)

    def write(self, key, value):
        if key == "message":
            return value if isinstance(value, EncodedJSON) else self._dumps(value)
        return super().write(key, value)


class MRParseEmails(CountedJob, MRJob):
    INTERNAL_PROTOCOL = MessageRecordsProtocol
    OUTPUT_PROTOCOL = TupleKeyJSONProtocol
    # the work lists are a few lines; the mail is what the pieces read
    REPORTS_STDIN_BYTES = False

    @classmethod
    def progress_total(cls, inputs):
        """The bytes of all pieces of the work lists ``inputs`` (local files)."""
        total = 0
        for path in inputs:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        total += sum(piece_bytes(piece, piece["read"])
                                     for piece in json.loads(line)["pieces"])
        return total

    def configure_args(self):
        super().configure_args()
        add_settings(self.add_passthru_arg, (MAX_MESSAGE_BYTES, DEDUPE_BY))
        self.add_passthru_arg(
            "--work-list", action="store_true",
            help="the input is work lists of the driver's input plan, one JSON work item "
                 "per file (scripts/pipeline/parse_inputs.py), not raw mail")
        self.add_passthru_arg(
            "--webhdfs-url", default=None,
            help="http://host:port of the NameNode's WebHDFS, to read hdfs:// pieces "
                 "(set by the input plan)")
        self.add_passthru_arg(
            "--map-only", action="store_true",
            help="no reducer: the output is the mapper's rows, [\"message\", dedupe key] -> "
                 "record and [\"quarantine\", uri, index] -> record, which the driver "
                 "dedupes as it sorts them (jeeves parse on the inline and local runners, "
                 "scripts/pipeline/parse.py); no records or duplicates counters then")
        self.add_passthru_arg(
            "--bare-messages", action="store_true",
            help="the reducer writes message records as bare lines (OUT/messages/ "
                 "format) and quarantine rows keyed (jeeves parse with OUT on a "
                 "cluster's storage); no effect with --map-only")
        self.add_file_arg(
            "--shipped-file", dest="shipped_files", action="append", default=[],
            help="a local file the driver ships with the job (a container, a file to "
                 "split), named by work items; once per file")

    def steps(self):
        reduce = dict(reducer_init=self.reducer_init, reducer=self.reducer_dedupe_messages,
                      reducer_final=self.send_counts)
        if self.options.map_only:
            reduce = {}
        elif self.options.bare_messages:
            # the record lines have no tab: written as they are on Hadoop
            reduce["jobconf"] = WHOLE_LINE_REDUCER_OUTPUT_JOBCONF
        if self.options.work_list:
            return [MRStep(mapper_init=self.mapper_init, mapper=self.mapper_run_work_items,
                           mapper_final=self.send_counts, **reduce)]
        if self.options.runner == "spark":
            raise ValueError("on Spark the parse job reads work lists (--work-list): plan "
                             "the input with jeeves.pipeline.parse_inputs.plan_inputs, as "
                             "jeeves parse does")
        return [MRStep(mapper_init=self.mapper_init, mapper_raw=self.mapper_find_messages,
                       mapper_final=self.send_counts, **reduce)]

    def output_protocol(self):
        if self.options.bare_messages and not self.options.map_only:
            return BareMessagesProtocol()
        return super().output_protocol()

    def mapper_init(self):
        """Pick the dedupe key function (--dedupe-by) once per task; map the
        names of shipped files to where they are in this task."""
        self.dedupe_key = DEDUPE_KEYS[self.options.dedupe_by]
        self.shipped = {os.path.basename(path): path for path in self.options.shipped_files}
        self.counts = Counter()

    def reducer_init(self):
        self.counts = Counter()

    def send_counts(self):
        """Nothing out; the task's counts as counters, one update per name:
        each update is a line the runner parses, so not one per message."""
        for (group, name), count in sorted(self.counts.items()):
            self.increment_counter(group, name, count)
        self.counts.clear()
        return iter(())

    def mapper_run_work_items(self, _, line):
        """(None, a work item line) -> the pairs of mapper_find_messages for
        each of its pieces."""
        if not line.strip():
            return
        try:
            pieces = json.loads(line)["pieces"]
        except (ValueError, KeyError, TypeError) as error:
            self.counts["parse", "messages_found"] += 1
            found = Found("problem", line.encode("utf-8"), "work-list", None, None, [],
                          "unreadable_file", "not a work item (%s): %.200s" % (error, line))
            yield from self._pairs_of(found)
            return
        for piece in pieces:
            location = None
            try:
                location = self.shipped.get(piece["read"], piece["read"])
                found_items = found_in_piece(piece, location, self.options.webhdfs_url)
            # local, HTTP (WebHDFS) and boto3 reads raise errors of their own
            # kinds, a piece may lack a field: the piece is unreadable, counted
            except Exception as error:  # noqa: BLE001
                found_items = [self._unreadable(str(piece.get("uri")), error)]
            yield from self._pairs_of_found(found_items)
            self.report_input_bytes(piece_bytes(piece, location))
        self.flush_input_bytes()

    def mapper_find_messages(self, input_path, input_uri):
        """(path, uri) of one input file -> (["message", dedupe key], record) and
        (["quarantine", uri, index], quarantine record) pairs."""
        for path, uri, relpath in self._files_of(input_path, input_uri):
            yield from self._pairs_in_file(path, uri, relpath)

    def _pairs_in_file(self, path, uri, relpath):
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            found_items = [self._unreadable(uri, error)]
        else:
            found_items = iter_found(data, uri, relpath)
        yield from self._pairs_of_found(found_items)

    def _pairs_of_found(self, found_items):
        counts = self.counts
        for found in found_items:
            counts["parse", "messages_found"] += 1
            yield from self._pairs_of(found)

    def _files_of(self, input_path, input_uri):
        """The files behind a mapper's input: a directory expands; the local
        runner renames what it cannot decompress, so fall back to the URI."""
        if not os.path.exists(input_path) and os.path.exists(input_uri):
            input_path = input_uri
        if os.path.isdir(input_path):
            return expand_inputs([input_path])
        if "://" not in input_uri and os.path.exists(input_uri):
            # a local file named by its path: records carry its file:// URI,
            # as those of the input plan do
            [(_, uri, relpath)] = expand_inputs([input_uri])
            return [(input_path, uri, relpath)]
        return [(input_path, input_uri, relpath_of_uri(input_uri))]

    @staticmethod
    def _unreadable(uri, error):
        return Found("problem", b"", uri, None, None, [], "unreadable_file", str(error))

    def _pairs_of(self, found):
        # a parsed message comes with its JSON line (EncodedJSON, written as
        # it is by the protocol): the encoding that checked its strings
        kind, record, warnings, line = encoded_outcome_of(
            found, self.options.max_message_bytes, encode=True)
        for warning in warnings:
            self.counts["warnings", warning] += 1
        if kind == "message":
            yield ["message", self.dedupe_key(record)], (
                record if line is None else EncodedJSON(line))
        else:
            self._quarantined(record["reason"])
            yield ["quarantine", found.uri, found.index], record

    def _quarantined(self, reason):
        self.counts["parse", "quarantined"] += 1
        self.counts["quarantine", reason] += 1

    def reducer_dedupe_messages(self, key, records):
        """(["message", dedupe key], records) -> ("message", the preferred record);
        (["quarantine", ...], records) -> ("quarantine", record) for each."""
        if key[0] == "quarantine":
            for record in records:
                yield "quarantine", record
            return
        records = list(records)
        self.counts["parse", "records"] += 1
        if len(records) == 1:
            yield "message", records[0]
            return
        self.counts["parse", "duplicates"] += len(records) - 1
        yield "message", preferred(records)


def preferred(records):
    """The record kept of a dedupe key's several (each a dict or its JSON
    text, EncodedJSON or bytes): the first by ``_preference``, decoded."""
    decoded = [json.loads(record) if isinstance(record, (bytes, str)) else record
               for record in records]
    # the content's JSON text only decides between records of the same
    # source, which copies of a message seldom share: written only for them
    firsts = [_source_preference(record) for record in decoded]
    first = min(firsts)
    tied = [record for record, key in zip(decoded, firsts) if key == first]
    return tied[0] if len(tied) == 1 else min(tied, key=_preference)


if __name__ == "__main__":
    MRParseEmails.run()
