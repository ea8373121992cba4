"""mr_build_vocabulary: the vocabulary pruned on the cluster equals build_vocabulary's."""

import json
import os
import random
import string
import subprocess
import sys
import textwrap

import pytest

from jeeves.features.collocations import collocation_filter
from jeeves.features.vocabulary import (
    build_hashed_table,
    build_vocabulary,
    df_limits,
    partition_of,
    read_kept_terms,
    vocabulary_rows_from_kept,
)
from jeeves.jobs.mr_build_vocabulary import MRBuildVocabulary
from jeeves.jobs.mr_count_ngrams import MRCountNgrams
from jeeves.jobs.mr_score_collocations import MRScoreCollocations
from jeeves.taskcode import task_code_args
from tests.helpers import MRJOB_CONF, REPO
from tests.jobs.text_fixtures import record_lines

TWO_REDUCERS = ["--num-cores", "2", "--jobconf", "mapreduce.job.reduces=2"]
OPTION_SETS = [
    {},
    {"min_df": 2},
    {"max_df": 0.5},
    {"min_df": 0.1, "max_df": 3},
    {"max_features": 7},
    {"min_df": 2, "max_df": 0.9, "max_features": 5},
]


def job_args(n_docs, min_df=1, max_df=1.0, max_features=None, min_llr=None, hash_features=0):
    args = ["--documents", str(n_docs), "--min-df", repr(min_df), "--max-df", repr(max_df)]
    if max_features is not None:
        args += ["--max-features", str(max_features)]
    if min_llr is not None:
        args += ["--min-llr", repr(min_llr)]
    if hash_features:
        args += ["--hash-features", str(hash_features)]
    return args


def run(job_class, paths, args, output_dir, runner="inline"):
    """Run a job on files -> (output part files, counters of its steps merged)."""
    switches = ["-r", runner, "--output-dir", str(output_dir)]
    switches += ["--no-conf"] if runner == "inline" else ["-c", MRJOB_CONF] + task_code_args(runner)
    job = job_class(args=switches + list(args) + [str(path) for path in paths])
    job.sandbox()
    with job.make_runner() as runner_:
        runner_.run()
        counters = {}
        for step in runner_.counters():
            for group, names in step.items():
                for name, value in names.items():
                    counters.setdefault(group, {}).setdefault(name, 0)
                    counters[group][name] += value
    parts = sorted(path for path in output_dir.iterdir() if path.name.startswith("part-"))
    return parts, counters


def kept_rows(parts, n_docs, hashed=False):
    """What the driver does: the part files -> vocabulary rows."""
    def lines():
        for path in parts:
            with open(path, "rb") as handle:
                yield from handle

    return vocabulary_rows_from_kept(read_kept_terms(lines()), n_docs, hashed=hashed)


def count_lines(term_stats, n_docs, partitions=4, files=3):
    """Hand-written mr_count_ngrams output: one terms row per partition (each
    term once), message rows and the documents row, spread over files."""
    rows = {}
    for term, stats in sorted(term_stats.items()):
        rows.setdefault(partition_of(term, partitions), {})[term] = list(stats)
    lines = [json.dumps(["terms", partition]) + "\t" + json.dumps(totals)
             for partition, totals in sorted(rows.items())]
    lines += [json.dumps(["message", "m%d@x" % number]) + "\t" + json.dumps({"gas": 1})
              for number in range(n_docs)]
    lines.append(json.dumps(["documents", ""]) + "\t" + json.dumps(n_docs))
    return [lines[number::files] for number in range(files)]


def write_files(directory, groups):
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, lines in enumerate(groups):
        path = directory / ("input-%d" % number)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        paths.append(path)
    return paths


def tied_stats(seed=5, n_terms=60, n_docs=20):
    """Terms with few distinct counts and dfs: many max_features ties."""
    rng = random.Random(seed)
    stats = {}
    for number in range(n_terms):
        df = rng.randint(1, n_docs)
        stats["t%02d%s" % (number, rng.choice("ab"))] = (df + rng.randint(0, 3), df)
    return stats, n_docs


@pytest.fixture(scope="module")
def hand_written(tmp_path_factory):
    stats, n_docs = tied_stats()
    return stats, n_docs, write_files(tmp_path_factory.mktemp("hand"), count_lines(stats, n_docs))


