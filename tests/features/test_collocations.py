import pytest
from nltk.collocations import BigramAssocMeasures, BigramCollocationFinder

from jeeves.features.collocations import (
    collocation_filter,
    contingency,
    log_likelihood_ratio,
    split_bigram,
)

DOCUMENTS = [
    "natural gas price rise natural gas demand".split(),
    "gas trader expect natural gas price".split(),
    "conference room book conference room".split(),
    "price review natural gas".split(),
]


def test_llr_equals_nltk_on_a_small_corpus():
    finder = BigramCollocationFinder.from_documents(DOCUMENTS)
    unigram = finder.word_fd
    total = unigram.N()
    nltk_scores = dict(finder.score_ngrams(BigramAssocMeasures.likelihood_ratio))
    assert len(nltk_scores) > 10
    for (first, second), score in nltk_scores.items():
        ours = log_likelihood_ratio(finder.ngram_fd[(first, second)], unigram[first],
                                    unigram[second], total)
        assert ours == pytest.approx(score, rel=1e-9, abs=1e-9)


def test_contingency_cells_add_up():
    assert contingency(2, 3, 2, 10) == (2, 0, 1, 7)


def test_independent_words_score_near_zero():
    # w1 in half the tokens, w2 in half, together in a quarter: independence
    assert log_likelihood_ratio(25, 50, 50, 100) == pytest.approx(0.0, abs=1e-9)


def test_filter_keeps_other_orders_and_strong_bigrams():
    keep = collocation_filter({"natural gas": 12.0, "gas price": 1.0}, min_llr=5.0)
    assert keep("natural gas") and keep("gas") and keep("natural gas price")
    assert not keep("gas price") and not keep("room book")
    assert split_bigram("a b") == ("a", "b") and split_bigram("a b c") is None
