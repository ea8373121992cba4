"""Vocabulary from corpus-wide term totals: df pruning, ids, idf, vocabulary.tsv.

Input is what the counting pass produces: ``{term: (term_count, df)}`` and the
number of documents; the pass writes those totals split into partitions of
terms (``partition_of``), which ``merge_totals`` adds up. Pruning and idf follow scikit-learn's
``CountVectorizer`` / ``TfidfTransformer`` exactly:

- ``min_df`` / ``max_df``: an int is a document count, a float a fraction of
  the documents; a term is kept when ``min_df <= df <= max_df``;
- ``max_features``: then the most frequent kept terms by corpus term count;
  ties are broken by the term, ascending (scikit-learn leaves them
  unspecified), so the selection is deterministic;
- ids: the kept terms in sorted (code point) order get ids 0, 1, ... as
  ``vocabulary_`` does, so ids are stable for a given vocabulary;
- idf: ``ln((1 + n) / (1 + df)) + 1`` with ``smooth_idf``, ``ln(n / df) + 1``
  without; 1.0 for every term when idf is off.

``vocabulary.tsv`` has a header line ``term<TAB>id<TAB>df<TAB>idf`` and one row
per term; idf is written with ``repr`` so it reads back bit for bit.
"""

import math
import zlib
from itertools import repeat
from numbers import Integral

from jeeves.settings import Setting

HEADER = ("term", "id", "df", "idf")
DEFAULT_TERM_PARTITIONS = 64


def partition_of(term, partitions):
    """The partition (0..partitions-1) of a term's totals: CRC-32 of its UTF-8 bytes.

    Deterministic in every process (``hash()`` of a str is salted per process),
    so the partial totals of a term meet in one reducer.
    """
    return zlib.crc32(term.encode("utf-8")) % partitions


def partition_totals(term_counts, document_frequencies, partitions):
    """``{term: count}`` + ``{term: df}`` (the same terms) -> ``[(partition,
    {term: (count, df)}), ...]``, partitions ascending, each dict in no order.

    The partitions are ``partition_of``'s, computed for all the terms at once:
    CRC-32s by ``map`` in C and grouped by a numpy sort, so no Python code
    runs per term (a flush handles hundreds of thousands of them).
    """
    import numpy as np

    terms = list(document_frequencies)
    if not terms:
        return []
    dfs = np.fromiter(document_frequencies.values(), dtype=np.int64, count=len(terms))
    if list(term_counts) == terms:
        # the mapper fills both in the same order: read them in order, no lookups
        counts = np.fromiter(term_counts.values(), dtype=np.int64, count=len(terms))
    else:
        counts = np.fromiter(map(term_counts.__getitem__, terms), dtype=np.int64,
                             count=len(terms))
    codes = np.fromiter(map(zlib.crc32, map(str.encode, terms)), dtype=np.uint32,
                        count=len(terms)) % partitions
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    terms = list(map(terms.__getitem__, order.tolist()))
    values = list(zip(counts[order].tolist(), dfs[order].tolist()))
    present = np.flatnonzero(np.diff(codes, prepend=-1)).tolist() + [len(terms)]
    return [(int(codes[start]), dict(zip(terms[start:end], values[start:end])))
            for start, end in zip(present, present[1:])]


def merge_totals(partials):
    """Partial ``{term: [term_count, df]}`` dicts -> their sum, one dict.

    The first partial is updated in place and returned (rows decoded from
    JSON are not shared). Values may be lists or tuples (partition_totals');
    a summed value is a list.
    """
    merged = None
    for totals in partials:
        if merged is None:
            merged = totals
            continue
        get = merged.get
        for term, (term_count, df) in totals.items():
            current = get(term)
            if current is None:
                merged[term] = [term_count, df]
            elif type(current) is list:
                current[0] += term_count
                current[1] += df
            else:
                merged[term] = [current[0] + term_count, current[1] + df]
    return merged if merged is not None else {}


def parse_df_bound(value):
    """'2' -> 2 (documents), '0.9' -> 0.9 (fraction); ValueError names a bad value."""
    text = str(value).strip()
    try:
        number = float(text) if any(char in text for char in ".eE") else int(text)
    except ValueError:
        raise ValueError("not a document count or fraction: %r" % (value,)) from None
    if isinstance(number, float) and not 0.0 <= number <= 1.0:
        raise ValueError("a df fraction must be within [0.0, 1.0], not %r" % (value,))
    if isinstance(number, int) and number < 0:
        raise ValueError("a df count must not be negative, not %r" % (value,))
    return number


