import io
import json
import os
import pathlib

import numpy as np
import pytest
from sklearn.datasets import load_svmlight_file
from sklearn.feature_extraction.text import (
    CountVectorizer,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)

from jeeves.features.parts import part_files
from jeeves.features.text import Analyzer
from jeeves.features.vocabulary import (
    read_hashed_vocabulary,
    read_vocabulary_rows,
    read_vocabulary_table,
    write_vocabulary,
)
from jeeves.jobs.mr_tfidf_vectors import MRTfidfVectors
from jeeves.pipeline.features import build_features
from tests.helpers import run_both, run_job
from tests.jobs.text_fixtures import RECORDS, record_lines

# (analyzer config, pipeline options, the same as TfidfVectorizer parameters)
OPTION_SETS = {
    "unigrams": ({}, {}, {}),
    "1-3-grams, min_df=2, max_df=0.9": (
        {"ngram_max": 3}, {"min_df": 2, "max_df": 0.9}, {"min_df": 2, "max_df": 0.9}),
    "sublinear_tf, l1": ({}, {"sublinear_tf": True, "norm": "l1"},
                         {"sublinear_tf": True, "norm": "l1"}),
    "no idf smoothing, no norm": ({"ngram_max": 2}, {"smooth_idf": False, "norm": "none"},
                                  {"smooth_idf": False, "norm": None}),
}


def read_vectors(tfidf_dir, n_features):
    """svmlight output -> ({message_id: row index}, csr matrix), via scikit-learn's reader."""
    lines = []
    for path in part_files(tfidf_dir):
        with open(path, "rb") as handle:
            lines.extend(line for line in handle if line.strip())
    ids = [json.loads(line.split(b" # ", 1)[1]) for line in lines]
    matrix, labels = load_svmlight_file(io.BytesIO(b"".join(lines)), n_features=n_features,
                                        zero_based=True)
    assert set(labels) <= {0.0}
    return {message_id: row for row, message_id in enumerate(ids)}, matrix.tocsr()


def assert_same_rows(rows, matrix, records, expected):
    """Each record's row of ``matrix`` equals its row of ``expected`` within 1e-9."""
    assert sorted(rows) == sorted(record["message_id"] for record in records)
    for position, record in enumerate(records):
        ours = matrix[rows[record["message_id"]]].toarray()
        theirs = expected[position].toarray()
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


def run_pipeline(tmp_path, records, config, options, runner="inline"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "messages.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records),
                      encoding="utf-8")
    build_features([str(source)], str(tmp_path), config, runner=runner, **options)
    return tmp_path / "features"


@pytest.mark.parametrize("name", sorted(OPTION_SETS))
def test_vectors_equal_tfidf_vectorizer(tmp_path, name):
    config, options, sklearn_options = OPTION_SETS[name]
    features_dir = run_pipeline(tmp_path, RECORDS, config, options)
    vectorizer = TfidfVectorizer(analyzer=Analyzer(config), **sklearn_options)
    expected = vectorizer.fit_transform(RECORDS)

    vocabulary_rows = read_vocabulary_rows(features_dir / "vocabulary.tsv")
    assert {term: term_id for term, term_id, _, _ in vocabulary_rows} == vectorizer.vocabulary_
    for _, term_id, _, idf in vocabulary_rows:
        assert idf == pytest.approx(vectorizer.idf_[term_id], abs=1e-12)
    rows, matrix = read_vectors(features_dir / "tfidf", len(vocabulary_rows))
    assert_same_rows(rows, matrix, RECORDS, expected)


def test_max_features_keeps_the_most_frequent_terms(tmp_path):
    config = {"ngram_max": 2}
    counts = CountVectorizer(analyzer=Analyzer(config)).fit_transform(RECORDS).sum(axis=0).A1
    ordered = sorted(counts, reverse=True)
    # scikit-learn breaks ties at the cut arbitrarily: cut where the counts differ
    limit = max(k for k in range(1, 12) if ordered[k - 1] > ordered[k])
    features_dir = run_pipeline(tmp_path, RECORDS, config, {"max_features": limit})
    vectorizer = TfidfVectorizer(analyzer=Analyzer(config), max_features=limit)
    expected = vectorizer.fit_transform(RECORDS)
    vocabulary_rows = read_vocabulary_rows(features_dir / "vocabulary.tsv")
    assert len(vocabulary_rows) == limit
    assert {term: term_id for term, term_id, _, _ in vocabulary_rows} == vectorizer.vocabulary_
    rows, matrix = read_vectors(features_dir / "tfidf", limit)
    assert_same_rows(rows, matrix, RECORDS, expected)


