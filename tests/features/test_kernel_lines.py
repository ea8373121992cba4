"""The jobs' native plumbing (features/kernel.py ``count_line``,
``count_line_rows``, ``read_native_vocabulary``; features/native/src/vectors.rs)
against what it replaces: a record line read natively counts exactly as
``count(ujson.loads(line))`` / ``count_rows`` of the decoded record, or is
left to that Python path (None, nothing added); a vocabulary.tsv read
natively is the Python reader's table, bit for bit."""

import json
import os
import random
import tempfile

import numpy as np
import pytest
import ujson
from hypothesis import given, settings
from hypothesis import strategies as st

from jeeves.features import kernel
from jeeves.features.kernel import (
    MessageCounter,
    Totals,
    native_available,
    new_row_batch,
    read_native_vocabulary,
    take_rows,
)
from jeeves.features.vocabulary import read_vocabulary_columns, write_vocabulary
from tests.features.test_kernel import RECORDS, TEXTS

needs_native = pytest.mark.skipif(
    not native_available(),
    reason="the native kernel (features/native) is not built: `make setup` builds it with cargo")

pytestmark = needs_native

# lines the native reader takes (the expected message id) or leaves to Python (None)
LINES = [
    ('{"message_id":"a","subject":"x","subject":"meetings scheduled","body":null}', "a"),
    ('{"message_id":"first","message_id":"last","body":"deal price deal"}', "last"),
    ('{"message_id":"\\u0041b","body":"tab\\there \\/slash \\"q\\" \\u0041 line\\nbreak\\r"}',
     "Ab"),
    ('{"to":[{"a":[1,2.5,{"b":null}]},true,false],"message_id":"m","body":"deal price"}', "m"),
    ('{"size":123456789012345678901234567890,"message_id":"m","body":"deal"}', "m"),
    ('{"message_id":"\\u00e9@x","body":"meetings"}', "\u00e9@x"),
    ('{"message_id":"\u00e9@x","subject":"Re: deal","body":"nul\\u0000byte www.x.com"}',
     "\u00e9@x"),
    ('{"message_id":"m","body":"deal"}   ', "m"),
    ('{"message_id":"m"}', "m"),
    ('{"message_id":"m","subject":"","body":""}', "m"),
    ('{"message_id":"m","subject":{"nested":"meetings"},"body":"x"}', None),
    ('{"message_id":"m","subject":5,"body":"x"}', None),
    ('{"message_id":"m","subject":false,"body":"x"}', None),
    ('{"message_id":"m","body":["a list"]}', None),
    ('{"message_id":"","body":"deal"}', None),
    ('{"message_id":null,"body":"deal"}', None),
    ('{"message_id":7,"body":"deal"}', None),
    ('{"body":"deal"}', None),
    ('{"message_id":"m","body":"caf\\u00e9 deal"}', None),
    ('{"message_id":"m","body":"caf\u00e9 deal"}', None),
    ('{"message_id":"m","body":NaN}', None),
    # ujson reads 1e400 as inf; an ignored value either way
    ('{"message_id":"m","size":1e400,"body":"deal"}', "m"),
    ('{"message_id":"m","body":"raw\x01control"}', None),
    ('{"message_id":"m","body":"deal"} trailing', None),
    ('{"message_id":"m","body":"deal",}', None),
    (' {"message_id":"m","body":"deal"}', None),
    ('["message_id","m"]', None),
    ("null", None),
    ("", None),
    ('{"message_id":"m","body":"lone \\ud800 surrogate"}', None),
]


def lines_of(records):
    return [ujson.dumps(dict(record, message_id="<%d@x>" % number))
            for number, record in enumerate(records)]


DOCS = RECORDS + [{"subject": "s%d" % number, "body": text} for number, text in enumerate(TEXTS)]


def assert_line_counts_as_python(counter, line, expected=...):
    """count_line(line) either returns the decoded record's message id and adds
    what count(record) adds, or returns None and adds nothing."""
    native, reference = Totals(), Totals()
    texts_before = counter.native
    message_id = counter.count_line(line, native)
    if expected is not ...:
        assert message_id == expected, line
    if message_id is None:
        assert len(native) == 0 and counter.native == texts_before
        return None
    assert counter.native == texts_before + 1
    record = ujson.loads(line)
    assert message_id == record["message_id"]
    counter.count(record, reference)
    assert native.drain(5) == reference.drain(5)
    return message_id