# The vocabulary's settings, declared once (jeeves.settings): the jobs'
# arguments, the CLI's options and VectorizerConfig come from these.
MIN_DF = Setting("--min-df", 1, parse_df_bound,
                 help="drop terms in fewer documents (int: count, float: fraction; "
                      "default: %(default)s)")
MAX_DF = Setting("--max-df", 1.0, parse_df_bound,
                 help="drop terms in more documents (int: count, float: fraction; "
                      "default: %(default)s)")
MAX_FEATURES = Setting("--max-features", None, int, minimum=1,
                       help="keep only this many terms, the most frequent (ties: the term "
                            "ascending)")
MIN_LLR = Setting("--min-llr", None, float,
                  help="keep only bigrams whose log-likelihood ratio is at least this "
                       "(collocations; needs unigrams and bigrams)")
HASH_FEATURES = Setting("--hash-features", 0, int, minimum=0,
                        help="hashing mode: the terms are this many HashingVectorizer buckets, "
                             "all kept (0: off)")
SMOOTH_IDF = Setting("--no-smooth-idf", True, dest="smooth_idf",
                     help="idf = ln(n/df) + 1 instead of ln((1+n)/(1+df)) + 1")
USE_IDF = Setting("--no-idf", True, dest="use_idf", help="term frequencies only (idf = 1)")
FLUSH_SIZE = Setting("--flush-size", 1000000, int, minimum=1,
                     help="terms the counting mapper holds before it flushes "
                          "(default: %(default)s)")


def df_limits(n_docs, min_df=1, max_df=1.0):
    """(lowest, highest) document frequency kept, as scikit-learn computes them."""
    high = max_df if isinstance(max_df, Integral) else max_df * n_docs
    low = min_df if isinstance(min_df, Integral) else min_df * n_docs
    if high < low:
        raise ValueError("max_df corresponds to < documents than min_df")
    return low, high


def select_terms(term_stats, n_docs, min_df=1, max_df=1.0, max_features=None):
    """The kept terms of ``{term: (term_count, df)}``, sorted."""
    low, high = df_limits(n_docs, min_df, max_df)
    kept = [term for term, (_, df) in term_stats.items() if low <= df <= high]
    if max_features is not None and len(kept) > max_features:
        kept.sort(key=lambda term: (-term_stats[term][0], term))
        kept = kept[:max_features]
    return sorted(kept)


def idf(df, n_docs, smooth_idf=True):
    """scikit-learn's idf of a term seen in ``df`` of ``n_docs`` documents."""
    if smooth_idf:
        return math.log((n_docs + 1) / (df + 1)) + 1.0
    return math.log(n_docs / df) + 1.0


def build_vocabulary(term_stats, n_docs, min_df=1, max_df=1.0, max_features=None,
                     smooth_idf=True, use_idf=True, keep=None):
    """Rows ``(term, id, df, idf)`` of the pruned vocabulary, by id.

    ``keep`` (optional) is a predicate a term must also pass, e.g. the
    collocation filter; it applies after df pruning and before max_features.
    """
    if not term_stats:
        return []
    stats = term_stats
    if keep is not None:
        low, high = df_limits(n_docs, min_df, max_df)
        stats = {term: value for term, value in term_stats.items()
                 if low <= value[1] <= high and keep(term)}
    terms = select_terms(stats, n_docs, min_df, max_df, max_features)
    dfs = [term_stats[term][1] for term in terms]
    # idf depends on df only, and a vocabulary has few distinct dfs
    idf_of = {df: idf(df, n_docs, smooth_idf) if use_idf else 1.0 for df in set(dfs)}
    return list(zip(terms, range(len(terms)), dfs, map(idf_of.__getitem__, dfs)))


def build_hashed_table(bucket_stats, n_docs, smooth_idf=True, use_idf=True):
    """Rows ``(bucket, id, df, idf)`` for hashing mode: every bucket seen, id = bucket.

    ``bucket_stats`` is ``{str(bucket): (count, df)}``, as the counting pass
    writes it in hashing mode; nothing is pruned (TfidfTransformer does not).
    """
    rows = []
    for bucket, (_, df) in bucket_stats.items():
        rows.append((bucket, int(bucket), df, idf(df, n_docs, smooth_idf) if use_idf else 1.0))
    rows.sort(key=lambda row: row[1])
    return rows


