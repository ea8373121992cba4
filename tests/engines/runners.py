"""Run a job on a real engine and compare it with inline: the engine tests' API.

``run_on(runner, job_class, inputs, args=(), cluster=None)`` runs
``job_class`` with the project's mrjob.conf profile of ``runner`` and returns
its output as [(key, value), ...]. ``inputs`` are as for
``tests.helpers.run_job`` (bytes, str, lists of lines, or local paths).

- ``"inline"``: sandboxed with ``--no-conf``, as ``tests.helpers.run_job``;
  ``"local"``: the ``local`` profile.
- ``"hadoop"``: ``cluster`` is the ``hadoop_cluster`` fixture
  (tests/engines/conftest.py); the inputs are first put on its HDFS, as a
  real run's input would be, and the job finds ``hadoop``, the streaming jar
  and the task logs from ``HADOOP_HOME``, which the fixture sets.
- ``"spark"``: the ``spark`` profile (pyspark's spark-submit, ``local[2]``).

``run_with_counters(...)`` takes the same arguments and also returns
mrjob's counters, one {group: {name: count}} per step;
``reduce_tasks(counters)`` reads from them the reduce tasks Hadoop ran per
step.

``assert_same_records(expected, actual)`` compares two outputs as multisets
of records, floats within 1e-9.
"""

import contextlib
import json
import math
import os
import subprocess
import tempfile
import uuid

import pytest

from jeeves.pipeline.engine import profile_options
from jeeves.spark_env import local_spark_environment
from jeeves.taskcode import task_code_args, task_code_zip, task_start_options
from tests.helpers import MRJOB_CONF, _write_inputs

FLOAT_TOLERANCE = 1e-9
# Digits kept in floats when sorting records; equality uses the tolerance.
SORT_DIGITS = 6


class HadoopCluster:
    """The running pseudo-distributed cluster: its home, its mode and a file system shell.

    ``shuffle`` is true when jobs run with the shuffle (then ``reduce_tasks``
    reducers a step by default), false when they run as uber jobs
    (tools/hadoop/cluster.py).
    """

    def __init__(self, home, details):
        self.home = home
        self.hadoop_bin = os.path.join(home, "bin", "hadoop")
        self.shuffle = details["shuffle"]
        self.reduce_tasks = details["reduce_tasks"]
        self.shuffle_port = details.get("shuffle_port")
        self.pid = details["pid"]

    def hadoop(self, *args):
        """Run ``hadoop ARGS``; return stdout, raise with stderr on failure."""
        done = subprocess.run(
            [self.hadoop_bin, *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError("hadoop %s failed:\n%s" % (" ".join(args), done.stderr))
        return done.stdout

    def put(self, local_paths):
        """Copy local files or directories to a new HDFS directory; return their URIs."""
        directory = "/user/%s/jeeves-tests/%s" % (_user(), uuid.uuid4().hex)
        self.hadoop("fs", "-mkdir", "-p", directory)
        self.hadoop("fs", "-put", *local_paths, directory)
        return [
            "hdfs://%s/%s" % (directory, os.path.basename(os.path.normpath(path)))
            for path in local_paths
        ]


def _user():
    import getpass

    return getpass.getuser()


def run_on(runner, job_class, inputs, args=(), cluster=None, on_hdfs=True):
    """Run ``job_class`` on ``inputs`` under ``runner``; return [(key, value), ...].

    On Hadoop, ``on_hdfs=False`` hands mrjob the local paths instead, which
    it uploads itself: for a job whose driver prepares local input (the parse
    job packs files into containers, keeping each file's local URI).
    """
    return run_with_counters(runner, job_class, inputs, args, cluster, on_hdfs)[0]


def run_with_counters(runner, job_class, inputs, args=(), cluster=None, on_hdfs=True):
    """As ``run_on``; returns (output, [{group: {counter: count}} per step])."""
    with tempfile.TemporaryDirectory(prefix="jeeves-engine-") as tmp:
        paths = _write_inputs(inputs, tmp)
        if runner == "hadoop":
            if cluster is None:
                raise ValueError("the hadoop runner needs the hadoop_cluster fixture")
            if on_hdfs:
                paths = cluster.put(paths)
        switches = ["-r", runner]
        switches += (["--no-conf"] if runner == "inline"
                     else ["-c", MRJOB_CONF] + code_args(runner))
        job = job_class(args=switches + list(args) + paths)
        job.sandbox()
        with _spark_environment(runner), job.make_runner() as job_runner:
            job_runner.run()
            return list(job.parse_output(job_runner.cat_output())), job_runner.counters()


def code_args(runner):
    """The code switches an Engine gives ``runner``'s jobs with the project's
    mrjob.conf: the code zip, and the tasks started through
    jeeves.jobs.task_start by the profile's Python."""
    return task_code_args(runner, **task_start_options(runner, profile_options(runner, MRJOB_CONF)))


def reduce_tasks(counters):
    """The reduce tasks Hadoop launched in each step (0 for a map-only step),
    from its job counters (group "Job Counters", with or without the
    trailing space some versions print)."""
    launched = []
    for step in counters:
        groups = {group.strip(): names for group, names in step.items()}
        launched.append(groups.get("Job Counters", {}).get("Launched reduce tasks", 0))
    return launched


@contextlib.contextmanager
def _spark_environment(runner):
    """On Spark, the driver's environment of scripts/spark_env.py."""
    if runner != "spark":
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        for name, value in local_spark_environment(task_code_zip()).items():
            patch.setenv(name, value)
        yield


def _rounded(value):
    if isinstance(value, float):
        return round(value, SORT_DIGITS)
    if isinstance(value, (list, tuple)):
        return [_rounded(item) for item in value]
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value


def _sort_key(pair):
    return json.dumps(_rounded(list(pair)), sort_keys=True)


def _close(expected, actual, path):
    if isinstance(expected, float) or isinstance(actual, float):
        assert isinstance(actual, (int, float)) and isinstance(expected, (int, float)), path
        assert math.isclose(
            expected, actual, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE
        ), "%s: %r != %r" % (path, expected, actual)
    elif isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)) and len(expected) == len(actual), path
        for index, (left, right) in enumerate(zip(expected, actual)):
            _close(left, right, "%s[%d]" % (path, index))
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and sorted(expected) == sorted(actual), path
        for key in expected:
            _close(expected[key], actual[key], "%s[%r]" % (path, key))
    else:
        assert expected == actual, "%s: %r != %r" % (path, expected, actual)


def assert_same_records(expected, actual):
    """Assert two job outputs hold the same records, in any order, floats within 1e-9."""
    assert len(expected) == len(actual), "%d records != %d records" % (
        len(expected), len(actual))
    for index, (left, right) in enumerate(
        zip(sorted(expected, key=_sort_key), sorted(actual, key=_sort_key))
    ):
        _close(list(left), list(right), "record %d" % index)
