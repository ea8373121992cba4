"""Messages' tf-idf vectors, as scikit-learn computes them, and their svmlight lines.

``tfidf_entries(batch_counts, table, sublinear_tf, norm)`` takes messages'
raw term counts (from the counting pass, or from the analyzer at prediction)
and the vocabulary table (from vocabulary.tsv) and returns each message's
``(id, value)`` entries sorted by id, equal to a row of ``TfidfVectorizer``
with the same settings:
tf = count, or ``1 + ln(count)`` with ``sublinear_tf``; times idf; then the
row divided by its l2 or l1 norm (``norm=None``: left as is; an all-zero row
stays empty).

Hashing mode replaces terms by buckets exactly as
``HashingVectorizer(alternate_sign=False, norm=None)`` does: the signed 32-bit
MurmurHash3 (seed 0) of the UTF-8 term, absolute value modulo ``n_features``.
"""

import json
from collections import Counter
from collections.abc import Mapping
from itertools import chain

from jeeves.features.vocabulary import table_of_mapping
from jeeves.settings import Setting

NORMS = ("l2", "l1", "none")
SUBLINEAR_TF = Setting("--sublinear-tf", False,
                       help="tf = 1 + ln(count), as scikit-learn's sublinear_tf")
NORM = Setting("--norm", "l2", choices=NORMS, help="row normalization (default: %(default)s)")

# A label the driver replaces when it joins labels (see docs/features.md).
UNLABELLED = "0"
# (id, value) -> "id:value", the value with repr precision
PAIR_FORMAT = "%d:%r"


def tfidf_entries(batch_counts, table, sublinear_tf=False, norm="l2"):
    """The tf-idf kernel: ``[{term: count}, ...]`` -> ``(owner, ids, values)``.

    Three numpy arrays over the kept entries of the batch, ordered by message
    (``owner``, its index in ``batch_counts``) and then by id: the values of
    ``TfidfVectorizer``'s rows for ``table`` (a ``jeeves.features.vocabulary``
    ``VocabularyTable`` or ``HashedVocabulary``). The vector job formats them
    as svmlight lines (``tfidf_lines``) and prediction builds a sparse
    matrix of them (models/scoring.py): one computation for both. The term
    lookups run in C and numpy, the weighting, sorting and normalizing are
    numpy operations over the whole batch.
    """
    import numpy as np

    if norm not in NORMS:
        raise ValueError("norm must be one of %r, not %r" % (NORMS, norm))
    lengths = [len(counts) for counts in batch_counts]
    total = sum(lengths)
    rows = table.rows_of(list(chain.from_iterable(batch_counts)))
    counts = np.fromiter(chain.from_iterable(counts.values() for counts in batch_counts),
                         dtype=np.float64, count=total)
    owner = np.repeat(np.arange(len(batch_counts)), lengths)
    kept = (rows >= 0) & (counts > 0)
    return weighted_entries(rows[kept], counts[kept], owner[kept], len(batch_counts), table,
                            sublinear_tf, norm)


def weighted_entries(rows, counts, owner, messages, table, sublinear_tf=False, norm="l2"):
    """``tfidf_entries`` of kept entries: rows of ``table``, their counts (> 0)
    and messages (``owner``, grouped in order, each row once per message) ->
    ``(owner, ids, values)``. The one arithmetic of the vectors, whether
    the rows were found by ``table.rows_of`` or by the native kernel."""
    import numpy as np

    if norm not in NORMS:
        raise ValueError("norm must be one of %r, not %r" % (NORMS, norm))
    ids = table.ids[rows]
    # by message, then by id within a message
    order = np.lexsort((ids, owner))
    ids, counts, owner, rows = ids[order], counts[order], owner[order], rows[order]
    values = (1.0 + np.log(counts) if sublinear_tf else counts) * table.idf[rows]
    if norm != "none":
        weights = values * values if norm == "l2" else np.abs(values)
        totals = np.bincount(owner, weights=weights, minlength=messages)
        if norm == "l2":
            totals = np.sqrt(totals)
        # an all-zero row stays as it is
        totals[totals == 0.0] = 1.0
        values = values / totals[owner]
    return owner, ids, values


def document_entries(records, analyzer, table, sublinear_tf=False, norm="l2",
                     bucket_of=None):
    """Whole documents -> their ``tfidf_entries``: each record's terms by
    ``analyzer`` (a jeeves.features.text.Analyzer), counted, bucketed by
    ``bucket_of`` in hashing mode (``build_hasher``). How prediction, the
    scoring job and the numpy scorer weigh a message, as the vector job would."""
    batch = []
    for record in records:
        counts = Counter(analyzer(record))
        if bucket_of is not None:
            counts = hashed_counts(counts, bucket_of)
        batch.append(counts)
    return tfidf_entries(batch, table, sublinear_tf, norm)


def tfidf_vector(term_counts, table, sublinear_tf=False, norm="l2"):
    """``{term: count}`` -> ``[(id, value), ...]`` by id: ``tfidf_entries`` of
    one message. ``table`` may also be a mapping ``{term: (id, idf)}``."""
    if isinstance(table, Mapping):
        table = table_of_mapping(table)
    _, ids, values = tfidf_entries([term_counts], table, sublinear_tf, norm)
    return list(zip(ids.tolist(), values.tolist()))


def tfidf_lines(batch, table, sublinear_tf=False, norm="l2", label=UNLABELLED):
    """Messages ``[(message_id, {term: count}), ...]`` -> their svmlight lines
    (``svmlight_line`` of each message's ``tfidf_entries``).

    Python runs per message and per output pair only to format the line,
    and not at all when the native kernel is built (its ``format_svmlight``).
    """
    if not batch:
        if norm not in NORMS:
            raise ValueError("norm must be one of %r, not %r" % (NORMS, norm))
        return []
    owner, ids, values = tfidf_entries([counts for _, counts in batch], table,
                                       sublinear_tf, norm)
    return entry_lines(owner, ids, values, [message_id for message_id, _ in batch], label)


