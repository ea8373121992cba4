"""features/kernel.py: the native kernel (features/native) equals the Python
reference (features/text.py, features/vocabulary.py), keys, order and bytes."""

import gzip
import json
import random
import sys
from collections import Counter
from pathlib import Path

import pytest
import ujson
from hypothesis import given, settings
from hypothesis import strategies as st

from jeeves.features import kernel
from jeeves.features.kernel import (
    MessageCounter,
    PythonTotals,
    Totals,
    encode_totals,
    merge_encoded,
    native_available,
)
from jeeves.features.mailformats import split_mbox
from jeeves.features.parsing import message_record
from jeeves.features.text import Analyzer, build_preprocessor, config_with_defaults
from jeeves.features.vocabulary import merge_totals, partition_of, partition_totals

needs_native = pytest.mark.skipif(
    not native_available(),
    reason="the native kernel (features/native) is not built: `make setup` builds it with cargo")

DATA = Path(__file__).parents[2].parent / "shared" / "data"

CONFIGS = {
    "default": {},
    "1-2": {"ngram_max": 2},
    "2-3": {"ngram_min": 2, "ngram_max": 3},
    "1-3": {"ngram_max": 3},
    "keep case": {"lowercase": False, "ngram_max": 2},
    "no placeholders": {"placeholders": False},
    "no lemmas": {"lemmatize": False},
    "no stop words": {"stop_words": None, "ngram_max": 2},
    "custom stop words": {"stop_words": ["meeting", "enron", "numbertoken"]},
    "raw tokens": {"lemmatize": False, "stop_words": None, "lowercase": False,
                   "placeholders": False},
    "visible placeholders": {"lemmatize": False, "stop_words": None, "ngram_max": 2},
    "no case, no placeholders": {"lowercase": False, "placeholders": False},
    "NFD, unicode accents": {"unicode_form": "NFD", "strip_accents": "unicode"},
    "no form, ascii accents": {"unicode_form": None, "strip_accents": "ascii"},
    "body first": {"fields": ["body", "subject"], "ngram_max": 2},
}

TEXTS = [
    "Meetings were scheduled for Monday; the meeting was moved, meetings are scheduling.",
    "See http://www.enron.com/a?b=1, https://x.org/path<br> and WWW.Example.COM/x \"quoted\"",
    "ftp://files.enron.com/a.txt'x' HTTP://WWW.ENRON.COM/X Www.Enron.Com url at end http://",
    "Mail Jeff.Skilling@enron.com or a.b+c-d@mail-1.enron.co.uk. bad@x @y z@w.c- u@host.a-b-",
    "..x@y.z .a@b.c +a@b.c a@b.c.d.e-f-g- a@@b.c a@b..c a_b@c_d.e_f 1@2.3 http://a@b.com",
    "Call 555-1234 at 10am on 2nd May, pay $1,000.50 or 3.5%; 12:30/45 v2 a1b2 x9 99bottles",
    "1-2-3- 4/5/2001 6:30pm 7,8,9. 10.. 11,- 0x1f 1e5 _1 1_ 2__ a1 1a",
    "fields\x1cseparated\x1dby\x1einfo\x1fseparators and\x0bvertical\x0ctabs http://a.com/\x1cb",
    "http://a.com/\x0bb http://a.com/\tb http://a.com/\x0cb www.x\x1dy www.'quoted' www.<b>",
    "snake_case under_score _leading trailing_ __dunder__ a_1 1_a _ __",
    "The and of was were is be it its they them himself",
    "UPPER Case MiXeD ThE WAS Meetings SCHEDULED",
    "", "a", "ab", "x y z", "\n\n", "www.", "://", "@", "1", "1a", "a1",
    "meetings meetings meetings scheduled scheduling schedules meeting meeting",
    "deal deal deal price deal price deal price deal",
]

RECORDS = [
    {"subject": "Re: meetings", "body": "The meetings were scheduled at 10am.", "quoted": "old"},
    {"subject": None, "body": "body only, see www.enron.com"},
    {"body": "no subject field at all"},
    {"subject": "subject only"},
    {},
    {"subject": "", "body": ""},
]

_analyzers = {}
_counters = {}


