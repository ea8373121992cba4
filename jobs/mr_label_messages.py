"""Label messages on the cluster: the labelled tf-idf vectors, joined by message id.

Inputs, told apart line by line:
- parsed records (OUT/messages/: one JSON object a line, docs/records.md),
  or mr_parse_emails output lines (``"message"<TAB>record``; its
  ``"quarantine"`` rows are skipped);
- the tf-idf vectors (OUT/features/tfidf/, mr_tfidf_vectors output):
  svmlight lines ``0 id:value ... # "message_id"``;
- with ``--labels cats:TOP,SUB``, the Berkeley Enron ``.cats`` files (lines
  ``TOP,SUB,count``), known by the name of the task's input file
  (``mapreduce.map.input.file``, which Hadoop, EMR and mrjob's inline and
  local runners set; mrjob's Spark harness with ``--emulate-map-input-file``
  names only the first file of each partition, where Spark puts many
  small files, so on Spark give them packed, as below);
  a ``.cats`` file labels the record whose source is the file beside it
  (``<id>.txt``; jeeves.models.labels.source_stem). An empty ``.cats`` file has no
  line to join, so its message is unlabelled (the driver-side labeller
  gives it 0). Or, in any input file, packed ``.cats`` files
  (jeeves.models.labels.packed_cats_line: ``"cats"<TAB>{"uri": URI of the .cats
  file, "lines": [...]}``): many small files read by one map task, on any
  runner, and an empty one gives 0 as the driver-side labeller does.

The label spec is jeeves.models.labels': ``--labels SPEC`` for ``cats:TOP,SUB``,
``folder:NAME``, ``label:NAME`` and ``PATTERN=LABEL,...`` folder patterns
(applied per record by labeller_from_spec), or ``--labels-file FILE`` for a
CSV/TSV table of ``message_id,label`` rows, shipped to the tasks.

Steps (keys are JSON arrays):
1. (cats only) mapper: a record -> ``["source", stem], [0, message_id]``
   (``[0, message_id, record]`` with ``--records``, and so for the label
   rows below); a
   ``.cats`` line -> ``["source", stem], [1, 0 or 1]`` (1 when it has the
   category); a vector -> ``["message", id], [2, features]``. Reducer at a
   stem: 1 when a line has the category, 0 when none has, unlabelled with no
   ``.cats`` line -> ``["message", id], [3, label]`` per record; vectors
   pass on.
2. mapper (without cats): a record -> ``["message", id], [3, label]`` (an
   unlabelled record is only counted); a vector -> ``["message", id], [2,
   features]``. Reducer at a message id: its label joined to its vectors.

Output: ``label id:value ... # "message_id"``, one line per vector of a
labelled message (a message id with two vectors, as the counting job keeps
duplicates, gets two lines), as jeeves.models.vectors.join_labels keeps them.
With ``--records all`` the parsed record (``--records F1,F2``: its
message_id and those fields) travels with its label and follows the id
in the comment: ``label id:value ... # "message_id" {record}`` (one
JSON text, no tab or newline; svmlight readers ignore the comment, and
jeeves.models.vectors.labelled_line reads both back). That is what the email
feature groups of the driver's models need (docs/models.md), and it is
proportional to the labelled messages only.
Counters (group ``label_messages``), per record: ``labelled``, ``positive``,
``negative``, ``unlabelled``; per message id: ``labelled_without_vector``,
``conflicting_labels`` (records of one id labelled 0 and 1: not output),
``vectors_unlabelled`` (vectors of unlabelled messages or of no record);
per line: ``invalid_json``, ``not_a_record``, ``missing_message_id``,
``invalid_vector``, ``invalid_cats`` (a packed line), ``cats_lines_ignored``
(``.cats`` input without a ``cats:`` spec).
"""

from __future__ import annotations

import json
import os
import re

from mrjob.compat import jobconf_from_env
from mrjob.job import MRJob
from mrjob.protocol import JSONProtocol, RawValueProtocol
from mrjob.step import MRStep

from jeeves.jobs import CountedJob, whole_line_reducer_jobconf
from jeeves.jobs.protocols import record_of_line
from jeeves.models.labels import (
    CatsLabeller,
    TableLabeller,
    cats_line_matches,
    labeller_from_spec,
    source_stem,
)

try:
    import ujson as fast_json
except ImportError:  # pragma: no cover - ujson is a dependency
    fast_json = json

