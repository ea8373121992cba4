"""Count n-grams: per-message term counts plus corpus term counts and document frequencies.

Input: parsed message records (docs/records.md; the fields the analyzer is
configured to read, ``subject`` and ``body`` by default, plus
``message_id``), one JSON object per line, or mr_parse_emails output lines
(``"message"<TAB>record``; its ``"quarantine"`` rows are skipped).

Each message is analyzed once (features.text.Analyzer). The output holds
three kinds of rows, told apart by the first item of the key:

- ``["message", message_id]`` -> ``{term: count}``: the message's raw term
  counts (empty for a message with no term), read by mr_tfidf_vectors;
- ``["term", term]`` -> ``[term_count, df]``: corpus totals, read by the
  driver to build the vocabulary and by mr_score_collocations;
- ``["documents", ""]`` -> number of messages (the ``n`` of idf).

With ``--hash-features N`` terms are replaced by their HashingVectorizer
bucket (a decimal string) before counting, for the hashing mode.
Totals are combined in the mapper (two Counters, term counts and document
frequencies, updated in C) and flushed whenever they hold ``--flush-size``
distinct terms, so mapper memory is bounded; a combiner and the reducer add
the partial totals up.
"""

from collections import Counter

from mrjob.job import MRJob
from mrjob.protocol import JSONProtocol, RawValueProtocol
from mrjob.step import MRStep

from features.text import Analyzer, add_analyzer_args, analyzer_config_from_options
from features.tfidf import build_hasher, hashed_counts
from jobs.protocols import TupleKeyJSONProtocol

try:
    import ujson as json
except ImportError:  # pragma: no cover - ujson is a dependency
    import json

COUNTERS = "count_ngrams"
MESSAGE, TERM, DOCUMENTS = "message", "term", "documents"


class MRCountNgrams(MRJob):
    INPUT_PROTOCOL = RawValueProtocol
    # keys decode to tuples: mrjob's Spark harness hashes the combiner's keys
    INTERNAL_PROTOCOL = TupleKeyJSONProtocol
    OUTPUT_PROTOCOL = JSONProtocol

    def configure_args(self):
        super().configure_args()
        add_analyzer_args(self.add_passthru_arg, self.add_file_arg)
        self.add_passthru_arg(
            "--flush-size", type=int, default=200000,
            help="flush the mapper's term totals when they hold this many terms")
        self.add_passthru_arg(
            "--hash-features", type=int, default=0,
            help="hashing mode: count HashingVectorizer buckets of this many features "
                 "instead of terms (0: off)")

    def mapper_init(self):
        self.analyze = Analyzer(analyzer_config_from_options(self.options)).load()
        self.bucket_of = None
        if self.options.hash_features:
            self.bucket_of = build_hasher(self.options.hash_features)
        self.term_counts = Counter()
        self.document_frequencies = Counter()
        self.documents = 0

    def mapper_analyze_message(self, _, line):
        """A record line -> (["message", id], {term: count}); totals kept in memory."""
        if line.startswith('"'):
            # a key/value line of mr_parse_emails output: keep its "message" rows
            key, _, line = line.partition("\t")
            if key != '"message"':
                self.increment_counter(COUNTERS, "not_a_message_row")
                return
        try:
            record = json.loads(line)
        except ValueError:
            self.increment_counter(COUNTERS, "invalid_json")
            return
        if not isinstance(record, dict):
            self.increment_counter(COUNTERS, "not_a_record")
            return
        message_id = record.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            self.increment_counter(COUNTERS, "missing_message_id")
            return
        terms = self.analyze(record)
        counts = Counter(terms)
        if self.bucket_of is not None:
            counts = hashed_counts(counts, self.bucket_of)
            terms = counts.elements()
        self.increment_counter(COUNTERS, "messages")
        self.documents += 1
        # Counter.update of an iterable counts in C: no Python loop per term
        self.term_counts.update(terms)
        self.document_frequencies.update(counts.keys())
        yield [MESSAGE, message_id], counts
        if len(self.document_frequencies) >= self.options.flush_size:
            yield from self.flush_totals()

    def flush_totals(self):
        """Partial totals -> (["term", term], [term_count, df]); empties them."""
        self.increment_counter(COUNTERS, "flushes")
        term_counts = self.term_counts
        for term, df in self.document_frequencies.items():
            yield [TERM, term], [term_counts[term], df]
        self.term_counts = Counter()
        self.document_frequencies = Counter()

    def mapper_final_flush(self):
        """What is left of the totals, and (["documents", ""], messages seen)."""
        yield from self.flush_totals()
        if self.documents:
            yield [DOCUMENTS, ""], self.documents

    def combiner_add_totals(self, key, values):
        """Partial rows of one key -> one row (message rows pass through)."""
        kind = key[0]
        if kind == MESSAGE:
            for counts in values:
                yield key, counts
        elif kind == TERM:
            term_count = df = 0
            for partial_count, partial_df in values:
                term_count += partial_count
                df += partial_df
            yield key, [term_count, df]
        else:
            yield key, sum(values)

    def reducer_add_totals(self, key, values):
        """All rows of one key -> its final row; duplicate message ids kept, counted."""
        if key[0] == MESSAGE:
            rows = list(values)
            if len(rows) > 1:
                self.increment_counter(COUNTERS, "duplicate_message_id", len(rows) - 1)
                # a fixed order, whatever the input order
                rows.sort(key=lambda counts: json.dumps(counts, sort_keys=True))
            for counts in rows:
                yield key, counts
        else:
            yield from self.combiner_add_totals(key, values)

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init,
                       mapper=self.mapper_analyze_message,
                       mapper_final=self.mapper_final_flush,
                       combiner=self.combiner_add_totals,
                       reducer=self.reducer_add_totals)]


if __name__ == "__main__":
    MRCountNgrams.run()
