"""The counting job's per-record hot path, native when built, Python otherwise.

``features/native/`` is a Rust extension module, ``jeeves_kernel`` (built and
installed by ``make setup`` when cargo is present). This module is its only
caller and holds the pure-Python implementation of everything it does, built
from features/text.py and features/vocabulary.py, which stay the reference:
tests/features/test_kernel.py holds the two byte-identical.

- ``MessageCounter(config).count(doc, totals=None) -> {term: count}``, equal
  to ``dict(Counter(Analyzer(config)(doc)))``, key order included. The native
  path takes texts that are pure ASCII (the configured fields joined) under
  the default token pattern: on ASCII every Unicode form and accent stripping
  is the identity and lowercasing is ASCII's, so it reproduces the
  placeholders, the tokens, the lemma filter (once per distinct token: the
  native ``LemmaFilter``, features/wordnet.py's morphy over the same tables,
  or the Python ``lemma_of`` where that does not apply) and the n-grams
  exactly. Other texts go to the Python analyzer; ``stats()`` counts both.
- ``Totals()``: corpus totals ``{term: (term_count, df)}`` of the counted
  messages, held natively (no Python object per term), drained as one JSON
  object per partition of terms (``features.vocabulary.partition_of``).
- ``merge_encoded(values, min_df)``: the sum of such JSON objects, sorted by
  term, with ``min_df`` pruning: the count job's combiner and reducer.
- ``MessageCounter.count_rows(doc, vocabulary, batch)``: the vector job's
  counting, the terms looked up in a ``NativeVocabulary`` (``read_native_
  vocabulary``) and added to a ``RowBatch`` as rows and counts, natively
  when the text allows (no Python object per term); features/tfidf.py's
  ``row_lines`` weights them as ``tfidf_lines`` weights counted terms.
- ``format_svmlight(label, ids, values, lengths, message_ids)``: the vector
  job's svmlight lines (features/tfidf.py's ``tfidf_lines``), values as
  ``repr(float)``, or None without the native module.
- The jobs' plumbing: ``MessageCounter.count_line`` / ``count_line_rows``
  read a record line's fields natively (strict JSON, which ujson decodes to
  the same values; any other line is left to the caller's decode, None);
  ``read_native_vocabulary`` reads vocabulary.tsv in one native pass;
  ``weigh_rows`` weights a ``RowBatch`` (features/tfidf.py ``batch_lines``);
  ``filter_terms`` is the vocabulary job's df filter of a terms row and
  ``write_kept_vocabulary`` the driver's numbering of the kept terms into
  vocabulary.tsv. Each gives exactly what the Python code it stands for
  gives (tests/features/test_kernel_lines.py) and leaves what it cannot
  read to it.

JSON is written as ``ujson.dumps`` (the job's encoder) writes these objects:
compact, ASCII only, ``/`` escaped, so outputs do not depend on whether the
native module was built.
"""

import functools
import json
import os
import re
import tempfile
import zlib
from collections import Counter
from itertools import chain

from jeeves.features import text
from jeeves.features.text import DEFAULT_CONFIG, Analyzer, build_lemma_filter, config_with_defaults
from jeeves.features.vocabulary import (
    idf,
    merge_totals,
    partition_totals,
    read_kept_terms,
    read_vocabulary_columns,
    vocabulary_rows_from_kept,
    write_vocabulary,
)

_native_module = []


def _load_native():
    """The ``jeeves_kernel`` module, or None when it is not built or does not load."""
    if not _native_module:
        try:
            import jeeves_kernel
        except (ImportError, OSError):
            # OSError: a .so built for another platform or libc
            jeeves_kernel = None
        _native_module.append(jeeves_kernel)
    return _native_module[0]


def native_available():
    """Whether the native module loads in this process."""
    return _load_native() is not None


