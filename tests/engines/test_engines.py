"""The same job on Hadoop streaming (local pseudo-distributed cluster) and on
Spark gives the output it gives inline; a failing task surfaces its error.

Slow (the cluster starts once per session, about a minute, and each Hadoop
job takes tens of seconds): marked ``slow``.
"""

import json
import logging

import pytest
from mrjob.step import StepFailedException

from tests.engines.mr_fixture_sender_terms import MRFixtureSenderTerms
from tests.engines.runners import assert_same_records, run_on

pytestmark = pytest.mark.slow


def record(message_id, sender, subject, body):
    return json.dumps({
        "schema_version": 1,
        "message_id": message_id,
        "from": {"address": sender, "name": ""} if sender else None,
        "subject": subject,
        "body": body,
    })


# Two files, so a job has more than one input split.
MESSAGES = [
    [
        record("1@x", "alice@example.com", "Meetings", "Can we schedule the meetings?"),
        record("2@x", "bob@example.com", "Lunch", "Lunch on Friday with the team."),
        record("3@x", None, "No sender", "Nobody sent this meeting."),
    ],
    [
        record("4@x", "alice@example.com", "Meeting moved", "The meeting moved to Friday."),
        record("5@x", "carol@example.com", "Budget", "Budgets attached; numbers 2001."),
    ],
]


@pytest.fixture(scope="module")
def inline_output():
    return run_on("inline", MRFixtureSenderTerms, MESSAGES)


def test_inline_output_is_what_the_fixture_should_compute(inline_output):
    # Hand-counted with the analyzer's "verb, then noun" lemmas: alice's
    # "Meetings"/"meetings" -> "meeting", "Meeting"/"meeting" -> "meet"; the
    # message without a sender is skipped.
    output = {tuple(key): value for key, value in inline_output}
    assert output[("alice@example.com", "meeting")][0] == 2
    assert output[("alice@example.com", "meet")][0] == 2
    assert {sender for sender, _ in output} == {
        "alice@example.com", "bob@example.com", "carol@example.com"}
    shares = [share for (sender, _), (_, share) in output.items() if sender == "bob@example.com"]
    assert sum(shares) == pytest.approx(1.0)


def test_hadoop_output_equals_inline(hadoop_cluster, inline_output):
    hadoop = run_on("hadoop", MRFixtureSenderTerms, MESSAGES, cluster=hadoop_cluster)
    assert_same_records(inline_output, hadoop)


def test_spark_output_equals_inline(spark, inline_output):
    assert_same_records(inline_output, run_on("spark", MRFixtureSenderTerms, MESSAGES))


def test_hadoop_task_failure_raises_with_the_task_traceback(hadoop_cluster, caplog):
    caplog.set_level(logging.ERROR, logger="mrjob")
    with pytest.raises(StepFailedException):
        run_on(
            "hadoop", MRFixtureSenderTerms, MESSAGES,
            # one attempt: in an uber job a retry appends to the same stderr
            # file, and mrjob would read the unfinished retry's part
            args=["--fail-on-subject", "Lunch", "--jobconf", "mapreduce.map.maxattempts=1"],
            cluster=hadoop_cluster,
        )
    # mrjob found the failed task's stderr in the cluster's container logs
    assert "Probable cause of failure" in caplog.text
    assert "ValueError: deliberate failure on '2@x'" in caplog.text


def test_launcher_runs_the_file_system_shell(hadoop_cluster, tmp_path):
    assert hadoop_cluster.hadoop("version").splitlines()[0] == "Hadoop 3.5.0"
    local = tmp_path / "hello.txt"
    local.write_text("hello hdfs\n")
    [uri] = hadoop_cluster.put([str(local)])
    assert uri.startswith("hdfs:///user/")
    assert hadoop_cluster.hadoop("fs", "-cat", uri) == "hello hdfs\n"
