import json
import pathlib

import pytest
from nltk.collocations import BigramAssocMeasures, BigramCollocationFinder

from jeeves.features.parts import part_files
from jeeves.features.text import Analyzer
from jeeves.features.vocabulary import read_vocabulary_rows
from jeeves.jobs.mr_count_ngrams import MRCountNgrams
from jeeves.jobs.mr_score_collocations import MRScoreCollocations
from jeeves.pipeline.features import build_features
from tests.helpers import run_both, run_job
from tests.jobs.text_fixtures import RECORDS, record_lines


def nltk_scores():
    """NLTK's LLR of every bigram of the analyzer's lemma stream, document by document."""
    analyzer = Analyzer()
    finder = BigramCollocationFinder.from_documents([analyzer(record) for record in RECORDS])
    total_tokens = sum(len(analyzer(record)) for record in RECORDS)
    scores = dict(finder.score_ngrams(BigramAssocMeasures.likelihood_ratio))
    return {" ".join(bigram): score for bigram, score in scores.items()}, total_tokens


def count_inputs(tmp_path):
    counts_dir = tmp_path / "counts"
    run_job(MRCountNgrams, [record_lines()], ["--ngram-max", "2"], output_dir=counts_dir)
    return [pathlib.Path(path) for path in part_files(counts_dir)]


def test_empty_input():
    assert run_job(MRScoreCollocations, [b""], ["--total-tokens", "1"]) == []


def test_llr_equals_nltk_on_hand_written_records(tmp_path):
    expected, total_tokens = nltk_scores()
    output = dict(run_job(MRScoreCollocations, count_inputs(tmp_path),
                          ["--total-tokens", str(total_tokens)]))
    assert sorted(output) == sorted(expected)
    for bigram, score in expected.items():
        assert output[bigram] == pytest.approx(score, rel=1e-9, abs=1e-9)


def test_min_llr_keeps_only_strong_bigrams(tmp_path):
    expected, total_tokens = nltk_scores()
    threshold = sorted(expected.values())[len(expected) // 2]
    output = dict(run_job(MRScoreCollocations, count_inputs(tmp_path),
                          ["--total-tokens", str(total_tokens), "--min-llr", repr(threshold)]))
    assert sorted(output) == sorted(bigram for bigram, score in expected.items()
                                    if score >= threshold)
    assert "natural gas" in output


def test_hand_written_counts():
    # "a b" twice in 10 tokens, a 3 times, b 2 times: cells 2, 0, 1, 7
    lines = ['["terms",0]\t{"a": [3, 2], "a b": [2, 2]}', '["terms",5]\t{"b": [2, 2]}',
             '["message","m"]\t{"a": 3}', '["documents",""]\t2']
    output = dict(run_job(MRScoreCollocations, [lines], ["--total-tokens", "10"]))
    expected = BigramAssocMeasures.likelihood_ratio(2, (3, 2), 10)
    assert list(output) == ["a b"]
    assert output["a b"] == pytest.approx(expected, rel=1e-12)


def test_inline_equals_local(tmp_path):
    _, total_tokens = nltk_scores()
    run_both(MRScoreCollocations, count_inputs(tmp_path), ["--total-tokens", str(total_tokens)])


def test_min_llr_filters_the_bigrams_of_the_vocabulary(tmp_path):
    expected, _ = nltk_scores()
    threshold = sorted(expected.values())[len(expected) // 2]
    source = tmp_path / "messages.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in RECORDS),
                      encoding="utf-8")
    build_features([str(source)], str(tmp_path), {"ngram_max": 2}, min_llr=threshold)
    terms = [row[0] for row in read_vocabulary_rows(tmp_path / "features" / "vocabulary.tsv")]
    unigrams = {term for record in RECORDS for term in Analyzer()(record)}
    assert sorted(term for term in terms if " " in term) == sorted(
        bigram for bigram, score in expected.items() if score >= threshold)
    assert {term for term in terms if " " not in term} == unigrams