def test_empty_input(tmp_path):
    (tmp_path / "empty").write_text("")
    parts, _ = run(MRBuildVocabulary, [tmp_path / "empty"], job_args(0), tmp_path / "out")
    assert kept_rows(parts, 0) == []


@pytest.mark.parametrize("options", OPTION_SETS)
def test_hand_written_counts_equal_build_vocabulary(hand_written, tmp_path, options):
    stats, n_docs, paths = hand_written
    parts, counters = run(MRBuildVocabulary, paths, job_args(n_docs, **options), tmp_path)
    expected = build_vocabulary(stats, n_docs, **options)
    assert kept_rows(parts, n_docs) == expected
    assert counters["build_vocabulary"]["terms"] == len(stats)
    assert counters["build_vocabulary"].get("terms_kept", 0) == len(expected)


def test_max_features_ties_go_to_the_first_terms(tmp_path):
    stats = {"b": (2, 1), "a": (2, 1), "c": (2, 1), "d": (5, 1), "e": (1, 1)}
    paths = write_files(tmp_path / "in", count_lines(stats, 3, partitions=5, files=5))
    parts, _ = run(MRBuildVocabulary, paths, job_args(3, max_features=2), tmp_path / "out")
    assert [row[0] for row in kept_rows(parts, 3)] == ["a", "d"]


def test_bad_rows_are_counted_not_fatal(tmp_path):
    lines = ['["terms", 0]\t{"gas": [3, 2], "deal": [1, 1]}', '["terms", 1]\tnot json',
             "some garbage", '"a b"\t1.5', ""]
    paths = write_files(tmp_path / "in", [lines])
    parts, counters = run(MRBuildVocabulary, paths, job_args(2), tmp_path / "out")
    assert kept_rows(parts, 2) == build_vocabulary({"gas": (3, 2), "deal": (1, 1)}, 2)
    assert counters["build_vocabulary"]["invalid_row"] == 2


def test_df_bounds_that_cross_are_refused_when_the_job_is_built():
    # a job built in Python raises mrjob's usage error (the command line prints it)
    with pytest.raises(ValueError, match="max_df corresponds to < documents than min_df "
                                         r"\(--min-df 5, --max-df 2\)"):
        MRBuildVocabulary(args=job_args(10, min_df=5, max_df=2))


@pytest.fixture(scope="module")
def real_counts(tmp_path_factory):
    """mr_count_ngrams output (unigrams and bigrams) of the text fixtures, with its totals."""
    directory = tmp_path_factory.mktemp("real")
    inputs = write_files(directory / "in", [record_lines()[:6], record_lines()[6:]])
    parts, counters = run(MRCountNgrams, inputs, ["--ngram-max", "2", "--term-partitions", "8"],
                          directory / "counts")
    stats, n_docs = {}, 0
    for path in parts:
        for line in path.read_text(encoding="utf-8").splitlines():
            key, value = map(json.loads, line.split("\t", 1))
            if key[0] == "terms":
                stats.update({term: tuple(pair) for term, pair in value.items()})
            elif key[0] == "documents":
                n_docs += value
    assert counters["count_ngrams"]["messages"] == n_docs
    return stats, n_docs, parts, counters


@pytest.mark.parametrize("options", OPTION_SETS)
def test_real_counts_equal_build_vocabulary(real_counts, tmp_path, options):
    stats, n_docs, counts, _ = real_counts
    parts, _ = run(MRBuildVocabulary, counts, job_args(n_docs, **options), tmp_path)
    assert kept_rows(parts, n_docs) == build_vocabulary(stats, n_docs, **options)


@pytest.fixture(scope="module")
def collocations(real_counts, tmp_path_factory):
    stats, _, counts, counters = real_counts
    total_tokens = sum(count for term, (count, _) in stats.items() if " " not in term)
    # the count job's counter is that sum, so the driver need not read the totals
    assert counters["count_ngrams"]["unigram_tokens"] == total_tokens
    parts, _ = run(MRScoreCollocations, counts, ["--total-tokens", str(total_tokens)],
                   tmp_path_factory.mktemp("collocations") / "out")
    scores = {}
    for path in parts:
        for line in path.read_text(encoding="utf-8").splitlines():
            key, value = line.split("\t")
            scores[json.loads(key)] = json.loads(value)
    assert len(scores) > 10
    return parts, scores


