"""Count n-grams: per-message term counts plus corpus term counts and document frequencies.

Input: parsed message records (docs/records.md; the fields the analyzer is
configured to read, ``subject`` and ``body`` by default, plus
``message_id``), one JSON object per line, or mr_parse_emails output lines
(``"message"<TAB>record``; its ``"quarantine"`` rows are skipped).

Each message is analyzed once (jeeves.features.text.Analyzer; with the
native kernel, the kernel reads the record line's fields itself and adds its
terms to the totals, with no JSON decode and no dict of counts:
jeeves.features.kernel ``count_line``) and only the corpus totals are
written: the per-message counts are computed again where they are needed, by
mr_tfidf_vectors from the same records, which costs less than sending every
message's counts through the shuffle and reading them back. The output holds
two kinds of rows, told apart by the first item of the key:

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
from itertools import chain

from mrjob.job import MRJob
from mrjob.step import MRStep

from jeeves.features.kernel import MessageCounter, PythonTotals, Totals, merge_encoded
from jeeves.features.text import add_analyzer_args, analyzer_config_from_options
from jeeves.features.tfidf import build_hasher, hashed_counts
from jeeves.features.vocabulary import (
    DEFAULT_TERM_PARTITIONS,
    FLUSH_SIZE,
    HASH_FEATURES,
    MIN_DF,
)
from jeeves.jobs import CountedJob, positive_int
from jeeves.jobs.protocols import (
    EncodedJSON,
    PassThroughJSONProtocol,
    TupleKeyJSONProtocol,
    ValidTextValueProtocol,
    record_of_text,
    record_text_of_line,
)
from jeeves.settings import add_settings

COUNTERS = "count_ngrams"
TERMS, DOCUMENTS = "terms", "documents"


class TermRowsProtocol(PassThroughJSONProtocol):
    """Terms rows stay encoded between the mapper and the output: the
    combiner and the reducer merge their JSON texts (jeeves.features.kernel's
    merge_encoded), with no Python object per term when the kernel is built."""

    PASS_THROUGH_KINDS = (TERMS,)


def count_kernel_stats(job, group, counter):
    """A task's kernel figures as counters, one update each: texts counted
    natively and in Python, and 1 for a task where the native module could
    not load (it then counted everything in Python)."""
    stats = counter.stats()
    for name, value in (("kernel_native_texts", stats["native"]),
                        ("kernel_python_texts", stats["python"]),
                        ("kernel_unavailable", int(stats["native_unavailable"]))):
        if value:
            job.increment_counter(group, name, value)


# the most terms the mapper holds with the Python totals (PythonTotals: a
# few hundred bytes a term, where --flush-size's default is sized for the
# native ones, about 80)
PYTHON_FLUSH_SIZE = 200000


class MRCountNgrams(CountedJob, MRJob):
    # lines whose JSON escapes lone surrogates are repaired and counted
    INPUT_PROTOCOL = ValidTextValueProtocol
    # keys decode to tuples (mrjob's Spark harness hashes the combiner's
    # keys); terms rows pass the combiner and reducer as JSON texts
    INTERNAL_PROTOCOL = TermRowsProtocol
    OUTPUT_PROTOCOL = TupleKeyJSONProtocol

    def configure_args(self):
        super().configure_args()
        add_analyzer_args(self.add_passthru_arg, self.add_file_arg)
        # --min-df: as a document count, the reducer leaves out terms seen in
        # fewer messages (counted terms_under_min_df); the vocabulary drops them
        # anyway, and they are most of the distinct n-grams (a fraction: kept)
        add_settings(self.add_passthru_arg, (FLUSH_SIZE, HASH_FEATURES, MIN_DF))
        self.add_passthru_arg(
            "--no-combiner", dest="combiner", action="store_false", default=True,
            help="no combiner step: on the inline and local runners a map task of "
                 "up to --flush-size terms flushes once, so a combiner only passes "
                 "its rows on, at the cost of a sort and (local) a process a task; "
                 "the reducer merges the same rows either way")
        self.add_passthru_arg(
            "--term-partitions", type=positive_int, default=DEFAULT_TERM_PARTITIONS,
            help="split the term totals into this many rows (reducer keys) "
                 "(default: %(default)s)")

    def mapper_init(self):
        self.counter = MessageCounter(analyzer_config_from_options(self.options))
        self.counter.load()
        self.bucket_of = None
        if self.options.hash_features:
            self.bucket_of = build_hasher(self.options.hash_features)
        self.totals = Totals()
        # the Python stand-in holds a term in a few hundred bytes, not about 80:
        # a node without the native module flushes at the old default instead
        self.flush_size = self.options.flush_size
        if isinstance(self.totals, PythonTotals):
            self.flush_size = min(self.flush_size, PYTHON_FLUSH_SIZE)
        self.skipped = Counter()
        self.documents = 0

    def mapper_analyze_message(self, repaired, line):
        """A record line -> nothing yet: its terms are added to the totals
        kept in memory (flush_totals writes them)."""
        if repaired:
            self.increment_counter(COUNTERS, repaired)
        text = record_text_of_line(line, self.skipped)
        if text is None:
            return
        if self.bucket_of is None and self.counter.count_line(text, self.totals) is not None:
            # the kernel read the fields it needs and added the terms itself
            pass
        else:
            record = record_of_text(text, self.skipped)
            if record is None:
                return
            self.count_record(record)
        self.documents += 1
        if len(self.totals) >= self.flush_size:
            yield from self.flush_totals()

    def count_record(self, record):
        """A decoded record's terms (or buckets) added to the totals."""
        if self.bucket_of is None:
            # the kernel adds the terms to the totals itself
            self.counter.count(record, self.totals)
        else:
            self.totals.add(hashed_counts(self.counter.count(record), self.bucket_of))

    def flush_totals(self):
        """Partial totals -> (["terms", partition], {term: [term_count, df]}) per
        partition that has terms; empties them."""
        self.increment_counter(COUNTERS, "flushes")
        for partition, encoded in self.totals.drain(self.options.term_partitions):
            yield [TERMS, partition], EncodedJSON(encoded)

    def mapper_final_flush(self):
        """What is left of the totals, and (["documents", ""], messages seen)."""
        yield from self.flush_totals()
        # one counter update per task: each update is a line the runner parses
        for name, count in sorted(self.skipped.items()):
            self.increment_counter(COUNTERS, name, count)
        count_kernel_stats(self, COUNTERS, self.counter)
        if self.documents:
            self.increment_counter(COUNTERS, "messages", self.documents)
            yield [DOCUMENTS, ""], self.documents

    def combiner_add_totals(self, key, values):
        """Partial rows of one key -> one row; a key's only row as it is (a
        task that flushed once: the reducer merges and sorts its terms)."""
        if key[0] == TERMS:
            values = iter(values)
            first = next(values)
            second = next(values, None)
            if second is None:
                yield key, first
                return
            yield key, EncodedJSON(merge_encoded(chain([first, second], values))[0])
        else:
            yield key, sum(values)

    def reducer_add_totals(self, key, values):
        """All rows of one key -> its final row, a partition's terms sorted."""
        if key[0] != TERMS:
            yield key, sum(values)
            return
        min_df = self.options.min_df
        encoded, unigram_tokens, dropped = merge_encoded(
            values, min_df if isinstance(min_df, int) else 0)
        if self.options.ngram_min == 1 and self.options.ngram_max >= 2 \
                and not self.options.hash_features:
            # mr_score_collocations' --total-tokens, summed before min_df
            # pruning, so the driver need not read the totals for it
            self.increment_counter(COUNTERS, "unigram_tokens", unigram_tokens)
        if dropped:
            self.increment_counter(COUNTERS, "terms_under_min_df", dropped)
        yield key, EncodedJSON(encoded)

    def steps(self):
        combiner = self.combiner_add_totals if self.options.combiner else None
        return [MRStep(mapper_init=self.mapper_init,
                       mapper=self.mapper_analyze_message,
                       mapper_final=self.mapper_final_flush,
                       combiner=combiner,
                       reducer=self.reducer_add_totals)]


if __name__ == "__main__":
    MRCountNgrams.run()