def write_vocabulary(path, rows):
    """Write rows ``(term, id, df, idf)`` to ``path`` as vocabulary.tsv."""
    idf_text = {}
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\t".join(HEADER) + "\n")
        lines = []
        for term, term_id, df, term_idf in rows:
            if "\t" in term or "\n" in term:
                raise ValueError("a term cannot hold a tab or a newline: %r" % (term,))
            # repr of a float is slow, and many terms share an idf
            text = idf_text.get(term_idf)
            if text is None:
                text = idf_text[term_idf] = repr(term_idf)
            lines.append("%s\t%d\t%d\t%s\n" % (term, term_id, df, text))
            if len(lines) >= 65536:
                handle.write("".join(lines))
                lines = []
        handle.write("".join(lines))


def read_vocabulary_rows(path):
    """The rows ``(term, id, df, idf)`` of a vocabulary.tsv, in file order."""
    rows = []
    for terms, ids, dfs, idfs in _vocabulary_blocks(path, 1 << 20):
        rows.extend(zip(terms, map(int, ids), map(int, dfs), map(float, idfs)))
    return rows


def read_vocabulary_by_id(path):
    """``(terms, idf)`` of a vocabulary.tsv indexed by feature id: a list of the
    terms and a numpy array of their idf (the report names the model's
    features with them). The ids must be 0..n-1, each once."""
    import numpy as np

    rows = read_vocabulary_rows(path)
    terms = [None] * len(rows)
    idf = np.zeros(len(rows), dtype=np.float64)
    for term, feature_id, _, weight in rows:
        if not 0 <= feature_id < len(rows) or terms[feature_id] is not None:
            raise ValueError("%s: feature ids must be 0..%d, each once; bad id %d"
                             % (path, len(rows) - 1, feature_id))
        terms[feature_id], idf[feature_id] = term, weight
    return terms, idf


class VocabularyTable:
    """The vocabulary as a vector pass uses it: ``rows_of(terms)`` gives each
    term's row ``k`` (-1 for a term outside it), ``ids[k]`` and ``idf[k]`` are
    that row's id and idf (numpy arrays).

    ``index`` maps a term to its row: a dict, about 200 bytes a term. Built by
    ``read_vocabulary_table`` for the terms of one batch of messages;
    ``HashedVocabulary`` holds a whole vocabulary in about 30 bytes a term.
    """

    __slots__ = ("index", "ids", "idf")

    def __init__(self, index, ids, idf):
        self.index, self.ids, self.idf = index, ids, idf

    def __len__(self):
        return len(self.index)

    def rows_of(self, terms):
        """A list of terms -> numpy array of their rows, -1 where absent."""
        import numpy as np

        return np.fromiter(map(self.index.get, terms, repeat(-1)), dtype=np.int64,
                           count=len(terms))


class HashedVocabulary:
    """A whole vocabulary in about 30 bytes a term, without its terms.

    A term is known by two checksums: Python's 64-bit ``hash()`` (SipHash,
    keyed per process, so the table is built in the process that uses it) and
    its CRC-32. ``rows_of`` finds the 64-bit hash by binary search in a
    sorted numpy array and then compares the CRC-32: a term outside the
    vocabulary is taken for one inside only if both checksums collide (about
    one chance in 2^96 per lookup). Two vocabulary terms with the same 64-bit
    hash make ``read_hashed_vocabulary`` return None, and its caller falls
    back to ``read_vocabulary_table``.

    A dict of the terms would cost about 200 bytes a term (55 MB for the
    270,000 terms of 64 MB of Enron, 165 MB at 256 MB); this table costs 8 MB
    and 25 MB, so the vector pass's memory stays nearly flat while it reads
    the vocabulary once per task.
    """

    __slots__ = ("hashes", "checks", "ids", "idf", "key")

    def __init__(self, hashes, checks, ids, idf, key=hash):
        """``hashes`` sorted, ``key(term)`` the function that made them (``hash``, or
        a stable 64-bit digest for a table stored in a file, models/fastscore.py)."""
        self.hashes, self.checks, self.ids, self.idf = hashes, checks, ids, idf
        self.key = key

    def __len__(self):
        return len(self.hashes)

    def rows_of(self, terms):
        """A list of terms -> numpy array of their rows, -1 where absent."""
        import numpy as np

        rows = np.full(len(terms), -1, dtype=np.int64)
        if not len(self.hashes) or not terms:
            return rows
        keys = np.fromiter(map(self.key, terms), dtype=self.hashes.dtype, count=len(terms))
        found = np.searchsorted(self.hashes, keys)
        found[found == len(self.hashes)] = 0
        hits = np.flatnonzero(self.hashes[found] == keys)
        if len(hits):
            checks = np.fromiter(
                map(zlib.crc32, map(str.encode, map(terms.__getitem__, hits.tolist()))),
                dtype=np.uint32, count=len(hits))
            hits = hits[checks == self.checks[found[hits]]]
            rows[hits] = found[hits]
        return rows


