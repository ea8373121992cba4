"""The native vector path (features/kernel.py ``count_rows``, features/native
``Vocab`` and ``RowBatch``) against the Python one (``count`` then
features/tfidf.py's ``tfidf_lines`` over a ``VocabularyTable``): the same
svmlight lines, byte for byte, for every norm, with and without sublinear tf,
with texts the native path leaves to Python in the same batch."""

import random

import pytest

from jeeves.features import kernel
from jeeves.features.kernel import (
    MessageCounter,
    native_available,
    new_row_batch,
    read_native_vocabulary,
    take_rows,
)
from jeeves.features.tfidf import row_lines, tfidf_lines
from jeeves.features.vocabulary import read_vocabulary_table, write_vocabulary
from tests.features.test_kernel import DATA, RECORDS, TEXTS, enron_records

needs_native = pytest.mark.skipif(
    not native_available(),
    reason="the native kernel (features/native) is not built: `make setup` builds it with cargo")

# texts the native path does not take (not ASCII): counted in Python, in the same batch
OTHER_TEXTS = ["Réunion lundi à 10h, meeting moved", "naïve café meetings scheduled",
               {"subject": "Ünïcode", "body": "meetings were scheduled"}, "x\u2028y meeting"]


def vocabulary_of(counter, docs, path, keep=0.7, seed=0):
    """A vocabulary.tsv of most of the docs' terms (ids shuffled, idf varied), written to path."""
    rng = random.Random(seed)
    terms = sorted({term for doc in docs for term in counter.count(doc)})
    kept = [term for term in terms if rng.random() < keep] + ["absent term", "zzz"]
    ids = list(range(len(kept)))
    rng.shuffle(ids)
    rows = [(term, term_id, rng.randint(1, 50), 1.0 + rng.random() * 5)
            for term, term_id in zip(kept, ids)]
    write_vocabulary(str(path), rows)
    return str(path)


def both_ways(counter, docs, vocabulary_path, sublinear_tf, norm, batches=3):
    """(lines by count_rows + row_lines, lines by count + tfidf_lines)."""
    table = read_vocabulary_table(vocabulary_path)
    vocabulary = read_native_vocabulary(vocabulary_path)
    assert vocabulary is not None and len(vocabulary) == len(table.ids)
    message_ids = ["<%d@x>" % number for number in range(len(docs))]
    native_lines, python_lines = [], []
    size = max(1, len(docs) // batches)
    for start in range(0, len(docs), size):
        chunk = list(zip(message_ids[start:start + size], docs[start:start + size]))
        batch = new_row_batch()
        for _, doc in chunk:
            counter.count_rows(doc, vocabulary, batch)
        assert len(batch) == len(chunk)
        rows, counts, lengths = take_rows(batch)
        assert len(batch) == 0 and batch.entries == 0
        native_lines += row_lines([message_id for message_id, _ in chunk], rows, counts,
                                  lengths, vocabulary, sublinear_tf, norm)
        python_lines += tfidf_lines([(message_id, counter.count(doc)) for message_id, doc in chunk],
                                    table, sublinear_tf, norm)
    return native_lines, python_lines


@needs_native
@pytest.mark.parametrize("norm", ["l2", "l1", "none"])
@pytest.mark.parametrize("sublinear_tf", [False, True])
@pytest.mark.parametrize("config", [{"ngram_max": 2}, {}, {"ngram_min": 2, "ngram_max": 3}])
def test_rows_equal_counted_terms(tmp_path, config, sublinear_tf, norm):
    counter = MessageCounter(config).load()
    docs = TEXTS + RECORDS + OTHER_TEXTS + TEXTS[::-1]
    path = vocabulary_of(counter, docs, tmp_path / "vocabulary.tsv")
    python_before = counter.python
    native_lines, python_lines = both_ways(counter, docs, path, sublinear_tf, norm)
    assert native_lines == python_lines
    # the texts that are not ASCII went through Python both ways, the others did not
    assert counter.python - python_before == 2 * len(OTHER_TEXTS)
    assert any(" " in line.split(" # ")[0] for line in native_lines)


@needs_native
def test_a_second_vocabulary_is_not_mistaken_for_the_first(tmp_path):
    """The kernel remembers each lemma's row for one vocabulary at a time."""
    counter = MessageCounter({"ngram_max": 2}).load()
    docs = TEXTS + RECORDS
    for seed in range(3):
        path = vocabulary_of(counter, docs, tmp_path / ("v%d.tsv" % seed), seed=seed)
        native_lines, python_lines = both_ways(counter, docs, path, False, "l2")
        assert native_lines == python_lines


@needs_native
def test_row_batch_keeps_found_rows_with_positive_counts():
    batch = new_row_batch()
    batch.add([3, -1, 5, 7], [2.0, 1.0, 0.0, 1.0])
    batch.add([], [])
    rows, counts, lengths = take_rows(batch)
    assert (rows.tolist(), counts.tolist(), lengths.tolist()) == ([3, 7], [2.0, 1.0], [2, 0])
    with pytest.raises(ValueError):
        batch.add([1], [])


@needs_native
def test_native_vocabulary_limits(tmp_path):
    path = tmp_path / "v.tsv"
    write_vocabulary(str(path), [("a", 0, 1, 1.0), ("b c", 1, 1, 2.0)])
    assert read_native_vocabulary(str(path), max_terms=1) is None
    vocabulary = read_native_vocabulary(str(path), max_terms=2)
    assert vocabulary.rows_of(["b c", "x", "a"]).tolist() == [1, -1, 0]
    write_vocabulary(str(path), [("a", 0, 1, 1.0), ("a", 1, 1, 2.0)])
    assert read_native_vocabulary(str(path)) is None


def test_without_the_native_module_there_is_no_native_vocabulary(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel, "_load_native", lambda: None)
    path = tmp_path / "v.tsv"
    write_vocabulary(str(path), [("a", 0, 1, 1.0)])
    assert read_native_vocabulary(str(path)) is None
    assert not MessageCounter().native_kernel


@needs_native
@pytest.mark.skipif(not (DATA / "enron-mbox").is_dir(),
                    reason="../shared/data/enron-mbox (the Enron corpus) is absent")
def test_rows_equal_counted_terms_on_enron_messages(tmp_path):
    counter = MessageCounter({"ngram_max": 2}).load()
    records = enron_records(1000)
    path = vocabulary_of(counter, records, tmp_path / "vocabulary.tsv", keep=0.5)
    native_lines, python_lines = both_ways(counter, records, path, False, "l2", batches=4)
    assert native_lines == python_lines and len(native_lines) == 1000
