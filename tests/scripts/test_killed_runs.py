"""`jeeves run` killed with SIGKILL in the middle of each stage, then run again.

Real processes and real signals: `jeeves run --score` runs as a subprocess on
the local runner (whose tasks are child processes) in its own process group,
and the whole group gets SIGKILL once the stage is seen running:

- parse:    mrjob's working directory of mr_parse_emails exists
- features: that of mr_tfidf_vectors (counting and the vocabulary are
            done, the vectors are being written; the vocabulary job runs in
            the driver for about 0.1 s, which a watcher on a loaded machine
            could miss, and then the whole chain after it failed)
- graph:    that of mr_common_contacts (the contact lists are done)
- labels:   that of mr_label_messages
- train:    the first model's progress line is out (the labels stage's
            marker is written, the first of the two models compared, its
            folds checkpointed, the second being compared in the driver)
- score:    that of mr_score_messages

mrjob makes its working directories under the temporary directory, so each
run gets its own TMPDIR, which the test watches; no hook in the code. The
runs use one task per step (a mrjob.conf that includes the project's, with
``num_cores: 1``): fewer task processes, the same code paths.

The kills form a chain over one OUT, which also tests the stage-level
resume (scripts/pipeline/fingerprint.py): the first run is killed in parse,
the same command again is killed in features, again in graph, labels, train
and score, and the next one runs to the end. Each run keeps exactly the
stages finished before the previous kill (its progress lines say "kept")
and recomputes the rest. At each kill: the killed stage and every later one
carry no ``_SUCCESS``, there is no OUT/summary.json, and each earlier stage
equals the uninterrupted reference run's. At the end OUT equals the
reference, every file, with only timings and OUT's own path left out
(tests/scripts/run_outputs.py lists them: the durations in summary.json,
features/summary.json and the report's seconds column, the driver's
byte counts of the stages that write those, the bundle's ``created`` time,
the markers' records but their fingerprints), and summary.json's
``resumed`` and ``driver_bytes`` (the kept stages moved no bytes). One more
run, with ``--force`` over that finished OUT, is killed in parse: no marker
is left at all.
"""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.scripts.run_outputs import REPO, differences, snapshot, task_conf, write_inputs

LABELS = "meeting*=1,other*=0"
RUN_ARGS = ["--labels", LABELS, "--runner", "local",
            "--models", "multinomial_nb,logistic_regression",
            "--folds", "2", "--target-recall", "0.9", "--score"]

# stage -> the output directories that carry its _SUCCESS
STAGE_DIRS = {
    "parse": ("messages", "quarantine"),
    "features": ("features",),
    "graph": ("graph",),
    "labels": ("features/labelled",),
    "train": ("report", "model"),
    "score": ("predictions",),
}
ORDER = ("parse", "features", "graph", "labels", "train", "score")
KILLED_IN = ORDER
# the job whose working directory shows the stage running (train: none)
STAGE_JOBS = {"parse": "mr_parse_emails", "features": "mr_tfidf_vectors",
              "graph": "mr_common_contacts", "labels": "mr_label_messages",
              "score": "mr_score_messages"}
PROGRESS_LINE = re.compile(r"^\[ *[0-9.]+s\] (\w+) .*$", re.M)


def stage_of(relative):
    """The stage that writes the file at ``relative`` (None: none does)."""
    for stage in reversed(ORDER):  # features/labelled/ before features/
        if any(relative.startswith(directory + "/") for directory in STAGE_DIRS[stage]):
            return stage
    return None


def running(stage, tmpdir, log_path):
    """True once ``stage`` is seen running (module docstring)."""
    if stage in STAGE_JOBS:
        return bool(glob.glob(os.path.join(tmpdir, STAGE_JOBS[stage] + ".*")))
    with open(log_path, encoding="utf-8", errors="replace") as log:
        return "model" in PROGRESS_LINE.findall(log.read())


def kept_stages(log):
    """The stages the run's progress lines report kept, in order."""
    return [match.group(1) for match in PROGRESS_LINE.finditer(log)
            if " kept (" in match.group(0)]


def jeeves_run(corpus, out, tmpdir, conf, kill_in=None, extra=()):
    """Run `jeeves run` in its own process group; with ``kill_in``, SIGKILL the
    group once that stage runs. Returns (exit status, output)."""
    os.makedirs(tmpdir)
    env = dict(os.environ, JEEVES_HOME=REPO, TMPDIR=tmpdir)
    env.setdefault("NLTK_DATA", os.path.join(REPO, ".nltk_data"))
    log_path = tmpdir + ".log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jeeves.cli", "run", "--input", corpus, "--output", out]
            + RUN_ARGS + list(extra) + ["--mrjob-conf", conf], stdout=log,
            stderr=subprocess.STDOUT,
            env=env, cwd=REPO, start_new_session=True)
        try:
            while kill_in is not None and process.poll() is None:
                if running(kill_in, tmpdir, log_path):
                    os.killpg(process.pid, signal.SIGKILL)
                    break
                time.sleep(0.01)
            status = process.wait()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    # the tasks may outlive the driver by a moment: wait until the group is gone
    while True:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.01)
    with open(log_path, encoding="utf-8", errors="replace") as log:
        return status, log.read()


