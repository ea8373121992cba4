"""The label stage with Berkeley ``.cats`` labels (``--labels cats:TOP,SUB``)
on Spark and on the Hadoop cluster: the inline lines, svmlight lines with
the labels of the categories.

jeeves.pipeline.train.label_stage gives the label job the records, the
vectors and the ``.cats`` files found beside the raw messages; the job
joins a ``.cats`` file to its message by the file's path, and has two
steps. None of this ran on a cluster in the other engine tests (their
labels come from folders: one step), and three things went wrong there:

- a cluster's task reads a local file as the copy mrjob uploads, under
  another path: on Hadoop nothing was labelled, without an error; mrjob's
  Spark harness names no input file (and with ``--emulate-map-input-file``
  only the first of each partition's files: two of 32 joined). The
  ``.cats`` files, local or on HDFS, now go packed into one input, each
  under its own URI (jeeves.models.labels.packed_cats_line), on every
  runner (also faster: one map task instead of one a file);
- the globs of ``.cats`` files on HDFS, one and two levels down, were
  given even when one matched nothing, which the runners refuse: only
  those that match are read now;
- mrjob 0.7.4's Spark runner runs a later step whose jobconf differs from
  the one before in a ``spark-submit`` of its own, given that step alone
  and, still, the step's number in the whole job: the harness ran no
  step, and the job's output was the first step's lines, without an
  error. The joining step sets its jobconf only off Spark
  (jobs.whole_line_reducer_jobconf).

The corpus is tests/jobs/test_mr_label_messages.py's: 40 records, 32
``.cats`` files, vectors with an orphan, a duplicate and an empty one;
local, and on the cluster's HDFS. Four Hadoop jobs and two Spark
applications.
"""

import pytest

from jeeves.features.parts import part_files
from jeeves.pipeline.engine import Engine
from jeeves.pipeline.train import label_stage
from tests.jobs.test_mr_label_messages import corpus  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow

SPEC = "cats:1,2"


def labelled_lines(runner, corpus, output, messages=None, mail=None):  # noqa: F811
    """label_stage on ``runner`` -> its sorted output lines; the records in
    ``messages`` and the raw mail at ``mail`` (default: the corpus's own)."""
    messages = messages or corpus["messages"][0].parent
    mail = mail or str(corpus["cats"][0].parent)
    vectors = corpus["tfidf"][0].parent
    _, counts = label_stage(Engine(runner, progress=False), SPEC, str(messages),
                            str(vectors), [mail], str(output))
    lines = sorted(line for path in part_files(str(output / "features" / "labelled"))
                   for line in open(path, encoding="utf-8").read().splitlines())
    assert counts["labelled"] == len(lines)
    return lines


@pytest.fixture(scope="module")
def inline_lines(corpus, tmp_path_factory):  # noqa: F811
    lines = labelled_lines("inline", corpus, tmp_path_factory.mktemp("inline"))
    assert len(lines) > 20 and {line[0] for line in lines} == {"0", "1"}
    return lines


def test_cats_labels_on_spark_equal_inline(spark, corpus, inline_lines,  # noqa: F811
                                           tmp_path):
    assert labelled_lines("spark", corpus, tmp_path) == inline_lines


def test_cats_labels_on_hadoop_equal_inline(hadoop_cluster, corpus, inline_lines,  # noqa: F811
                                            tmp_path):
    assert labelled_lines("hadoop", corpus, tmp_path) == inline_lines


def hdfs_corpus(cluster, corpus, directory):  # noqa: F811
    """The raw messages and .cats files put on HDFS, and the records (local)
    naming their sources there -> (messages directory, HDFS mail URI)."""
    local_mail = corpus["cats"][0].parent
    [mail] = cluster.put([str(local_mail)])
    messages = directory / "messages"
    messages.mkdir()
    for path in corpus["messages"]:
        text = path.read_text(encoding="utf-8")
        (messages / path.name).write_text(text.replace(local_mail.as_uri(), mail),
                                          encoding="utf-8")
    return messages, mail


@pytest.mark.parametrize("runner", ["hadoop", "spark"])
def test_cats_files_on_hdfs_equal_inline(hadoop_cluster, spark, runner, corpus,  # noqa: F811
                                         inline_lines, tmp_path):
    """Raw messages and .cats files where a cluster run has them: the stage
    lists globs of them (one and two levels down: the Berkeley set keeps
    them in category directories; here the second matches nothing) and
    reads them through its storage."""
    messages, mail = hdfs_corpus(hadoop_cluster, corpus, tmp_path)
    assert labelled_lines(runner, corpus, tmp_path / "out", messages, mail) == inline_lines
