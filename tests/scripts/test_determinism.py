"""Two `jeeves run`s on the same input write the same outputs, whatever the
runner and the number of tasks.

Three runs of the same command on the hand-written corpus (plus a file that
is not mail and a duplicate): inline, and local with 1 and with 3 tasks per
step. mrjob's local runner sizes its map and reduce tasks by its
``num_cores`` option and ignores ``mapreduce.job.maps`` /
``mapreduce.job.reduces`` (mrjob/sim.py), so the test's mrjob.conf, which
includes the project's, sets both (the jobconf for Hadoop's sake).

Compared: every file under OUT (tests/scripts/run_outputs.py), byte for
byte, with these taken out: timings (summary.json's ``seconds`` and
``seconds_total``, features/summary.json's ``seconds``, the seconds column
of the report's model table), the bundle's ``created`` time, OUT's own path
in summary.json, the driver's ``bytes_written`` of the stages that write those
timings (features, train), and what describes the execution rather than
the data: the runner's name (``runner`` and the report's "Runner: ..."
note), the ``tasks`` each job ran, the parse stage's ``work_items`` (at
least two per core on the local runner) and count_ngrams' ``flushes``
counter (one at least per map task). The part files of a job's output directory (counts,
kept terms, tf-idf vectors, labelled vectors) are split by task: for them the
sorted set of lines is compared. The parse and graph stages' files, the
vocabulary and the report tables are compared as they are.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.scripts.run_outputs import (
    REPO,
    differences,
    drop_keys,
    snapshot,
    task_conf,
    write_inputs,
)

LABELS = "meeting*=1,other*=0"
RUN_ARGS = ["--labels", LABELS, "--models", "multinomial_nb,logistic_regression",
            "--folds", "2", "--target-recall", "0.9"]
RUNS = {"inline": ("inline", None), "local-1": ("local", 1), "local-3": ("local", 3)}
# the part files of these directories follow the tasks
EXECUTION_KEYS = ("runner", "tasks", "flushes", "work_items")
PART_DIRS = ("features/counts", "features/kept", "features/tfidf", "features/labelled")


def without_execution(found):
    """The snapshot without what describes the execution, not the data: the
    runner's name, the tasks each job ran, the parse stage's work items and
    count_ngrams' ``flushes`` (one at least per map task)."""
    result = dict(found)
    for name in ("report/report.md", "report/report.html"):
        result[name] = re.sub(rb"Runner: [a-z]+\.", b"Runner: R.", found[name])
    for name in ("summary.json", "features/summary.json"):
        result[name] = json.dumps(drop_keys(json.loads(found[name]), EXECUTION_KEYS),
                                  sort_keys=True).encode()
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{run name: (exit status, log, OUT)}."""
    root = tmp_path_factory.mktemp("determinism")
    corpus = str(root / "corpus")
    write_inputs(corpus)
    env = dict(os.environ, JEEVES_HOME=REPO)
    env.setdefault("NLTK_DATA", os.path.join(REPO, ".nltk_data"))
    found = {}
    for name, (runner, tasks) in RUNS.items():
        out = str(root / name)
        command = [sys.executable, "-m", "jeeves.cli", "run", "--input", corpus,
                   "--output", out, "--runner", runner] + RUN_ARGS
        if tasks is not None:
            command += ["--mrjob-conf", task_conf(str(root / ("%s.conf" % name)), tasks)]
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
        found[name] = (result.returncode, result.stdout + result.stderr, out)
    return found


def test_every_run_finishes(runs):
    for name, (status, log, _) in runs.items():
        assert status == 0, "%s: %s" % (name, log)


def test_the_task_counts_differ(runs):
    """The runs really split the work differently (or the comparison proves little)."""
    one = sorted(os.listdir(os.path.join(runs["local-1"][2], "features", "tfidf")))
    three = sorted(os.listdir(os.path.join(runs["local-3"][2], "features", "tfidf")))
    assert one != three


@pytest.mark.parametrize("name", ["local-1", "local-3"])
def test_outputs_equal_the_inline_run(runs, name):
    inline = without_execution(snapshot(runs["inline"][2], merge_parts=True))
    other = without_execution(snapshot(runs[name][2], merge_parts=True))
    assert [key for key in inline if key.endswith("/part-*")], "no part files compared"
    assert differences(inline, other) == []


def test_files_outside_the_task_split_are_byte_identical(runs):
    """Records, quarantine, vocabulary, graph, report tables: the files
    themselves, not their sorted lines."""
    inline = without_execution(snapshot(runs["inline"][2]))
    three = without_execution(snapshot(runs["local-3"][2]))
    for found in (inline, three):
        for key in [key for key in found if key.startswith(PART_DIRS)]:
            del found[key]
    assert "messages/part-00000" in inline and "graph/contacts.tsv" in inline
    assert differences(inline, three) == []


DUMP = """
import sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler
from jeeves.models.bundle import dump_estimator
X = np.arange(40, dtype=float).reshape(20, 2) % 7
held = [object() for _ in range(int(sys.argv[2]))]  # other ids in each process
dump_estimator(make_pipeline(MaxAbsScaler(), LogisticRegression()).fit(X, np.arange(20) % 2),
               sys.argv[1])
"""


def test_an_estimator_dumped_twice_is_the_same_file(tmp_path):
    """skops alone names objects and arrays by id() and dates the zip entries."""
    from jeeves.models.bundle import load_estimator

    paths = [tmp_path / "a.skops", tmp_path / "b.skops"]
    for path, held in zip(paths, (1, 5000)):
        subprocess.run([sys.executable, "-c", DUMP, str(path), str(held)], check=True,
                       cwd=REPO)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert load_estimator(str(paths[0])).predict([[1.0, 2.0]]).shape == (1,)