@pytest.mark.parametrize("options", [{"min_llr": 2.0}, {"min_llr": 4.0, "max_features": 6},
                                     {"min_llr": 0.0, "min_df": 2}])
def test_collocation_join_equals_the_filter(real_counts, collocations, tmp_path, options):
    stats, n_docs, counts, _ = real_counts
    collocation_parts, scores = collocations
    parts, counters = run(MRBuildVocabulary, counts + collocation_parts,
                          job_args(n_docs, **options), tmp_path)
    min_llr = options.pop("min_llr")
    expected = build_vocabulary(stats, n_docs, keep=collocation_filter(scores, min_llr),
                                **options)
    got = kept_rows(parts, n_docs)
    assert got == expected
    assert any(" " in row[0] for row in got)
    low, high = df_limits(n_docs, options.get("min_df", 1), options.get("max_df", 1.0))
    under = [term for term, (_, df) in stats.items()
             if " " in term and low <= df <= high and scores.get(term, -1) < min_llr]
    assert counters["build_vocabulary"].get("bigrams_under_min_llr", 0) == len(under)


def test_hashing_mode_keeps_every_bucket(tmp_path):
    inputs = write_files(tmp_path / "in", [record_lines()])
    counts, counters = run(MRCountNgrams, inputs, ["--hash-features", "32"], tmp_path / "counts")
    n_docs = counters["count_ngrams"]["messages"]
    stats = {}
    for path in counts:
        for line in path.read_text(encoding="utf-8").splitlines():
            key, value = map(json.loads, line.split("\t", 1))
            if key[0] == "terms":
                stats.update({term: tuple(pair) for term, pair in value.items()})
    parts, _ = run(MRBuildVocabulary, counts,
                   job_args(n_docs, min_df=2, max_features=3, hash_features=32),
                   tmp_path / "out")
    rows = kept_rows(parts, n_docs, hashed=True)
    assert rows == build_hashed_table(stats, n_docs) and len(rows) > 3


@pytest.mark.parametrize("options", [{"max_features": 7, "max_df": 0.8},
                                     {"min_llr": 3.0, "max_features": 5}])
def test_local_runner_with_two_reducers_equals_inline(real_counts, collocations, tmp_path,
                                                      options):
    stats, n_docs, counts, _ = real_counts
    inputs = counts + (collocations[0] if "min_llr" in options else [])
    args = job_args(n_docs, **options)
    inline, _ = run(MRBuildVocabulary, inputs, args, tmp_path / "inline")
    local, _ = run(MRBuildVocabulary, inputs, args + TWO_REDUCERS, tmp_path / "local",
                   runner="local")
    assert kept_rows(local, n_docs) == kept_rows(inline, n_docs)
    assert len(kept_rows(local, n_docs)) == options["max_features"]


# --- the driver's memory is bounded by the kept vocabulary ------------------

DRIVER_READ = textwrap.dedent("""
    import sys
    from jeeves.features.vocabulary import (read_kept_terms, vocabulary_rows_from_kept,
                                            write_vocabulary)

    def lines():
        for path in sys.argv[3:]:
            with open(path, "rb") as handle:
                yield from handle

    rows = vocabulary_rows_from_kept(read_kept_terms(lines()), int(sys.argv[1]))
    write_vocabulary(sys.argv[2], rows)
    print(len(rows))
    with open("/proc/self/status") as status:
        print([line.split()[1] for line in status if line.startswith("VmHWM")][0])
""")

ALL_TOTALS_READ = textwrap.dedent("""
    import json, sys
    totals = {}
    for path in sys.argv[3:]:
        with open(path, "rb") as handle:
            for line in handle:
                if line.startswith(b'["terms"'):
                    totals.update(json.loads(line.split(b"\\t", 1)[1]))
    print(len(totals))
    with open("/proc/self/status") as status:
        print([line.split()[1] for line in status if line.startswith("VmHWM")][0])
""")


