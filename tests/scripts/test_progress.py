"""Tasks and progress visible (issue 15): the tasks each job ran, in
summary.json and the progress lines, and the live progress of a stage.

- `jeeves run --score` on the hand-written corpus, inline and local with two
  tasks per step (tests/scripts/run_outputs.task_conf; local without the
  graph stage, whose 28 task processes would double the test's time): every
  job of every stage counted its tasks (jobs.CountedJob), and a job's
  last-phase task count equals the part files it wrote, one per task;
- `jeeves parse` under a pseudo-terminal draws a tqdm bar of input bytes
  that reaches 100%; without a terminal nothing live is written (no '\\r');
- the cluster runners' handler (scripts/pipeline/progress.EngineProgress)
  turns the mrjob log records of a step's progress into one updating line
  or plain lines.
"""

import io
import json
import logging
import os
import pty
import re
import select
import subprocess
import sys

import pytest

from jeeves.jobs.mr_count_ngrams import MRCountNgrams
from jeeves.pipeline import progress
from tests.scripts.run_outputs import REPO, task_conf, write_inputs

LABELS = "meeting*=1,other*=0"
RUN_ARGS = ["--labels", LABELS, "--models", "multinomial_nb", "--folds", "2",
            "--target-recall", "0.9", "--score"]
ENV = dict(os.environ, JEEVES_HOME=REPO)
ENV.setdefault("NLTK_DATA", os.path.join(REPO, ".nltk_data"))
# scripts/cmd_run.Progress: "[   4.1s] parse   16 records  4.1s  (...)  [3 map, 4 reduce tasks]"
TASKS_LINE = re.compile(r"^\[ *[0-9.]+s\] (\w+) .*\[(\d+) map, (\d+) reduce tasks\]$", re.M)


def jeeves(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "jeeves.cli"] + list(args), env=ENV,
                          cwd=REPO, **kwargs)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("progress-corpus")
    write_inputs(str(root))
    return root


@pytest.fixture(scope="module", params=["inline", "local"])
def run(request, corpus, tmp_path_factory):
    """(runner, OUT, summary, stdout) of a `jeeves run --score`."""
    root = tmp_path_factory.mktemp("progress-" + request.param)
    command = ["run", "--input", str(corpus), "--output", str(root / "out"),
               "--runner", request.param] + RUN_ARGS
    if request.param == "local":
        command += ["--mrjob-conf", task_conf(str(root / "two.conf"), 2), "--no-graph"]
    result = jeeves(*command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((root / "out" / "summary.json").read_text())
    return request.param, root / "out", summary, result.stdout


def job_tasks(summary):
    """{(stage, job): {"map": n, "reduce": n}} of every job summary.json names."""
    found = {}
    for stage, values in summary["stages"].items():
        tasks = values.get("tasks")
        if tasks is None:
            continue
        for job, counted in ({stage: tasks} if "map" in tasks else tasks).items():
            found[stage, job] = counted
    return found


def parts(directory):
    return len([name for name in os.listdir(directory) if name.startswith("part-")])


def test_every_job_of_every_stage_counts_its_tasks(run):
    runner, _, summary, _ = run
    tasks = job_tasks(summary)
    expected = {("parse", "parse"), ("features", "count_ngrams"),
                ("features", "build_vocabulary"), ("features", "tfidf_vectors"),
                ("labels", "labels"), ("score", "score_messages"), ("score", "select_rows")}
    if runner == "inline":
        expected |= {("graph", "contact_lists"), ("graph", "common_contacts")}
    assert set(tasks) == expected
    for job, counted in tasks.items():
        assert counted["map"] >= 1, (job, counted)
    # the map-only jobs ran no reducer (the parse job on this machine: the
    # driver dedupes its rows as it sorts them); the others ran some
    assert tasks["score", "score_messages"]["reduce"] == 0
    assert tasks["score", "select_rows"]["reduce"] == 0
    assert tasks["parse", "parse"]["reduce"] == 0
    for job in (("features", "count_ngrams"), ("labels", "labels")):
        assert tasks[job]["reduce"] >= 1, (job, tasks[job])


def test_a_jobs_last_tasks_are_its_part_files(run):
    """One part file per task of a step's last phase: the counts are the tasks that ran."""
    _, out, summary, _ = run
    tasks = job_tasks(summary)
    assert tasks["features", "count_ngrams"]["reduce"] == parts(out / "features" / "counts")
    assert tasks["score", "score_messages"]["map"] == parts(out / "predictions" / "scores")
    assert tasks["score", "select_rows"]["map"] == parts(out / "predictions" / "flagged")


def test_local_runs_two_or_more_reducers(run):
    runner, _, summary, _ = run
    if runner != "local":
        pytest.skip("the reducer count is the local run's two tasks per step")
    tasks = job_tasks(summary)
    assert tasks["parse", "parse"]["map"] >= 2
    assert tasks["features", "count_ngrams"]["reduce"] >= 2


def test_progress_lines_show_the_stage_totals(run):
    _, _, summary, stdout = run
    shown = {stage: (int(maps), int(reduces)) for stage, maps, reduces
             in TASKS_LINE.findall(stdout)}
    assert set(shown) == {stage for stage, _ in job_tasks(summary)}, stdout
    tasks = job_tasks(summary)
    for stage, (maps, reduces) in shown.items():
        assert maps == sum(t["map"] for (s, _), t in tasks.items() if s == stage)
        assert reduces == sum(t["reduce"] for (s, _), t in tasks.items() if s == stage)


def read_terminal(master, process):
    """Everything written to the pseudo-terminal until the process ends."""
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait()
    return b"".join(chunks)


@pytest.mark.parametrize("runner", ["inline", "local"])
def test_parse_on_a_terminal_draws_a_bar_to_100_percent(corpus, tmp_path, runner):
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "jeeves.cli", "parse", "--input", str(corpus),
             "--output", str(tmp_path / "out"), "--runner", runner],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, env=ENV,
            cwd=REPO)
        os.close(slave)
        written = read_terminal(master, process).decode("utf-8", "replace")
    finally:
        os.close(master)
    assert process.returncode == 0, written
    assert "\r" in written, written
    # tqdm's last state of the bar: the parse job, all of its input bytes
    last = [line for line in re.split(r"[\r\n]", written) if "MRParseEmails" in line][-1]
    assert re.search(r"MRParseEmails: 100%\|█+\| (\S+)/\1 ", last), written


