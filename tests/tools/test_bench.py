"""Smoke test of `make bench` on the 1 MB Enron prefix (inline, no Spark, no scaling).

No timing assertions: the figures must exist, be positive and reconcile with
the input; how fast they are is for `make bench` to report.
"""

import json
import os

import pytest

from tools import bench
from tools.run_bench import main

pytestmark = pytest.mark.skipif(not os.path.isdir(bench.ENRON_MBOX),
                                reason="%s not found" % bench.ENRON_MBOX)


def test_prefix_takes_whole_files_in_name_order_until_the_size():
    paths, size = bench.prefix_files(1)
    names = sorted(name for name in os.listdir(bench.ENRON_MBOX) if name.endswith(".mbox.gz"))
    assert [os.path.basename(path) for path in paths] == names[:len(paths)]
    assert size >= bench.MB
    # without its last file the prefix would be too small
    assert size - bench.uncompressed_size(paths[-1]) < bench.MB


@pytest.fixture(scope="module")
def one_mb_run(tmp_path_factory):
    results_path = str(tmp_path_factory.mktemp("bench") / "results.json")
    status = main(["--mb", "1", "--runners", "inline", "--no-spark", "--repeats", "2",
                   "--results", results_path])
    return status, results_path


def test_bench_writes_results_with_every_stage_and_reference(one_mb_run):
    status, results_path = one_mb_run
    assert status == 0
    with open(results_path) as handle:
        results = json.load(handle)
    size = results["sizes"]["1"]
    paths, expected_bytes = bench.prefix_files(1)
    assert size["bytes"] == expected_bytes and size["files"] == len(paths)
    stages = size["runners"]["inline"]
    assert set(stages) == set(bench.STAGES)
    for name, figures in stages.items():
        assert "error" not in figures, (name, figures)
        assert figures["seconds"] > 0 and figures["mb_per_s"] > 0, name
        assert figures["peak_task_rss_mb"] > 10, name  # a Python process with mrjob loaded
    messages = size["messages"]
    assert messages > 100
    assert stages["end_to_end"]["messages"] == messages
    # the `jeeves run` process's own CPU over its wall time (inline: one core)
    assert 0 < stages["end_to_end"]["run_cpu_seconds"]
    assert 0 < stages["end_to_end"]["run_cpu_over_wall"] <= 1.5
    assert stages["features"]["messages"] == messages
    # two runs, each into an output of its own, the lower of the two counted
    runs = stages["end_to_end"]["runs"]
    assert len(runs) == 2 and all(run["seconds"] > 0 for run in runs)
    assert stages["end_to_end"]["seconds"] == min(run["seconds"] for run in runs)
    references = results["references"]
    for name in bench.END_TO_END_REFERENCES:
        assert len(references[name]["runs"]) == 2, name
        fits = references[name]["runs"]
        assert references[name]["seconds"] == min(run["seconds"] for run in fits)
    assert "seconds" in references["sklearn_tfidf"] and "runs" not in references["sklearn_tfidf"]
    assert references["spark_ml"] == {"skipped": "--no-spark"}
    for name in ("stdlib_parse", "sklearn_tfidf", "sklearn_tfidf_default",
                 "sklearn_tfidf_run_fields", "naive_mrjob"):
        assert references[name]["seconds"] > 0, name
    # the run's fields (the quoted history too) give more terms than subject+body
    assert (references["sklearn_tfidf_run_fields"]["vocabulary"]
            > references["sklearn_tfidf_default"]["vocabulary"])
    # the stdlib loop sees every message of the files, duplicates included
    assert references["stdlib_parse"]["messages"] == stages["parse"]["read"]
    assert references["sklearn_tfidf"]["messages"] == messages
    ratios = {(row["stage"], row["reference"]): row["ratio"] for row in results["comparisons"]}
    assert ratios[("parse", "stdlib_parse")] > 0
    assert ratios[("features", "sklearn_tfidf")] > 0
    assert ratios[("end_to_end", "spark_ml")] is None
    assert ratios[("end_to_end", "sklearn_tfidf_run_fields")] > 0


def test_report_has_a_row_per_stage(one_mb_run):
    _, results_path = one_mb_run
    with open(results_path) as handle:
        report = bench.format_report(json.load(handle))
    rows = [line.split("|")[1].strip() for line in report.splitlines() if line.startswith("| ")]
    for stage in bench.STAGES:
        assert stage in rows
    assert "ref: spark_ml" in rows


def test_the_median_run_is_a_run_that_happened():
    runs = [{"seconds": 5.3, "run_cpu_over_wall": 1.77},
            {"seconds": 4.9, "run_cpu_over_wall": 1.82},
            {"seconds": 5.1, "run_cpu_over_wall": 1.79}]
    assert bench.median_run(runs) == runs[2]
    # an even count: the lower of the middle two, not their mean
    assert bench.median_run(runs[:2]) == runs[1]
    assert bench.median_run(runs[:1]) == runs[0]