@pytest.mark.parametrize("config", [{}, {"ngram_max": 2}, {"fields": ["body", "subject"]},
                                    {"ngram_min": 2, "ngram_max": 3, "lemmatize": False}])
def test_count_line_equals_count_of_the_decoded_record(config):
    counter = MessageCounter(config).load()
    for line, expected in LINES:
        assert_line_counts_as_python(counter, line, expected)
    for line in lines_of(DOCS):
        record = ujson.loads(line)
        ascii_text = all(isinstance(record.get(field), (str, type(None))) and
                         (record.get(field) or "").isascii() for field in ("subject", "body"))
        taken = assert_line_counts_as_python(counter, line)
        assert (taken is not None) == ascii_text, line


def test_count_line_leaves_every_line_to_python_when_it_cannot_read_it(monkeypatch):
    # a field named twice (or "message_id" as a field) is read in Python
    counter = MessageCounter({"fields": ["body", "body"]}).load()
    assert counter.count_line('{"message_id":"m","body":"deal"}', Totals()) is None
    counter = MessageCounter({"fields": ["subject", "message_id"]}).load()
    assert counter.count_line('{"message_id":"m","body":"deal"}', Totals()) is None
    # totals that are not the native ones
    counter = MessageCounter().load()
    assert counter.count_line('{"message_id":"m","body":"deal"}', kernel.PythonTotals()) is None
    monkeypatch.setattr(kernel, "_load_native", lambda: None)
    counter = MessageCounter().load()
    assert counter.count_line('{"message_id":"m","body":"deal"}', Totals()) is None


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(max_codepoint=0x7f), max_size=30)
    | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8)
RECORD_KEYS = st.sampled_from(["message_id", "subject", "body", "to", "x"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(RECORD_KEYS, JSON_VALUES), max_size=6), st.booleans())
def test_count_line_equals_python_on_generated_records(pairs, ensure_ascii):
    # pairs may repeat a key: the object text holds it twice, the last one wins
    line = "{%s}" % ",".join("%s:%s" % (json.dumps(key), json.dumps(value,
                                                                    ensure_ascii=ensure_ascii))
                             for key, value in pairs)
    counter = MessageCounter({"ngram_max": 2}).load()
    try:
        record = ujson.loads(line)
        counter.count(record)
    except (ValueError, TypeError, AttributeError):
        # the Python path rejects it: the native reader must leave it to it
        assert counter.count_line(line, Totals()) is None
        return
    assert_line_counts_as_python(counter, line)


@needs_native
def test_count_line_into_one_totals_across_drains_equals_the_python_analyzer():
    """Many lines into one Totals, drained every few lines, with a second
    Totals between: the kernel remembers each bigram's place in one Totals
    at a time (features/native/src/vectors.rs), as the Python analyzer's
    Counters add up."""
    from collections import Counter

    from jeeves.features.text import Analyzer

    config = {"ngram_max": 2}
    counter = MessageCounter(config).load()
    analyze = Analyzer(config).load()
    lines = lines_of(DOCS) * 3
    native, reference, other = Totals(), kernel.PythonTotals(), Totals()
    drained, expected = [], []
    for number, line in enumerate(lines):
        if counter.count_line(line, native) is None:
            continue
        reference.add(dict(Counter(analyze(ujson.loads(line)))))
        if number % 4 == 1:
            counter.count_line(line, other)
        if number % 7 == 6:
            drained.append(native.drain(3))
            expected.append(reference.drain(3))
    drained.append(native.drain(3))
    expected.append(reference.drain(3))
    assert len(expected) > 3 and any(b" " in value for rows in expected for _, value in rows)
    assert drained == expected


def test_count_line_rows_equals_count_rows_of_the_decoded_record(tmp_path):
    counter = MessageCounter({"ngram_max": 2}).load()
    lines = [line for line, _ in LINES] + lines_of(DOCS)
    terms = sorted({term for line in lines_of(DOCS) for term in
                    counter.count(ujson.loads(line))})
    rng = random.Random(3)
    kept = [term for term in terms if rng.random() < 0.7]
    path = str(tmp_path / "vocabulary.tsv")
    write_vocabulary(path, [(term, number, 1, 1.5) for number, term in enumerate(kept)])
    vocabulary = read_native_vocabulary(path)
    native, reference = new_row_batch(), new_row_batch()
    taken = 0
    for line in lines:
        message_id = counter.count_line_rows(line, vocabulary, native)
        if message_id is None:
            continue
        taken += 1
        record = ujson.loads(line)
        assert message_id == record["message_id"]
        counter.count_rows(record, vocabulary, reference)
    assert taken > len(DOCS) // 2
    for got, want in zip(take_rows(native), take_rows(reference)):
        assert got.tobytes() == want.tobytes()


