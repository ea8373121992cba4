import json

from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer

from jeeves.features.text import Analyzer
from jeeves.features.tfidf import build_term_counter
from jeeves.features.vocabulary import partition_of
from jeeves.jobs.mr_count_ngrams import MRCountNgrams
from tests.helpers import canonical, run_both, run_job
from tests.jobs.text_fixtures import RECORDS, record_lines


def split_rows(pairs):
    """Output pairs -> ({term: (count, df)}, n_docs).

    Checks on the way that each partition row holds its own terms only, once,
    and that there is no other kind of row.
    """
    totals, n_docs = {}, 0
    partitions = set()
    for (kind, name), value in pairs:
        assert kind in ("terms", "documents")
        if kind == "terms":
            assert name not in partitions
            partitions.add(name)
            for term, stats in value.items():
                assert partition_of(term, 64) == name
                assert term not in totals
                totals[term] = tuple(stats)
        else:
            n_docs += value
    return totals, n_docs


def counted(config, records=RECORDS, hash_features=0):
    """{message_id: counts} of build_term_counter, what the vector job weighs."""
    count_terms = build_term_counter(config, hash_features)
    return {record["message_id"]: dict(count_terms(record)) for record in records}


def sklearn_counts(config, records=RECORDS):
    """Per-message counts and totals from scikit-learn's CountVectorizer."""
    vectorizer = CountVectorizer(analyzer=Analyzer(config))
    matrix = vectorizer.fit_transform(records).tocsr()
    terms = vectorizer.get_feature_names_out()
    messages = {}
    for row, record in enumerate(records):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        messages[record["message_id"]] = {
            terms[column]: int(count)
            for column, count in zip(matrix.indices[start:end], matrix.data[start:end])}
    term_counts = matrix.sum(axis=0).A1
    dfs = (matrix > 0).sum(axis=0).A1
    totals = {term: (int(term_counts[i]), int(dfs[i])) for i, term in enumerate(terms)}
    return messages, totals


def test_empty_input():
    assert run_job(MRCountNgrams, [b""]) == []


def test_counts_lemmas_of_subject_and_new_body_only():
    lines = [json.dumps({"message_id": "a", "subject": "Dogs",
                         "body": "The dogs barked at 5pm", "quoted": "cats cats"})]
    totals, n_docs = split_rows(run_job(MRCountNgrams, [lines]))
    assert counted({}, [json.loads(lines[0])]) == {"a": {"dog": 2, "bark": 1, "numbertoken": 1}}
    assert totals == {"dog": (2, 1), "bark": (1, 1), "numbertoken": (1, 1)}
    assert n_docs == 1


def test_counts_equal_count_vectorizer_on_hand_written_records():
    config = {"ngram_max": 3}
    totals, n_docs = split_rows(
        run_job(MRCountNgrams, [record_lines()], ["--ngram-max", "3"]))
    expected_messages, expected_totals = sklearn_counts(config)
    assert n_docs == len(RECORDS)
    messages = counted(config)
    assert messages == expected_messages
    assert totals == expected_totals
    assert messages["m08@corp"] == {}


def test_inline_equals_local():
    run_both(MRCountNgrams, [record_lines()[:5], record_lines()[5:]], ["--ngram-max", "2"])


def test_output_independent_of_record_order():
    lines = record_lines()
    forward = run_job(MRCountNgrams, [lines], ["--ngram-max", "2"])
    backward = run_job(MRCountNgrams, [lines[::-1]], ["--ngram-max", "2"])
    assert canonical(forward) == canonical(backward)


def test_tiny_flush_bound_leaves_counts_unchanged():
    args = ["--ngram-max", "2"]
    default = split_rows(run_job(MRCountNgrams, [record_lines()], args))
    flushed = split_rows(run_job(MRCountNgrams, [record_lines()], args + ["--flush-size", "1"]))
    assert flushed == default


def test_mapper_flushes_partial_totals_past_the_bound():
    job = MRCountNgrams(args=["--flush-size", "3"])
    job.sandbox()
    job.mapper_init()
    rows = [key for line in record_lines() for key, _ in job.mapper_analyze_message(None, line)]
    rows += [key for key, _ in job.mapper_final_flush()]
    partition_rows = [name for kind, name in rows if kind == "terms"]
    # every message but the empty one passes the bound: its terms leave at once
    assert len(partition_rows) > len(set(partition_rows))
    assert {kind for kind, _ in rows} == {"terms", "documents"}


def test_odd_records_are_counted_and_skipped():
    lines = record_lines()[:2] + ["not json", "[1, 2]", json.dumps({"subject": "no id"})]
    totals, n_docs = split_rows(run_job(MRCountNgrams, [lines]))
    assert n_docs == 2
    assert totals == split_rows(run_job(MRCountNgrams, [lines[:2]]))[0]


def test_analyzer_options_reach_the_tasks():
    lines = [json.dumps({"message_id": "a", "subject": "Running", "body": "the café",
                         "quoted": "meetings"})]
    args = ["--no-lemmatize", "--stop-words", "none", "--strip-accents", "ascii",
            "--fields", "subject,quoted"]
    totals, _ = split_rows(run_job(MRCountNgrams, [lines], args))
    assert totals == {"running": (1, 1), "meetings": (1, 1)}