def analyze(name):
    if name not in _analyzers:
        _analyzers[name] = Analyzer(CONFIGS[name]).load()
    return _analyzers[name]


def native_counter(name):
    """One loaded MessageCounter per configuration (loading WordNet once)."""
    if name not in _counters:
        _counters[name] = MessageCounter(CONFIGS[name]).load()
    return _counters[name]


def reference_counts(name, doc):
    return dict(Counter(analyze(name)(doc)))


def assert_counts_equal(counts, reference):
    assert list(counts.items()) == list(reference.items())


@needs_native
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_native_counts_equal_the_analyzer_on_ascii(name):
    counter = MessageCounter(CONFIGS[name]).load()
    for doc in TEXTS + RECORDS:
        assert_counts_equal(counter.count(doc), reference_counts(name, doc))
    assert counter.stats() == {"native": len(TEXTS) + len(RECORDS), "python": 0,
                               "native_unavailable": False}


@needs_native
def test_placeholders_stop_words_and_lemmas():
    counts = native_counter("default").count(
        "Meetings were scheduled: mail jeff@enron.com, see www.enron.com at 10am")
    assert counts == {"meeting": 1, "schedule": 1, "mail": 1, "emailtoken": 1,
                      "urltoken": 1, "numbertoken": 1}
    counts = native_counter("1-2").count("deal price deal price")
    assert list(counts.items()) == [("deal", 2), ("price", 2), ("deal price", 2),
                                    ("price deal", 1)]


@needs_native
def test_the_lemma_filter_is_called_once_per_distinct_token():
    import jeeves_kernel

    calls = []

    def lemma_of(token):
        calls.append(token)
        return "" if token == "the" else token.upper()

    counter = jeeves_kernel.Kernel(["subject"], True, True, 1, 2, lemma_of)
    assert counter.count("the cat the Hat") == {"CAT": 1, "HAT": 1, "CAT HAT": 1}
    assert counter.count({"subject": "cat hat"}) == {"CAT": 1, "HAT": 1, "CAT HAT": 1}
    assert sorted(calls) == ["cat", "hat", "the"]
    assert len(counter) == 3


@needs_native
def test_a_lemma_with_a_space_leaves_n_grams_to_python():
    import jeeves_kernel

    def lemma_of(token):
        return "a b" if token == "xx" else token

    # "a b" + "c" and "a" + "b c" would be one term: only Python counts that right
    assert jeeves_kernel.Kernel(["subject"], True, True, 1, 2, lemma_of).count("xx yy") is None
    unigrams = jeeves_kernel.Kernel(["subject"], True, True, 1, 1, lemma_of)
    assert unigrams.count("xx yy xx") == {"a b": 2, "yy": 1}


# A skewed alphabet: the characters and pieces the placeholder patterns and
# the token pattern turn on, Python's extra whitespace (\x1c-\x1f) included.
PIECES = (list("abcxyzXYZ0129_@.:/-,+<>\"' \n\t") + ["\x1c", "\x1f", "\x0b", "\x0c", "\r"]
          + ["http://", "https://", "ftp://", "www.", "WWW.", "HTTP://", "com", "meetings",
             "was", "the", "scheduled", "10am", "1,000", "a@b.c", ".com", "-1"])
ascii_texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@needs_native
@settings(max_examples=400, deadline=None)
@given(text=ascii_texts, name=st.sampled_from(
    ["default", "1-2", "2-3", "keep case", "raw tokens", "visible placeholders", "no lemmas"]))
def test_native_equals_python_on_random_ascii(text, name):
    assert_counts_equal(native_counter(name).count(text), reference_counts(name, text))


@needs_native
@settings(max_examples=1000, deadline=None)
@given(text=ascii_texts, lowercase=st.booleans())
def test_native_placeholders_equal_python_re(text, lowercase):
    """The substitutions themselves: a token of one character, which the
    counts leave out, would hide a match one character longer."""
    import jeeves_kernel

    config = config_with_defaults({"lowercase": lowercase})
    native = jeeves_kernel.Kernel(config["fields"], lowercase, True, 1, 1, str)
    assert native.preprocess(text) == build_preprocessor(config)(text)
    assert native.preprocess(text + "é") is None


