"""Run one MRJob for the driver, with the mrjob.conf profile of a runner.

Every subcommand goes through ``run_job`` so all of them run the same way:
the project's mrjob.conf, the chosen runner, an explicit output directory,
and the counters of all steps summed into one dict.
"""

import glob
import json
import os
from collections import defaultdict

from jobs import JEEVES_HOME

MRJOB_CONF = os.path.join(JEEVES_HOME, "mrjob.conf")
RUNNERS = ("inline", "local", "hadoop", "spark", "emr")


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
    with job.make_runner() as job_runner:
        job_runner.run()
        if runner not in LOCAL_OUTPUT_RUNNERS:
            fetch_output(job_runner, output_dir)
        return JobResult(output_dir, sum_counters(job_runner.counters()))


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
