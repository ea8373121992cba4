"""Score collocations: bigrams with Dunning's log-likelihood ratio, kept above --min-llr.

Input: the output of mr_count_ngrams run with unigrams and bigrams
(``--ngram-min 1 --ngram-max 2`` or more); only its ``["terms", partition]
-> {term: [term_count, df]}`` rows are read. ``--total-tokens`` is the number of
unigram tokens of the corpus (the sum of the unigram term counts, which the
driver reads from the same output): it is the one global figure of the
contingency table and no reducer could see it otherwise.

Two joins bring each bigram's counts together (values sorted, so a word's own
count arrives before its bigrams and nothing is buffered):
1. at w1: the count of w1 is attached to each bigram ``w1 w2``;
2. at w2: the count of w2 completes the table; the LLR is computed.

Output: ``"w1 w2"`` -> LLR (float), for bigrams scoring at least --min-llr.
"""

from mrjob.job import MRJob
from mrjob.protocol import JSONProtocol, RawValueProtocol
from mrjob.step import MRStep

from jeeves.features.collocations import log_likelihood_ratio, split_bigram
from jeeves.features.vocabulary import MIN_LLR
from jeeves.jobs import CountedJob

try:
    import ujson as json
except ImportError:  # pragma: no cover - ujson is a dependency
    import json

COUNTERS = "score_collocations"
TERMS_ROW_PREFIX = '["terms"'
# Value tags: JSON text sorts "[0," before "[1,", so with SORT_VALUES a word's
# own count comes first in its reducer.
WORD, BIGRAM = 0, 1


class MRScoreCollocations(CountedJob, MRJob):
    INPUT_PROTOCOL = RawValueProtocol
    INTERNAL_PROTOCOL = JSONProtocol
    OUTPUT_PROTOCOL = JSONProtocol
    SORT_VALUES = True

    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg(
            "--total-tokens", type=int, required=True,
            help="unigram tokens in the corpus (sum of the unigram term counts)")
        # Mahout's --minLLR; without it every bigram is kept (an LLR is never negative)
        MIN_LLR.add_to(self.add_passthru_arg)

    def mapper_route_terms(self, _, line):
        """A counting-pass line -> per term: (w1, [0, count]) for a word w1,
        (w1, [1, w2, count]) for a bigram "w1 w2"; other rows are skipped."""
        if not line.startswith(TERMS_ROW_PREFIX):
            return
        _, _, value = line.partition("\t")
        try:
            totals = json.loads(value)
            counts = [(term, stats[0]) for term, stats in totals.items()]
        except (ValueError, IndexError, TypeError, AttributeError, KeyError):
            self.increment_counter(COUNTERS, "invalid_row")
            return
        for term, term_count in counts:
            if " " not in term:
                yield term, [WORD, term_count]
                continue
            bigram = split_bigram(term)
            if bigram is not None:
                yield bigram[0], [BIGRAM, bigram[1], term_count]

    def reducer_attach_first_word(self, word, values):
        """w1, [[0, n_w1], [1, w2, n_bigram], ...] -> (w1, [0, n_w1]) and,
        per bigram, (w2, [1, w1, n_bigram, n_w1])."""
        word_count = None
        for value in values:
            if value[0] == WORD:
                word_count = value[1]
                yield word, value
            elif word_count is None:
                self.increment_counter(COUNTERS, "bigram_without_unigram")
            else:
                yield value[1], [BIGRAM, word, value[2], word_count]

    def reducer_score_bigrams(self, word, values):
        """w2, [[0, n_w2], [1, w1, n_bigram, n_w1]...] -> ("w1 w2", LLR) above --min-llr."""
        word_count = None
        total = self.options.total_tokens
        min_llr = self.options.min_llr if self.options.min_llr is not None else 0.0
        for value in values:
            if value[0] == WORD:
                word_count = value[1]
                continue
            if word_count is None:
                self.increment_counter(COUNTERS, "bigram_without_unigram")
                continue
            _, first_word, bigram_count, first_count = value
            score = log_likelihood_ratio(bigram_count, first_count, word_count, total)
            self.increment_counter(COUNTERS, "bigrams_scored")
            if score >= min_llr:
                self.increment_counter(COUNTERS, "bigrams_kept")
                yield first_word + " " + word, score

    def steps(self):
        return [MRStep(mapper=self.mapper_route_terms, reducer=self.reducer_attach_first_word),
                MRStep(reducer=self.reducer_score_bigrams)]


if __name__ == "__main__":
    MRScoreCollocations.run()
