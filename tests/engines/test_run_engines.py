"""`jeeves run --runner spark` end to end: the inline run's results.

(`jeeves run --runner hadoop`, with its input and output on HDFS as a run on
a cluster has them, is tests/engines/test_cluster_native.py.)

300 real SpamAssassin messages (the first 150 files of ``spam-1`` and of
``easy-ham-1``, labelled by folder) go through every stage of `jeeves run`
(parse, labels, features, graph, training the email model on 3 folds, the
label job carrying the records and a job selecting the LSA sample, and
scoring every message with its bundle) inline and on Spark (``local[2]``).
Spark's summary.json equals inline's apart from what belongs to the run
(timings, the runner's name, output paths, the table that shows timings,
the driver's bytes, the tasks counted), the ``flushes`` counter of
count_ngrams (one or more per map task: the runner decides how many tasks)
and counter groups an engine adds of its own; the parsed messages, the
vocabulary and the graph files are the same bytes, the scores the same to
1e-9. Skips when the corpus is missing.
"""

import glob
import json
import os

import pytest

from jeeves import cli
from tests.helpers import REPO

pytestmark = pytest.mark.slow

SPAMASSASSIN = os.path.join(os.path.dirname(REPO), "shared", "data", "spamassassin")
FOLDERS = ("spam-1", "easy-ham-1")
FILES_PER_FOLDER = 150
LABELS = "spam*=1,*ham*=0"
# what differs from run to run, or with the runner's choice of map tasks
RUN_SPECIFIC = {"seconds", "seconds_total", "runner", "bundle", "report", "table", "flushes",
                "driver_bytes", "tasks"}
SAME_FILES = ["messages/part-00000", "quarantine/part-00000", "features/vocabulary.tsv"]
GRAPH_FILES = ["graph/contacts.tsv", "graph/followers.tsv", "graph/suggestions.tsv",
               "graph/totals.jsonl"]


@pytest.fixture(scope="module")
def mail_files():
    files = []
    for folder in FOLDERS:
        directory = os.path.join(SPAMASSASSIN, folder)
        if not os.path.isdir(directory):
            pytest.skip("SpamAssassin corpus not found: %s" % directory)
        files += [os.path.join(directory, name)
                  for name in sorted(os.listdir(directory))[:FILES_PER_FOLDER]]
    return files


def jeeves_run(mail_files, output, runner, graph=True):
    """`jeeves run` on the messages with `runner`; returns its summary.json."""
    status = cli.main(["run", "--input", *mail_files, "--output", str(output),
                       "--runner", runner, "--labels", LABELS,
                       "--models", "email_logistic_regression", "--folds", "3", "--score"]
                      + ([] if graph else ["--no-graph"]))
    assert status == 0, "jeeves run --runner %s exited %d" % (runner, status)
    with open(os.path.join(output, "summary.json")) as handle:
        return json.load(handle)


def predictions(output):
    """{message_id: score} of OUT/predictions/scores/."""
    found = {}
    for path in glob.glob(os.path.join(output, "predictions", "scores", "part-*")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    found[row["message_id"]] = row["score"]
    return found


def comparable(value):
    """A summary without its run-specific keys, at any depth."""
    if isinstance(value, dict):
        return {key: comparable(item) for key, item in value.items()
                if key not in RUN_SPECIFIC}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    return value


@pytest.fixture(scope="module")
def inline_run(mail_files, tmp_path_factory):
    output = tmp_path_factory.mktemp("run-inline")
    summary = jeeves_run(mail_files, output, "inline")
    parse = summary["stages"]["parse"]
    assert parse["reconciled"] and parse["parsed"] == len(mail_files)
    assert summary["stages"]["labels"]["positive"] == FILES_PER_FOLDER
    assert summary["stages"]["features"]["vocabulary"] > 1000
    assert summary["stages"]["graph"]["addresses"] > 100
    return output, summary


def assert_same_run(inline_run, output, summary, runner, graph=True):
    inline_output, inline_summary = inline_run
    assert summary["runner"] == runner
    expected, actual = comparable(inline_summary), comparable(summary)
    if not graph:
        del expected["stages"]["graph"]
    # Hadoop adds its framework's groups (File System Counters, ...)
    job_counters = actual["stages"]["features"]["counters"]
    for job, groups in job_counters.items():
        expected_groups = expected["stages"]["features"]["counters"].get(job, {})
        job_counters[job] = {group: counts for group, counts in groups.items()
                             if group in expected_groups}
    assert actual == expected
    for path in SAME_FILES + (GRAPH_FILES if graph else []):
        with open(os.path.join(inline_output, path), "rb") as expected_file, \
                open(os.path.join(output, path), "rb") as actual_file:
            assert actual_file.read() == expected_file.read(), path


def test_jeeves_run_on_spark_equals_inline(spark, mail_files, inline_run, tmp_path):
    summary = jeeves_run(mail_files, tmp_path / "run-spark", "spark")
    assert_same_run(inline_run, tmp_path / "run-spark", summary, "spark")
    # the email model was trained on the same labelled records and LSA sample,
    # and its bundle scored every message on Spark as inline
    assert summary["chosen_model"] == "email_logistic_regression"
    assert [row["name"] for row in summary["ablation"]["rows"]][-1] == "all groups"
    expected, actual = predictions(inline_run[0]), predictions(tmp_path / "run-spark")
    assert actual.keys() == expected.keys() and len(expected) == len(mail_files)
    assert max(abs(actual[key] - expected[key]) for key in expected) <= 1e-9