@needs_native
@settings(max_examples=100, deadline=None)
@given(text=st.text(st.characters(max_codepoint=127), max_size=60))
def test_native_equals_python_on_any_ascii(text):
    assert_counts_equal(native_counter("visible placeholders").count(text),
                        reference_counts("visible placeholders", text))


@pytest.mark.parametrize("doc", [
    "café meetings", "naïve ﬁle 10am", {"subject": "Grüße", "body": "meetings"},
    {"subject": "ascii", "body": "\u00e9t\u00e9 2nd"}, "\udc80 lone surrogate meetings",
    {"subject": 0, "body": "a falsy non-str field is empty"},
])
def test_other_texts_fall_back_to_python(doc):
    counter = MessageCounter({"ngram_max": 2}).load()
    assert_counts_equal(counter.count(doc), reference_counts("1-2", doc))
    assert counter.stats()["python"] == 1
    assert counter.native == 0


def test_a_field_python_rejects_raises_as_in_python():
    with pytest.raises(TypeError):
        MessageCounter().count({"subject": ["a list"], "body": "text"})


def test_another_token_pattern_falls_back_to_python():
    config = {"token_pattern": r"(?u)\b\w+\b", "lemmatize": False, "stop_words": None}
    counter = MessageCounter(config).load()
    assert counter.count("a bc a") == dict(Counter(Analyzer(config)("a bc a"))) == {"a": 2,
                                                                                      "bc": 1}
    assert (counter.native, counter.python) == (0, 1)


def reference_totals(count_dicts, partitions):
    term_counts, document_frequencies = Counter(), Counter()
    for counts in count_dicts:
        term_counts.update(counts)
        document_frequencies.update(counts.keys())
    return partition_totals(term_counts, document_frequencies, partitions)


def assert_drain_equals_reference(rows, count_dicts, partitions):
    reference = reference_totals(count_dicts, partitions)
    assert [partition for partition, _ in rows] == [partition for partition, _ in reference]
    for (_, encoded), (partition, totals) in zip(rows, reference):
        assert isinstance(encoded, bytes)
        # the bytes the job's encoder writes for the reference
        assert encoded == ujson.dumps(totals).encode()
        decoded = json.loads(encoded)
        assert decoded == {term: list(stats) for term, stats in totals.items()}
        assert all(partition_of(term, partitions) == partition for term in decoded)


@pytest.mark.parametrize("name", ["default", "1-2", "2-3"])
@pytest.mark.parametrize("partitions", [1, 7, 64])
def test_totals_drain_equals_partition_totals(name, partitions):
    counter = MessageCounter(CONFIGS[name]).load()
    docs = TEXTS + RECORDS + ["café meetings deal"]
    through_count, through_add = Totals(), Totals()
    count_dicts = []
    for doc in docs:
        count_dicts.append(counter.count(doc, through_count))
        through_add.add(counter.count(doc))
    assert len(through_count) == len(through_add) == len(set().union(*count_dicts))
    rows = through_count.drain(partitions)
    assert through_add.drain(partitions) == rows
    assert_drain_equals_reference(rows, count_dicts, partitions)
    assert len(through_count) == 0
    assert through_count.drain(partitions) == []


def test_totals_after_a_drain_and_with_several_totals():
    """The kernel remembers where a term is in a Totals: never across a drain
    or in another Totals."""
    counter = MessageCounter({"ngram_max": 2}).load()
    first, second = Totals(), Totals()
    docs = ["deal price deal", "price deal lunch", "deal lunch lunch", "café deal price"]
    for doc in docs:
        counter.count(doc, first)
    first.drain(3)
    counts = [counter.count(doc, first) for doc in docs]
    for doc in reversed(docs):
        counter.count(doc, second)
        counter.count(doc, first)
    counts += [counter.count(doc) for doc in reversed(docs)]
    assert_drain_equals_reference(first.drain(3), counts, 3)
    counts = [counter.count(doc) for doc in reversed(docs)]
    assert_drain_equals_reference(second.drain(3), counts, 3)


