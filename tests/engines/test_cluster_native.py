"""`jeeves run --runner hadoop` with input and output on HDFS: nothing corpus-sized
passes through the driver, and the results are the inline run's.

260 real SpamAssassin messages go on the local cluster's HDFS: the
first files of ``spam-1`` and ``easy-ham-1`` (labelled by folder) and of
``hard-ham-1`` (matched by no label pattern: unlabelled). `jeeves run
--runner hadoop --output hdfs:///...` parses, counts, prunes the vocabulary,
weights, labels, trains (on the driver, from the labelled vectors only) and
scores every message (``--score``) on the cluster; the same run inline on
local copies is the reference:

- the vocabulary is the same bytes, the tf-idf lines the same set, the
  chosen model and its threshold the same, every message's score equal
  within 1e-9;
- the bytes the driver read and wrote through its storage layer
  (scripts/storage.py, summary.json's ``driver_bytes``) stay under
  a bound computed from what it may handle: the vocabulary (written once,
  read back for training and prediction), the kept terms, the labelled
  vectors, the model bundle and report, the flagged list, and a few KB of
  markers and summaries per stage; the corpus itself is several times that;
- (tests/emr/test_emr_pipeline.py checks, on EMR against moto, that four
  times more unlabelled mail moves no more driver bytes than the growth of
  the vocabulary and of the flagged list: a second run here would double
  this test's ten Hadoop jobs.)

mrjob's own uploads of each job's code and of WordNet (constant per job)
are not the data path and are not counted. Skips when the corpus is
missing. Slow: about ten Hadoop jobs.
"""

import json
import math
import os
import re
import shutil
import uuid

import pytest

from jeeves import cli
from tests.helpers import REPO, record_jobs

pytestmark = pytest.mark.slow

SPAMASSASSIN = os.path.join(os.path.dirname(REPO), "shared", "data", "spamassassin")
LABELLED = {"spam-1": 80, "easy-ham-1": 120}
UNLABELLED_FOLDER = "hard-ham-1"
UNLABELLED = 60
LABELS = "spam*=1,easy-ham*=0"
# markers, analyzer.json, summaries and the label job's table: per stage, a few KB
SMALL_FILES_ALLOWANCE = 64 * 1024


def copy_corpus(root, unlabelled):
    """Local copies of the chosen files, one directory per folder -> the root."""
    for folder, count in list(LABELLED.items()) + [(UNLABELLED_FOLDER, unlabelled)]:
        source = os.path.join(SPAMASSASSIN, folder)
        if not os.path.isdir(source):
            pytest.skip("SpamAssassin corpus not found: %s" % source)
        target = os.path.join(root, folder)
        os.makedirs(target)
        for name in sorted(os.listdir(source))[:count]:
            shutil.copy(os.path.join(source, name), target)
    return root


def jeeves_run(inputs, output, runner):
    status = cli.main(["run", "--input", *inputs, "--output", output, "--runner", runner,
                       "--labels", LABELS, "--models", "logistic_regression", "--folds", "3",
                       "--min-df", "2", "--no-graph", "--score"])
    assert status == 0, "jeeves run --runner %s exited %d" % (runner, status)


def local_text(directory):
    """The lines of a local job output directory's part files."""
    lines = []
    for name in sorted(os.listdir(directory)):
        if name.startswith("part-"):
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                lines += [line for line in handle.read().splitlines() if line]
    return lines


def hdfs_text(cluster, uri):
    """The lines of the part files under an HDFS directory (the test reads
    them; the driver did not)."""
    return [line for line in cluster.hadoop("fs", "-cat", uri + "/part-*").splitlines()
            if line]


def relative_sources(lines):
    """Record lines, sorted, each ``source.uri`` (JSON, slashes escaped) cut
    to the path from its corpus folder on."""
    folders = "|".join(re.escape(name) for name in list(LABELLED) + [UNLABELLED_FOLDER])
    pattern = re.compile(r'"uri":"[^"]*?\\/((?:%s)\\/)' % folders)
    cut = sorted(pattern.sub(r'"uri":"\1', line) for line in lines)
    kept = re.compile(r'"uri":"(?:%s)\\/' % folders)
    assert len(cut) > 100 and all(kept.search(line) for line in cut), cut[:1]
    return cut


def sizes(cluster, *uris):
    """{uri: bytes of the files under it}: one ``fs -du -s``, a line per path, in order."""
    lines = [line for line in cluster.hadoop("fs", "-du", "-s", *uris).splitlines()
             if line.strip()]
    assert len(lines) == len(uris), lines
    return {uri: int(line.split()[0]) for uri, line in zip(uris, lines)}


