"""Run one MRJob for the driver, with the mrjob.conf profile of a runner.

Every stage goes through ``run_job`` so all of them run the same way: the
project's mrjob.conf (or the one given), the chosen runner, an explicit
output location, and the counters of all steps summed into one dict.

Where the output goes (scripts/storage.py counts what the driver moves):

- inline, local runners: a local output is written by the job; a remote one
  is written to a local scratch directory first, then uploaded.
- hadoop, spark, emr runners: a remote output is written by the job where it
  lies (nothing passes through the driver); a local one is written on the
  cluster, then copied down (for small runs).

A Hadoop runner's own file-system calls (checking inputs, making its temp
directories, uploading the job's files, removing them) go through the
storage's WebHDFS when it has one (``Storage.runner_filesystem``), instead
of a ``hadoop fs`` JVM each (jeeves.pipeline.engine).
"""

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections import defaultdict

from mrjob.step import StepFailedException

from jeeves.errors import JobFailed, RunnerUnavailable
from jeeves.features.parts import part_files
from jeeves.local_splits import use_range_splits
from jeeves.runners import MRJOB_CONF, RUNNERS
from jeeves.spark_env import local_spark_environment
from jeeves.storage import Storage, is_remote
from jeeves.taskcode import task_code_args, task_code_zip

__all__ = ["MRJOB_CONF", "RUNNERS", "JobFailed", "RunnerUnavailable", "check_runner",
           "run_job", "fetch_output", "read_json_values", "sum_counters"]


HADOOP_HOME_VARIABLES = ("HADOOP_PREFIX", "HADOOP_HOME", "HADOOP_INSTALL", "HADOOP_MAPRED_HOME")


def check_runner(runner):
    """Raise RunnerUnavailable (one line) when ``runner`` cannot start here:
    ``-r hadoop`` with no ``hadoop`` on PATH and none of mrjob's HADOOP_*
    home variables set; ``-r spark`` with no spark-submit or pyspark."""
    if runner not in RUNNERS:
        raise RunnerUnavailable("unknown runner %r (choose from %s)" % (runner, ", ".join(RUNNERS)))
    if runner == "hadoop":
        homes = [os.environ[name] for name in HADOOP_HOME_VARIABLES if os.environ.get(name)]
        found = shutil.which("hadoop") or any(
            os.path.exists(os.path.join(home, "bin", "hadoop")) for home in homes)
        if not found:
            raise RunnerUnavailable(
                "--runner hadoop: no 'hadoop' on PATH and no HADOOP_HOME set (start the local "
                "cluster with 'make cluster-start' and export the HADOOP_HOME it prints, or "
                "see docs/engines.md)")
    if runner == "spark":
        import importlib.util

        if shutil.which("spark-submit") is None and importlib.util.find_spec("pyspark") is None:
            raise RunnerUnavailable("--runner spark: neither spark-submit nor pyspark is "
                                    "installed (pip install pyspark)")


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
    """The driver environment a runner needs here (Spark: scripts/spark_env.py)."""
    if runner != "spark":
        yield
        return
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "PATH", "SPARK_LOCAL_IP")}
    os.environ.update(local_spark_environment(code_zip=task_code_zip()))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class JobResult:
    """What a finished job left: its output location and summed counters."""

    def __init__(self, output_dir, counters):
        self.output_dir = output_dir
        self.counters = counters

    def counter(self, group, name):
        return self.counters.get(group, {}).get(name, 0)

    @property
    def tasks(self):
        """{"map": n, "reduce": n}: the tasks that ran (the jobs' ``tasks`` counters)."""
        counted = self.counters.get("tasks", {})
        return {"map": counted.get("map", 0), "reduce": counted.get("reduce", 0)}


def sum_counters(step_counters):
    """[{group: {name: n}}, ...] per step -> {group: {name: total}}."""
    totals = defaultdict(lambda: defaultdict(int))
    for step in step_counters:
        for group, names in (step or {}).items():
            for name, value in names.items():
                totals[group][name] += value
    return {group: dict(names) for group, names in totals.items()}


# Runners whose tasks write where the driver's file system is: the job can
# write a local output directory itself.
LOCAL_OUTPUT_RUNNERS = ("inline", "local")


