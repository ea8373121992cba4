"""`jeeves parse --runner hadoop` killed with SIGKILL while its Hadoop job runs, then run again.

Real processes, a real signal, a real YARN application. The input and the
output are on the local cluster's HDFS. The driver runs as a subprocess in
its own process group; once the parse job runs on YARN (the driver prints
its first map percentage), the whole group gets SIGKILL. Its jobs carry a
YARN application tag of their own (mapreduce.job.tags, in a copy of
mrjob.conf), so the test follows its own application, not the ones other
tests submit to the same cluster meanwhile.

Killing the driver does not stop an application it submitted: YARN runs it
to its end. So the test waits for it to end (the ResourceManager's REST
API on loopback says when) and checks that nothing looks
finished: no stage directory carries ``_SUCCESS``, there is no
``summary.json`` (the cluster's own job-end marker is off in mrjob.conf,
only the driver writes ``_SUCCESS``). The same command is then run again:
it exits 0, marks both stages finished, and its records and quarantine rows
equal an uninterrupted parse of the same files (inline, from the local
copy: the runners give the same rows, tests/engines/test_engines.py), with
each source URI taken relative to its input directory, and so do the
parse counts.

Slow: one parse run (three Hadoop jobs) and a killed one.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree

import pytest
import yaml

from jeeves.runners import MRJOB_CONF
from tests.scripts.run_outputs import REPO, write_inputs
from tools.bench_full import record_line

pytestmark = pytest.mark.slow

STAGE_DIRS = ("messages", "quarantine")
# the driver's progress line once the parse job's tasks run on YARN (docs/pipeline.md)
RUNNING_LINE = b"MRParseEmails step 1/1: map "
ENDED = ("FINISHED", "FAILED", "KILLED")
# bounds for a loaded 2-core machine; passing them is a failure, not a skip
APP_TIMEOUT = 600


def resourcemanager_url(cluster):
    """http://host:port of the ResourceManager's web API, from the cluster's configuration."""
    for path in glob.glob(os.path.join(cluster.home, "etc", "hadoop", "*-site.xml")):
        for prop in ElementTree.parse(path).getroot().iter("property"):
            if prop.findtext("name") == "yarn.resourcemanager.webapp.address":
                return "http://" + prop.findtext("value")
    raise AssertionError("no yarn.resourcemanager.webapp.address in %s" % cluster.home)


def tagged_conf(path, tag):
    """A copy of the project's mrjob.conf whose Hadoop jobs carry YARN tag ``tag``."""
    with open(MRJOB_CONF, encoding="utf-8") as handle:
        conf = yaml.safe_load(handle)
    conf["runners"]["hadoop"].setdefault("jobconf", {})["mapreduce.job.tags"] = tag
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(conf, handle)
    return path


def applications(rm_url, tag):
    """[{"id", "name", "state", ...}] of the applications tagged ``tag`` (YARN
    keeps tags in lower case)."""
    request = urllib.request.Request(rm_url + "/ws/v1/cluster/apps",
                                     headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        found = json.load(response).get("apps") or {}
    return [app for app in found.get("app") or []
            if tag.lower() in app.get("applicationTags", "").split(",")]


def jeeves_parse(inputs, out, tmpdir, conf, rm_url=None, tag=None, runner="hadoop"):
    """`jeeves parse --runner RUNNER --mrjob-conf CONF` in its own process
    group. With ``rm_url``, SIGKILL the group once the parse job runs on YARN
    (the driver prints its first map percentage), then wait until every
    application tagged ``tag`` it submitted has ended. Returns (status, log,
    the applications it left or None)."""
    os.makedirs(tmpdir)
    env = dict(os.environ, JEEVES_HOME=REPO, TMPDIR=tmpdir)
    env.setdefault("NLTK_DATA", os.path.join(REPO, ".nltk_data"))
    before = {app["id"] for app in applications(rm_url, tag)} if rm_url else set()
    log_path = tmpdir + ".log"
    killed = None
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jeeves.cli", "parse", "--input", *inputs, "--output", out,
             "--runner", runner, "--mrjob-conf", conf],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True)
        try:
            while rm_url is not None and process.poll() is None:
                with open(log_path, "rb") as progress:
                    if RUNNING_LINE in progress.read():
                        os.killpg(process.pid, signal.SIGKILL)
                        killed = []
                        break
                time.sleep(0.2)
            status = process.wait()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    deadline = time.monotonic() + APP_TIMEOUT
    while killed is not None:
        left = [app for app in applications(rm_url, tag) if app["id"] not in before]
        if all(app["state"] in ENDED for app in left):
            killed = left
            break
        assert time.monotonic() < deadline, "applications still running: %s" % left
        time.sleep(1)
    with open(log_path, encoding="utf-8", errors="replace") as log:
        return status, log.read(), killed


