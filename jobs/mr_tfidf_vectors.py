"""TF-IDF vectors: one svmlight line per message, equal to scikit-learn's rows.

Input: parsed message records, one JSON object per line (what
mr_count_ngrams reads: OUT/messages/, or mr_parse_emails output lines, whose
``"quarantine"`` rows are counted and skipped). Each record is analyzed with
the analyzer options (the same as the counting job's) and its terms counted,
or hashed with ``--hash-features`` (jeeves.features.tfidf.build_term_counter):
computing a message's counts again here costs less than carrying them from
the counting job through its shuffle. The vocabulary (``vocabulary.tsv``:
term, id, df, idf, built by the driver from the counting job's totals) is
shipped to the tasks with ``--vocabulary``.

A task holds the whole vocabulary, read once, when it has at most
``--max-vocabulary-in-memory`` terms (default 10 million), as Spark's
CountVectorizerModel or Mahout's dictionary chunks do, but without the terms
themselves: jeeves.features.vocabulary.HashedVocabulary keeps a 64-bit hash and a
CRC-32 per term, about 30 bytes (8 MB for the 270,000 terms of 64 MB of
Enron, 25 MB for the 828,000 of 256 MB), so task memory stays nearly flat as
the vocabulary grows. Past the limit (or if two terms share a 64-bit hash)
the task reads, for each batch of messages, only the rows of the batch's
terms (counter ``vocabulary_read_by_batch``): memory bounded by the batch,
at the cost of one scan of the vocabulary per batch.

With the native kernel (features/native), a task holds the vocabulary's
terms in the kernel instead (up to ``NATIVE_MAX_TERMS``, about 60 bytes a
term), read from vocabulary.tsv in one native pass on the task's first
record (a task with no input reads nothing; under the inline runner the
tasks share the table read last), and the kernel reads each record line's
fields itself (no JSON decode; a line it does not take is decoded and
counted in Python) and looks the message's terms up as it counts them, with
no Python object per term (jeeves.features.kernel: ``count_line_rows``,
``count_rows``). A batch is weighted natively with the same floating-point
operations, in the same order, as the numpy code (jeeves.features.tfidf:
``batch_lines``; numpy with ``--sublinear-tf``), so the values are the
same doubles either way.

Either way messages are weighted in batches of about ``--batch-terms`` term
entries (jeeves.features.tfidf.tfidf_lines: one numpy pass per batch).

Output (map-only, no shuffle): ``0 id:value id:value ... # "message_id"`` per
message, in input order (OUT/messages/ is sorted by message id), ids
ascending and zero-based, values with repr precision, the message id as a
JSON string; ``0`` is the placeholder label the driver replaces when it joins
labels. A message with no vocabulary term gets a line with no features; a
message id that appears twice gets two lines. Odd input lines are counted
(``invalid_json``, ``not_a_record``, ``missing_message_id``,
``not_a_message_row``) and skipped.
"""

from collections import Counter

from mrjob.job import MRJob
from mrjob.step import MRStep

from jeeves.features.kernel import new_row_batch, read_native_vocabulary
from jeeves.features.text import add_analyzer_args, analyzer_config_from_options
from jeeves.features.tfidf import (
    NORM,
    SUBLINEAR_TF,
    batch_lines,
    build_term_counter,
    tfidf_lines,
)
from jeeves.features.vocabulary import (
    HASH_FEATURES,
    read_hashed_vocabulary,
    read_vocabulary_table,
)
from jeeves.jobs import WHOLE_LINE_OUTPUT_JOBCONF, CountedJob, positive_int
from jeeves.jobs.mr_count_ngrams import count_kernel_stats
from jeeves.jobs.protocols import ValidTextValueProtocol, record_of_text, record_text_of_line
from jeeves.settings import add_settings

COUNTERS = "tfidf_vectors"
DEFAULT_BATCH_TERMS = 100000
DEFAULT_MAX_VOCABULARY_IN_MEMORY = 10000000
# the native path holds the terms themselves: up to this many (about 120 MB)
NATIVE_MAX_TERMS = 2000000
# the native rows before the first record
UNREAD = object()