def row_lines(message_ids, rows, counts, lengths, table, sublinear_tf=False, norm="l2",
              label=UNLABELLED):
    """``tfidf_lines`` of messages whose kept entries were found already
    (the native kernel's ``RowBatch``): ``rows``, ``counts`` and each
    message's number of entries (``lengths``), numpy arrays."""
    import numpy as np

    owner = np.repeat(np.arange(len(message_ids)), lengths)
    owner, ids, values = weighted_entries(rows, counts, owner, len(message_ids), table,
                                          sublinear_tf, norm)
    return entry_lines(owner, ids, values, message_ids, label)


def batch_lines(message_ids, batch, vocabulary, sublinear_tf=False, norm="l2",
                label=UNLABELLED):
    """``row_lines`` of a native ``RowBatch`` (emptied) and the
    ``NativeVocabulary`` its rows are of: weighted and formatted natively
    when the vocabulary was read natively (the same doubles as
    ``weighted_entries``, sublinear tf with numpy's logarithms:
    kernel.weigh_rows), else by ``row_lines``."""
    from jeeves.features.kernel import format_svmlight_bytes, take_rows, weigh_rows

    if norm not in NORMS:
        raise ValueError("norm must be one of %r, not %r" % (NORMS, norm))
    weighed = weigh_rows(batch, vocabulary, norm, sublinear_tf)
    if weighed is None:
        rows, counts, lengths = take_rows(batch)
        return row_lines(message_ids, rows, counts, lengths, vocabulary, sublinear_tf, norm,
                         label)
    lines = format_svmlight_bytes(label, *weighed, message_ids)
    if lines is not None:
        return lines
    import numpy as np

    ids, values, lengths = (np.frombuffer(data, dtype=dtype)
                            for data, dtype in zip(weighed, (np.int64, np.float64, np.int64)))
    owner = np.repeat(np.arange(len(message_ids)), lengths)
    return entry_lines(owner, ids, values, message_ids, label)


def entry_lines(owner, ids, values, message_ids, label=UNLABELLED):
    """The svmlight lines of ``weighted_entries``' output."""
    import numpy as np

    from jeeves.features.kernel import format_svmlight

    lengths = np.bincount(owner, minlength=len(message_ids))
    # the same lines written natively when the kernel is built (features/native)
    lines = format_svmlight(label, ids, values, lengths, message_ids)
    if lines is not None:
        return lines
    pairs = list(map(PAIR_FORMAT.__mod__, zip(ids.tolist(), values.tolist())))
    ends = np.cumsum(lengths).tolist()
    lines, start, space_join = [], 0, " ".join
    for message_id, end in zip(message_ids, ends):
        lines.append(_line(label, space_join(pairs[start:end]), message_id))
        start = end
    return lines


def svmlight_line(pairs, message_id, label=UNLABELLED):
    """``label id:value ... # "message_id"``, floats with repr precision.

    Ids are zero-based (read it with ``load_svmlight_file(..., zero_based=True)``).
    The comment is the message id as a JSON string, so ids with spaces,
    ``#`` or line breaks survive: ``json.loads(line.split(" # ", 1)[1])``.
    """
    return _line(label, " ".join(map(PAIR_FORMAT.__mod__, pairs)), message_id)


def _line(label, features, message_id):
    comment = json.dumps(message_id, ensure_ascii=False)
    if features:
        return "%s %s # %s" % (label, features, comment)
    return "%s # %s" % (label, comment)


def build_hasher(n_features, memo_size=1 << 18):
    """Return term -> str(bucket), HashingVectorizer's column of that term.

    Buckets are strings so they key JSON objects and vocabulary.tsv rows like
    terms do. A dict memo (cleared past ``memo_size`` entries, so it stays
    bounded) spares the repeated hashes of frequent terms.
    """
    if n_features < 1:
        raise ValueError("n_features must be positive, not %r" % (n_features,))
    from sklearn.utils import murmurhash3_32

    memo = {}

    def bucket_of(term):
        bucket = memo.get(term)
        if bucket is None:
            if len(memo) >= memo_size:
                memo.clear()
            # abs(-2**31) % n equals scikit-learn's special case for that hash
            bucket = str(abs(murmurhash3_32(term, seed=0, positive=False)) % n_features)
            memo[term] = bucket
        return bucket

    return bucket_of


def build_term_counter(analyzer_config, hash_features=0):
    """Return record -> ``{term: count}``: the analyzer's terms counted (in
    the order of their first occurrence), and in hashing mode
    (``hash_features`` > 0) their buckets instead. What the counting and the
    vector jobs both compute for a message, so a term means the same in the
    vocabulary and in the vectors. The counting is jeeves.features.kernel's
    (native when built); the callable's ``counter`` attribute is its
    MessageCounter (``stats()``). WordNet is loaded when it is built.
    """
    from jeeves.features.kernel import MessageCounter

    counter = MessageCounter(analyzer_config)
    counter.load()
    if not hash_features:
        def count_terms(record):
            return counter.count(record)
    else:
        bucket_of = build_hasher(hash_features)

        def count_terms(record):
            return hashed_counts(counter.count(record), bucket_of)
    count_terms.counter = counter
    return count_terms


def hashed_counts(term_counts, bucket_of):
    """``{term: count}`` -> Counter ``{bucket: count}``; colliding terms add up."""
    counts = Counter()
    for term, count in term_counts.items():
        counts[bucket_of(term)] += count
    return counts
