"""Score messages on the cluster with a trained model bundle (map-only).

Input: parsed message records (OUT/messages/: one JSON object a line,
docs/records.md) or mr_parse_emails output lines (``"message"<TAB>record``;
its ``"quarantine"`` rows are skipped).

The bundle (a directory; models/bundle.py describes its files) is shipped
to the tasks file by file with ``--bundle-file PATH#NAME`` (repeated;
``bundle_file_args`` builds them from a local bundle directory or from a
list of its files' URIs). Each task loads the bundle from the directory the
runner put the shipped files in (its working directory, or inline the bundle
itself; it creates nothing) with jeeves.models.bundle.load_bundle, which
verifies every sha256 checksum before the estimator is read: a missing,
modified or incompatible file fails the task, and so the job, with
jeeves.models.bundle.BundleError naming the file, before any record is
scored (no output). Every task verifies the checksums; the estimator is read
once per process (``loaded_bundle``: the inline runner runs every task in
one process, and an email model takes seconds to read).

Records are scored in batches of ``--batch-size`` (one CSR matrix and one
estimator call per batch) by jeeves.models.scoring.predict_records, the code of
`jeeves predict`: one message is one document.

Output: one JSON line per scored message, ``{"label", "message_id", "score",
"source"}`` (keys sorted, as `jeeves predict` writes them); label is 1 at or
above the bundle's threshold. Counters (group ``score_messages``):
``scored``, ``flagged`` (label 1), ``invalid_json``, ``not_a_record``,
``missing_message_id``, ``not_a_message_row``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace

from mrjob.job import MRJob
from mrjob.protocol import RawValueProtocol
from mrjob.step import MRStep

from jeeves.jobs import WHOLE_LINE_OUTPUT_JOBCONF, CountedJob, positive_int
from jeeves.jobs.protocols import record_of_line
from jeeves.models.bundle import load_bundle, verify_bundle
from jeeves.models.scoring import BundleVectorizer, predict_records

COUNTERS = "score_messages"
DEFAULT_BATCH_SIZE = 500
# the bundle this process loaded last, by its metadata (which holds every
# file's checksum): the inline runner runs every task in one process (each in
# a working directory of its own), and an email model's bundle takes seconds
# to read
_loaded = {}


def loaded_bundle(directory):
    """``(Bundle, BundleVectorizer)`` of the bundle in ``directory``: every
    checksum verified each time, the estimator and vocabulary read once per
    process while the files' checksums are those they were read with."""
    meta = verify_bundle(directory)
    key = json.dumps(meta, sort_keys=True)
    found = _loaded.get(key)
    if found is None:
        bundle = load_bundle(directory)
        vectorizer = BundleVectorizer(bundle)
        vectorizer.analyzer.load()
        _loaded.clear()
        found = _loaded[key] = (bundle, vectorizer)
    bundle, vectorizer = found
    return replace(bundle, path=os.path.abspath(directory)), vectorizer


def bundle_file_args(bundle):
    """``--bundle-file PATH#NAME`` arguments for a bundle: a local directory
    (every file in it) or a list of the paths or URIs of its files."""
    if isinstance(bundle, (str, os.PathLike)):
        directory = os.fspath(bundle)
        if not os.path.isdir(directory):
            raise ValueError("no model bundle at %s (not a directory)" % directory)
        paths = [os.path.join(directory, name) for name in sorted(os.listdir(directory))
                 if os.path.isfile(os.path.join(directory, name))]
    else:
        paths = list(bundle)
    args = []
    for path in paths:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if "#" in path or "#" in name:
            raise ValueError("a bundle file name cannot hold '#': %r" % (path,))
        args += ["--bundle-file", "%s#%s" % (path, name)]
    return args


class MRScoreMessages(CountedJob, MRJob):
    INPUT_PROTOCOL = RawValueProtocol
    OUTPUT_PROTOCOL = RawValueProtocol
    JOBCONF = WHOLE_LINE_OUTPUT_JOBCONF

    def configure_args(self):
        super().configure_args()
        self.add_file_arg(
            "--bundle-file", action="append", default=None,
            help="a file of the model bundle, PATH#NAME (repeat for every file)")
        self.add_passthru_arg(
            "--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE,
            help="records scored at once (default: %(default)s)")

    def load_args(self, args):
        super().load_args(args)
        if not self.options.bundle_file and self.options.args:
            self.arg_parser.error("no --bundle-file: ship every file of the model bundle "
                                  "(e.g. with bundle_file_args(OUT/model))")

    def mapper_init(self):
        """Verify and load the bundle from the shipped files, where they lie.

        Every runner puts the files of one bundle in one directory: the
        task's working directory (under their bundle names) or, inline, the
        bundle itself. The task writes nothing (no copy, no links)."""
        directories = {os.path.dirname(os.path.abspath(path))
                       for path in self.options.bundle_file or ()}
        if len(directories) != 1:
            raise ValueError("the --bundle-file files must lie in one directory, not %s"
                             % sorted(directories))
        # checksums first: raises BundleError naming the file, nothing scored
        self.bundle, self.vectorizer = loaded_bundle(directories.pop())
        self.batch = []
        self.counts = dict.fromkeys(("scored", "flagged", "invalid_json", "not_a_record",
                                     "missing_message_id", "not_a_message_row"), 0)

    def mapper_read_record(self, _, line):
        """A record line -> into the batch; a full batch -> its prediction lines."""
        record = record_of_line(line, self.counts)
        if record is None:
            return
        self.batch.append(record)
        if len(self.batch) >= self.options.batch_size:
            yield from self.score_batch()

    def score_batch(self):
        """The batch -> (None, prediction JSON line) each; empties it."""
        predictions = predict_records(self.bundle, self.batch, self.vectorizer)
        self.batch = []
        for prediction in predictions:
            self.counts["scored"] += 1
            self.counts["flagged"] += prediction["label"]
            yield None, json.dumps(prediction, sort_keys=True)

    def mapper_final_score(self):
        """The last batch; the task's counters."""
        yield from self.score_batch()
        # counted per task, not per record: each update is a line the runner parses
        for name, value in self.counts.items():
            if value:
                self.increment_counter(COUNTERS, name, value)

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init, mapper=self.mapper_read_record,
                       mapper_final=self.mapper_final_score)]


if __name__ == "__main__":
    MRScoreMessages.run()