def test_hashing_mode_counts_equal_hashing_vectorizer():
    n_features = 64
    totals, _ = split_rows(run_job(
        MRCountNgrams, [record_lines()], ["--ngram-max", "2", "--hash-features", str(n_features)]))
    messages = counted({"ngram_max": 2}, hash_features=n_features)
    hashed = HashingVectorizer(analyzer=Analyzer({"ngram_max": 2}), n_features=n_features,
                               alternate_sign=False, norm=None).transform(RECORDS).tocsr()
    for row, record in enumerate(RECORDS):
        expected = {str(column): int(value) for column, value in
                    zip(hashed[row].indices, hashed[row].data)}
        assert messages[record["message_id"]] == expected
    assert {bucket: df for bucket, (_, df) in totals.items()} == {
        str(column): int(df) for column, df in enumerate((hashed > 0).sum(axis=0).A1) if df}


def test_duplicate_message_ids_are_documents_of_their_own():
    first = json.dumps({"message_id": "same", "subject": "gas prices"})
    second = json.dumps({"message_id": "same", "subject": "gas meeting"})
    totals, n_docs = split_rows(run_job(MRCountNgrams, [[first, second]]))
    assert n_docs == 2
    assert totals == {"gas": (2, 2), "price": (1, 1), "meet": (1, 1)}


def test_min_df_leaves_rarer_terms_out_of_the_totals_and_counts_them(tmp_path):
    from jeeves.runjob import run_job as run_to_dir

    args = ["--ngram-max", "2"]
    totals, n_docs = split_rows(run_job(MRCountNgrams, [record_lines()], args))
    source = tmp_path / "records.jsonl"
    source.write_text("".join(line + "\n" for line in record_lines()), encoding="utf-8")
    result = run_to_dir(MRCountNgrams, [str(source)], str(tmp_path / "out"),
                        args + ["--min-df", "2", "--flush-size", "3"])
    pruned = split_rows(
        [(tuple(json.loads(key)), json.loads(value))
         for path in sorted((tmp_path / "out").glob("part-*"))
         for key, value in (line.split("\t", 1)
                            for line in path.read_text(encoding="utf-8").splitlines())])
    kept = {term: stats for term, stats in totals.items() if stats[1] >= 2}
    # the document count is untouched; rarer terms are counted
    assert pruned == (kept, n_docs)
    assert 0 < len(kept) < len(totals)
    assert result.counters["count_ngrams"]["terms_under_min_df"] == len(totals) - len(kept)


def test_size_options_below_one_are_refused_before_any_task():
    import subprocess
    import sys

    import pytest

    from jeeves.jobs.mr_tfidf_vectors import MRTfidfVectors

    # built with args (as the driver does), mrjob turns argparse's error into ValueError
    for job_class, args, message in (
            (MRCountNgrams, ["--term-partitions", "0"], "must be 1 or more, not 0"),
            (MRCountNgrams, ["--flush-size", "-3"], "must be at least 1, not -3"),
            (MRTfidfVectors, ["--vocabulary", "v.tsv", "--batch-terms", "x"], "not an integer")):
        with pytest.raises(ValueError, match=message):
            job_class(args)
    # on a command line: argparse's usage line, exit status 2
    script = MRCountNgrams.mr_job_script()
    done = subprocess.run([sys.executable, script, "--term-partitions", "0"], input="",
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(
        "argument --term-partitions: must be 1 or more, not 0")


def test_combiner_passes_a_single_row_as_it_is_and_merges_several():
    from jeeves.jobs.protocols import EncodedJSON

    job = MRCountNgrams(args=[])
    only = EncodedJSON(b'{"b":[1,1],"a":[2,1]}')
    assert list(job.combiner_add_totals(("terms", 3), [only])) == [(("terms", 3), only)]
    rows = list(job.combiner_add_totals(("terms", 3), iter([only, EncodedJSON(b'{"a":[1,1]}'),
                                                            EncodedJSON(b'{"c":[5,2]}')])))
    assert [(key, json.loads(value)) for key, value in rows] == \
        [(("terms", 3), {"a": [3, 2], "b": [1, 1], "c": [5, 2]})]
    assert list(job.combiner_add_totals(("documents", ""), [2, 3])) == [(("documents", ""), 5)]


def test_the_python_totals_flush_at_the_old_default(monkeypatch):
    """Without the native module a term costs a few hundred bytes, not about
    80: the mapper holds at most PYTHON_FLUSH_SIZE terms whatever
    --flush-size says; with it, --flush-size as given."""
    from jeeves.features import kernel
    from jeeves.jobs import mr_count_ngrams

    job = MRCountNgrams(args=["--flush-size", "5000000"])
    job.sandbox()
    job.mapper_init()
    if kernel.native_available():
        assert job.flush_size == 5000000
    monkeypatch.setattr(kernel, "_load_native", lambda: None)
    monkeypatch.setattr(mr_count_ngrams, "Totals", kernel.Totals)
    job = MRCountNgrams(args=["--flush-size", "5000000"])
    job.sandbox()
    job.mapper_init()
    assert isinstance(job.totals, kernel.PythonTotals)
    assert job.flush_size == mr_count_ngrams.PYTHON_FLUSH_SIZE
