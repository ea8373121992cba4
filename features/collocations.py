"""Bigram collocations scored by Dunning's log-likelihood ratio (LLR).

The statistic is the one Mahout's ``seq2sparse --minLLR`` filters with and
NLTK's ``BigramAssocMeasures.likelihood_ratio`` computes (Manning & Schuetze
5.3.4): for a bigram ``w1 w2`` seen ``n_ii`` times, ``w1`` seen ``n_ix`` times,
``w2`` seen ``n_xi`` times and ``n_xx`` tokens in all, the 2x2 contingency
table of (w1 / not w1) x (w2 / not w2) and

    LLR = 2 * sum(observed * ln(observed / expected))

over its cells, expected = row total * column total / n_xx. The counts are
those of the analyzer's unigram stream (kept lemmas) and its adjacent pairs
within a document, as ``BigramCollocationFinder.from_documents`` counts them.
"""

import math


def contingency(n_ii, n_ix, n_xi, n_xx):
    """Cells (w1 w2, not-w1 w2, w1 not-w2, neither), NLTK's order."""
    n_oi = n_xi - n_ii
    n_io = n_ix - n_ii
    return (n_ii, n_oi, n_io, n_xx - n_ii - n_oi - n_io)


def log_likelihood_ratio(n_ii, n_ix, n_xi, n_xx):
    """Dunning's LLR of a bigram from its marginal counts."""
    cells = contingency(n_ii, n_ix, n_xi, n_xx)
    total = float(sum(cells))
    score = 0.0
    for index, observed in enumerate(cells):
        if observed > 0:
            # cell i shares its row with cell i^1 and its column with cell i^2
            expected = (observed + cells[index ^ 1]) * (observed + cells[index ^ 2]) / total
            score += observed * math.log(observed / expected)
    return 2.0 * score


def split_bigram(term):
    """'w1 w2' -> ('w1', 'w2'); None for a term that is not a bigram."""
    parts = term.split(" ")
    if len(parts) != 2:
        return None
    return parts[0], parts[1]


def collocation_filter(scores, min_llr):
    """A predicate for the vocabulary: bigrams must score at least ``min_llr``.

    ``scores`` maps the bigrams that passed (e.g. the collocation job's
    output) to their LLR; other n-gram orders are not filtered.
    """
    def keep(term):
        if split_bigram(term) is None:
            return True
        score = scores.get(term)
        return score is not None and score >= min_llr

    return keep