class MRTfidfVectors(CountedJob, MRJob):
    # lines whose JSON escapes lone surrogates are repaired and counted;
    # svmlight lines are written without raising on them
    INPUT_PROTOCOL = ValidTextValueProtocol
    OUTPUT_PROTOCOL = ValidTextValueProtocol
    JOBCONF = WHOLE_LINE_OUTPUT_JOBCONF

    def configure_args(self):
        super().configure_args()
        self.add_file_arg(
            "--vocabulary", required=True,
            help="vocabulary.tsv (term, id, df, idf) to weight and number the terms")
        add_analyzer_args(self.add_passthru_arg, self.add_file_arg)
        add_settings(self.add_passthru_arg, (SUBLINEAR_TF, NORM, HASH_FEATURES))
        self.add_passthru_arg(
            "--batch-terms", type=positive_int, default=DEFAULT_BATCH_TERMS,
            help="messages are weighted in batches holding about this many term entries "
                 "(default: %(default)s)")
        self.add_passthru_arg(
            "--max-vocabulary-in-memory", type=positive_int,
            default=DEFAULT_MAX_VOCABULARY_IN_MEMORY,
            help="hold the vocabulary in each task up to this many terms (about 30 bytes "
                 "a term); past it, read only each batch's terms (default: %(default)s)")

    def mapper_init(self):
        self.count_terms = build_term_counter(analyzer_config_from_options(self.options),
                                              self.options.hash_features)
        self.skipped = Counter()
        # the whole vocabulary, read on the first batch; None past the limit
        self.table = None
        self.whole_vocabulary = True
        self.batch = []
        self.batch_terms = 0
        self.vectors = self.empty_vectors = 0
        # the native path: (NativeVocabulary, RowBatch) or None, read on the
        # first record (native_rows); the batch's message ids
        self.rows = UNREAD
        self.message_ids = []

    def native_rows(self):
        """The native path's ``(NativeVocabulary, RowBatch)``, or None: hashing
        mode, no native kernel, or a vocabulary it does not hold."""
        if self.options.hash_features or not self.count_terms.counter.native_kernel:
            return None
        vocabulary = read_native_vocabulary(
            self.options.vocabulary,
            min(self.options.max_vocabulary_in_memory, NATIVE_MAX_TERMS))
        return None if vocabulary is None else (vocabulary, new_row_batch())

    def mapper_batch_messages(self, repaired, line):
        """A record line -> its message's counts kept in the batch; a full
        batch -> (None, svmlight line) per message, in input order."""
        if repaired:
            self.increment_counter(COUNTERS, repaired)
        text = record_text_of_line(line, self.skipped)
        if text is None:
            return
        if self.rows is UNREAD:
            # read on the first record: a task with no input reads nothing
            self.rows = self.native_rows()
        if self.rows is not None:
            vocabulary, batch = self.rows
            counter = self.count_terms.counter
            # the kernel reads the fields it needs from the line, when it can
            message_id = counter.count_line_rows(text, vocabulary, batch)
            if message_id is None:
                record = record_of_text(text, self.skipped)
                if record is None:
                    return
                counter.count_rows(record, vocabulary, batch)
                message_id = record["message_id"]
            self.message_ids.append(message_id)
            if batch.entries >= self.options.batch_terms:
                yield from self.weight_rows()
            return
        record = record_of_text(text, self.skipped)
        if record is None:
            return
        counts = self.count_terms(record)
        self.batch.append((record["message_id"], counts))
        self.batch_terms += len(counts)
        if self.batch_terms >= self.options.batch_terms:
            yield from self.weight_batch()

    def weight_batch(self):
        """The batch's messages -> (None, svmlight line) each; empties the batch."""
        table = self.vocabulary_for_batch()
        for line in tfidf_lines(self.batch, table, self.options.sublinear_tf,
                                self.options.norm):
            if line.startswith("0 # "):
                self.empty_vectors += 1
            yield None, line
        self.vectors += len(self.batch)
        self.batch = []
        self.batch_terms = 0

    def weight_rows(self):
        """The native path's ``weight_batch``."""
        vocabulary, batch = self.rows
        for line in batch_lines(self.message_ids, batch, vocabulary,
                                self.options.sublinear_tf, self.options.norm):
            if line.startswith("0 # "):
                self.empty_vectors += 1
            yield None, line
        self.vectors += len(self.message_ids)
        self.message_ids = []

    def vocabulary_for_batch(self):
        """The whole vocabulary when it fits, else the rows of the batch's terms."""
        path = self.options.vocabulary
        if self.table is None and self.whole_vocabulary:
            self.table = read_hashed_vocabulary(
                path, max_terms=self.options.max_vocabulary_in_memory)
            if self.table is None:
                self.whole_vocabulary = False
                self.increment_counter(COUNTERS, "vocabulary_read_by_batch")
        if self.table is not None:
            return self.table
        terms = set()
        for _, counts in self.batch:
            terms.update(counts)
        return read_vocabulary_table(path, terms)

    def mapper_final_weight(self):
        """The last batch's lines; the task's counts as counters, one update
        each (every update is a line the runner parses)."""
        if self.batch:
            yield from self.weight_batch()
        if self.message_ids:
            yield from self.weight_rows()
        counts = dict(self.skipped, vectors=self.vectors, empty_vectors=self.empty_vectors)
        for name, count in sorted(counts.items()):
            if count:
                self.increment_counter(COUNTERS, name, count)
        count_kernel_stats(self, COUNTERS, self.count_terms.counter)

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init, mapper=self.mapper_batch_messages,
                       mapper_final=self.mapper_final_weight)]


if __name__ == "__main__":
    MRTfidfVectors.run()
