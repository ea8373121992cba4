"""The native lemma filter (jeeves_kernel.LemmaFilter, what the kernel
lemmatizes a new token with) equals features/text.py's ``lemma_of`` and
features/wordnet.py's ``lemmatize`` on every form of the lemma tables, their
inflections and the tokens of Enron messages."""

import functools
import re
from collections import Counter

import pytest

from jeeves.features import kernel, text
from jeeves.features.kernel import MessageCounter, native_available, native_lemma_filter
from jeeves.features.text import (
    Analyzer,
    build_lemma_filter,
    build_preprocessor,
    config_with_defaults,
)
from jeeves.features.wordnet import build_lemmatize, load_lemma_tables
from tests.features.test_kernel import DATA, RECORDS, TEXTS, enron_records

needs_native = pytest.mark.skipif(
    not native_available(),
    reason="the native kernel (features/native) is not built: `make setup` builds it with cargo")

TOKEN = re.compile(r"(?u)\b\w\w+\b")


@functools.lru_cache(maxsize=None)
def table_forms():
    """Every lemma and exception form (keys and values) of both parts of
    speech, and each lemma inflected by every detachment rule that could
    have made it (``stem + new`` -> ``stem + old``)."""
    tables = load_lemma_tables()
    forms = set()
    for pos in ("n", "v"):
        lemmas = tables["lemmas"][pos]
        forms.update(lemmas)
        for form, lemma_forms in tables["exceptions"][pos].items():
            forms.add(form)
            forms.update(lemma_forms)
        for old, new in tables["substitutions"][pos]:
            for lemma in lemmas:
                if lemma.endswith(new):
                    forms.add(lemma[:len(lemma) - len(new)] + old)
    return sorted(forms)


@functools.lru_cache(maxsize=None)
def enron_tokens():
    """The distinct tokens of 2,000 Enron messages, lowercased (as the
    analyzer reads them) and not."""
    tokens = set()
    for lowercase in (True, False):
        preprocess = build_preprocessor(config_with_defaults({"lowercase": lowercase}))
        for record in enron_records(2000):
            tokens.update(TOKEN.findall(preprocess(
                "\n".join(record.get(field) or "" for field in ("subject", "body")))))
    return sorted(tokens)


def odd_forms():
    """Forms the tables do not hold: case, placeholders, stop words, short
    and long, non-ASCII (the filter takes any str, the kernel only ASCII)."""
    forms = ["urltoken", "emailtoken", "numbertoken", "Urltoken", "the", "was", "doing",
             "being", "us", "ss", "ies", "s", "es", "ing", "ed", "men", "a", "", "x" * 300,
             "naïve", "cafés", "Meetings", "MEETINGS", "Was", "geese", "oxen", "mice",
             "better", "best", "axes", "leaves", "studies", "ties", "lying", "dying"]
    for form in table_forms()[::50]:
        forms += [form.upper(), form.capitalize(), form + "s", form + "ing", form + "_"]
    return forms


def assert_filters_equal(config, forms):
    native = native_lemma_filter(config_with_defaults(config))
    assert native is not None
    python = build_lemma_filter(config_with_defaults(config)).lemma_of
    differing = [(form, native(form), python(form)) for form in forms
                 if native(form) != python(form)]
    assert differing == [], differing[:20]


@needs_native
def test_native_lemma_of_equals_python_on_every_form_of_the_tables():
    forms = table_forms()
    assert len(forms) > 300000
    assert_filters_equal({}, forms)


@needs_native
@pytest.mark.skipif(not (DATA / "enron-mbox").is_dir(),
                    reason="../shared/data/enron-mbox (the Enron corpus) is absent")
def test_native_lemma_of_equals_python_on_enron_tokens():
    tokens = enron_tokens()
    assert len(tokens) > 12000
    assert_filters_equal({}, tokens)


