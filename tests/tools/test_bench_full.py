"""tools/bench_full.py (`make bench-full`) on a tiny corpus, local runner only.

The Hadoop half and the real corpus are for the benchmark itself
(docs/perf-results.md); here: the /proc sampler measures a real child's
memory, the output digests ignore line order and the input's location but
nothing else, and a whole local run on two small generated ``.mbox.gz``
files reports figures that reconcile with its own output.
"""

import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest

from jeeves.storage import Storage
from tools import bench_full
from tools.run_bench import main

WORDS = ("budget meeting gas pipeline contract trading power desk weekly report "
         "schedule review").split()


def write_mbox_gz(path, first, count):
    """``count`` distinct messages numbered from ``first`` as a gzip mbox."""
    chunks = []
    for number in range(first, first + count):
        words = " ".join(WORDS[(number * step) % len(WORDS)] for step in range(1, 40))
        chunks.append(
            "From sender%d@example.com Mon Jan  1 00:00:00 2001\n"
            "Message-ID: <%d@example.com>\nFrom: sender%d@example.com\n"
            "To: desk@example.com\nSubject: note %d\n"
            "Date: Mon, 1 Jan 2001 00:00:%02d +0000\n\n%s number %d\n\n"
            % (number % 7, number, number % 7, number, number % 60, words, number))
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join(chunks))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench-full") / "mini-mbox"
    root.mkdir()
    write_mbox_gz(str(root / "a.mbox.gz"), 0, 40)
    write_mbox_gz(str(root / "b.mbox.gz"), 40, 25)
    return root


@pytest.fixture(scope="module")
def local_run(corpus, tmp_path_factory):
    work = tmp_path_factory.mktemp("bench-full-work")
    results_path = str(work / "full.json")
    # the run's tasks take about 0.1 s each: sampled every 0.2 s, as a
    # corpus-sized run is, most would go unseen
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench_full, "SAMPLE_SECONDS", 0.01)
        status = main(["--full", "--sizes", "1", "--full-runners", "local",
                       "--corpus", str(corpus), "--work", str(work),
                       "--full-results", results_path])
    with open(results_path) as handle:
        return status, json.load(handle), work


def test_local_run_reports_figures_that_reconcile_with_its_output(local_run, corpus):
    status, results, work = local_run
    assert status == 0
    entry = results["sizes"]["1"]
    assert entry["files"] == 2
    run = entry["runs"]["local"]
    assert run["messages"] == 65 and run["read"] == 65
    assert run["digests"]["records"]["lines"] == 65
    assert run["digests"]["vectors"]["lines"] == 65
    # vocabulary.tsv: a header line, then a line per kept term
    assert run["digests"]["vocabulary"]["lines"] == run["vocabulary"] + 1 > 1
    assert run["seconds"] > 0
    # the local runner's tasks are the driver's descendants; both have a resident set
    assert run["task_processes"] >= 3  # parse, counts, vocabulary, tf-idf: at least a task each
    assert run["task_peak_rss_mb"] > 5 and run["driver_peak_rss_mb"] > 5
    # the digests are those of the output left in --work
    again = bench_full.output_digests(Storage(), str(work / "out-local-1"),
                                      "file://%s/" % os.path.abspath(str(corpus)))
    assert again == run["digests"]


def test_digests_see_a_changed_vector_but_not_the_order_of_part_files(local_run, corpus,
                                                                     tmp_path):
    _, results, work = local_run
    prefix = "file://%s/" % os.path.abspath(str(corpus))
    expected = results["sizes"]["1"]["runs"]["local"]["digests"]
    copy = tmp_path / "out"
    shutil.copytree(str(work / "out-local-1"), str(copy))
    tfidf = copy / "features" / "tfidf"
    lines = [line for part in sorted(tfidf.glob("part-*")) for line in
             part.read_text().splitlines(keepends=True)]
    for part in tfidf.glob("part-*"):
        part.unlink()
    (tfidf / "part-00000").write_text("".join(reversed(lines)))
    assert bench_full.output_digests(Storage(), str(copy), prefix) == expected
    (tfidf / "part-00000").write_text("".join(lines[1:]) + lines[0].rstrip("\n") + "0\n")
    changed = bench_full.output_digests(Storage(), str(copy), prefix)
    assert bench_full.differences(expected, changed) == ["vectors"]


def test_records_compare_without_the_input_location():
    record = {"message_id": "m1", "source": {"uri": "file:///data/enron-mbox/a.mbox.gz",
                                             "index": 5, "offset": 5}, "body": "x/y"}
    on_hdfs = dict(record, source=dict(record["source"],
                                       uri="hdfs:///user/u/enron-mbox/a.mbox.gz"))
    local_line = bench_full.record_line(json.dumps(record), "file:///data/enron-mbox/")
    hdfs_line = bench_full.record_line(json.dumps(on_hdfs), "hdfs:///user/u/enron-mbox/")
    assert local_line == hdfs_line
    other = dict(on_hdfs, body="x/z")
    assert bench_full.record_line(json.dumps(other), "hdfs:///user/u/enron-mbox/") != local_line


def test_sampler_measures_a_task_process_below_the_root():
    # a child that holds 64 MB, named like an mrjob task, under a parent shell
    script = "import time; block = bytearray(64 * 1024 * 1024); time.sleep(1.5)"
    parent = subprocess.Popen(["/bin/sh", "-c", '"$0" -c "$1" --step-num=0; exit 0',
                               sys.executable, script])
    sampler = bench_full.RssSampler(parent.pid, parent.pid, interval=0.05).start()
    parent.wait()
    sampler.stop()
    assert len(sampler.task_pids) == 1
    assert sampler.task_peak >= 64 * 1024 * 1024
    assert 0 < sampler.driver_peak < 64 * 1024 * 1024  # the shell alone


def test_sizes_that_take_the_same_files_run_once(corpus):
    planned = bench_full.plan_sizes((1, 2, 3), str(corpus))
    assert [(size, len(paths)) for size, paths, _ in planned] == [(1, 2)]


@pytest.mark.parametrize("option", [["--sizes", "ten"], ["--sizes", "0"],
                                    ["--full-runners", "spark"]])
def test_bad_options_are_one_line_errors(option, capsys):
    assert main(["--full", *option]) != 0
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and option[1] in error
