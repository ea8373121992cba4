import argparse
import pickle

import pytest
from nltk.stem import WordNetLemmatizer
from sklearn.feature_extraction._stop_words import ENGLISH_STOP_WORDS
from sklearn.feature_extraction.text import CountVectorizer

from jeeves.features.text import (
    Analyzer,
    add_analyzer_args,
    analyzer_args,
    analyzer_config_from_options,
    build_analyzer,
    build_lemma_filter,
    build_preprocessor,
    config_with_defaults,
    word_ngrams,
)


def test_reads_subject_and_new_body_not_quoted_history():
    analyze = build_analyzer({"lemmatize": False})
    record = {"subject": "Budget", "body": "review", "quoted": "history"}
    assert analyze(record) == ["budget", "review"]


def test_fields_option_chooses_the_text():
    analyze = build_analyzer({"lemmatize": False, "fields": ["quoted"]})
    assert analyze({"subject": "Budget", "quoted": "old history"}) == ["old", "history"]


def test_missing_or_null_fields_are_empty():
    assert build_analyzer()({"subject": None}) == []


def test_placeholders_replace_urls_addresses_and_numbers():
    preprocess = build_preprocessor(config_with_defaults())
    text = preprocess("See https://www.enron.com/a?b=1, mail Jeff@Enron.com at 10am or 3.5")
    assert text.split() == ["see", "urltoken", "mail", "emailtoken", "at", "numbertoken",
                            "or", "numbertoken"]


def test_normalization_lowercase_and_accent_stripping():
    preprocess = build_preprocessor(config_with_defaults({"strip_accents": "unicode"}))
    # NFKC turns the ligature into "fi"; accents go
    assert preprocess("Café ﬁle NAÏVE") == "cafe file naive"
    keep_case = build_preprocessor(config_with_defaults({"lowercase": False,
                                                         "placeholders": False}))
    assert keep_case("Café 42") == "Café 42"


def test_stop_words_are_scikit_learns_english_list_by_default():
    analyze = build_analyzer({"lemmatize": False})
    tokens = analyze("the meeting is about the budget and we should go")
    assert tokens == ["meeting", "budget"]
    assert not set(tokens) & ENGLISH_STOP_WORDS


def test_stop_word_list_or_none():
    assert build_analyzer({"stop_words": ["budget"], "lemmatize": False})(
        "the budget") == ["the"]
    assert build_analyzer({"stop_words": None, "lemmatize": False})("the budget") == [
        "the", "budget"]


def test_lemmas_follow_verb_then_noun_strategy():
    wordnet = WordNetLemmatizer()
    analyze = build_analyzer({"stop_words": None})
    words = ["meetings", "scheduled", "running", "dogs", "geese", "data"]
    expected = []
    for word in words:
        verb = wordnet.lemmatize(word, "v")
        expected.append(verb if verb != word else wordnet.lemmatize(word, "n"))
    assert analyze(" ".join(words)) == expected
    assert expected[:5] == ["meeting", "schedule", "run", "dog", "goose"]


def test_lemma_that_is_a_stop_word_is_dropped():
    # "was" is a stop word; "being" is too; "doing" lemmatizes to "do", a stop word
    assert build_analyzer()("doing the review") == ["review"]


def test_lemmas_are_memoized(monkeypatch):
    from jeeves.features import text as text_module

    monkeypatch.setattr(text_module, "LEMMA_MEMO_LIMIT", None)  # a batch job's memo
    lemmatize = build_lemma_filter(config_with_defaults())
    assert lemmatize(["dogs", "dogs", "the"]) == ["dog", "dog"]
    assert lemmatize.memo == {"dogs": "dog", "the": ""}


def test_word_ngrams_match_scikit_learn_order():
    lemmas = ["natural", "gas", "price", "rise"]
    vectorizer = CountVectorizer(ngram_range=(2, 3), token_pattern=r"\S+")
    expected = vectorizer.build_analyzer()(" ".join(lemmas))
    assert word_ngrams(lemmas, 2, 3) == expected
    assert word_ngrams(lemmas, 1, 1) == lemmas
    assert word_ngrams(["one"], 1, 3) == ["one"]


def test_analyzer_is_a_scikit_learn_analyzer_and_pickles():
    analyzer = Analyzer({"ngram_max": 2})
    docs = [{"subject": "Natural gas", "body": "gas prices"}, "natural gas prices"]
    vectorizer = CountVectorizer(analyzer=analyzer).fit(docs)
    assert "natural gas" in vectorizer.vocabulary_
    clone = pickle.loads(pickle.dumps(analyzer))
    assert clone.config == analyzer.config
    assert [clone(doc) for doc in docs] == [analyzer(doc) for doc in docs]


def test_bad_options_name_the_value():
    with pytest.raises(ValueError, match="french"):
        config_with_defaults({"stop_words": "french"})
    with pytest.raises(ValueError, match="colour"):
        config_with_defaults({"colour": 1})
    with pytest.raises(ValueError, match="ngram"):
        config_with_defaults({"ngram_min": 2, "ngram_max": 1})


def test_command_line_round_trip(tmp_path):
    parser = argparse.ArgumentParser()
    add_analyzer_args(parser.add_argument, parser.add_argument)
    config = config_with_defaults({"ngram_max": 3, "lemmatize": False, "strip_accents": "ascii",
                                   "fields": ["subject"], "stop_words": ["foo", "bar"]})
    stop_file = tmp_path / "stop.txt"
    stop_file.write_text("bar\nfoo\n", encoding="utf-8")
    options = parser.parse_args(analyzer_args(config, str(stop_file)))
    assert analyzer_config_from_options(options) == dict(config, stop_words=["bar", "foo"])
    defaults = parser.parse_args([])
    assert analyzer_config_from_options(defaults) == config_with_defaults()


def test_the_lemma_memo_is_bounded_for_long_running_processes(monkeypatch):
    """`jeeves watch` and `serve` bound the memo (LEMMA_MEMO_LIMIT): a
    least-recently-used cache that stays at the bound once full, and the
    lemmas stay those of the unbounded memo."""
    from jeeves.features import text as text_module
    from jeeves.features.text import build_lemma_filter, config_with_defaults

    config = config_with_defaults({})
    tokens = ["meetings", "scheduled", "the", "going"] + ["word%dx" % n for n in range(200)]
    monkeypatch.setattr(text_module, "LEMMA_MEMO_LIMIT", None)  # a batch job's memo
    unbounded = build_lemma_filter(config)
    expected = [unbounded([token]) for token in tokens]
    assert len(unbounded.memo) == len(tokens)
    monkeypatch.setattr(text_module, "LEMMA_MEMO_LIMIT", 50)
    bounded = build_lemma_filter(config)
    sizes = []
    for token, lemmas in zip(tokens, expected):
        assert bounded([token]) == lemmas
        sizes.append(bounded.memo.cache_info().currsize)
    assert sizes[:50] == list(range(1, 51)) and set(sizes[50:]) == {50}
    assert bounded(tokens) == unbounded(tokens)
    # the recently seen tokens are the ones kept: the first ones were turned over
    hits = bounded.memo.cache_info().hits
    bounded(tokens[-10:])
    assert bounded.memo.cache_info().hits == hits + 10
    bounded(tokens[:1])
    assert bounded.memo.cache_info().hits == hits + 10