def write_rows(path, rows):
    write_vocabulary(str(path), rows)
    return str(path)


def python_columns(path, max_terms=None):
    return read_vocabulary_columns(path, max_terms)


def test_read_vocabulary_equals_the_python_reader(tmp_path):
    rng = random.Random(5)
    terms = sorted({"".join(rng.choice("abcdeé ü🙂_1") for _ in range(rng.randint(1, 9)))
                    for _ in range(3000)})
    ids = list(range(len(terms)))
    rng.shuffle(ids)
    rows = [(term, term_id, rng.randint(1, 100), 1.0 + rng.random() * 9)
            for term, term_id in zip(terms, ids)]
    rows.append(("tiny", len(rows), 1, 1e-05))
    path = write_rows(tmp_path / "vocabulary.tsv", rows)
    with open(path, "rb") as handle:
        read = kernel._load_native().read_vocabulary(handle.read())
    assert read is not None
    vocab, ids_bytes, idf_bytes = read
    python_terms, python_ids, python_idf = python_columns(path)
    assert len(vocab) == len(python_terms)
    assert ids_bytes == python_ids.tobytes() and idf_bytes == python_idf.tobytes()
    rows_of = np.frombuffer(vocab.rows_of(python_terms + ["absent"]), dtype=np.int64)
    assert rows_of.tolist() == list(range(len(python_terms))) + [-1]
    table = read_native_vocabulary(path)
    assert table.ids.tobytes() == python_ids.tobytes()
    assert table.idf.tobytes() == python_idf.tobytes()
    assert read_native_vocabulary(path, max_terms=len(rows) - 1) is None
    assert read_native_vocabulary(path, max_terms=len(rows)) is not None
    empty = write_rows(tmp_path / "empty.tsv", [])
    assert len(read_native_vocabulary(empty)) == 0


@pytest.mark.parametrize("text", [
    "term\tid\tdf\tidf\na\t0\t1\tinf\n",
    "term\tid\tdf\tidf\na\t1_0\t1\t1.5\n",
    "term\tid\tdf\tidf\na\t0\t1\t1_5.0\n",
    "term\tid\tdf\tidf\na\t 0\t1\t1.5\n",
    "term\tid\tdf\tidf\na\r\t0\t1\t1.5\n",
    "term\tid\tdf\tidf\na\t0\t1\t1.5\na\t1\t1\t1.5\n",
    "term\tid\tdf\tidf\na\t0\t1\n",
    "term\tid\tdf\tidf\na\t0\t1\t1.5\tx\n",
    "term\tid\tdf\tidf\na\t0\t1\t1.5",
    "term\tid\tdf\tidf\na\t0\t1\t1.5\n\nb\t1\t1\t1.5\n",
    "term\tid\tdf\tidf\na b\t0\t1\t1.5\nb\t1\t1\t1.5\nb\t2\t1\t1.5\n",
    "term\tid\tdf\n",
    "",
])
def test_read_vocabulary_leaves_odd_files_to_the_python_reader(tmp_path, text):
    assert kernel._load_native().read_vocabulary(text.encode("utf-8")) is None
    assert kernel._load_native().read_vocabulary(b"term\tid\tdf\tidf\n\xff\t0\t1\t1.5\n") is None


def test_a_vocab_of_terms_finds_each_row_and_refuses_a_term_twice():
    terms = ["b", "a", "a b", "", "\u00e9t\u00e9", "ab"]
    vocab = kernel._load_native().Vocab(terms)
    assert len(vocab) == len(terms)
    rows = np.frombuffer(vocab.rows_of(terms + ["c", "a "]), dtype=np.int64)
    assert rows.tolist() == list(range(len(terms))) + [-1, -1]
    with pytest.raises(ValueError, match="twice"):
        kernel._load_native().Vocab(["a", "b", "a"])
    with pytest.raises(ValueError, match="twice"):
        kernel._load_native().Vocab(["a b", "b", "a b"])