def test_parse_without_a_terminal_writes_nothing_live(corpus, tmp_path):
    result = jeeves("parse", "--input", str(corpus), "--output", str(tmp_path / "out"),
                    capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\r" not in result.stdout
    assert "MRParseEmails" not in result.stderr


class Terminal(io.StringIO):
    def isatty(self):
        return True


def feed(stream, messages, runner="hadoop"):
    """Log ``messages`` through mrjob's loggers while a job is watched."""
    step_log = logging.getLogger("mrjob.logs.step")
    runner_log = logging.getLogger("mrjob.hadoop")
    with progress.watch(runner, MRCountNgrams, [], stream) as watcher:
        assert watcher.job_args == ()
        for message in messages:
            (runner_log if message.startswith("Running") else step_log).info(message)


HADOOP_LOG = ["Running step 1 of 2...", "  map 0% reduce 0%", "  map 50% reduce 0%",
              "  map 50% reduce 0%", "  Submitted application application_1_0001",
              "  map 100% reduce 0%", "  map 100% reduce 100%", "Running step 2 of 2...",
              "  map 100% reduce 50%"]


def test_cluster_progress_is_plain_lines_off_a_terminal():
    stream = io.StringIO()
    feed(stream, HADOOP_LOG)
    assert stream.getvalue().splitlines() == [
        "MRCountNgrams step 1/2: map 0% reduce 0%",
        "MRCountNgrams step 1/2: map 50% reduce 0%",
        "MRCountNgrams step 1/2: map 100% reduce 0%",
        "MRCountNgrams step 1/2: map 100% reduce 100%",
        "MRCountNgrams step 2/2: map 100% reduce 50%"]
    assert "\r" not in stream.getvalue()


def test_cluster_progress_is_one_updating_line_on_a_terminal():
    stream = Terminal()
    feed(stream, HADOOP_LOG + ["   45.5% complete"], runner="emr")
    written = stream.getvalue()
    assert written.count("\n") == 1 and written.endswith("\n")
    states = [state.rstrip() for state in written.rstrip("\n").split("\r")[1:]]
    assert states[1] == "MRCountNgrams step 1/2: map 50% reduce 0%"
    assert states[-1] == "MRCountNgrams step 2/2: 45.5% complete"
    # a shorter state overwrites all of a longer one
    assert len(written.rstrip("\n").split("\r")[-1]) >= len(states[-2])


def test_the_cluster_handler_is_removed_when_the_job_fails():
    mrjob_log = logging.getLogger("mrjob")
    level, handlers = mrjob_log.level, list(mrjob_log.handlers)
    stream = io.StringIO()
    with pytest.raises(RuntimeError):
        with progress.watch("hadoop", MRCountNgrams, [], stream):
            raise RuntimeError("the job failed")
    logging.getLogger("mrjob.logs.step").info("  map 10% reduce 0%")
    assert stream.getvalue() == ""
    assert mrjob_log.level == level and mrjob_log.handlers == handlers


def test_no_progress_when_disabled():
    stream = Terminal()
    with progress.watch("local", MRCountNgrams, [], stream, enabled=False) as watcher:
        assert watcher.job_args == ()
    feed_stream = Terminal()
    with progress.watch("hadoop", MRCountNgrams, [], feed_stream, enabled=False):
        logging.getLogger("mrjob.logs.step").info("  map 10% reduce 0%")
    assert stream.getvalue() == "" and feed_stream.getvalue() == ""


def test_the_task_file_follower_reads_whole_counter_lines_only(tmp_path):
    """A counter line half written when the driver polls counts once, when whole."""
    stderr = tmp_path / "job-key" / "step" / "000" / "mapper" / "00001" / "stderr"
    later_step = tmp_path / "job-key" / "step" / "001" / "mapper" / "00000" / "stderr"
    for path in (stderr, later_step):
        path.parent.mkdir(parents=True)
    later_step.write_bytes(b"reporter:counter:progress,input_bytes,999\n")
    watcher = progress.TaskFileProgress("MRX", 300, str(tmp_path), io.StringIO())
    try:
        stderr.write_bytes(b"reporter:counter:tasks,map,1\nreporter:counter:progress,input_b")
        watcher.poll()
        assert watcher.done == 0
        with open(stderr, "ab") as handle:
            handle.write(b"ytes,100\nreporter:status:busy\n")
        watcher.poll()
        watcher.poll()
        assert watcher.done == 100
        watcher.finish({"progress": {"input_bytes": 300}})
        assert watcher.done == watcher.bar.n == 300
    finally:
        watcher.close()