def test_totals_write_any_term_as_ujson_does():
    counts = {"é": 1, 'a"b\\c/d\x01\x1f\x7f': 2, "😀 x": 3, "\u2028\n\t\b\f\r": 4, "plain": 5}
    totals = Totals()
    totals.add(counts)
    totals.add({"plain": 2})
    assert_drain_equals_reference(totals.drain(5), [counts, {"plain": 2}], 5)


def test_encode_totals_writes_as_ujson():
    totals = {"a/b": [1, 2], "é😀\u2028": [3, 4], 'q"\\\x00\x7f\\u007f': [5, 6]}
    assert encode_totals(totals) == ujson.dumps(totals).encode()
    assert json.loads(encode_totals({"\udc80": [1, 1]})) == {"\udc80": [1, 1]}


def reference_merge(values, min_df=0):
    totals = merge_totals(json.loads(value) for value in values)
    unigram_tokens = sum(stats[0] for term, stats in totals.items() if " " not in term)
    if isinstance(min_df, int) and min_df > 1:
        kept = {term: stats for term, stats in totals.items() if stats[1] >= min_df}
    else:
        kept = totals
    return dict(sorted(kept.items())), unigram_tokens, len(totals) - len(kept)


def assert_merge_equals_reference(values, min_df=0):
    encoded, unigram_tokens, dropped = merge_encoded(iter(values), min_df)
    totals, reference_tokens, reference_dropped = reference_merge(values, min_df)
    assert isinstance(encoded, bytes)
    assert json.loads(encoded) == ujson.loads(encoded) == totals
    assert list(json.loads(encoded)) == list(totals)
    assert (unigram_tokens, dropped) == (reference_tokens, reference_dropped)
    return encoded, totals


PARTIALS = [b'{"deal":[3,2],"deal price":[1,1],"price":[2,2]}',
            b'{"price":[1,1],"lunch":[4,3],"deal price":[2,2]}',
            '{"lunch":[1,1],"z\\u00e9ro":[1,1],"a\\/b":[2,1],"\\ud83d\\ude00":[1,1]}',
            '{"zéro":[2,2],"😀 x":[1,1]}'.encode()]


@pytest.mark.parametrize("min_df", [0, 1, 2, 3, 2.5, 100])
def test_merge_encoded_equals_merge_totals(min_df):
    encoded, totals = assert_merge_equals_reference(PARTIALS, min_df)
    assert encoded == ujson.dumps(totals).encode()


def test_merge_encoded_of_nothing():
    assert merge_encoded([]) == (b"{}", 0, 0)
    assert merge_encoded([b"{}", "{}"], 2) == (b"{}", 0, 0)


@pytest.mark.parametrize("odd", [
    b'{"\\ud800x":[1,1],"deal":[1,1]}',  # a lone surrogate
    b'{"deal":[1,1],"deal":[5,2]}',  # a repeated key: json keeps the last
    b'{"deal":[1.0,1]}',  # not an int
    b'{"deal":[1180591620717411303424,1]}',  # past 64 bits
])
def test_merge_encoded_leaves_what_it_cannot_read_to_python(odd):
    for values in ([odd] + PARTIALS, PARTIALS[:2] + [odd] + PARTIALS[2:], PARTIALS + [odd]):
        assert_merge_equals_reference(values, 2)


@pytest.mark.parametrize("seed", range(3))
def test_merge_encoded_sorts_terms_that_share_long_prefixes(seed):
    """The native merger sorts by a term's first 8 bytes as a number, then by
    the whole term: terms alike for 8 bytes or more, a NUL, a shorter term
    that is a prefix of another, a multibyte character across the 8th byte."""
    rng = random.Random(seed)
    stems = ["", "abcdefgh", "abcdefg", "abcdefg\u00e9", "\x00\x00", "a b"]
    partials = [json.dumps({rng.choice(stems) + "".join(rng.choice("\x00ab\u00e9 ")
                                                         for _ in range(rng.randint(0, 4))):
                            [rng.randint(1, 9), rng.randint(1, 3)]
                            for _ in range(200)}).encode()
                for _ in range(3)]
    for min_df in (0, 2):
        encoded, totals = assert_merge_equals_reference(partials, min_df)
        assert list(json.loads(encoded)) == sorted(totals)


