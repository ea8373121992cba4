"""A 20 MB mbox on HDFS split at 2 MB on Hadoop and on Spark: the whole-file records.

The mbox (shared Enron files decompressed and concatenated, as in
tests/jobs/test_mr_parse_emails_split.py) is put on the local cluster's
HDFS; `jeeves parse` reads it there, inline in one piece and on the hadoop
and spark runners in 2 MB byte ranges read over WebHDFS. At least 8 map
tasks ran (summary.json) and the messages and quarantine files are the bytes
of the inline whole-file parse. Slow: Hadoop and Spark jobs take minutes.
"""

import pytest

from tests.jobs.test_mr_parse_emails_split import SPLIT, build_enron_mbox, output_bytes, parse

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
    status, stage = parse([uri], tmp_path, runner, SPLIT)
    assert status == 0 and stage["reconciled"]
    assert stage["tasks"]["map"] >= 8
    assert stage["read"] == whole_stage["read"] > 5000
    assert output_bytes(tmp_path) == whole
