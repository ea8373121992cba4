"""The pipeline's jobs on Hadoop and Spark give their inline output, on real mail.

About 480 Enron messages (four mbox files of one user) are parsed inline;
the parse job also runs on the local Hadoop cluster (its ``mapper_raw`` step
cannot run on mrjob's Spark runner, docs/engines.md), and the jobs that read
records run on both engines with the records on the cluster's HDFS. Skips
when the corpora folder is missing. Slow: each Hadoop job takes minutes.
Not yet covered: tf-idf (it needs the vocabulary the driver builds from the
counts). Cases marked xfail are known differences, with their reason.
"""

import json
import os
import pathlib

import pytest
from mrjob.step import StepFailedException

from jobs.mr_contact_lists import MRContactLists
from jobs.mr_count_ngrams import MRCountNgrams
from jobs.mr_parse_emails import MRParseEmails
from tests.engines.runners import assert_same_records, run_on
from tests.helpers import REPO

pytestmark = pytest.mark.slow

ENRON_MBOX = os.path.join(os.path.dirname(REPO), "shared", "data", "enron-mbox")
# 361 + 66 + 48 + 8 messages
FILES = [
    "allen-p.deleted_items.mbox.gz",
    "allen-p.inbox.mbox.gz",
    "allen-p.notes_inbox.mbox.gz",
    "allen-p.straw.mbox.gz",
]


@pytest.fixture(scope="module")
def mail_files():
    paths = [os.path.join(ENRON_MBOX, name) for name in FILES]
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        pytest.skip("Enron mbox corpus not found: %s" % missing[0])
    return [pathlib.Path(path) for path in paths]  # paths pass through as files


@pytest.fixture(scope="module")
def parsed_inline(mail_files):
    return run_on("inline", MRParseEmails, mail_files)


@pytest.fixture(scope="module")
def records(parsed_inline):
    """The parsed messages as the record jobs read them: one JSON record per line."""
    lines = [json.dumps(record) for kind, record in parsed_inline if kind == "message"]
    assert len(lines) > 400, "expected about 480 messages, parsed %d" % len(lines)
    return [lines]


def test_parse_on_hadoop_equals_inline(hadoop_cluster, mail_files, parsed_inline):
    hadoop = run_on("hadoop", MRParseEmails, mail_files, cluster=hadoop_cluster, on_hdfs=False)
    assert_same_records(parsed_inline, hadoop)


# Known differences, strict so that a fix shows up as XPASS (remove the mark).
HADOOP_DIFFERS = pytest.mark.xfail(
    raises=AssertionError,
    strict=True,
    reason="prior_messages differs from inline on Hadoop streaming (inline and local "
    "agree); probably streaming splits combiner output on one key field, which undoes "
    "SORT_VALUES' secondary sort in a step that has a combiner",
)
SPARK_UNHASHABLE_KEYS = pytest.mark.xfail(
    raises=StepFailedException,
    strict=True,
    reason="list keys in a step with a combiner: mrjob's Spark harness fails with "
    "TypeError: unhashable type: 'list' (docs/engines.md)",
)


@pytest.mark.parametrize("job_class", [
    MRCountNgrams,
    pytest.param(MRContactLists, marks=HADOOP_DIFFERS),
])
def test_record_job_on_hadoop_equals_inline(hadoop_cluster, records, job_class):
    inline = run_on("inline", job_class, records)
    assert inline, "the job produced nothing inline"
    assert_same_records(inline, run_on("hadoop", job_class, records, cluster=hadoop_cluster))


@pytest.mark.parametrize("job_class", [
    pytest.param(MRCountNgrams, marks=SPARK_UNHASHABLE_KEYS),
    pytest.param(MRContactLists, marks=SPARK_UNHASHABLE_KEYS),
])
def test_record_job_on_spark_equals_inline(spark, records, job_class):
    inline = run_on("inline", job_class, records)
    assert inline, "the job produced nothing inline"
    assert_same_records(inline, run_on("spark", job_class, records))
