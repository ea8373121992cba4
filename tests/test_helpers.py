from tests.helpers import run_both, run_job
from tests.jobs.mr_fixture_word_count import MRFixtureWordCount


def test_run_job_inline_counts_words():
    output = dict(run_job(MRFixtureWordCount, [["a b", "B c"], "c c\n"]))
    assert output == {"a": 1, "b": 2, "c": 3}


def test_run_both_agrees_and_returns_output():
    output = dict(run_both(MRFixtureWordCount, [["x y x"]]))
    assert output == {"x": 2, "y": 1}


def test_run_job_empty_input():
    assert run_job(MRFixtureWordCount, [b""]) == []