@pytest.mark.parametrize("seed", range(4))
def test_a_vocab_finds_terms_of_any_spacing_as_a_dict_does(seed):
    """Two-word terms are kept as pairs of word ids (features/native,
    vectors.rs): every other spacing (none, two spaces, a space at an end,
    an empty word) by its text; rows_of answers as a dict of the terms."""
    rng = random.Random(seed)
    alphabet = "ab \u00e9"
    terms = list(dict.fromkeys("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))
                               for _ in range(300)))
    rng.shuffle(terms)
    rows = {term: row for row, term in enumerate(terms)}
    queries = terms + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
                       for _ in range(300)]
    vocab = kernel._load_native().Vocab(terms)
    assert len(vocab) == len(terms)
    found = np.frombuffer(vocab.rows_of(queries), dtype=np.int64).tolist()
    assert found == [rows.get(query, -1) for query in queries]
    text = "term\tid\tdf\tidf\n" + "".join("%s\t%d\t1\t1.5\n" % (term, row)
                                          for term, row in rows.items())
    native = kernel.NativeVocabulary(*kernel._load_native().read_vocabulary(text.encode()))
    assert native.row_list(queries) == [rows.get(query, -1) for query in queries]


def reference_filter(value, low, high):
    """mr_build_vocabulary's Python filtering of a terms row's value."""
    totals = ujson.loads(value)
    in_range = {term: [count, df] for term, (count, df) in totals.items() if low <= df <= high}
    return (ujson.dumps(in_range).encode() if in_range else None), len(totals), len(in_range)


@pytest.mark.parametrize("low, high", [(1, 1.0 * 10 ** 9), (2, 5), (2.5, 4.0), (0, 0), (3, 2),
                                       (1, float("inf"))])
def test_filter_terms_equals_decoding_and_filtering(low, high):
    rng = random.Random(7)
    terms = sorted({"".join(rng.choice('ab/"\\é🙂 \t_') for _ in range(rng.randint(1, 6)))
                    for _ in range(400)})
    totals = {term: [rng.randint(1, 10 ** 12), rng.randint(1, 6)] for term in terms}
    value = ujson.dumps(totals)
    assert kernel.filter_terms(value, low, high) == reference_filter(value, low, high)
    assert kernel.filter_terms(value.encode(), low, high) == reference_filter(value, low, high)
    # terms not sorted (but distinct) are read too
    shuffled = dict(reversed(list(totals.items())))
    assert kernel.filter_terms(ujson.dumps(shuffled), low, high) == \
        reference_filter(ujson.dumps(shuffled), low, high)


@pytest.mark.parametrize("value", [
    '{"a":[1,2],"a":[3,4]}', '{"a":[1,2.0]}', '{"a":[1,2,3]}', '[1,2]', '{"a":[1,2]} x',
    '{"a":[1,%d]}' % (2 ** 64), '{"a":[1,%d]}' % (2 ** 53 + 1), '{"\\ud800":[1,2]}', "",
])
def test_filter_terms_leaves_odd_rows_to_python(value):
    assert kernel.filter_terms(value, 1, 10) is None
    assert kernel.filter_terms('{"a":[1,2]}', 2 ** 53 + 1, 2 ** 60) is None


def test_write_kept_vocabulary_equals_the_python_writer(tmp_path, monkeypatch):
    from jeeves.features.vocabulary import read_kept_terms, vocabulary_rows_from_kept

    rng = random.Random(11)
    lines = []
    for partition in range(5):
        terms = sorted({"".join(rng.choice("abé🙂 /_") for _ in range(rng.randint(1, 5)))
                        for _ in range(200)})
        block = {term: [rng.randint(1, 99), rng.randint(1, 40)] for term in terms}
        lines.append(b'["kept",%d]\t%s\n' % (partition, ujson.dumps(block).encode()))
    lines.append(b"\n")
    for settings_ in [(1000, True, True), (1000, False, True), (77, True, False)]:
        native_path, python_path = tmp_path / "native.tsv", tmp_path / "python.tsv"
        count = kernel.write_kept_vocabulary(str(native_path), lines, *settings_)
        rows = vocabulary_rows_from_kept(read_kept_terms(lines), *settings_)
        write_vocabulary(str(python_path), rows)
        assert count == len(rows)
        assert native_path.read_bytes() == python_path.read_bytes()
        # the bytes the features stage sends (no file), native or not
        assert kernel.kept_vocabulary_bytes(lines, *settings_) == (python_path.read_bytes(),
                                                                    count)
        with monkeypatch.context() as patched:
            patched.setattr(kernel, "_native_module", [None])
            assert kernel.kept_vocabulary_bytes(lines, *settings_) == (
                python_path.read_bytes(), count)
    # other rows (max_features' "term"<TAB>[count, df]), a term with a tab: Python's
    odd = lines + [b'"zz"\t[3,4]\n']
    count = kernel.write_kept_vocabulary(str(native_path), odd, 1000)
    write_vocabulary(str(python_path), vocabulary_rows_from_kept(read_kept_terms(odd), 1000))
    assert native_path.read_bytes() == python_path.read_bytes() and count == 1 + len(rows)
    with pytest.raises(ValueError, match="tab"):
        kernel.write_kept_vocabulary(str(native_path), [b'["kept",0]\t{"a\\tb":[1,2]}\n'], 9)