def test_the_report_lists_each_repeated_run():
    fits = [{"seconds": 6.0}, {"seconds": 6.5}]
    results = {"references": {"sklearn_tfidf_default": {"runs": fits}},
               "sizes": {"1": {"runners": {"local": {"end_to_end": {"runs": [
                   {"seconds": 5.25, "run_cpu_over_wall": 1.781},
                   {"seconds": 4.9, "run_cpu_over_wall": 1.82}]}}}}}}
    assert bench.format_runs(results) == [
        "end_to_end (local), median of 2: 5.25 s (CPU / wall 1.78), 4.90 s (CPU / wall 1.82)",
        "ref: sklearn_tfidf_default (one process), median of 2: 6.00 s, 6.50 s"]


def test_the_cpu_target_is_the_run_processes_own():
    def results(end_to_end):
        return {"references": {}, "sizes": {"1": {"runners": {
            "inline": {}, "local": {"end_to_end": end_to_end}}}}}

    def cpu_row(end_to_end):
        rows = bench.target_rows(results(end_to_end))
        return [row for row in rows if row[0].startswith("CPU seconds")][0][1:]

    # the run's own figure, not the stage process's (which imports the harness first)
    assert cpu_row({"cpu_over_wall": 1.7, "run_cpu_over_wall": 1.82}) == (1.82, 1.8)
    # results written before the run's own figure existed
    assert cpu_row({"cpu_over_wall": 1.7}) == (1.7, 1.8)


def test_unknown_runner_is_a_user_error(capsys):
    assert main(["--mb", "1", "--runners", "inline,yarn"]) == 2
    assert "--runners" in capsys.readouterr().err


def test_no_run_at_all_is_a_user_error(capsys):
    assert main(["--mb", "1", "--runners", "inline", "--repeats", "0"]) == 2
    assert "--repeats must be at least 1" in capsys.readouterr().err


def test_each_end_to_end_run_is_paired_with_a_fit_of_its_reference(tmp_path):
    paths, _ = bench.prefix_files(1)
    out = str(tmp_path / "e2e")
    work = {"inputs": paths, "out": out, "messages": os.path.join(out, "messages"),
            "repeats": 2, "paired": "sklearn_tfidf_default"}
    figures = bench.stage_end_to_end(work, "local")
    runs = figures["runs"]
    assert len(runs) == 2
    # a fit after each run, in a process of its own, on the run's records
    assert all(run["seconds"] > 0 and run["paired_seconds"] > 0 for run in runs)
    assert figures["paired"] == "sklearn_tfidf_default"
    assert "paired_seconds" not in figures
    assert figures["paired_ratio"] == min(run["paired_seconds"] / run["seconds"]
                                          for run in runs)
    # the fits' scratch directories are gone; the first run's output stays
    assert sorted(os.listdir(tmp_path)) == ["e2e"]


def test_a_paired_stage_is_compared_by_its_rounds_not_by_the_medians():
    runs = [{"seconds": 4.0, "paired_seconds": 6.0},   # 1.5
            {"seconds": 5.0, "paired_seconds": 6.0},   # 1.2
            {"seconds": 4.5, "paired_seconds": 7.2}]   # 1.6
    assert bench.paired_ratio(runs) == pytest.approx(1.5)
    # an even count: the lower of the middle two
    assert bench.paired_ratio(runs[:2]) == pytest.approx(1.2)
    end_to_end = {"seconds": 4.5, "runs": runs, "paired": "sklearn_tfidf_default",
                  "paired_ratio": bench.paired_ratio(runs)}
    results = {"references": {"sklearn_tfidf_default": {"seconds": 9.0},
                              "sklearn_tfidf_run_fields": {"seconds": 9.0}},
               "sizes": {"1": {"runners": {"local": {
                   "parse": {}, "features": {}, "end_to_end": end_to_end}}}}}
    rows = {row["reference"]: row for row in bench.comparisons(results)
            if row["stage"] == "end_to_end"}
    paired = rows["sklearn_tfidf_default"]
    assert paired["ratio"] == pytest.approx(1.5) and paired["paired"] == 3
    assert paired["ratio_of_medians"] == pytest.approx(2.0)
    # a reference the runs were not paired with: the ratio of the medians
    assert rows["sklearn_tfidf_run_fields"]["ratio"] == pytest.approx(2.0)
    assert "paired" not in rows["sklearn_tfidf_run_fields"]
    results["comparisons"] = bench.comparisons(results)
    assert bench.format_runs(results) == [
        "end_to_end (local), median of 3: 4.00 s then sklearn_tfidf_default 6.00 s, "
        "5.00 s then sklearn_tfidf_default 6.00 s, 4.50 s then sklearn_tfidf_default 7.20 s"]