def scores(lines):
    return {row["message_id"]: row["score"] for row in map(json.loads, lines)}


def driver_bound(cluster, out):
    """What the driver may move: vocabulary three times (written, read for
    training; the kept terms are about its size), the labelled vectors, the
    bundle and report it writes, the flagged list it reads back."""
    paths = [out + path for path in ("/features/vocabulary.tsv", "/features/labelled",
                                     "/model", "/report", "/predictions/flagged")]
    found = sizes(cluster, *paths)
    return 2 * found[paths[0]] + sum(found.values()) + SMALL_FILES_ALLOWANCE


def driver_bytes(summary):
    return sum(stage["bytes_read"] + stage["bytes_written"]
               for stage in summary["driver_bytes"].values())


def run_on_hdfs(cluster, tmp_path, name, unlabelled=UNLABELLED):
    corpus = copy_corpus(str(tmp_path / (name + "-corpus")), unlabelled)
    corpus_bytes = sum(os.path.getsize(os.path.join(root, file))
                       for root, _, files in os.walk(corpus) for file in files)
    inputs = cluster.put([corpus])
    # unique: other test files run on the same cluster at the same time
    out = "hdfs:///user/jeeves-tests/%s-%s" % (name, uuid.uuid4().hex)
    jeeves_run(inputs, out, "hadoop")
    summary = json.loads(cluster.hadoop("fs", "-cat", out + "/summary.json"))
    return corpus, corpus_bytes, out, summary


def test_hadoop_with_hdfs_output_equals_inline_and_keeps_the_corpus_off_the_driver(
        hadoop_cluster, tmp_path, monkeypatch):
    ran = record_jobs(monkeypatch)
    corpus, corpus_bytes, out, summary = run_on_hdfs(hadoop_cluster, tmp_path, "base")
    # nothing quarantined: the parse job's output became messages/ by an HDFS
    # rename (WebHDFS), with no job to select the records
    assert summary["stages"]["parse"]["quarantined"] == 0
    assert ran[:2] == ["MRParseEmails", "MRCountNgrams"], ran
    inline = str(tmp_path / "inline")
    jeeves_run([corpus], inline, "inline")
    with open(os.path.join(inline, "summary.json")) as handle:
        expected = json.load(handle)

    # the same results: the records' lines as the driver writes them here
    # (the parse job's reducers write them whole, no tab added), each source
    # URI from its folder on (HDFS and local inputs)
    assert relative_sources(hdfs_text(hadoop_cluster, out + "/messages")) == \
        relative_sources(local_text(os.path.join(inline, "messages")))
    assert hadoop_cluster.hadoop("fs", "-cat", out + "/features/vocabulary.tsv") == \
        open(os.path.join(inline, "features", "vocabulary.tsv"), encoding="utf-8").read()
    assert sorted(hdfs_text(hadoop_cluster, out + "/features/tfidf")) == \
        sorted(local_text(os.path.join(inline, "features", "tfidf")))
    assert summary["chosen_model"] == expected["chosen_model"]
    assert math.isclose(summary["threshold"], expected["threshold"], abs_tol=1e-9)
    assert summary["stages"]["labels"] == dict(expected["stages"]["labels"],
                                               seconds=summary["stages"]["labels"]["seconds"],
                                               tasks=summary["stages"]["labels"]["tasks"])
    got = scores(hdfs_text(hadoop_cluster, out + "/predictions/scores"))
    want = scores(local_text(os.path.join(inline, "predictions", "scores")))
    assert sorted(got) == sorted(want) and len(got) == sum(LABELLED.values()) + UNLABELLED
    assert all(math.isclose(got[key], want[key], abs_tol=1e-9) for key in want)
    # every stage's output is complete, summary.json last
    markers = ["%s/%s/_SUCCESS" % (out, directory) for directory in (
        "messages", "quarantine", "features", "model", "report", "predictions")]
    hadoop_cluster.hadoop("fs", "-ls", *markers)  # fails when one is missing

    # the driver's bytes: bounded by the reduced data, a fraction of the corpus
    moved = driver_bytes(summary)
    bound = driver_bound(hadoop_cluster, out)
    assert moved <= bound, (moved, bound, summary["driver_bytes"])
    assert bound < corpus_bytes, (bound, corpus_bytes)
    print("driver bytes %d (bound %d) for a corpus of %d bytes: %s"
          % (moved, bound, corpus_bytes, summary["driver_bytes"]))