def test_hashing_mode_equals_hashing_vectorizer_and_tfidf_transformer(tmp_path):
    n_features = 2 ** 10
    features_dir = run_pipeline(tmp_path, RECORDS, {"ngram_max": 2},
                                {"hash_features": n_features, "sublinear_tf": True})
    hashed = HashingVectorizer(analyzer=Analyzer({"ngram_max": 2}), n_features=n_features,
                               alternate_sign=False, norm=None).transform(RECORDS)
    expected = TfidfTransformer(sublinear_tf=True).fit_transform(hashed)
    rows, matrix = read_vectors(features_dir / "tfidf", n_features)
    assert_same_rows(rows, matrix, RECORDS, expected)


def test_vectors_do_not_depend_on_record_order(tmp_path):
    forward = run_pipeline(tmp_path / "forward", RECORDS, {"ngram_max": 2}, {"min_df": 2})
    backward = run_pipeline(tmp_path / "backward", RECORDS[::-1], {"ngram_max": 2},
                            {"min_df": 2})
    assert (forward / "vocabulary.tsv").read_text() == (backward / "vocabulary.tsv").read_text()

    def lines(features_dir):
        return sorted(line for path in part_files(features_dir / "tfidf")
                      for line in open(path))
    assert lines(forward) == lines(backward)


def test_empty_input_gives_empty_vocabulary_and_no_vectors(tmp_path):
    features_dir = run_pipeline(tmp_path, [], {}, {})
    assert read_vocabulary_rows(features_dir / "vocabulary.tsv") == []
    assert all(os.path.getsize(path) == 0 for path in part_files(features_dir / "tfidf"))


def test_vectors_job_empty_input(tmp_path):
    vocabulary = tmp_path / "vocabulary.tsv"
    write_vocabulary(vocabulary, [("meet", 0, 1, 1.5)])
    assert run_job(MRTfidfVectors, [b""], ["--vocabulary", str(vocabulary)]) == []


def test_vectors_job_hand_written_records(tmp_path):
    """Records analyzed, counted and weighted; odd lines counted and skipped."""
    vocabulary = tmp_path / "vocabulary.tsv"
    write_vocabulary(vocabulary, [("budget", 0, 1, 2.0), ("meet", 1, 2, 1.0)])
    lines = [json.dumps({"message_id": "a@x", "subject": "Meet", "body": "meeting meets budget"}),
             '"quarantine"\t{"reason": "not_email"}',
             "not json",
             json.dumps({"subject": "no id"}),
             json.dumps({"message_id": "b@x", "subject": "pruned", "body": ""}),
             '"message"\t' + json.dumps({"message_id": "c@x", "body": "budget"})]
    job = MRTfidfVectors(["--vocabulary", str(vocabulary), "--norm", "l1", "-"])
    job.sandbox(stdin=io.BytesIO("".join(line + "\n" for line in lines).encode()))
    with job.make_runner() as runner:
        runner.run()
        output = sorted(line.strip() for line in b"".join(runner.cat_output()).decode()
                        .splitlines())
        counters = runner.counters()[0]["tfidf_vectors"]
    # a@x: weights budget 1*2.0 = 2, meet 3*1.0 = 3; l1 norm 5
    assert output == ['0 # "b@x"', '0 0:0.4 1:0.6 # "a@x"', '0 0:1.0 # "c@x"']
    kernel = {name: counters.pop(name) for name in list(counters)
              if name.startswith("kernel_")}
    assert counters == {"vectors": 3, "empty_vectors": 1, "invalid_json": 1,
                        "missing_message_id": 1, "not_a_message_row": 1}
    # every text is ASCII: counted natively when the kernel is built
    assert sum(kernel.values()) == 3