def native_supports(config):
    """Whether the native path can count texts under this analyzer configuration."""
    return (config["token_pattern"] == DEFAULT_CONFIG["token_pattern"]
            and all(isinstance(field, str) for field in config["fields"]))


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _escape_non_ascii(match):
    code = ord(match.group())
    if code > 0xFFFF:
        code -= 0x10000
        return "\\u%04x\\u%04x" % (0xD800 | code >> 10, 0xDC00 | code & 0x3FF)
    return "\\u%04x" % code


def encode_totals(totals):
    """``{term: [term_count, df]}`` -> its JSON bytes as ``ujson.dumps`` writes them.

    The stdlib encoder (it also writes lone surrogates, where ujson raises)
    with ujson's compact separators and escaped forward slashes, non-ASCII
    characters escaped and DEL left as it is (``ensure_ascii`` escapes it).
    """
    # keys are the only strings and values are numbers: every "/" is in a key
    text = json.dumps(totals, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")
    return _NON_ASCII.sub(_escape_non_ascii, text).encode("ascii")


class MessageCounter:
    """``MessageCounter(config).count(doc) -> {term: count}``, natively when it can.

    ``config`` is an analyzer configuration (features.text). ``load()`` builds
    the analyzer (WordNet) once per task; ``count`` calls it when needed.
    ``stats()``: texts counted natively (``native``), in Python (``python``:
    not ASCII, or a configuration the native path does not handle), and
    whether the native module could not be loaded (``native_unavailable``).
    """

    def __init__(self, config=None):
        self.config = config_with_defaults(config)
        self.native_unavailable = not native_available()
        # whether the native path lemmatizes new tokens without calling Python
        self.native_lemmas = False
        self.python = 0
        self._analyze = None
        self._kernel = None
        self._native_base = 0
        self._native_totals = None

    def load(self):
        """Load WordNet and build the counters (once); returns self."""
        if self._analyze is None:
            self._analyze = Analyzer(self.config).load()
            native = _load_native()
            if native is not None and native_supports(self.config):
                config = self.config
                lemma_of = native_lemma_filter(config)
                self.native_lemmas = lemma_of is not None
                if lemma_of is None:
                    lemma_of = build_lemma_filter(config).lemma_of
                self._kernel = _shared_kernel(native, config, lemma_of)
                self._native_base = self._kernel.native_texts
                self._native_totals = native.Totals
        return self

    @property
    def native_kernel(self):
        """Whether texts are counted natively here (the module loads and
        supports the configuration); loads the counter."""
        self.load()
        return self._kernel is not None

    def count_rows(self, doc, vocabulary, batch):
        """Add a record's (or text's) terms that are in ``vocabulary`` (a
        ``NativeVocabulary``) to ``batch`` (a ``RowBatch``, ``new_row_batch()``)
        as one message: their rows and counts, in first-occurrence order,
        those of ``count(doc)``. Natively when the text allows, else through
        the Python analyzer (counted in ``stats()`` as ``count`` does)."""
        if self._kernel is not None and self._kernel.count_rows(doc, vocabulary.vocab, batch):
            return
        if self._analyze is None:
            self.load()
        counts = dict(Counter(self._analyze(doc)))
        self.python += 1
        batch.add(vocabulary.row_list(list(counts)), list(map(float, counts.values())))

    def count_line(self, line, totals):
        """A record line (a JSON object, str) -> its message id, its terms
        added to ``totals`` (a native ``Totals``) as ``count(json.loads(line),
        totals)`` adds them, read and counted natively; None, with nothing
        added, when the caller must decode the line and ``count`` the record
        (no native kernel, a line that is not strict JSON, a record or text
        the native path does not take)."""
        if self._analyze is None:
            self.load()
        if self._kernel is None or type(totals) is not self._native_totals:
            return None
        return _load_native().count_line(self._kernel, line, totals)

    def count_line_rows(self, line, vocabulary, batch):
        """``count_rows`` of a record line read natively -> its message id;
        None, with nothing added, when the caller must decode the line and
        ``count_rows`` the record (as ``count_line``)."""
        if self._analyze is None:
            self.load()
        if self._kernel is None:
            return None
        return _load_native().count_line_rows(self._kernel, line, vocabulary.vocab, batch)

    @property
    def native(self):
        """Texts counted by the native module."""
        return self._kernel.native_texts - self._native_base if self._kernel is not None else 0

    def stats(self):
        return {"native": self.native, "python": self.python,
                "native_unavailable": self.native_unavailable}

    def count(self, doc, totals=None):
        """A record (dict) or text -> ``{term: count}`` in first-occurrence order;
        each term is added to ``totals`` (a ``Totals()``) when given."""
        if self._analyze is None:
            self.load()
        if self._kernel is not None:
            if totals is None or type(totals) is self._native_totals:
                # the native totals are added to without a Python object per term
                counts = self._kernel.count(doc, totals)
            else:
                counts = self._kernel.count(doc)
                if counts is not None:
                    totals.add(counts)
            if counts is not None:
                return counts
        counts = dict(Counter(self._analyze(doc)))
        self.python += 1
        if totals is not None:
            totals.add(counts)
        return counts


# analyzer configuration -> its native Kernel, one per process: the inline
# runner runs a job's tasks one after another in one process, and each would
# otherwise learn every token's lemma again (the memo is only a cache: the
# counts never depend on what it holds; a Totals' or Vocab's places are
# remembered for one of them at a time)
_kernels = {}


def _shared_kernel(native, config, lemma_of):
    key = (json.dumps(config, sort_keys=True, default=repr), type(lemma_of).__name__)
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = native.Kernel(
            config["fields"], bool(config["lowercase"]), bool(config["placeholders"]),
            config["ngram_min"], config["ngram_max"], lemma_of)
    return kernel


# (lemmatize, stop words) -> (lemmatize, LemmaFilter): one per process
# (the inline runner runs every task in one), tables converted once
_lemma_filters = {}


def native_lemma_filter(config):
    """The native ``LemmaFilter`` equal to ``build_lemma_filter(config).lemma_of``,
    or None: without the native module, when the lemmatizer is not
    features/wordnet.py's over its tables, or when the stop words or tables
    are not all str (the Python filter is then called once per new token)."""
    native = _load_native()
    if native is None:
        return None
    tables = None
    lemmatize = text.load_wordnet_lemmatize() if config["lemmatize"] else None
    if lemmatize is not None:
        tables = getattr(lemmatize, "tables", None)
        if not isinstance(tables, dict):
            return None
    stop_words = text.load_stop_words(config)
    key = (id(lemmatize), stop_words)
    cached = _lemma_filters.get(key)
    if cached is None or cached[0] is not lemmatize:
        try:
            lemma_filter = native.LemmaFilter(sorted(text.PLACEHOLDERS), list(stop_words), tables)
        except (TypeError, ValueError, LookupError):
            # a non-str stop word, a lone surrogate, tables of another shape
            lemma_filter = None
        cached = _lemma_filters[key] = (lemmatize, lemma_filter)
    return cached[1]


class PythonTotals:
    """``Totals`` without the native module: two Counters, as the job kept them."""

    def __init__(self):
        self.term_counts = Counter()
        self.document_frequencies = Counter()

    def add(self, counts):
        """One message's ``{term: count}``: term_count += count, df += 1 per term."""
        self.term_counts.update(counts)
        self.document_frequencies.update(counts.keys())

    def __len__(self):
        return len(self.document_frequencies)

    def drain(self, partitions):
        """``[(partition, JSON bytes of {term: [term_count, df]}), ...]``,
        partitions ascending; then the totals are empty."""
        if partitions < 1:
            raise ValueError("partitions must be positive")
        rows = [(partition, encode_totals(totals)) for partition, totals in partition_totals(
            self.term_counts, self.document_frequencies, partitions)]
        self.__init__()
        return rows


class NativeVocabulary:
    """A vocabulary.tsv for the native vector path: the kernel's ``Vocab``
    (term -> row, in file order) and the rows' ``ids`` and ``idf`` (numpy
    arrays, made on first use from their bytes: a task whose batches the
    module weights never imports numpy), so a table for features/tfidf.py's
    ``weighted_entries`` and, with ``rows_of``, for its ``tfidf_entries``."""

    __slots__ = ("vocab", "_ids", "_idf")

    def __init__(self, vocab, ids, idf):
        """``ids`` and ``idf``: numpy arrays, or their native int64 and float64 bytes."""
        self.vocab, self._ids, self._idf = vocab, ids, idf

    @property
    def ids(self):
        if isinstance(self._ids, bytes):
            import numpy as np

            self._ids = np.frombuffer(self._ids, dtype=np.int64)
        return self._ids

    @property
    def idf(self):
        if isinstance(self._idf, bytes):
            import numpy as np

            self._idf = np.frombuffer(self._idf, dtype=np.float64)
        return self._idf

    def __len__(self):
        return len(self.vocab)

    def rows_of(self, terms):
        """A list of terms -> numpy array of their rows, -1 where absent."""
        import numpy as np

        return np.frombuffer(self.vocab.rows_of(terms), dtype=np.int64)

    def row_list(self, terms):
        """``rows_of`` as a list of ints, without numpy."""
        import array

        return array.array("q", self.vocab.rows_of(terms)).tolist()


def read_native_vocabulary(path, max_terms=None):
    """A ``NativeVocabulary`` of a whole vocabulary.tsv; None without the
    native module, past ``max_terms`` rows, or when a term is there twice."""
    native = _load_native()
    if native is None:
        return None
    with open(path, "rb") as handle:
        data = handle.read()
    # the inline runner runs every task in one process: the last table read is
    # kept, and given again for the same bytes (it is never changed)
    key = (path, max_terms, len(data), zlib.crc32(data))
    if _last_vocabulary and _last_vocabulary[0][0] == key:
        return _last_vocabulary[0][1]
    read = native.read_vocabulary(data, max_terms)
    del data
    if read is not None:
        # the file read in one native pass, equal to the Python reader below
        vocab, ids, idf = read
        vocabulary = NativeVocabulary(vocab, ids, idf)
        _last_vocabulary[:] = [(key, vocabulary)]
        return vocabulary
    columns = read_vocabulary_columns(path, max_terms)
    if columns is None:
        return None
    terms, ids, idf = columns
    try:
        vocab = native.Vocab(terms)
    except (ValueError, TypeError):
        return None
    return NativeVocabulary(vocab, ids, idf)


# [((path, max_terms, size, CRC-32), NativeVocabulary)]: read_native_vocabulary's last
_last_vocabulary = []


def new_row_batch():
    """An empty ``RowBatch`` of the native module: ``add(rows, counts)``,
    ``entries``, ``len()``, ``take() -> (rows, counts, lengths)`` as bytes."""
    return _load_native().RowBatch()


def take_rows(batch):
    """A ``RowBatch``'s ``(rows, counts, lengths)`` as numpy arrays; it is emptied."""
    import numpy as np

    rows, counts, lengths = batch.take()
    return (np.frombuffer(rows, dtype=np.int64), np.frombuffer(counts, dtype=np.float64),
            np.frombuffer(lengths, dtype=np.int64))


def message_sort_key(value):
    """A message record's JSON text (bytes) -> its sort key in the parse
    stage's output, ``(message_id, str(uri), index or 0, offset or 0)``
    (scripts/pipeline/parse.py), read natively without decoding the record;
    None without the native module or for a record only the decoded form
    can key (see features/native/src/sortkey.rs)."""
    native = _load_native()
    return None if native is None else native.message_sort_key(value)


def index_lines(data):
    """A parse job's output part (bytes) -> ``[(key bytes, value start, value
    end, sort key or None)]`` for its non-blank lines, read natively (the
    sort key of a message row's value as :func:`message_sort_key` reads it);
    None without the native module (scripts/pipeline/parse.py then cuts the
    lines itself)."""
    native = _load_native()
    return None if native is None else native.index_lines(data)


def Totals():  # noqa: N802 - the native class when it loads, else its Python stand-in
    """Corpus totals of counted messages: ``add(counts)``, ``len()``, ``drain(partitions)``."""
    native = _load_native()
    return native.Totals() if native is not None else PythonTotals()


def _decoded(value):
    return value if isinstance(value, dict) else json.loads(value)


def _finish(totals, min_df):
    unigram_tokens = sum(stats[0] for term, stats in totals.items() if " " not in term)
    dropped = 0
    if min_df:
        kept = {term: stats for term, stats in totals.items() if stats[1] >= min_df}
        dropped = len(totals) - len(kept)
        totals = kept
    return encode_totals(dict(sorted(totals.items()))), unigram_tokens, dropped


def merge_encoded(values, min_df=0):
    """Partial totals, JSON texts (bytes or str) of ``{term: [term_count, df]}``
    -> ``(JSON bytes of their sum sorted by term, unigram_tokens, dropped)``.

    With an int ``min_df`` over 1, terms of lower df are left out and counted
    in ``dropped``; ``unigram_tokens`` (the term count of the terms without a
    space, mr_score_collocations' --total-tokens) is summed before that.
    ``values`` may be an iterator, read once; decoded dicts are merged too
    (in Python). A partial the native path cannot read (a term with a lone
    surrogate, numbers past 64 bits) is merged in Python with the rest.
    """
    if not (isinstance(min_df, int) and min_df > 1):
        min_df = 0
    values = iter(values)
    native = _load_native()
    if native is None:
        return _finish(merge_totals(map(_decoded, values)), min_df)
    merger = native.Merger()
    for value in values:
        if not merger.add(value):
            merged = merge_totals(chain([merger.to_dict(), _decoded(value)],
                                        map(_decoded, values)))
            return _finish(merged, min_df)
    return merger.finish(min_df)


_dumps_unicode = functools.partial(json.dumps, ensure_ascii=False)


# the largest count whose log the native weighting is given (8 bytes each);
# a batch with a larger count is weighted by numpy
TF_LOGS_MAX = 1 << 20
# numpy's log(1), log(2), ... as float64 bytes, grown as batches need
_tf_logs = [b""]


def tf_logs(count):
    """numpy's ``log(1.0) ... log(count)`` as native float64 bytes (at least
    ``count`` of them), made once and grown by doubling: the native
    weighting reads a count's log there, so sublinear tf is numpy's own
    arithmetic (``1.0 + np.log(counts)``: numpy computes a value's log the
    same wherever it is in an array; tests/features/test_kernel_lines.py)."""
    import numpy as np

    known = len(_tf_logs[0]) // 8
    if count > known:
        size = max(count, 2 * known, 1024)
        _tf_logs[0] = np.log(np.arange(1, size + 1, dtype=np.float64)).tobytes()
    return _tf_logs[0]


def weigh_rows(batch, vocabulary, norm, sublinear_tf=False):
    """A ``RowBatch``'s tf-idf entries weighted natively: ``(ids, values,
    lengths)`` as int64, float64 and int64 bytes, the values of
    features/tfidf.py's ``weighted_entries``; the batch is emptied. None,
    with the batch left as it is, when ``vocabulary`` was not read natively
    (``read_native_vocabulary``'s Python reader), or with ``sublinear_tf``
    for a count past TF_LOGS_MAX (or not a whole number)."""
    if not sublinear_tf:
        return batch.weigh(vocabulary.vocab, norm)
    largest = batch.max_count
    if largest > TF_LOGS_MAX:
        return None
    return batch.weigh(vocabulary.vocab, norm, tf_logs(max(int(largest), 1)))


def format_svmlight_bytes(label, ids, values, lengths, message_ids):
    """``format_svmlight`` of ``weigh_rows``' bytes: the lines, or None."""
    return _load_native().format_svmlight(label, ids, values, lengths, message_ids,
                                          _dumps_unicode)


def format_svmlight(label, ids, values, lengths, message_ids):
    """svmlight lines ``label id:value ... # comment``, one per message, as
    features/tfidf.py writes them in Python (``"%d:%r"`` pairs, the comment
    ``json.dumps(message_id, ensure_ascii=False)``); None without the native
    module, or for a label that is not a str.

    ``ids`` and ``values`` (numpy arrays) are the entries of all messages,
    message after message; ``lengths`` the number of entries of each
    message of ``message_ids`` (a list).
    """
    native = _load_native()
    if native is None:
        return None
    import numpy as np

    return native.format_svmlight(
        label, np.ascontiguousarray(ids, dtype="<i8").tobytes(),
        np.ascontiguousarray(values, dtype="<f8").tobytes(),
        np.ascontiguousarray(lengths, dtype="<i8").tobytes(), message_ids, _dumps_unicode)


# a df bound a float compares with every df exactly as Python compares them
_EXACT = 1 << 53


def filter_terms(value, low, high):
    """A count job terms row's value (JSON text, str or bytes) -> ``(JSON bytes
    of its terms with low <= df <= high, in order, or None when none is;
    terms read; terms kept)``, as mr_build_vocabulary's mapper decodes,
    filters and writes it (ujson); None without the native module or for a
    value it leaves to that Python code (not an object of ``[int64, int64]``
    arrays, a term there twice, a bound that is an int past 2**53)."""
    native = _load_native()
    if native is None or any(isinstance(bound, int) and abs(bound) > _EXACT
                             for bound in (low, high)):
        return None
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    return native.filter_terms(value, float(low), float(high))


def kept_vocabulary_bytes(lines, n_docs, smooth_idf=True, use_idf=True, hashed=False):
    """The vocabulary job's output lines (bytes) -> (vocabulary.tsv's bytes, its
    number of rows): ``write_vocabulary``'s bytes of ``vocabulary_rows_from_kept(
    read_kept_terms(lines), ...)``, read, sorted and written natively when
    every line is a block of kept terms the module reads (the idf texts are
    still Python's ``repr`` of ``features.vocabulary.idf``, one per distinct
    df); no file is written."""
    lines = [line for line in lines if line.strip()]
    native = _load_native()
    if native is not None and not hashed:
        kept = native.KeptTerms()
        if all(kept.add(line if isinstance(line, bytes) else line.encode("utf-8"))
               for line in lines):
            rows = len(kept)
            idf_texts = {df: repr(idf(df, n_docs, smooth_idf) if use_idf else 1.0)
                         for df in kept.dfs()}
            data = kept.write(idf_texts)
            if data is not None:
                return data, rows
    rows = vocabulary_rows_from_kept(read_kept_terms(lines), n_docs, smooth_idf, use_idf,
                                     hashed=hashed)
    with tempfile.TemporaryDirectory(prefix="jeeves-vocabulary-") as scratch:
        path = os.path.join(scratch, "vocabulary.tsv")
        write_vocabulary(path, rows)
        with open(path, "rb") as handle:
            return handle.read(), len(rows)


def write_kept_vocabulary(path, lines, n_docs, smooth_idf=True, use_idf=True, hashed=False):
    """``kept_vocabulary_bytes`` written to ``path`` -> its number of rows."""
    data, rows = kept_vocabulary_bytes(lines, n_docs, smooth_idf, use_idf, hashed)
    with open(path, "wb") as handle:
        handle.write(data)
    return rows
