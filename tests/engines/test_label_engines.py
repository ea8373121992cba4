"""The label job's two-step form (``--labels cats:TOP,SUB``, Berkeley ``.cats``
files) on Spark and on the Hadoop cluster: the inline lines, svmlight lines
with the labels of the categories.

With ``.cats`` labels the job has two steps: the first resolves each message's
categories, the second joins labels, records and vectors and writes svmlight
lines; only the second sets a jobconf (jobs.whole_line_reducer_jobconf).
mrjob 0.7.4's Spark runner runs steps of one jobconf in one ``spark-submit``
and a step whose jobconf differs from the one before in a ``spark-submit``
of its own, to which it gives that step alone and, still, the step's
number in the whole job: the harness then found no step at that number,
ran none, and the job's output was the first step's, without an error. So
on Spark the step leaves the jobconf out (it is only Hadoop streaming's
output reader) and the steps run together. The corpus is
tests/jobs/test_mr_label_messages.py's: 40 records, 32 ``.cats`` files
(packed in one input, as `jeeves run` gives them to a cluster), vectors
with an orphan, a duplicate and an empty one. Two Hadoop jobs.
"""

import pytest

from jeeves.jobs.mr_label_messages import MRLabelMessages
from jeeves.models.labels import packed_cats_line
from tests.engines.runners import run_on
from tests.jobs.test_mr_label_messages import corpus  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow

ARGS = ["--labels", "cats:1,2"]


@pytest.fixture(scope="module")
def inputs(corpus, tmp_path_factory):  # noqa: F811
    """The records, the vectors and the .cats files packed in one file, as
    `jeeves run` gives them to a runner that does not name each task's
    input file (jeeves.models.labels.packed_cats_line)."""
    packed = tmp_path_factory.mktemp("packed") / "cats.jsonl"
    packed.write_text("".join(packed_cats_line(path.as_uri(), path.read_text()) + "\n"
                              for path in corpus["cats"]))
    return corpus["messages"] + corpus["tfidf"] + [packed]


@pytest.fixture(scope="module")
def inline_lines(inputs):
    lines = run_on("inline", MRLabelMessages, inputs, ARGS)
    assert len(lines) > 20
    return sorted(lines)


def test_cats_labels_on_spark_equal_inline(spark, inputs, inline_lines):
    assert sorted(run_on("spark", MRLabelMessages, inputs, ARGS)) == inline_lines


def test_cats_labels_on_hadoop_equal_inline(hadoop_cluster, inputs, inline_lines):
    # mrjob uploads the inputs itself (several are named part-00000)
    assert sorted(run_on("hadoop", MRLabelMessages, inputs, ARGS, cluster=hadoop_cluster,
                         on_hdfs=False)) == inline_lines