def test_vectors_job_inline_equals_local(tmp_path):
    vocabulary = tmp_path / "vocabulary.tsv"
    write_vocabulary(vocabulary, [("budget", 0, 3, 1.5), ("gas", 1, 3, 1.5),
                                  ("natural gas", 2, 4, 1.25)])
    output = run_both(MRTfidfVectors, [record_lines()],
                      ["--vocabulary", str(vocabulary), "--sublinear-tf", "--ngram-max", "2"])
    assert len(output) == len(RECORDS)



DATA = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"
REAL_SOURCES = [DATA / "enron-berkeley", DATA / "spamassassin" / "spam-1",
                DATA / "spamassassin" / "hard-ham-1"]
REAL_OPTION_SETS = {name: OPTION_SETS[name] for name in [
    "unigrams", "1-3-grams, min_df=2, max_df=0.9", "sublinear_tf, l1",
    "no idf smoothing, no norm"]}


@pytest.fixture(scope="module")
def parsed_messages(tmp_path_factory):
    """About 2,000 real messages (Berkeley Enron + SpamAssassin) parsed by `jeeves parse`."""
    from jeeves.cli import main

    missing = [str(path) for path in REAL_SOURCES if not path.is_dir()]
    if missing:
        pytest.skip("real corpora not found: %s" % ", ".join(missing))
    out = tmp_path_factory.mktemp("parsed")
    assert main(["parse", "--input"] + [str(path) for path in REAL_SOURCES]
                + ["--output", str(out)]) == 0
    records = [json.loads(line) for path in sorted((out / "messages").glob("part-*"))
               for line in open(path, encoding="utf-8")]
    assert 1500 <= len(records) <= 2500
    return out / "messages", records


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REAL_OPTION_SETS))
def test_vectors_equal_tfidf_vectorizer_on_real_messages(tmp_path, parsed_messages, name):
    messages_dir, records = parsed_messages
    config, options, sklearn_options = REAL_OPTION_SETS[name]
    build_features([str(messages_dir)], str(tmp_path), config, **options)
    vectorizer = TfidfVectorizer(analyzer=Analyzer(config), **sklearn_options)
    expected = vectorizer.fit_transform(records)
    vocabulary_rows = read_vocabulary_rows(tmp_path / "features" / "vocabulary.tsv")
    assert len(vocabulary_rows) > 1000
    assert {term: term_id for term, term_id, _, _ in vocabulary_rows} == vectorizer.vocabulary_
    rows, matrix = read_vectors(tmp_path / "features" / "tfidf", len(vocabulary_rows))
    assert_same_rows(rows, matrix, records, expected)


def test_tiny_batches_leave_the_vectors_unchanged(tmp_path):
    vocabulary = tmp_path / "vocabulary.tsv"
    write_vocabulary(vocabulary, [("budget", 0, 3, 1.5), ("gas", 1, 3, 1.5),
                                  ("meet", 2, 2, 1.25), ("gas price", 3, 1, 2.0)])
    args = ["--vocabulary", str(vocabulary), "--ngram-max", "2"]
    inputs = [record_lines()]
    whole = run_job(MRTfidfVectors, inputs, args)
    batched = run_job(MRTfidfVectors, inputs, args + ["--batch-terms", "1"])
    assert batched == whole
    assert len(whole) == len(RECORDS)
    assert any(" 1:" in value for _, value in whole)
    # a vocabulary over the in-memory limit is read batch by batch, same vectors
    by_batch = run_job(MRTfidfVectors, inputs, args + ["--batch-terms", "3",
                                                       "--max-vocabulary-in-memory", "2"])
    assert by_batch == whole