def local_copy(cluster, uri, target):
    """OUT copied down by the test (the driver did not read it) -> its relative file paths."""
    cluster.hadoop("fs", "-get", uri, target)
    return sorted(os.path.relpath(os.path.join(root, name), target).replace(os.sep, "/")
                  for root, _, names in os.walk(target) for name in names)


def parse_output(out, input_prefix):
    """{"messages"|"quarantine": sorted rows, source URIs relative to
    ``input_prefix``; "counts": the parse counts of summary.json} of a local OUT."""
    found = {}
    for directory in STAGE_DIRS:
        found[directory] = sorted(
            record_line(line, input_prefix)
            for path in sorted(glob.glob(os.path.join(out, directory, "part-*")))
            for line in open(path, "rb").read().splitlines() if line.strip())
    with open(os.path.join(out, "summary.json"), encoding="utf-8") as handle:
        parse = json.load(handle)["stages"]["parse"]
    found["counts"] = {key: parse[key] for key in ("read", "parsed", "quarantined", "duplicates")}
    return found


def test_a_parse_killed_during_its_hadoop_job_leaves_nothing_finished_and_reruns_the_same(
        hadoop_cluster, tmp_path):
    corpus = str(tmp_path / "corpus")
    write_inputs(corpus)
    inputs = hadoop_cluster.put([corpus])
    base = "hdfs:///user/jeeves-tests/killed-%s" % uuid.uuid4().hex
    rm_url = resourcemanager_url(hadoop_cluster)
    tag = "jeeves-killed-%s" % uuid.uuid4().hex
    conf = tagged_conf(str(tmp_path / "mrjob.conf"), tag)

    # the uninterrupted parse of the same files, as the Hadoop run must write it
    status, log, _ = jeeves_parse([corpus], str(tmp_path / "reference"),
                                  str(tmp_path / "tmp-reference"), conf, runner="inline")
    assert status == 0, log
    reference = parse_output(str(tmp_path / "reference"), "file://%s/" % corpus)
    assert reference["messages"] and reference["quarantine"], reference["counts"]

    out = base + "/out"
    status, log, killed = jeeves_parse(inputs, out, str(tmp_path / "tmp-killed"), conf,
                                       rm_url, tag)
    assert killed is not None, "the parse job never ran on YARN before the driver ended:\n" + log
    assert status == -signal.SIGKILL, log
    # the driver's death did not stop its job: YARN ran it to its end
    assert [app["state"] for app in killed] == ["FINISHED"], killed
    # the orphaned application ran to its end; still nothing looks finished
    with tempfile.TemporaryDirectory(prefix="jeeves-killed-") as scratch:
        try:
            left = local_copy(hadoop_cluster, out, os.path.join(scratch, "out"))
        except RuntimeError:
            left = {}  # the killed run made no OUT at all
    assert "summary.json" not in left, sorted(left)
    assert not [name for name in left if name.endswith("_SUCCESS")], sorted(left)

    status, log, _ = jeeves_parse(inputs, out, str(tmp_path / "tmp-rerun"), conf)
    assert status == 0, log
    files = local_copy(hadoop_cluster, out, str(tmp_path / "rerun"))
    for directory in STAGE_DIRS:
        assert directory + "/_SUCCESS" in files, files
    rerun = parse_output(str(tmp_path / "rerun"), inputs[0] + "/")
    for key in ("counts", "messages", "quarantine"):
        assert rerun[key] == reference[key], key