@needs_native
@pytest.mark.parametrize("config", [
    {}, {"stop_words": None}, {"stop_words": ["meeting", "be", "numbertoken", "dog", "é"]},
    {"lemmatize": False}, {"lemmatize": False, "stop_words": None}])
def test_native_lemma_of_equals_python_under_each_configuration(config):
    assert_filters_equal(config, odd_forms() + table_forms()[::20])


@needs_native
def test_native_lemmatize_equals_wordnet_lemmatize():
    tables = load_lemma_tables()
    python = build_lemmatize(tables)
    native = native_lemma_filter(config_with_defaults())
    forms = table_forms()[::3] + odd_forms()
    for pos in ("n", "v"):
        differing = [form for form in forms if native.lemmatize(form, pos) != python(form, pos)]
        assert differing == [], (pos, differing[:20])
    assert native.lemmatize("meetings", "n") == "meeting"
    assert native.lemmatize("was", "v") == "be"
    with pytest.raises(ValueError):
        native.lemmatize("was", "a")


@needs_native
def test_the_native_filter_reproduces_morphy_on_odd_tables():
    """Tables of another content: an empty suffix, a form that is its own
    exception, several lemmas of equal length (the first wins)."""
    import jeeves_kernel

    tables = {
        "lemmas": {"n": ["ab", "ba", "abc", "x", "zz", "a b"], "v": ["go", "went", "run"]},
        "exceptions": {"n": {"abc": ["ba", "ab", "ba"], "xx": ["zz", "ab"]},
                       "v": {"went": ["go"], "ran": ["run", "went"]}},
        "substitutions": {"n": [["c", "b"], ["c", ""], ["", "x"]], "v": [["s", ""]]},
    }
    python = build_lemmatize(tables)
    native = jeeves_kernel.LemmaFilter([], [], tables)
    for form in ["abc", "xx", "ac", "ab", "a", "", "bac", "went", "ran", "runs", "gos", "zz",
                 "q", "a b"]:
        for pos in ("n", "v"):
            assert native.lemmatize(form, pos) == python(form, pos), (form, pos)
    with pytest.raises(ValueError):
        jeeves_kernel.LemmaFilter([], [], {"lemmas": {"n": [], "v": []}})
    with pytest.raises(ValueError):
        jeeves_kernel.LemmaFilter([], [], dict(tables, substitutions={"n": [["a"]], "v": []}))


@needs_native
def test_the_counter_lemmatizes_natively_and_equals_the_analyzer():
    for config in ({}, {"ngram_max": 2}, {"stop_words": None}, {"lemmatize": False}):
        counter = MessageCounter(config).load()
        assert counter.native_lemmas
        analyze = Analyzer(config).load()
        for doc in TEXTS + RECORDS:
            assert list(counter.count(doc).items()) == list(Counter(analyze(doc)).items())


@needs_native
def test_a_lemmatizer_without_tables_is_called_in_python(monkeypatch):
    """A lemmatizer other than features/wordnet.py's (here one without its
    tables) or stop words the native filter cannot hold: the Python filter."""
    calls = []
    lemmatize = text.load_wordnet_lemmatize()

    def other_lemmatize(word, pos):
        calls.append(word)
        return lemmatize(word, pos)

    monkeypatch.setattr(text, "load_wordnet_lemmatize", lambda: other_lemmatize)
    counter = MessageCounter({"ngram_max": 2}).load()
    assert not counter.native_lemmas
    assert counter.count("Meetings were scheduled") == {
        "meeting": 1, "schedule": 1, "meeting schedule": 1}
    assert calls
    monkeypatch.undo()
    counter = MessageCounter({"stop_words": ["the", 5]}).load()
    assert not counter.native_lemmas
    assert counter.count("the dogs") == {"dog": 1}


def test_without_the_native_module_there_is_no_native_filter(monkeypatch):
    monkeypatch.setattr(kernel, "_load_native", lambda: None)
    assert native_lemma_filter(config_with_defaults()) is None
    assert not MessageCounter().load().native_lemmas