def test_a_large_vocabulary_equals_the_python_writer():
    """KeptTerms keeps the terms' text in one block and sorts with a stable
    sort, which merges the sorted runs the count job's blocks are (vectors.rs):
    the same bytes as Python's one sort, for blocks sorted or not, terms
    sharing long prefixes."""
    from jeeves.features.vocabulary import read_kept_terms, vocabulary_rows_from_kept

    rng = random.Random(5)
    terms = list({"".join(rng.choice("aab\u00e9\U0001f642 ") for _ in range(rng.randint(1, 9)))
                  for _ in range(90000)})
    assert len(terms) > 2 ** 15
    rng.shuffle(terms)
    for in_order in (False, True):
        lines = []
        for part in range(3):
            block = terms[part::3]
            block = sorted(block) if in_order else block
            lines.append(b'["kept",%d]\t%s\n' % (part, ujson.dumps(
                {term: [rng.randint(1, 9), rng.randint(1, 30)] for term in block}).encode()))
        rows = vocabulary_rows_from_kept(read_kept_terms(lines), 5000)
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "vocabulary.tsv")
            write_vocabulary(path, rows)
            with open(path, "rb") as handle:
                expected = handle.read()
        assert kernel.kept_vocabulary_bytes(lines, 5000) == (expected, len(terms))


# ids as vocabulary.tsv rows; repeated (equal ids keep their order, as
# numpy's stable sort); and some negative or past 32 bits (the kernel sorts
# those messages' entries as tuples, the others as packed numbers)
IDS_OF_ROW = {
    "rows": lambda row: row,
    "duplicate": lambda row: row // 3,
    "wide": lambda row: row - 5 if row % 7 else row + 2 ** 33,
}


@pytest.mark.parametrize("norm", ["l2", "l1", "none"])
@pytest.mark.parametrize("ids", sorted(IDS_OF_ROW))
def test_native_weighting_equals_numpy(tmp_path, norm, ids):
    from jeeves.features.tfidf import batch_lines, row_lines
    from tests.features.test_kernel_vectors import OTHER_TEXTS, vocabulary_of

    counter = MessageCounter({"ngram_max": 2}).load()
    docs = DOCS + OTHER_TEXTS + [""] * 2
    path = vocabulary_of(counter, docs, tmp_path / "vocabulary.tsv")
    if ids != "rows":
        with open(path) as handle:
            header, *rows = handle.read().splitlines()
        rows = ["\t".join([term, str(IDS_OF_ROW[ids](int(term_id))), df, idf])
                for term, term_id, df, idf in (row.split("\t") for row in rows)]
        with open(path, "w") as handle:
            handle.write("\n".join([header] + rows) + "\n")
    kernel._last_vocabulary.clear()
    vocabulary = read_native_vocabulary(path)
    # read natively, so weighted natively (not by numpy through row_lines)
    assert kernel.weigh_rows(new_row_batch(), vocabulary, norm) is not None
    assert kernel.weigh_rows(new_row_batch(), vocabulary, norm, sublinear_tf=True) is not None
    message_ids = ["<%d@x>" % number for number in range(len(docs))]
    native, reference = new_row_batch(), new_row_batch()
    for doc in docs:
        counter.count_rows(doc, vocabulary, native)
        counter.count_rows(doc, vocabulary, reference)
    for sublinear_tf in (False, True):
        rows, counts, lengths = take_rows(reference)
        expected = row_lines(message_ids, rows, counts, lengths, vocabulary, sublinear_tf, norm)
        assert batch_lines(message_ids, native, vocabulary, sublinear_tf, norm) == expected
        assert len(native) == 0
        for doc in docs:
            counter.count_rows(doc, vocabulary, native)
            counter.count_rows(doc, vocabulary, reference)
    # a label the native formatter does not take: formatted in Python, same values
    rows, counts, lengths = take_rows(reference)
    assert batch_lines(message_ids, native, vocabulary, False, norm, label=1) == \
        row_lines(message_ids, rows, counts, lengths, vocabulary, False, norm, label=1)


