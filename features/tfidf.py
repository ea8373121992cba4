"""One message's tf-idf vector, as scikit-learn computes it, and its svmlight line.

``tfidf_vector(term_counts, table, sublinear_tf, norm)`` takes the message's
raw term counts (from the counting pass) and the vocabulary table
``{term: (id, idf)}`` (from vocabulary.tsv) and returns ``[(id, value), ...]``
sorted by id, equal to a row of ``TfidfVectorizer`` with the same settings:
tf = count, or ``1 + ln(count)`` with ``sublinear_tf``; times idf; then the
row divided by its l2 or l1 norm (``norm=None``: left as is; an all-zero row
stays empty).

Hashing mode replaces terms by buckets exactly as
``HashingVectorizer(alternate_sign=False, norm=None)`` does: the signed 32-bit
MurmurHash3 (seed 0) of the UTF-8 term, absolute value modulo ``n_features``.
"""

import json
import math
from collections import Counter
from itertools import chain

NORMS = ("l2", "l1", "none")

# A label the driver replaces when it joins labels (see docs/features.md).
UNLABELLED = "0"
# (id, value) -> "id:value", the value with repr precision
PAIR_FORMAT = "%d:%r"


def tfidf_vector(term_counts, table, sublinear_tf=False, norm="l2"):
    """``{term: count}`` + ``{term: (id, idf)}`` -> ``[(id, value), ...]`` by id."""
    if norm not in NORMS:
        raise ValueError("norm must be one of %r, not %r" % (NORMS, norm))
    lookup = table.get
    if sublinear_tf:
        log = math.log
        weights = [(entry[0], (1.0 + log(count)) * entry[1])
                   for entry, count in zip(map(lookup, term_counts), term_counts.values())
                   if entry is not None and count > 0]
    else:
        weights = [(entry[0], count * entry[1])
                   for entry, count in zip(map(lookup, term_counts), term_counts.values())
                   if entry is not None and count > 0]
    weights.sort()
    if norm == "l2":
        total = math.sqrt(sum([value * value for _, value in weights]))
    elif norm == "l1":
        total = sum([abs(value) for _, value in weights])
    else:
        total = 0.0
    if total > 0.0:
        weights = [(term_id, value / total) for term_id, value in weights]
    return weights


def tfidf_lines(batch, table, sublinear_tf=False, norm="l2", label=UNLABELLED):
    """Messages ``[(message_id, {term: count}), ...]`` -> their svmlight lines.

    The same vectors as ``tfidf_vector`` + ``svmlight_line`` per message, for
    a ``features.vocabulary.VocabularyTable`` or ``HashedVocabulary``, computed for the whole batch
    at once: the term lookups run in C and numpy, the weighting, sorting
    and normalizing are numpy operations over the batch's entries, so
    Python runs per message and per output pair only to format the line.
    """
    import numpy as np

    if norm not in NORMS:
        raise ValueError("norm must be one of %r, not %r" % (NORMS, norm))
    if not batch:
        return []
    lengths = [len(counts) for _, counts in batch]
    total = sum(lengths)
    rows = table.rows_of(list(chain.from_iterable(counts for _, counts in batch)))
    counts = np.fromiter(chain.from_iterable(counts.values() for _, counts in batch),
                         dtype=np.float64, count=total)
    owner = np.repeat(np.arange(len(batch)), lengths)
    kept = (rows >= 0) & (counts > 0)
    rows, counts, owner = rows[kept], counts[kept], owner[kept]
    ids = table.ids[rows]
    # by message, then by id within a message
    order = np.lexsort((ids, owner))
    ids, counts, owner, rows = ids[order], counts[order], owner[order], rows[order]
    values = (1.0 + np.log(counts) if sublinear_tf else counts) * table.idf[rows]
    if norm != "none":
        weights = values * values if norm == "l2" else np.abs(values)
        totals = np.bincount(owner, weights=weights, minlength=len(batch))
        if norm == "l2":
            totals = np.sqrt(totals)
        # an all-zero row stays as it is
        totals[totals == 0.0] = 1.0
        values = values / totals[owner]
    pairs = list(map(PAIR_FORMAT.__mod__, zip(ids.tolist(), values.tolist())))
    ends = np.cumsum(np.bincount(owner, minlength=len(batch))).tolist()
    lines, start, space_join, dumps = [], 0, " ".join, json.dumps
    for (message_id, _), end in zip(batch, ends):
        comment = dumps(message_id, ensure_ascii=False)
        if end > start:
            lines.append("%s %s # %s" % (label, space_join(pairs[start:end]), comment))
        else:
            lines.append("%s # %s" % (label, comment))
        start = end
    return lines


def svmlight_line(pairs, message_id, label=UNLABELLED):
    """``label id:value ... # "message_id"``, floats with repr precision.

    Ids are zero-based (read it with ``load_svmlight_file(..., zero_based=True)``).
    The comment is the message id as a JSON string, so ids with spaces,
    ``#`` or line breaks survive: ``json.loads(line.split(" # ", 1)[1])``.
    """
    features = " ".join(map(PAIR_FORMAT.__mod__, pairs))
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


def hashed_counts(term_counts, bucket_of):
    """``{term: count}`` -> Counter ``{bucket: count}``; colliding terms add up."""
    counts = Counter()
    for term, count in term_counts.items():
        counts[bucket_of(term)] += count
    return counts