def _vocabulary_blocks(path, block_bytes):
    """(terms, ids, dfs, idfs) lists of the rows of a vocabulary.tsv, a block at a time.

    Each block of about ``block_bytes`` is split by C string methods, not a
    Python loop per row: 270,000 rows read in about 0.1 s.
    """
    with open(path, encoding="utf-8") as handle:
        header = tuple(handle.readline().rstrip("\n").split("\t"))
        if header != HEADER:
            raise ValueError("%s: not a vocabulary.tsv (header %r)" % (path, list(header)))
        while True:
            lines = handle.readlines(block_bytes)
            if not lines:
                return
            # four fields a row; every row ends with "\n", so one empty string at the end
            fields = "".join(lines).replace("\n", "\t").split("\t")
            if len(fields) != 4 * len(lines) + 1:
                raise ValueError("%s: a row does not have 4 fields" % (path,))
            yield fields[0:-1:4], fields[1:-1:4], fields[2:-1:4], fields[3:-1:4]


def read_vocabulary_table(path, terms=None, block_bytes=1 << 20):
    """A ``VocabularyTable`` of a vocabulary.tsv, with ``terms`` (a set) only
    those terms' rows."""
    import array
    from itertools import compress

    import numpy as np

    index, ids, idf = {}, array.array("q"), array.array("d")
    for block_terms, block_ids, _, block_idf in _vocabulary_blocks(path, block_bytes):
        if terms is not None:
            wanted = list(map(terms.__contains__, block_terms))
            block_terms = list(compress(block_terms, wanted))
            block_ids = compress(block_ids, wanted)
            block_idf = compress(block_idf, wanted)
        index.update(zip(block_terms, range(len(index), len(index) + len(block_terms))))
        ids.extend(map(int, block_ids))
        idf.extend(map(float, block_idf))
    return VocabularyTable(index, np.frombuffer(ids, dtype=np.int64),
                           np.frombuffer(idf, dtype=np.float64))


def read_vocabulary_columns(path, max_terms=None, block_bytes=1 << 20):
    """A vocabulary.tsv's ``(terms, ids, idf)``: its terms (a list) and their
    ids and idf (numpy int64 and float64 arrays) in file order; None past
    ``max_terms`` rows. The native vector path's table (features/kernel.py)."""
    import array

    import numpy as np

    terms, ids, idf = [], array.array("q"), array.array("d")
    for block_terms, block_ids, _, block_idf in _vocabulary_blocks(path, block_bytes):
        if max_terms is not None and len(terms) + len(block_terms) > max_terms:
            return None
        terms += block_terms
        ids.extend(map(int, block_ids))
        # idf depends on df only: few distinct texts, each parsed once
        parsed = {text: float(text) for text in set(block_idf)}
        idf.extend(map(parsed.__getitem__, block_idf))
    return terms, np.frombuffer(ids, dtype=np.int64), np.frombuffer(idf, dtype=np.float64)


def read_whole_vocabulary(path):
    """The whole vocabulary.tsv as the vector job's tasks hold it: a
    ``HashedVocabulary``, or a ``VocabularyTable`` when two terms share a
    64-bit hash (prediction and the scoring tasks)."""
    return read_hashed_vocabulary(path) or read_vocabulary_table(path)


def table_of_mapping(mapping):
    """A ``VocabularyTable`` of ``{term: (id, idf)}``."""
    import numpy as np

    return VocabularyTable({term: row for row, term in enumerate(mapping)},
                           np.fromiter((entry[0] for entry in mapping.values()),
                                       dtype=np.int64, count=len(mapping)),
                           np.fromiter((entry[1] for entry in mapping.values()),
                                       dtype=np.float64, count=len(mapping)))


