"""Count n-grams: per-message term counts plus corpus term counts and document frequencies.

Input: parsed message records (docs/records.md; the fields the analyzer is
configured to read, ``subject`` and ``body`` by default, plus
``message_id``), one JSON object per line, or mr_parse_emails output lines
(``"message"<TAB>record``; its ``"quarantine"`` rows are skipped).

Each message is analyzed once (jeeves.features.text.Analyzer) and only the
corpus totals are written: the per-message counts are computed again where
they are needed, by mr_tfidf_vectors from the same records, which costs
less than sending every message's counts through the shuffle and reading
them back. The output holds two kinds of rows, told apart by the first item
of the key:

- ``["terms", partition]`` -> ``{term: [term_count, df], ...}``: corpus
  totals of the terms of one partition (``jeeves.features.vocabulary.partition_of``,
  a CRC-32 of the term modulo ``--term-partitions``), terms sorted; read by
  mr_build_vocabulary and mr_score_collocations;
- ``["documents", ""]`` -> number of messages (the ``n`` of idf).

Counters the driver uses instead of reading the output: ``messages`` (the
``n`` of idf, as the documents row) and, with unigrams and bigrams
(``--ngram-min 1 --ngram-max 2`` or more, no hashing), ``unigram_tokens``:
the sum of the unigram term counts, mr_score_collocations' --total-tokens.

With ``--min-df N`` the reducer writes only the terms of document frequency
N or more and counts the others (``terms_under_min_df``): the driver passes
the vocabulary's min_df when it is a document count and no collocations are
scored (their total token count needs every unigram).

With ``--hash-features N`` terms are replaced by their HashingVectorizer
bucket (a decimal string) before counting, for the hashing mode.
Totals are combined in the mapper (two Counters, term counts and document
frequencies, updated in C) and flushed whenever they hold ``--flush-size``
distinct terms, so mapper memory is bounded. A flush emits one row per
partition, not one per term: a few large JSON objects cost far less to
write, sort and read than hundreds of thousands of small rows, and each
reducer still holds only one partition's totals. The combiner and the
reducer merge the partial totals of a partition.
"""

from collections import Counter

from mrjob.job import MRJob
from mrjob.step import MRStep

from jeeves.features.text import Analyzer, add_analyzer_args, analyzer_config_from_options
from jeeves.features.tfidf import build_hasher, hashed_counts
from jeeves.features.vocabulary import (
    DEFAULT_TERM_PARTITIONS,
    FLUSH_SIZE,
    HASH_FEATURES,
    MIN_DF,
    merge_totals,
    partition_totals,
)
from jeeves.jobs import CountedJob, positive_int
from jeeves.jobs.protocols import TupleKeyJSONProtocol, ValidTextValueProtocol
from jeeves.settings import add_settings

try:
    import ujson as json
except ImportError:  # pragma: no cover - ujson is a dependency
    import json

COUNTERS = "count_ngrams"
TERMS, DOCUMENTS = "terms", "documents"


class MRCountNgrams(CountedJob, MRJob):
    # lines whose JSON escapes lone surrogates are repaired and counted
    INPUT_PROTOCOL = ValidTextValueProtocol
    # keys decode to tuples (mrjob's Spark harness hashes the combiner's keys)
    INTERNAL_PROTOCOL = TupleKeyJSONProtocol
    OUTPUT_PROTOCOL = TupleKeyJSONProtocol

    def configure_args(self):
        super().configure_args()
        add_analyzer_args(self.add_passthru_arg, self.add_file_arg)
        # --min-df: as a document count, the reducer leaves out terms seen in
        # fewer messages (counted terms_under_min_df); the vocabulary drops them
        # anyway, and they are most of the distinct n-grams (a fraction: kept)
        add_settings(self.add_passthru_arg, (FLUSH_SIZE, HASH_FEATURES, MIN_DF))
        self.add_passthru_arg(
            "--term-partitions", type=positive_int, default=DEFAULT_TERM_PARTITIONS,
            help="split the term totals into this many rows (reducer keys) "
                 "(default: %(default)s)")

    def mapper_init(self):
        self.analyze = Analyzer(analyzer_config_from_options(self.options)).load()
        self.bucket_of = None
        if self.options.hash_features:
            self.bucket_of = build_hasher(self.options.hash_features)
        self.term_counts = Counter()
        self.document_frequencies = Counter()
        self.documents = 0

    def mapper_analyze_message(self, repaired, line):
        """A record line -> nothing yet: its terms are added to the totals
        kept in memory (flush_totals writes them)."""
        if repaired:
            self.increment_counter(COUNTERS, repaired)
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
        self.documents += 1
        # Counter.update of an iterable counts in C: no Python loop per term
        self.term_counts.update(terms)
        self.document_frequencies.update(counts.keys())
        if len(self.document_frequencies) >= self.options.flush_size:
            yield from self.flush_totals()

    def flush_totals(self):
        """Partial totals -> (["terms", partition], {term: [term_count, df]}) per
        partition that has terms; empties them."""
        self.increment_counter(COUNTERS, "flushes")
        for partition, totals in partition_totals(
                self.term_counts, self.document_frequencies, self.options.term_partitions):
            yield [TERMS, partition], totals
        self.term_counts = Counter()
        self.document_frequencies = Counter()

    def mapper_final_flush(self):
        """What is left of the totals, and (["documents", ""], messages seen)."""
        yield from self.flush_totals()
        if self.documents:
            # one counter update per task: each update is a line the runner parses
            self.increment_counter(COUNTERS, "messages", self.documents)
            yield [DOCUMENTS, ""], self.documents

    def combiner_add_totals(self, key, values):
        """Partial rows of one key -> one row."""
        if key[0] == TERMS:
            yield key, merge_totals(values)
        else:
            yield key, sum(values)

    def reducer_add_totals(self, key, values):
        """All rows of one key -> its final row, a partition's terms sorted."""
        if key[0] == TERMS:
            totals = merge_totals(values)
            if self.options.ngram_min == 1 and self.options.ngram_max >= 2 \
                    and not self.options.hash_features:
                # mr_score_collocations' --total-tokens, summed before min_df
                # pruning, so the driver need not read the totals for it
                self.increment_counter(COUNTERS, "unigram_tokens", sum(
                    stats[0] for term, stats in totals.items() if " " not in term))
            min_df = self.options.min_df
            if isinstance(min_df, int) and min_df > 1:
                kept = {term: stats for term, stats in totals.items() if stats[1] >= min_df}
                if len(kept) < len(totals):
                    self.increment_counter(COUNTERS, "terms_under_min_df",
                                           len(totals) - len(kept))
                totals = kept
            yield key, dict(sorted(totals.items()))
        else:
            yield key, sum(values)

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init,
                       mapper=self.mapper_analyze_message,
                       mapper_final=self.mapper_final_flush,
                       combiner=self.combiner_add_totals,
                       reducer=self.reducer_add_totals)]


if __name__ == "__main__":
    MRCountNgrams.run()
