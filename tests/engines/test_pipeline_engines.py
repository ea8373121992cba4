"""The pipeline's jobs on Hadoop and Spark give their inline output, on real mail.

About 480 Enron messages (four mbox files of one user) are parsed inline;
the parse job also runs on the local Hadoop cluster and on Spark (where the
driver ships its containers with the job, docs/engines.md), and the jobs
that read records run on both engines with the records on the cluster's
HDFS, as
does tf-idf on the inline counts with the vocabulary the driver builds from
them (scripts/pipeline/features.py). The counting jobs' Hadoop tasks load
the native kernel shipped with them (jeeves.taskcode.kernel_zip) when the
driver has it built, with the installed one hidden from them. Skips when
the corpora folder is missing. Slow: each Hadoop job takes minutes.
"""

import json
import os
import pathlib

import pytest

from jeeves.features import kernel
from jeeves.features.vocabulary import build_vocabulary, write_vocabulary
from jeeves.jobs.mr_common_contacts import MRCommonContacts
from jeeves.jobs.mr_contact_lists import MRContactLists
from jeeves.jobs.mr_count_ngrams import MRCountNgrams
from jeeves.jobs.mr_parse_emails import MRParseEmails
from jeeves.jobs.mr_tfidf_vectors import MRTfidfVectors
from jeeves.pipeline.parse_inputs import plan_inputs
from tests.engines.runners import assert_same_records, reduce_tasks, run_on, run_with_counters
from tests.helpers import REPO, read_totals, run_job

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


def assert_reducers(cluster, counters, job_class, args=()):
    """Each step with a reducer ran the cluster's default number of them (two
    or more with the shuffle, docs/engines.md), a map-only step none."""
    job = job_class(args=list(args))
    expected = [cluster.reduce_tasks if "reducer" in step.description() else 0
                for step in job.steps()]
    assert reduce_tasks(counters) == expected


def test_parse_on_hadoop_equals_inline(hadoop_cluster, mail_files, parsed_inline, tmp_path):
    # the driver's work lists (scripts/pipeline/parse_inputs.py), the local files
    # shipped with the job, as jeeves parse --runner hadoop does
    plan = plan_inputs([str(path) for path in mail_files], str(tmp_path), "hadoop")
    work_lists = [pathlib.Path(path) for path in plan.work_list_paths]
    hadoop, counters = run_with_counters("hadoop", MRParseEmails, work_lists, plan.job_args,
                                         cluster=hadoop_cluster, on_hdfs=False)
    assert_same_records(parsed_inline, hadoop)
    assert_reducers(hadoop_cluster, counters, MRParseEmails, plan.job_args)


def test_parse_on_spark_equals_inline(spark, mail_files, parsed_inline, tmp_path):
    # on Spark the job reads the driver's work lists (scripts/pipeline/parse_inputs.py);
    # small containers: several of them, spread over both executors' tasks
    plan = plan_inputs([str(path) for path in mail_files], str(tmp_path), "spark",
                       container_bytes=200000)
    work_lists = [pathlib.Path(path) for path in plan.work_list_paths]
    spark_output = run_on("spark", MRParseEmails, work_lists, plan.job_args)
    assert_same_records(parsed_inline, spark_output)


RECORD_JOBS = [MRCountNgrams, MRContactLists, MRCommonContacts]


@pytest.fixture(scope="module")
def counts_dir(records, tmp_path_factory):
    """mr_count_ngrams' inline output directory, as the driver reads it."""
    directory = tmp_path_factory.mktemp("counts")
    run_job(MRCountNgrams, records, output_dir=directory)
    return directory


@pytest.fixture(scope="module")
def vocabulary_args(counts_dir, tmp_path_factory):
    """--vocabulary with the vocabulary.tsv the driver builds from the counts."""
    term_stats, n_docs = read_totals(counts_dir)
    rows = build_vocabulary(term_stats, n_docs)
    assert rows, "the counts gave an empty vocabulary"
    path = tmp_path_factory.mktemp("vocabulary") / "vocabulary.tsv"
    write_vocabulary(path, rows)
    return ["--vocabulary", str(path)]


@pytest.fixture(scope="module")
def hidden_kernel(tmp_path_factory):
    """Job switches that hide the installed ``jeeves_kernel`` from the tasks:
    the local cluster's tasks run this virtualenv's Python, which has it
    (tools/hadoop/cluster.py), where a node's python3 has not. A module of
    that name that fails to import comes first on their PYTHONPATH, after
    only what the job ships; so a task counts natively only with the
    kernel shipped with the job (jeeves.taskcode.kernel_zip)."""
    if not kernel.native_available():
        return []
    stub = tmp_path_factory.mktemp("hidden-kernel")
    (stub / "jeeves_kernel.py").write_text('raise ImportError("hidden by the test")\n')
    return ["--cmdenv", "PYTHONPATH=%s" % stub]


def assert_native_kernel(counters, group):
    """The job's Hadoop tasks loaded the native kernel shipped with it
    (``hidden_kernel``): they counted texts with it, and none of them fell
    back to Python for want of it."""
    totals = {}
    for step in counters:
        for name, value in step.get(group, {}).items():
            totals[name] = totals.get(name, 0) + value
    assert totals.get("kernel_native_texts", 0) > 0, totals
    assert "kernel_unavailable" not in totals, totals


@pytest.mark.parametrize("job_class", RECORD_JOBS)
def test_record_job_on_hadoop_equals_inline(hadoop_cluster, records, job_class, hidden_kernel):
    inline = run_on("inline", job_class, records)
    assert inline, "the job produced nothing inline"
    hadoop, counters = run_with_counters("hadoop", job_class, records, hidden_kernel,
                                         cluster=hadoop_cluster)
    assert_same_records(inline, hadoop)
    assert_reducers(hadoop_cluster, counters, job_class)
    if job_class is MRCountNgrams and kernel.native_available():
        assert_native_kernel(counters, "count_ngrams")


@pytest.mark.parametrize("job_class", RECORD_JOBS)
def test_record_job_on_spark_equals_inline(spark, records, job_class):
    inline = run_on("inline", job_class, records)
    assert inline, "the job produced nothing inline"
    assert_same_records(inline, run_on("spark", job_class, records))


def test_tfidf_vectors_on_hadoop_equal_inline(hadoop_cluster, records, vocabulary_args,
                                              hidden_kernel):
    inputs = records
    inline = run_on("inline", MRTfidfVectors, inputs, vocabulary_args)
    assert inline, "no vectors inline"
    hadoop, counters = run_with_counters("hadoop", MRTfidfVectors, inputs,
                                         vocabulary_args + hidden_kernel, cluster=hadoop_cluster)
    assert_same_records(inline, hadoop)
    assert_reducers(hadoop_cluster, counters, MRTfidfVectors, vocabulary_args + hidden_kernel)
    if kernel.native_available():
        assert_native_kernel(counters, "tfidf_vectors")


def test_tfidf_vectors_on_spark_equal_inline(spark, records, vocabulary_args):
    inputs = records
    inline = run_on("inline", MRTfidfVectors, inputs, vocabulary_args)
    assert inline, "no vectors inline"
    assert_same_records(inline, run_on("spark", MRTfidfVectors, inputs, vocabulary_args))