def test_a_vocabulary_over_the_limit_is_read_by_batch(tmp_path):
    source = tmp_path / "messages.jsonl"
    source.write_text(json.dumps({"message_id": "a", "body": "gas meet gas"}) + "\n"
                      + json.dumps({"message_id": "b", "body": "budget"}) + "\n",
                      encoding="utf-8")
    vocabulary = tmp_path / "vocabulary.tsv"
    write_vocabulary(vocabulary, [("budget", 0, 1, 2.0), ("gas", 1, 1, 2.0),
                                  ("meet", 2, 1, 2.0)])
    job = MRTfidfVectors(["--vocabulary", str(vocabulary), "--norm", "none",
                          "--max-vocabulary-in-memory", "2", str(source)])
    job.sandbox()
    with job.make_runner() as runner:
        runner.run()
        lines = sorted(b"".join(runner.cat_output()).decode().splitlines())
        counters = runner.counters()
    assert lines == ['0 0:2.0 # "b"', '0 1:4.0 2:2.0 # "a"']
    # one per map task that held no whole vocabulary
    assert counters[0]["tfidf_vectors"]["vocabulary_read_by_batch"] >= 1


def test_a_batch_reads_only_its_terms_from_the_vocabulary(tmp_path):
    vocabulary = tmp_path / "vocabulary.tsv"
    write_vocabulary(vocabulary, [("budget", 0, 1, 2.0), ("meet", 1, 2, 1.0)])
    table = read_vocabulary_table(vocabulary, {"meet", "unknown"})
    assert len(table) == 1
    assert table_rows(table, ["meet", "unknown", "budget"]) == {"meet": (1, 1.0)}
    assert table_rows(read_vocabulary_table(vocabulary), ["budget", "meet"]) == {
        "budget": (0, 2.0), "meet": (1, 1.0)}


def table_rows(table, terms):
    """{term: (id, idf)} of the ``terms`` a vocabulary table finds."""
    rows = table.rows_of(terms)
    return {term: (int(table.ids[row]), float(table.idf[row]))
            for term, row in zip(terms, rows.tolist()) if row >= 0}


def test_vocabulary_tables_read_every_row_in_blocks(tmp_path):
    vocabulary = tmp_path / "vocabulary.tsv"
    rows = [("term %d" % number, number, number + 1, 1.0 + 1 / (number + 3))
            for number in range(1000)]
    write_vocabulary(vocabulary, rows)
    expected = {term: (term_id, term_idf) for term, term_id, _, term_idf in rows}
    lookups = list(expected) + ["absent", "term 1000", "", "term  1"]
    # blocks of about 100 bytes: many blocks, rows never cut
    for table in (read_vocabulary_table(vocabulary, block_bytes=100),
                  read_vocabulary_table(vocabulary),
                  read_hashed_vocabulary(vocabulary, block_bytes=100),
                  read_hashed_vocabulary(vocabulary)):
        assert len(table) == 1000
        assert table_rows(table, lookups) == expected
    wanted = {"term 7", "term 999", "absent"}
    assert table_rows(read_vocabulary_table(vocabulary, wanted, block_bytes=100), lookups) == {
        "term 7": expected["term 7"], "term 999": expected["term 999"]}
    assert read_hashed_vocabulary(vocabulary, max_terms=999) is None
    assert len(read_hashed_vocabulary(vocabulary, max_terms=1000)) == 1000


def test_hashed_vocabulary_checks_the_crc_of_a_hash_match(tmp_path):
    vocabulary = tmp_path / "vocabulary.tsv"
    write_vocabulary(vocabulary, [("budget", 0, 1, 2.0), ("meet", 1, 2, 1.0)])
    table = read_hashed_vocabulary(vocabulary)
    assert table.rows_of(["meet", "budget", "gas"]).tolist()[2] == -1
    # a term whose 64-bit hash matches but whose CRC-32 does not is not found
    row = table.rows_of(["meet"])[0]
    table.checks[row] ^= 1
    assert table.rows_of(["meet"]).tolist() == [-1]
    empty = tmp_path / "empty.tsv"
    write_vocabulary(empty, [])
    assert read_hashed_vocabulary(empty).rows_of(["meet"]).tolist() == [-1]


def test_vocabulary_table_refuses_another_file(tmp_path):
    path = tmp_path / "other.tsv"
    path.write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a vocabulary.tsv"):
        read_vocabulary_table(path)
