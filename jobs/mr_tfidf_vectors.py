"""TF-IDF vectors: one svmlight line per message, equal to scikit-learn's rows.

Input: the output of mr_count_ngrams (JSON key/value lines); only its
``["message", message_id] -> {term: count}`` rows are read, the others are
skipped without decoding. The vocabulary (``vocabulary.tsv``: term, id, df,
idf, built by the driver from the same output) is shipped to the tasks with
``--vocabulary`` and loaded once per task.

Output (map-only, no shuffle): ``0 id:value id:value ... # "message_id"`` per
message, ids ascending and zero-based, values with repr precision, the
message id as a JSON string; ``0`` is the placeholder label the driver
replaces when it joins labels. A message with no vocabulary term gets a line
with no features.
"""

from mrjob.job import MRJob
from mrjob.protocol import RawValueProtocol
from mrjob.step import MRStep

from features.tfidf import NORMS, svmlight_line, tfidf_vector
from features.vocabulary import read_vocabulary

try:
    import ujson as json
except ImportError:  # pragma: no cover - ujson is a dependency
    import json

COUNTERS = "tfidf_vectors"
MESSAGE_ROW_PREFIX = '["message"'


class MRTfidfVectors(MRJob):
    INPUT_PROTOCOL = RawValueProtocol
    OUTPUT_PROTOCOL = RawValueProtocol
    # Hadoop streaming splits each output line into key and value and writes
    # key SEPARATOR value: a tab-less line would gain a trailing tab (an
    # empty output separator had no effect), so split and join on the first
    # space, which gives the line back unchanged.
    JOBCONF = {"stream.map.output.field.separator": " ",
               "mapreduce.output.textoutputformat.separator": " "}

    def configure_args(self):
        super().configure_args()
        self.add_file_arg(
            "--vocabulary", required=True,
            help="vocabulary.tsv (term, id, df, idf) to weight and number the terms")
        self.add_passthru_arg(
            "--sublinear-tf", action="store_true", default=False,
            help="use 1 + ln(count) as term frequency, as scikit-learn's sublinear_tf")
        self.add_passthru_arg(
            "--norm", choices=NORMS, default="l2",
            help="row normalization: l2 (default), l1 or none")

    def mapper_init(self):
        self.table = read_vocabulary(self.options.vocabulary)
        self.vectors = self.empty_vectors = 0

    def mapper_weight_terms(self, _, line):
        """A counting-pass line -> (None, svmlight line) for message rows only."""
        if not line.startswith(MESSAGE_ROW_PREFIX):
            return
        key, _, value = line.partition("\t")
        try:
            message_id = json.loads(key)[1]
            counts = json.loads(value)
        except (ValueError, IndexError):
            self.increment_counter(COUNTERS, "invalid_row")
            return
        pairs = tfidf_vector(counts, self.table, self.options.sublinear_tf, self.options.norm)
        self.vectors += 1
        if not pairs:
            self.empty_vectors += 1
        yield None, svmlight_line(pairs, message_id)

    def mapper_final_count(self):
        """Nothing out; the task's counts as counters, one update each (every
        update is a line the runner parses)."""
        for name, count in (("vectors", self.vectors), ("empty_vectors", self.empty_vectors)):
            if count:
                self.increment_counter(COUNTERS, name, count)
        return iter(())

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init, mapper=self.mapper_weight_terms,
                       mapper_final=self.mapper_final_count)]


if __name__ == "__main__":
    MRTfidfVectors.run()