def run_job(job_class, inputs, output_dir, args=(), runner="inline", conf=MRJOB_CONF,
            storage=None, code_args=None):
    """Run ``job_class`` on ``inputs``; its output ends up at ``output_dir``
    (a local directory or an ``hdfs://`` / ``s3://`` URI; module docstring).

    ``storage`` (jeeves.storage.Storage) counts the bytes the
    driver moves and removes what an earlier attempt left at ``output_dir``;
    made with ``runner``'s profile options, as jeeves.pipeline.engine.Engine
    makes it, its WebHDFS serves the Hadoop runner too.
    mrjob uploads local input paths to a cluster itself.
    ``code_args``: the switches that give the tasks their code (default:
    jeeves.taskcode.task_code_args, the local zip; Engine.code_args).
    """
    storage = storage or Storage()
    storage.clear(output_dir)
    remote = is_remote(output_dir)
    scratch = None
    argv = ["-r", runner, "-c", conf]
    # the tasks import the driver's own code (jeeves.taskcode)
    argv += task_code_args(runner) if code_args is None else list(code_args)
    if runner in LOCAL_OUTPUT_RUNNERS:
        job_output = output_dir
        if remote or any(is_remote(path) for path in inputs):
            scratch = tempfile.mkdtemp(prefix="jeeves-job-")
            inputs = _local_inputs(storage, inputs, os.path.join(scratch, "inputs"))
        if remote:
            job_output = os.path.join(scratch, "output")
        argv += ["--output-dir", job_output]
    elif remote:
        argv += ["--output-dir", output_dir]
    job = job_class(args=argv + list(args) + list(inputs))
    errors = _ErrorLog()
    mrjob_log = logging.getLogger("mrjob")
    mrjob_log.addHandler(errors)
    try:
        with _runner_environment(runner), job.make_runner() as job_runner:
            if runner == "hadoop" and storage.webhdfs is not None:
                # what the runner's `fs` property would build, with WebHDFS in
                # front (mrjob 0.7.4 has no option for it; the property only
                # builds `_fs` when it is None)
                job_runner._fs = storage.runner_filesystem()
            if runner in LOCAL_OUTPUT_RUNNERS:
                # mrjob's local and inline runners split the input in the driver
                use_range_splits(job_runner)
            job_runner.run()
            if scratch is not None:
                storage.put_tree(job_output, output_dir)
            elif runner not in LOCAL_OUTPUT_RUNNERS and not remote:
                fetch_output(job_runner, output_dir, storage)
            return JobResult(output_dir, sum_counters(job_runner.counters()))
    except StepFailedException as error:
        excerpt = "\n".join(message for message in errors.messages if message)
        raise JobFailed("%s failed on the %s runner: %s%s" % (
            job_class.__name__, runner, error, "\n" + excerpt if excerpt else "")) from None
    finally:
        mrjob_log.removeHandler(errors)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _local_inputs(storage, inputs, directory):
    """Local runners read local files only: copy the files of remote inputs
    (URIs or globs) into ``directory`` through ``storage`` (counted)."""
    local = []
    for number, path in enumerate(inputs):
        if not is_remote(path):
            local.append(path)
            continue
        target = os.path.join(directory, str(number))
        os.makedirs(target)
        for file_number, uri in enumerate(sorted(storage.fs.ls(path))):
            name = "%05d-%s" % (file_number, uri.rstrip("/").rsplit("/", 1)[-1])
            with open(os.path.join(target, name), "wb") as handle:
                handle.write(storage.read_bytes(uri))
        local.append(target)
    return local


def fetch_output(job_runner, output_dir, storage):
    """Copy the part files of a finished job's (remote) output to local
    ``output_dir`` through ``storage`` (counted)."""
    os.makedirs(output_dir, exist_ok=True)
    for uri in storage.part_files(job_runner.get_output_dir()):
        with open(os.path.join(output_dir, uri.rstrip("/").rsplit("/", 1)[-1]), "wb") as handle:
            handle.writelines(storage.iter_file_lines(uri))


def read_json_values(output_dir):
    """Yield the JSON value of every line of a local output directory."""
    for path in part_files(output_dir):
        with open(path, "rb") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)
