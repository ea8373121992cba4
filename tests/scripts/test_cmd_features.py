import json

from jeeves.cli import main
from jeeves.features.text import Analyzer, config_with_defaults
from tests.jobs.text_fixtures import RECORDS


def write_records(path):
    path.write_text("".join(json.dumps(record) + "\n" for record in RECORDS), encoding="utf-8")
    return path


def test_features_writes_vocabulary_vectors_and_analyzer(tmp_path, capsys):
    source = write_records(tmp_path / "messages.jsonl")
    out = tmp_path / "out"
    assert main(["features", "--input", str(source), "--output", str(out),
                 "--ngram-max", "2", "--min-df", "2"]) == 0
    features = out / "features"
    assert not (out / "features.partial").exists()
    vocabulary = (features / "vocabulary.tsv").read_text(encoding="utf-8").splitlines()
    assert vocabulary[0] == "term\tid\tdf\tidf" and len(vocabulary) > 5
    lines = [line for path in sorted((features / "tfidf").glob("part-*"))
             for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(RECORDS)
    config = json.loads((features / "analyzer.json").read_text(encoding="utf-8"))
    assert config == config_with_defaults({"ngram_max": 2})
    assert Analyzer(config)("natural gas") == ["natural", "gas", "natural gas"]
    assert "vocabulary of %d" % (len(vocabulary) - 1) in capsys.readouterr().out


def test_user_errors_are_one_line(tmp_path, capsys):
    source = write_records(tmp_path / "messages.jsonl")
    assert main(["features", "--input", str(tmp_path / "missing"),
                 "--output", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main(["features", "--input", str(source), "--output", str(tmp_path / "o"),
                 "--min-df", "5", "--max-df", "2"]) == 2
    error = capsys.readouterr().err
    assert "max_df" in error and error.strip().count("\n") == 0
    assert not (tmp_path / "o" / "features").exists()


def test_min_df_pruned_in_the_reducer_keeps_the_summary_and_vocabulary(tmp_path):
    from jeeves.pipeline.features import build_features

    source = write_records(tmp_path / "messages.jsonl")
    everything = build_features([str(source)], str(tmp_path / "a"), {"ngram_max": 2})
    pruned = build_features([str(source)], str(tmp_path / "b"), {"ngram_max": 2}, min_df=2)
    # a float min_df is a fraction: nothing pruned in the reducer, same vocabulary
    fraction = build_features([str(source)], str(tmp_path / "c"), {"ngram_max": 2},
                              min_df=2 / len(RECORDS))
    assert pruned["distinct_terms"] == everything["distinct_terms"] == fraction["distinct_terms"]
    assert pruned["counters"]["count_ngrams"]["count_ngrams"]["terms_under_min_df"] > 0
    assert "terms_under_min_df" not in fraction["counters"]["count_ngrams"]["count_ngrams"]
    vocabulary_b = (tmp_path / "b" / "features" / "vocabulary.tsv").read_text(encoding="utf-8")
    vocabulary_c = (tmp_path / "c" / "features" / "vocabulary.tsv").read_text(encoding="utf-8")
    assert vocabulary_b == vocabulary_c
    assert pruned["vocabulary"] < everything["vocabulary"]


def test_collocations_summary_counts_the_kept_bigrams(tmp_path):
    """With --min-llr the summary's ``collocations`` is the number of bigrams
    scoring at least min_llr: the lines of features/collocations/ (it once
    read a counter the job never wrote, and said 0)."""
    from jeeves.pipeline.features import build_features

    source = write_records(tmp_path / "messages.jsonl")
    summary = build_features([str(source)], str(tmp_path / "out"), {"ngram_max": 2},
                             min_llr=3.0)
    kept = [line for path in sorted((tmp_path / "out" / "features" / "collocations").glob(
        "part-*")) for line in path.read_text(encoding="utf-8").splitlines()]
    counters = summary["counters"]["score_collocations"]["score_collocations"]
    assert 0 < summary["collocations"] == len(kept) < counters["bigrams_scored"]
    assert summary["tasks"]["score_collocations"]["reduce"] > 0
