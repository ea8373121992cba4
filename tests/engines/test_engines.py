"""The same job on Hadoop streaming (local pseudo-distributed cluster) and on
Spark gives the output it gives inline; a failing task surfaces its error;
with the shuffle, Hadoop ran several reducers and the shuffle service
listens where only this machine reaches it.

Slow (the cluster starts once per session, about a minute, and each Hadoop
job takes tens of seconds): marked ``slow``.
"""

import ipaddress
import json
import logging
import socket

import pytest
from mrjob.step import StepFailedException

from jeeves.jobs.mr_select_rows import MRSelectRows
from tests.engines.mr_fixture_sender_terms import MRFixtureSenderTerms
from tests.engines.runners import (
    assert_same_records,
    reduce_tasks,
    run_on,
    run_with_counters,
)
from tools.hadoop import cluster as local_cluster

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
    hadoop, counters = run_with_counters(
        "hadoop", MRFixtureSenderTerms, MESSAGES, cluster=hadoop_cluster)
    assert_same_records(inline_output, hadoop)
    # the cluster's default: several reducers with the shuffle, one in an uber job
    assert reduce_tasks(counters) == [hadoop_cluster.reduce_tasks]
    # every map task started through jeeves.jobs.task_start (jeeves.taskcode),
    # without setuptools, distutils or PyYAML
    fixture = counters[0]["fixture"]
    assert fixture.get("tasks_started_by_task_start") == fixture["map_tasks"] >= 1, fixture
    assert not [name for name in fixture if name.startswith("tasks_with_")], fixture


def listening_sockets():
    """(address, port) of each listening TCP socket of this network namespace."""
    found = []
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            with open(table, encoding="ascii") as handle:
                rows = handle.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            local, state = fields[1], fields[3]
            if state != "0A":  # TCP_LISTEN
                continue
            address, port = local.split(":")
            # the kernel prints each 32-bit word of the address in host (little-endian) order
            raw = bytes.fromhex(address)
            raw = b"".join(raw[start:start + 4][::-1] for start in range(0, width, 4))
            found.append((unmapped(ipaddress.ip_address(raw)), int(port, 16)))
    return found


def unmapped(address):
    """An IPv4-mapped IPv6 address (``::ffff:127.0.0.1``: a Java server bound to
    127.0.0.1 through a dual-stack socket, as Spark's driver is) as the IPv4
    address it is; Python before 3.13 does not call the mapped form loopback."""
    return getattr(address, "ipv4_mapped", None) or address


def test_shuffle_service_is_reachable_from_this_namespace_only(hadoop_shuffle):
    # The driver (this process) and the cluster share one network namespace...
    assert (local_cluster.network_namespace(hadoop_shuffle.pid)
            == local_cluster.network_namespace())
    # ...which has no interface but loopback,
    assert [name for _, name in socket.if_nameindex()] == ["lo"]
    sockets = listening_sockets()
    shuffle = [address for address, port in sockets if port == hadoop_shuffle.shuffle_port]
    # so the shuffle service's all-interfaces bind is a bind to lo,
    assert shuffle and all(address.is_loopback or address.is_unspecified
                           for address in shuffle), shuffle
    # as is every other server's (the other worker's too: Spark, moto, Dovecot)
    assert all(address.is_loopback or address.is_unspecified for address, _ in sockets), sockets


def test_spark_output_equals_inline(spark, inline_output):
    assert_same_records(inline_output, run_on("spark", MRFixtureSenderTerms, MESSAGES))


def test_hadoop_task_failure_raises_with_the_task_traceback(hadoop_cluster, caplog):
    caplog.set_level(logging.ERROR, logger="mrjob")
    with pytest.raises(StepFailedException):
        run_on(
            # one input file (the one holding 2@x) in one map task: with the
            # shuffle, a second map task is killed when the first fails, and
            # mrjob may name the killed task's log as the probable cause
            "hadoop", MRFixtureSenderTerms, MESSAGES[:1],
            # one attempt: in an uber job a retry appends to the same stderr
            # file, and mrjob would read the unfinished retry's part
            args=["--fail-on-subject", "Lunch", "--jobconf", "mapreduce.map.maxattempts=1",
                  "--jobconf", "mapreduce.job.maps=1"],
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


def test_an_ipv4_mapped_loopback_address_counts_as_loopback():
    assert unmapped(ipaddress.ip_address("::ffff:127.0.0.1")).is_loopback
    assert not unmapped(ipaddress.ip_address("::ffff:10.0.0.1")).is_loopback
    assert unmapped(ipaddress.ip_address("::1")).is_loopback
    assert unmapped(ipaddress.ip_address("0.0.0.0")).is_unspecified


def test_whole_line_output_comes_back_unchanged_on_hadoop(hadoop_cluster):
    """A map-only job writing whole lines (JOBCONF WHOLE_LINE_OUTPUT_JOBCONF)
    gets them back byte for byte: no separator added to a line without a
    tab, nor to one without a space (a compact record of a message with no
    space in it), an escaped tab or non-ASCII text left as they are."""
    rows = ['"message"\t{"message_id":"<a@x>","subject":"","body":"hi"}',
            '"message"\t{"message_id":"<b@x>","subject":"two words","body":"x\\ty"}',
            '"message"\t{"message_id":"<c@x>","subject":"caf\u00e9 \u4e2d","body":""}',
            '"quarantine"\t{"reason":"empty"}']
    args = ["--key", "message"]
    inline = run_on("inline", MRSelectRows, [rows], args=args)
    hadoop = run_on("hadoop", MRSelectRows, [rows], args=args, cluster=hadoop_cluster)
    assert sorted(inline) == sorted(hadoop)
    spaceless = '{"message_id":"<a@x>","subject":"","body":"hi"}\n'
    assert len(hadoop) == 3 and (None, spaceless) in hadoop