def test_merge_encoded_of_decoded_rows_and_invalid_json():
    assert merge_encoded([{"a": [1, 1]}, b'{"a":[2,1]}']) == (b'{"a":[3,2]}', 3, 0)
    with pytest.raises(ValueError):
        merge_encoded([b'{"a":[1,1]}', b"{not json"])


partial_terms = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8) | st.sampled_from(
    ["deal", "price", "deal price", "a/b", "é"])
partials = st.dictionaries(partial_terms, st.tuples(st.integers(0, 10**9), st.integers(1, 50)),
                           max_size=12)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(partials, max_size=6), min_df=st.integers(0, 4),
       raw_utf8=st.booleans())
def test_merge_encoded_equals_merge_totals_on_random_partials(values, min_df, raw_utf8):
    texts = [json.dumps(value, ensure_ascii=not raw_utf8).encode() for value in values]
    encoded, totals = assert_merge_equals_reference(texts, min_df)
    assert encoded == ujson.dumps(totals).encode()


@pytest.fixture
def native_hidden(monkeypatch):
    monkeypatch.setattr(kernel, "_load_native", lambda: None)


def test_without_the_native_module_everything_runs_in_python(native_hidden):
    assert not native_available()
    counter = MessageCounter({"ngram_max": 2}).load()
    totals = Totals()
    assert isinstance(totals, PythonTotals)
    docs = TEXTS + RECORDS
    count_dicts = [counter.count(doc, totals) for doc in docs]
    for doc, counts in zip(docs, count_dicts):
        assert_counts_equal(counts, reference_counts("1-2", doc))
    assert counter.stats() == {"native": 0, "python": len(docs), "native_unavailable": True}
    assert_drain_equals_reference(totals.drain(7), count_dicts, 7)
    assert len(totals) == 0
    encoded, _ = assert_merge_equals_reference(PARTIALS, 2)
    assert encoded == ujson.dumps(reference_merge(PARTIALS, 2)[0]).encode()


def test_a_module_that_does_not_load_is_unavailable(monkeypatch):
    class BrokenFinder:
        """Finds jeeves_kernel as a .so for another platform would load."""

        def find_spec(self, name, path=None, target=None):
            if name == "jeeves_kernel":
                raise OSError("wrong ELF class")

    monkeypatch.delitem(sys.modules, "jeeves_kernel", raising=False)
    monkeypatch.setattr(sys, "meta_path", [BrokenFinder()] + sys.meta_path)
    monkeypatch.setattr(kernel, "_native_module", [])
    assert not native_available()
    assert MessageCounter().stats()["native_unavailable"]


@needs_native
def test_a_native_counter_adds_to_python_totals():
    counter = MessageCounter({"ngram_max": 2}).load()
    totals = PythonTotals()
    count_dicts = [counter.count(doc, totals) for doc in TEXTS]
    assert counter.python == 0
    assert_drain_equals_reference(totals.drain(7), count_dicts, 7)


def enron_records(limit):
    """Subject+body records of the first ``limit`` messages of the Enron mbox files."""
    records = []
    for path in sorted((DATA / "enron-mbox").glob("*.mbox.gz")):
        for offset, raw in split_mbox(gzip.decompress(path.read_bytes())):
            source = {"uri": path.name, "index": offset, "offset": offset}
            records.append(message_record(raw, source, ["enron-mbox", path.stem])[0])
            if len(records) == limit:
                return records
    return records


@needs_native
@pytest.mark.skipif(not (DATA / "enron-mbox").is_dir(),
                    reason="../shared/data/enron-mbox (the Enron corpus) is absent")
def test_native_equals_python_on_enron_messages():
    records = enron_records(2000)
    assert len(records) == 2000
    counter, totals, count_dicts = native_counter("1-2"), Totals(), []
    native_before = counter.native
    for record in records:
        counts = counter.count(record, totals)
        assert_counts_equal(counts, reference_counts("1-2", record))
        count_dicts.append(counts)
    # nearly all of Enron is ASCII: the native path is what this compared
    assert counter.native - native_before > 1900
    assert_drain_equals_reference(totals.drain(64), count_dicts, 64)