def test_sublinear_tf_is_weighted_natively_with_numpys_logarithms(tmp_path, monkeypatch):
    from jeeves.features.tfidf import weighted_entries

    path = write_rows(tmp_path / "vocabulary.tsv",
                      [("a", 0, 1, 1.5), ("b", 1, 2, 1.25), ("c", 2, 3, 1.1)])
    vocabulary = read_native_vocabulary(path)
    rng = np.random.default_rng(7)
    counts = rng.integers(1, 3000, size=300).astype(np.float64)
    rows = rng.integers(0, 3, size=300)
    lengths = [100, 150, 50]

    def batch_of(counts):
        batch = new_row_batch()
        start = 0
        for length in lengths:
            batch.add(rows[start:start + length].tolist(), counts[start:start + length].tolist())
            start += length
        return batch

    batch = batch_of(counts)
    assert batch.max_count == counts.max()
    kernel._tf_logs[0] = b""  # grown from nothing to the batch's largest count
    ids, values, taken_lengths = kernel.weigh_rows(batch, vocabulary, "l2", sublinear_tf=True)
    assert len(kernel._tf_logs[0]) // 8 >= counts.max() and len(batch) == 0
    owner = np.repeat(np.arange(len(lengths)), lengths)
    # the sorted entries may keep a row twice in a message: numpy weighs them as they come
    _, expected_ids, expected = weighted_entries(rows, counts, owner, len(lengths), vocabulary,
                                                 sublinear_tf=True, norm="l2")
    assert np.frombuffer(ids, dtype=np.int64).tolist() == expected_ids.tolist()
    assert np.frombuffer(values, dtype=np.float64).tobytes() == expected.tobytes()
    assert np.frombuffer(taken_lengths, dtype=np.int64).tolist() == lengths
    # numpy's log of a value does not depend on where it is in an array
    assert kernel.tf_logs(3000)[:8 * 3000] == np.log(np.arange(1.0, 3001.0)).tobytes()
    # a count past the table, or not a whole number: left to numpy, the batch kept
    monkeypatch.setattr(kernel, "TF_LOGS_MAX", 100)
    batch = batch_of(counts)
    assert kernel.weigh_rows(batch, vocabulary, "l2", sublinear_tf=True) is None
    assert len(batch) == len(lengths)
    assert batch.weigh(vocabulary.vocab, "l2", kernel.tf_logs(10)[:8 * 10]) is None
    halves = counts.copy()
    halves[5] = 2.5
    assert batch_of(halves).weigh(vocabulary.vocab, "l2", kernel.tf_logs(4000)) is None


def test_the_vocabulary_read_last_is_given_again_for_the_same_bytes(tmp_path):
    path = write_rows(tmp_path / "vocabulary.tsv", [("a", 0, 1, 1.5), ("b", 1, 2, 1.25)])
    first = read_native_vocabulary(path)
    assert read_native_vocabulary(path) is first
    assert read_native_vocabulary(path, max_terms=5) is not first
    write_rows(tmp_path / "vocabulary.tsv", [("a", 0, 1, 1.5), ("c", 1, 2, 1.25)])
    again = read_native_vocabulary(path)
    assert again is not first and again.rows_of(["c", "b"]).tolist() == [1, -1]


@needs_native
def test_counters_of_one_configuration_share_a_kernel_and_count_their_own_texts():
    """The inline runner runs a job's tasks in one process: each task's
    counter uses the process's kernel for its configuration (its lemma memo
    already warm), counts what a fresh one would, and its stats are its own."""
    config = {"ngram_max": 2, "fields": ["subject", "body"]}
    lines = lines_of(DOCS)
    first = MessageCounter(config).load()
    first_totals = Totals()
    for line in lines:
        first.count_line(line, first_totals)
    taken = first.native
    assert taken > 0
    second = MessageCounter(config).load()
    assert second._kernel is first._kernel and second.native == 0
    kernel._kernels.clear()
    fresh = MessageCounter(config).load()
    assert fresh._kernel is not first._kernel
    second_totals, fresh_totals = Totals(), Totals()
    for line in lines:
        second.count_line(line, second_totals)
        fresh.count_line(line, fresh_totals)
    assert second.native == fresh.native == taken and first.native == 2 * taken
    assert second_totals.drain(3) == fresh_totals.drain(3) == first_totals.drain(3)
    # another configuration, another kernel
    assert MessageCounter({"ngram_max": 1}).load()._kernel is not fresh._kernel