def peak_kb(script, args):
    """Run ``script`` in a child Python -> (its first output line, its peak RSS in kB)."""
    done = subprocess.run([sys.executable, "-c", script] + [str(arg) for arg in args],
                          cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                          capture_output=True, text=True, check=True)
    first, peak = done.stdout.split()
    return int(first), int(peak)


def random_corpus(directory, n_messages, words_per_message, seed):
    """Messages of random 9-letter tokens (nearly all distinct) plus a few
    common words, so max_features has frequent terms to pick."""
    rng = random.Random(seed)
    common = ["common%02d" % number for number in range(40)]
    lines = []
    for number in range(n_messages):
        words = ["".join(rng.choices(string.ascii_lowercase, k=9))
                 for _ in range(words_per_message)]
        words += rng.sample(common, 10)
        lines.append(json.dumps({"message_id": "r%05d@x" % number, "subject": "",
                                 "body": " ".join(words)}))
    return write_files(directory, [lines[::2], lines[1::2]])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")
def test_driver_peak_rss_stays_flat_when_distinct_terms_grow_fourfold(tmp_path):
    analyzer = ["--stop-words", "none", "--no-lemmatize"]
    peaks, totals_peaks, distinct = [], [], []
    for size, words in (("small", 25), ("large", 100)):
        inputs = random_corpus(tmp_path / size / "in", 1000, words, seed=len(size))
        counts, counters = run(MRCountNgrams, inputs, analyzer, tmp_path / size / "counts")
        n_docs = counters["count_ngrams"]["messages"]
        parts, vocabulary = run(MRBuildVocabulary, counts, job_args(n_docs, max_features=40),
                                tmp_path / size / "vocabulary")
        distinct.append(vocabulary["build_vocabulary"]["terms"])
        kept, peak = peak_kb(DRIVER_READ, [n_docs, tmp_path / size / "vocabulary.tsv"] + parts)
        assert kept == 40
        peaks.append(peak)
        totals_peaks.append(peak_kb(ALL_TOTALS_READ, [n_docs, "-"] + counts)[1])
    assert distinct[1] >= 3.8 * distinct[0] and distinct[0] > 20000
    # reading every total (what the driver did before) grows with the distinct terms ...
    assert totals_peaks[1] - totals_peaks[0] > 8 * 1024, totals_peaks
    # ... reading the kept vocabulary does not
    assert peaks[1] - peaks[0] < 2 * 1024, peaks


@pytest.mark.parametrize("options", [{"min_df": 2, "max_df": 0.5},
                                     {"min_df": 2, "max_features": 300}])
def test_berkeley_counts_equal_build_vocabulary(tmp_path, options):
    """Real mail (a slice of the Berkeley Enron set), unigrams and bigrams."""
    from tests.jobs.berkeley import berkeley_records

    records = berkeley_records(12)
    inputs = write_files(tmp_path / "in", [[json.dumps(record) for record in records]])
    counts, counters = run(MRCountNgrams, inputs, ["--ngram-max", "2", "--no-lemmatize"],
                           tmp_path / "counts")
    stats = {}
    for path in counts:
        for line in path.read_text(encoding="utf-8").splitlines():
            key, value = line.split("\t", 1)
            if key.startswith('["terms"'):
                stats.update({term: tuple(pair) for term, pair in json.loads(value).items()})
    n_docs = counters["count_ngrams"]["messages"]
    assert n_docs == len(records) and len(stats) > 5000
    parts, _ = run(MRBuildVocabulary, counts, job_args(n_docs, **options), tmp_path / "out")
    rows = kept_rows(parts, n_docs)
    assert rows == build_vocabulary(stats, n_docs, **options) and len(rows) > 100


def test_unigram_tokens_are_summed_before_min_df_pruning(real_counts, tmp_path):
    # so the driver may prune in the count job and still score collocations
    _, _, _, counters = real_counts
    inputs = write_files(tmp_path / "in", [record_lines()])
    _, pruned = run(MRCountNgrams, inputs, ["--ngram-max", "2", "--min-df", "3"],
                    tmp_path / "counts")
    assert pruned["count_ngrams"]["terms_under_min_df"] > 0
    assert pruned["count_ngrams"]["unigram_tokens"] == counters["count_ngrams"]["unigram_tokens"]
