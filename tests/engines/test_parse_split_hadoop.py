"""A 20 MB mbox on HDFS split at 2 MB on Hadoop and on Spark: the whole-file records.

The mbox (shared Enron files decompressed and concatenated, as in
tests/jobs/test_mr_parse_emails_split.py) is put on the local cluster's
HDFS; `jeeves parse` reads it there, inline in one piece and on the hadoop
and spark runners in 2 MB byte ranges read over WebHDFS. At least 8 map
tasks ran (summary.json) and the messages and quarantine files are the bytes
of the inline whole-file parse. Slow: Hadoop and Spark jobs take minutes.

On Hadoop, `jeeves parse` is the one of the wheel installed into a fresh
virtualenv (tests/package_env.py), run outside the checkout: the job's
tasks import the package the driver ships them.
"""

import json
import os

import pytest

from tests.jobs.test_mr_parse_emails_split import SPLIT, build_enron_mbox, output_bytes, parse
from tests.package_env import install_wheel, run_installed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mbox_on_hdfs(hadoop_cluster, tmp_path_factory):
    local = build_enron_mbox(tmp_path_factory.mktemp("enron") / "enron.mbox")
    [uri] = hadoop_cluster.put([str(local)])
    return uri, local.stat().st_size


@pytest.fixture(scope="module")
def whole_parse(mbox_on_hdfs, tmp_path_factory):
    output = tmp_path_factory.mktemp("whole")
    status, stage = parse([mbox_on_hdfs[0]], output)
    assert status == 0 and stage["tasks"]["map"] == 1
    return output_bytes(output), stage


@pytest.mark.parametrize("runner", ["hadoop", "spark"])
def test_hdfs_mbox_split_gives_the_whole_file_records(runner, mbox_on_hdfs, whole_parse,
                                                      tmp_path, capsys, request):
    if runner == "spark":
        request.getfixturevalue("spark")
    uri, size = mbox_on_hdfs
    whole, whole_stage = whole_parse
    if runner == "hadoop":
        status, stage = installed_parse(uri, tmp_path)
    else:
        status, stage = parse([uri], tmp_path, runner, SPLIT)
    assert status == 0 and stage["reconciled"]
    assert stage["tasks"]["map"] >= 8
    assert stage["read"] == whole_stage["read"] > 5000
    assert output_bytes(tmp_path) == whole


def installed_parse(uri, output):
    """`jeeves parse --runner hadoop` of the installed wheel -> (status, parse stage)."""
    installed = install_wheel(output.parent / (output.name + "-package"))
    hadoop = {name: os.environ[name] for name in ("HADOOP_HOME", "HADOOP_CONF_DIR")}
    run_installed(installed, installed["jeeves"], "parse", "--input", uri, "--output",
                  str(output), "--runner", "hadoop", "--split-size", str(SPLIT), env=hadoop)
    assert os.listdir(installed["work"]) == []
    return 0, json.loads((output / "summary.json").read_text())["stages"]["parse"]