COUNTERS = "label_messages"
SOURCE, MESSAGE = "source", "message"
PACKED_CATS_PREFIX = '"cats"\t'
# a line of a Berkeley .cats file: TOP,SUB,count
CATS_LINE = re.compile(r"\s*\d+\s*,\s*\d+\s*,\s*\d+\s*$")
# value tags
RECORD, CATS, VECTOR, LABEL = 0, 1, 2, 3


class MRLabelMessages(CountedJob, MRJob):
    INPUT_PROTOCOL = RawValueProtocol
    INTERNAL_PROTOCOL = JSONProtocol
    OUTPUT_PROTOCOL = RawValueProtocol

    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg(
            "--labels", default=None,
            help="label spec: cats:TOP,SUB, folder:NAME, label:NAME or PATTERN=LABEL,...")
        self.add_file_arg(
            "--labels-file", default=None,
            help="CSV or TSV table of message_id,label rows (shipped to the tasks)")
        self.add_passthru_arg(
            "--records", default=None,
            help="append each labelled message's parsed record to its output lines: "
                 "'all' (the whole record) or a comma list of its fields")

    def load_args(self, args):
        super().load_args(args)
        spec, table = self.options.labels, self.options.labels_file
        if (spec is None) == (table is None):
            self.arg_parser.error("give one of --labels SPEC and --labels-file FILE "
                                  "(got --labels %r, --labels-file %r)" % (spec, table))
        if spec is not None:
            if os.path.isfile(spec.strip()):
                self.arg_parser.error("--labels %r is a file: pass a labels table with "
                                      "--labels-file, so it is shipped to the tasks" % spec)
            try:
                labeller_from_spec(spec)
            except ValueError as error:
                self.arg_parser.error(str(error))

    def cats_mode(self):
        return self.options.labels is not None and self.options.labels.strip().startswith("cats:")

    # --- mappers -------------------------------------------------------------

    def mapper_init(self):
        self.cats = CatsLabeller.from_spec(self.options.labels.strip()) \
            if self.cats_mode() else None
        if self.cats is None:
            self.labeller = (TableLabeller.from_file(self.options.labels_file)
                             if self.options.labels_file
                             else labeller_from_spec(self.options.labels))
        # a split is one file: its name tells .cats lines from the others
        input_file = self.input_file = jobconf_from_env("mapreduce.map.input.file")
        self.cats_stem = None
        if input_file is not None and input_file.endswith(".cats"):
            self.cats_stem = source_stem(input_file)
        self.counts = dict.fromkeys(("labelled", "positive", "negative", "unlabelled",
                                     "invalid_json", "not_a_record", "missing_message_id",
                                     "invalid_vector", "invalid_cats",
                                     "cats_lines_ignored"), 0)

    def mapper_route(self, _, line):
        """A record, vector or ``.cats`` line -> its row (see the steps)."""
        if self.cats_stem is not None:
            if self.cats is None:
                self.counts["cats_lines_ignored"] += 1
            elif line.strip():
                yield [SOURCE, self.cats_stem], [CATS, int(cats_line_matches(line,
                                                                             self.cats.category))]
            return
        if line.startswith(PACKED_CATS_PREFIX):
            yield from self.route_packed_cats(line)
        elif line.startswith("{") or line.startswith('"'):
            yield from self.route_record(line)
        elif line.strip():
            yield from self.route_vector(line)

    def route_record(self, line):
        record = record_of_line(line, self.counts, other_rows=None)
        if record is None:
            return
        message_id = record["message_id"]
        if self.cats is not None:
            uri = (record.get("source") or {}).get("uri")
            if isinstance(uri, str) and uri:
                yield [SOURCE, source_stem(uri)], [RECORD, message_id] + self.carried(record)
            else:
                self.counts["unlabelled"] += 1
            return
        label = self.labeller(record)
        self.count_label(self.counts, label)
        if label is not None:
            yield [MESSAGE, message_id], [LABEL, label] + self.carried(record)

    def carried(self, record):
        """[record, or its --records fields] (it travels with the label), else []."""
        fields = self.options.records
        if not fields:
            return []
        if fields.strip() == "all":
            return [record]
        kept = [name.strip() for name in fields.split(",") if name.strip()]
        return [{name: record[name] for name in ["message_id"] + kept if name in record}]

    def route_packed_cats(self, line):
        """A packed ``.cats`` file -> ``["source", stem], [1, 0 or 1]`` per
        line, ``[1, 0]`` for an empty file."""
        if self.cats is None:
            self.counts["cats_lines_ignored"] += 1
            return
        try:
            packed = fast_json.loads(line[len(PACKED_CATS_PREFIX):])
            stem, lines = source_stem(packed["uri"]), packed["lines"]
            matches = [int(cats_line_matches(text, self.cats.category)) for text in lines]
        except (ValueError, TypeError, KeyError, AttributeError):
            self.counts["invalid_cats"] += 1
            return
        for match in matches or [0]:
            yield [SOURCE, stem], [CATS, match]

    def route_vector(self, line):
        features, separator, comment = line.partition(" # ")
        try:
            message_id = fast_json.loads(comment) if separator else None
        except ValueError:
            message_id = None
        if not isinstance(message_id, str) or not message_id:
            if self.cats is not None and self.input_file is None and CATS_LINE.match(line):
                # mrjob's Spark harness names no input file (and with
                # --emulate-map-input-file the first of a partition's files
                # only): a .cats line could not be joined
                raise RuntimeError(
                    "cats: labels need each task's input file name (mapreduce.map.input.file),"
                    " which this runner does not set: give the .cats files packed"
                    " (jeeves.models.labels.packed_cats_line), as jeeves run does on Spark")
            self.counts["invalid_vector"] += 1
            return
        # the placeholder label goes; the label is written in its place
        _, _, features = features.partition(" ")
        yield [MESSAGE, message_id], [VECTOR, features]

    @staticmethod
    def count_label(counts, label):
        if label is None:
            counts["unlabelled"] += 1
        else:
            counts["labelled"] += 1
            counts["positive" if label == 1 else "negative"] += 1

    def mapper_final_count(self):
        self.flush_counts()

    def flush_counts(self):
        # counted per task, not per line: each update is a line the runner parses
        for name, value in self.counts.items():
            if value:
                self.increment_counter(COUNTERS, name, value)
        self.counts = dict.fromkeys(self.counts, 0)

    # --- reducers ------------------------------------------------------------

    def reducer_init(self):
        self.counts = dict.fromkeys(("labelled", "positive", "negative", "unlabelled",
                                     "labelled_without_vector", "conflicting_labels",
                                     "vectors_unlabelled"), 0)

    def reducer_resolve_cats(self, key, values):
        """At a stem: its records' labels from the ``.cats`` lines; vectors pass on."""
        kind, name = key
        if kind == MESSAGE:
            for value in values:
                yield key, value
            return
        found, matches = [], []
        for value in values:
            if value[0] == RECORD:
                found.append(value[1:])
            else:
                matches.append(value[1])
        label = max(matches) if matches else None
        for message_id, *record in found:
            self.count_label(self.counts, label)
            if label is not None:
                yield [MESSAGE, message_id], [LABEL, label] + record

    def reducer_join(self, key, values):
        """At a message id: ``label features # "id"`` per vector, when labelled."""
        labels, vectors, records = set(), [], []
        for value in values:
            if value[0] == LABEL:
                labels.add(value[1])
                records += value[2:]
            else:
                vectors.append(value[1])
        if len(labels) > 1:
            self.counts["conflicting_labels"] += 1
            return
        if not labels:
            self.counts["vectors_unlabelled"] += len(vectors)
            return
        if not vectors:
            self.counts["labelled_without_vector"] += 1
            return
        label = labels.pop()
        # as jeeves.features.tfidf.svmlight_line writes it (ujson would escape "/")
        comment = json.dumps(key[1], ensure_ascii=False)
        if records:
            # the same record on every runner: the first in its JSON order
            # (the parse stage keeps one record an id, so there is one)
            comment += " " + min(json.dumps(record, ensure_ascii=False, sort_keys=True)
                                 for record in records)
        for features in sorted(vectors):
            if features:
                yield None, "%d %s # %s" % (label, features, comment)
            else:
                yield None, "%d # %s" % (label, comment)

    def reducer_final_count(self):
        self.flush_counts()

    def steps(self):
        route = dict(mapper_init=self.mapper_init, mapper=self.mapper_route,
                     mapper_final=self.mapper_final_count)
        join = dict(reducer_init=self.reducer_init, reducer=self.reducer_join,
                    reducer_final=self.reducer_final_count,
                    # the last step's svmlight lines, written as they are on Hadoop
                    jobconf=whole_line_reducer_jobconf(self.options.runner))
        if not self.cats_mode():
            return [MRStep(**route, **join)]
        return [MRStep(reducer_init=self.reducer_init, reducer=self.reducer_resolve_cats,
                       reducer_final=self.reducer_final_count, **route),
                MRStep(**join)]


if __name__ == "__main__":
    MRLabelMessages.run()