def read_hashed_vocabulary(path, max_terms=None, block_bytes=1 << 20):
    """A ``HashedVocabulary`` of a whole vocabulary.tsv; None past ``max_terms``
    rows or when two of its terms share a 64-bit hash."""
    import array

    import numpy as np

    # "I" is 4 bytes wherever Python runs (CPython's unsigned int)
    hashes, checks = array.array("q"), array.array("I")
    ids, idf = array.array("q"), array.array("d")
    for block_terms, block_ids, _, block_idf in _vocabulary_blocks(path, block_bytes):
        if max_terms is not None and len(hashes) + len(block_terms) > max_terms:
            return None
        hashes.extend(map(hash, block_terms))
        checks.extend(map(zlib.crc32, map(str.encode, block_terms)))
        ids.extend(map(int, block_ids))
        # idf depends on df only: few distinct texts, each parsed once
        parsed = {text: float(text) for text in set(block_idf)}
        idf.extend(map(parsed.__getitem__, block_idf))
    hashes = np.frombuffer(hashes, dtype=np.int64)
    order = np.argsort(hashes, kind="stable")
    hashes = hashes[order]
    if len(hashes) > 1 and np.any(hashes[1:] == hashes[:-1]):
        return None
    return HashedVocabulary(hashes, np.frombuffer(checks, dtype=np.uint32)[order],
                            np.frombuffer(ids, dtype=np.int64)[order],
                            np.frombuffer(idf, dtype=np.float64)[order])


# --- vocabulary pruned on the cluster (jobs/mr_build_vocabulary.py) --------

class TopTerms:
    """The ``k`` first terms in ``select_terms``' max_features order (corpus
    count descending, then the term ascending), fed one at a time.

    Holds at most about ``2 * k`` candidates: when it reaches that many it
    sorts them and drops all but the first ``k``. The order is total over
    distinct terms, so the top ``k`` of a union is the top ``k`` of the
    parts' top ``k``: tasks keep their own and one merge finishes the job.
    """

    __slots__ = ("k", "candidates")

    def __init__(self, k):
        self.k = k
        self.candidates = []  # (-count, term, df)

    def add(self, term, count, df):
        self.candidates.append((-count, term, df))
        if len(self.candidates) >= 2 * self.k:
            self._prune()

    def _prune(self):
        self.candidates.sort()
        del self.candidates[self.k:]

    def top(self):
        """``[(term, count, df), ...]``: the first ``k`` terms, in that order."""
        self._prune()
        return [(term, -negated, df) for negated, term, df in self.candidates]


def read_kept_terms(lines):
    """mr_build_vocabulary output lines (``"term"<TAB>[count, df]``, or a block
    ``["kept", partition]<TAB>{"term": [count, df], ...}``; str or bytes) ->
    ``(term, df)`` pairs; blank lines are skipped."""
    try:
        import ujson as json
    except ImportError:  # pragma: no cover - ujson is a dependency
        import json

    for line in lines:
        if not line.strip():
            continue
        key, value = line.split(b"\t" if isinstance(line, bytes) else "\t", 1)
        stats = json.loads(value)
        if isinstance(stats, dict):
            for term, (_, df) in stats.items():
                yield term, df
        else:
            yield json.loads(key), stats[1]


def vocabulary_rows_from_kept(kept, n_docs, smooth_idf=True, use_idf=True, hashed=False):
    """Rows ``(term, id, df, idf)`` for write_vocabulary from the kept terms
    only (``(term, df)`` pairs in any order, e.g. ``read_kept_terms``'s).

    Ids are given here, in sorted term order as ``build_vocabulary`` (and
    scikit-learn's ``vocabulary_``) gives them; with ``hashed`` every term is
    a HashingVectorizer bucket and is its own id, as ``build_hashed_table``.
    Memory is bounded by the kept vocabulary, not by the corpus' distinct
    terms.
    """
    pairs = list(kept)
    if hashed:
        pairs.sort(key=lambda pair: int(pair[0]))
        ids = [int(term) for term, _ in pairs]
    else:
        pairs.sort()
        ids = range(len(pairs))
    terms = [term for term, _ in pairs]
    dfs = [df for _, df in pairs]
    # idf depends on df only, and a vocabulary has few distinct dfs
    idf_of = {df: idf(df, n_docs, smooth_idf) if use_idf else 1.0 for df in set(dfs)}
    return list(zip(terms, ids, dfs, map(idf_of.__getitem__, dfs)))