def markers(out):
    """The stage directories of OUT that carry _SUCCESS."""
    return {directory for stage in ORDER for directory in STAGE_DIRS[stage]
            if os.path.exists(os.path.join(out, directory, "_SUCCESS"))}


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The reference run, then the chain of killed runs and the last run:
    {"reference": snapshot, stage: (status, log, markers, summary exists,
    snapshot), "final": (status, log, snapshot)}."""
    root = tmp_path_factory.mktemp("killed")
    corpus = str(root / "corpus")
    write_inputs(corpus)
    conf = task_conf(str(root / "mrjob.conf"), 1)
    reference_out = str(root / "reference")
    status, log = jeeves_run(corpus, reference_out, str(root / "tmp-reference"), conf)
    assert status == 0, log
    found = {"reference": snapshot(reference_out)}
    out = str(root / "out")
    for stage in KILLED_IN:
        status, log = jeeves_run(corpus, out, str(root / ("tmp-" + stage)), conf,
                                 kill_in=stage)
        found[stage] = (status, log, markers(out),
                        os.path.exists(os.path.join(out, "summary.json")), snapshot(out))
    status, log = jeeves_run(corpus, out, str(root / "tmp-final"), conf)
    found["final"] = (status, log, snapshot(out))
    # the same command with --force over the finished OUT, killed in parse
    status, log = jeeves_run(corpus, out, str(root / "tmp-again"), conf, kill_in="parse",
                             extra=["--force"])
    found["again"] = (status, log, markers(out),
                      os.path.exists(os.path.join(out, "summary.json")))
    return found


def test_the_reference_run_has_quarantine_and_duplicates(chain):
    reference = chain["reference"]
    assert reference["quarantine/part-00000"].strip(), "nothing quarantined"
    assert b'"duplicates": 1' in reference["summary.json"]


@pytest.mark.parametrize("stage", KILLED_IN)
def test_killed_stage_leaves_nothing_that_looks_finished(chain, stage):
    status, log, marked, has_summary, _ = chain[stage]
    assert status == -signal.SIGKILL, "the run ended (%s) before %s was seen running:\n%s" % (
        status, stage, log)
    assert not has_summary, "summary.json exists after a kill in %s" % stage
    later = ORDER[ORDER.index(stage):]
    unfinished = {directory for name in later for directory in STAGE_DIRS[name]}
    assert not marked & unfinished, "completion markers after a kill in %s: %s" % (
        stage, sorted(marked & unfinished))
    earlier = {directory for name in ORDER[:ORDER.index(stage)] for directory in STAGE_DIRS[name]}
    assert marked == earlier


@pytest.mark.parametrize("stage", KILLED_IN)
def test_stages_finished_before_the_kill_equal_the_reference(chain, stage):
    """What the killed run finished (after the previous kill) is the reference's."""
    done = ORDER[:ORDER.index(stage)]
    state = {name: data for name, data in chain[stage][4].items() if stage_of(name) in done}
    reference = {name: data for name, data in chain["reference"].items()
                 if stage_of(name) in done}
    assert differences(state, reference) == []


@pytest.mark.parametrize("stage", KILLED_IN)
def test_a_run_after_a_kill_keeps_the_stages_finished_before_it(chain, stage):
    """The run killed in ``stage`` came after the one killed in the stage
    before: it kept what that one had finished, and recomputed the rest."""
    before = KILLED_IN[KILLED_IN.index(stage) - 1] if stage != KILLED_IN[0] else None
    expected = list(ORDER[:ORDER.index(before)]) if before else []
    assert kept_stages(chain[stage][1]) == expected, chain[stage][1]


def test_a_run_after_a_kill_in_training_keeps_the_evaluated_folds(chain):
    """The run killed in train had evaluated the first model's two folds: the
    next run reads them back (OUT/checkpoints/train/) instead of fitting them
    again, says so, and removes the checkpoints once training is sealed."""
    log = chain["score"][1]
    kept = re.search(r"\] train .*; (\d+) folds kept from an interrupted run\)", log)
    assert kept, log
    assert int(kept.group(1)) >= 2
    assert not any(name.startswith("checkpoints/") for name in chain["score"][4])
    assert any(name.startswith("checkpoints/train/") for name in chain["train"][4])


def without_resume(found):
    """A snapshot with summary.json's ``resumed`` and ``driver_bytes`` left out."""
    summary = json.loads(found["summary.json"])
    for key in ("resumed", "driver_bytes"):
        summary.pop(key)
    return dict(found, **{"summary.json": json.dumps(summary, sort_keys=True).encode()})


def test_the_run_after_the_kills_equals_an_uninterrupted_run(chain):
    status, log, final = chain["final"]
    assert status == 0, log
    assert differences(without_resume(final), without_resume(chain["reference"])) == []
    assert json.loads(final["summary.json"])["resumed"] == {
        "kept": list(ORDER[:-1]), "recomputed": ["score"]}
    assert kept_stages(log) == list(ORDER[:-1])


def test_a_forced_run_killed_over_a_finished_output_leaves_no_marker(chain):
    """With --force no stage is kept: the earlier run's stages do not look
    finished while they wait to be rewritten (scripts/pipeline/run.py clears
    their markers first)."""
    status, log, marked, has_summary = chain["again"]
    assert status == -signal.SIGKILL, log
    assert not has_summary
    assert marked == set()
