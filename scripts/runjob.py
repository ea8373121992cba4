"""Run one MRJob for the driver, with the mrjob.conf profile of a runner.

Every subcommand goes through ``run_job`` so all of them run the same way:
the project's mrjob.conf, the chosen runner, an explicit output directory,
and the counters of all steps summed into one dict.
"""

import contextlib
import glob
import json
import logging
import os
from collections import defaultdict

from mrjob.step import StepFailedException

from jobs import JEEVES_HOME
from scripts.cli import UserError
from scripts.hadoop.engines import local_spark_environment

MRJOB_CONF = os.path.join(JEEVES_HOME, "mrjob.conf")
RUNNERS = ("inline", "local", "hadoop", "spark", "emr")


class JobFailed(UserError):
    """A job failed on its runner; the message carries mrjob's log excerpt."""


class _ErrorLog(logging.Handler):
    """Keeps mrjob's error messages (e.g. the "Probable cause of failure"
    excerpt it reads from the task logs) for the failure message."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage().strip())


@contextlib.contextmanager
def _runner_environment(runner):
    """The driver environment a runner needs here (Spark: scripts/hadoop/engines.py)."""
    if runner != "spark":
        yield
        return
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "PATH", "SPARK_LOCAL_IP")}
    os.environ.update(local_spark_environment())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class JobResult:
    """What a finished job left: its output directory and summed counters."""

    def __init__(self, output_dir, counters):
        self.output_dir = output_dir
        self.counters = counters

    def counter(self, group, name):
        return self.counters.get(group, {}).get(name, 0)


def sum_counters(step_counters):
    """[{group: {name: n}}, ...] per step -> {group: {name: total}}."""
    totals = defaultdict(lambda: defaultdict(int))
    for step in step_counters:
        for group, names in (step or {}).items():
            for name, value in names.items():
                totals[group][name] += value
    return {group: dict(names) for group, names in totals.items()}


# Runners whose tasks write where the driver's file system is: the job can
# write the local output directory itself.
LOCAL_OUTPUT_RUNNERS = ("inline", "local")


def run_job(job_class, inputs, output_dir, args=(), runner="inline", conf=MRJOB_CONF):
    """Run ``job_class`` on ``inputs``; its output ends up in local ``output_dir``.

    On a cluster (hadoop, spark, emr) the job writes to the runner's own
    output directory (HDFS, S3) and the part files are copied down, so the
    driver's later stages read local files whatever the runner. mrjob uploads
    local input paths to the cluster itself.
    """
    argv = ["-r", runner, "-c", conf]
    if runner in LOCAL_OUTPUT_RUNNERS:
        argv += ["--output-dir", output_dir]
    job = job_class(args=argv + list(args) + list(inputs))
    errors = _ErrorLog()
    mrjob_log = logging.getLogger("mrjob")
    mrjob_log.addHandler(errors)
    try:
        with _runner_environment(runner), job.make_runner() as job_runner:
            job_runner.run()
            if runner not in LOCAL_OUTPUT_RUNNERS:
                fetch_output(job_runner, output_dir)
            return JobResult(output_dir, sum_counters(job_runner.counters()))
    except StepFailedException as error:
        excerpt = "\n".join(message for message in errors.messages if message)
        raise JobFailed("%s failed on the %s runner: %s%s" % (
            job_class.__name__, runner, error, "\n" + excerpt if excerpt else "")) from None
    finally:
        mrjob_log.removeHandler(errors)


def fetch_output(job_runner, output_dir):
    """Copy the part files of a finished job's (remote) output to ``output_dir``."""
    os.makedirs(output_dir, exist_ok=True)
    fs = job_runner.fs
    for uri in sorted(fs.ls(job_runner.get_output_dir())):
        name = uri.rstrip("/").rsplit("/", 1)[-1]
        if not name.startswith("part-"):
            continue
        with open(os.path.join(output_dir, name), "wb") as handle:
            for chunk in fs.cat(uri):
                handle.write(chunk)


def output_files(output_dir):
    """The part files of a job's local output directory, in name order."""
    return sorted(glob.glob(os.path.join(output_dir, "part-*")))


def read_json_values(output_dir):
    """Yield the JSON value of every line of a local output directory."""
    for path in output_files(output_dir):
        with open(path, "rb") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)
