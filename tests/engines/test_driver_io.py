"""What the `jeeves` driver process itself moves on Hadoop, counted from outside the
project's own counters (tools/driver_io.py), and the WebHDFS file system that
keeps it small.

`jeeves run --runner hadoop` with its input and output on the local cluster's
HDFS, on 300 small labelled messages plus 2 MB, then 8 MB, of unlabelled mail
(an mbox of synthetic messages written by tools/driver_io.py, drawn from
20,000 made-up words: the kept vocabulary grows with the mail, from about
620 KB of ``vocabulary.tsv`` to 820 KB), with the cheapest settings that
still label and train (no graph, no email model, one model on two folds),
the tasks' code already on HDFS and its zips in the user's code cache (as
after a first run of the same code: jeeves.codecache);
the two runs go side by side, each job an uber job (its tasks inside its
ApplicationMaster: one container a job instead of five, the same stages,
jobs and files for the driver). The driver runs in a child Python that
sums, over its own threads only (not the ``hadoop`` JVMs it starts), the
``rchar`` and ``wchar`` of ``/proc/thread-self/io`` and the bytes its
sockets received and sent (WebHDFS; Linux does not count socket recv/send
in ``rchar``/``wchar``); strace, on its main thread, says how much of that
was reading the installed software (compiled modules, matplotlib's font:
the program, not data). The driver's data bytes (the rest; less the tasks'
code put on HDFS by the run that first meets a new version of it, which
happens once per code version, whatever the mail) must have:

- a fixed part (the intercept of the line through the two runs) under 50 MB;
- a growth under 8 bytes per added byte of ``vocabulary.tsv``, everything
  that grew counted against the vocabulary, the mail's own growth included
  (about 6.8 now: the features stage writes it to a file, reads it back and
  sends it, the train stage receives it once and sends the bundle's copy
  and its scorer once, the kept terms come in once; 14.3 when the train
  stage and the bundle went through temporary copies). On Enron's
  vocabulary growth (about 0.006 byte of ``vocabulary.tsv`` per byte of
  mail) that is under 0.05 byte per byte of mail, and mail that cost
  more than about 0.04 byte per byte by itself would break the bound
  here: the issue's 0.1 per byte of mail (with a fixed vocabulary the
  growth is about -0.001, ``python -m tools.driver_io --sizes 2,8``).

All the driver's bytes, the software it loads counted in, have a fixed
part under 50 MB too (the issue's target; about 47 MB measured: scipy,
scikit-learn, matplotlib, numpy and the standard library are 40 MB of it;
67 MB before the code cache and before boto3, pyspark and pytest were kept
out of a Hadoop run's driver, docs/perf-results.md "Driver bytes, round
three"). The first run of a code version on a machine builds the zips
(about 8 MB more); the test measures the runs after it.

The report's plots read each font file once (under 2 MB of fonts a run;
matplotlib's FreeType read DejaVuSans.ttf about 21 MB over before).

It also checks what made the fixed part large before: the driver starts
no ``hadoop fs`` JVM (``hadoop version`` once, then only ``hadoop jar``, one
per step, through mrjob's pty) and gives every job the tasks' code (and
the native kernel's archive, when it is built) as HDFS URIs, not a zip to
upload.

The file-system test compares jeeves.storage.WebHdfsFilesystem with mrjob's
``hadoop fs`` one on the same tree (listing, globs, existence, sizes, bytes).

Slow: two `jeeves run` on Hadoop, six jobs each, side by side. Never
asserts a time.
"""

import os
import shutil
import uuid

import pytest

from jeeves.storage import Storage, WebHdfsFilesystem, default_namenode, webhdfs_url_from_conf
from jeeves.taskcode import kernel_zip
from tools import driver_io

pytestmark = pytest.mark.slow

SIZES_MB = (2, 8)
# made-up words of the unlabelled mail: enough that the kept vocabulary grows with it
UNLABELLED_WORDS = 20000
FIXED_LIMIT = 50 * driver_io.MB
GROWTH_LIMIT = 0.1
VOCABULARY_GROWTH_LIMIT = 8
FONT_LIMIT = 2 * driver_io.MB


def test_the_driver_moves_a_small_fixed_part_and_little_per_byte_of_vocabulary(hadoop_cluster,
                                                                               tmp_path):
    if shutil.which("strace") is None:
        pytest.skip("strace not found: it tells the driver's data from the software it loads")
    # the two runs at once, each job an uber job: the same bytes for each driver,
    # for a fraction of the cluster's CPU
    runs = driver_io.run_sizes(SIZES_MB, str(tmp_path), parallel=True, uber=True,
                               unlabelled_words=UNLABELLED_WORDS)
    summary = driver_io.summarize(runs)
    print(driver_io.format_summary(summary))
    for run in runs:
        report = run["report"]
        # no `hadoop fs` JVM: WebHDFS answers the driver's and mrjob's file-system calls
        assert [command[1:2] for command in report["hadoop_commands"]] == [["version"]], \
            report["hadoop_commands"]
        # then one `hadoop jar` (mrjob's pty) per job (one step each), nothing else
        assert len(report["commands"]) == 1 + len(report["jobs"]), report["commands"]
        # every job got the tasks' code as HDFS URIs (put there once), not a local
        # zip that mrjob would upload with each job, nor a zip of mrjob made per job
        for job in report["jobs"]:
            switches = job["code_args"]
            assert switches[0] == "--py-files" and "--no-bootstrap-mrjob" in switches, job
            assert all(uri.startswith("hdfs://") for uri in switches[1].split(",")), job
            if kernel_zip() is not None:
                # and the native kernel's archive as well (jeeves.taskcode.kernel_args)
                setup = switches[switches.index("--setup") + 1]
                assert setup.startswith("export PYTHONPATH=hdfs://"), job
        # each run's data under the line the targets allow
        assert report["data_bytes"] < FIXED_LIMIT + GROWTH_LIMIT * run["mail_bytes"], summary
        # the report's plots read each font once, not once a glyph
        assert 0 < report["traced"]["font_bytes"] < FONT_LIMIT, report["traced"]
    assert summary["fixed_bytes"] < FIXED_LIMIT, summary
    # and all of its bytes, the software it loads counted in
    assert summary["total_fixed_bytes"] < FIXED_LIMIT, summary
    # the vocabulary grew with the mail, and each of its bytes cost the driver a few
    assert runs[-1]["report"]["vocabulary_bytes"] > 1.2 * runs[0]["report"]["vocabulary_bytes"]
    assert summary["bytes_per_vocabulary_byte"] < VOCABULARY_GROWTH_LIMIT, summary


def test_webhdfs_answers_as_hadoop_fs_does(hadoop_cluster, tmp_path):
    from mrjob.fs.hadoop import HadoopFilesystem

    webhdfs = WebHdfsFilesystem(webhdfs_url_from_conf(), default_namenode())
    hadoop = HadoopFilesystem([hadoop_cluster.hadoop_bin])
    root = "hdfs:///user/jeeves-tests/webhdfs-%s" % uuid.uuid4().hex
    for name, data in (("a/part-00000", b"one\ntwo\n"), ("a/part-00001", b"three\n"),
                       ("a/_SUCCESS", b""), ("b/deep/x.gz", None)):
        path = tmp_path / name.replace("/", "-")
        if data is None:
            import gzip

            data = gzip.compress(b"zipped\n")
        path.write_bytes(data)
        webhdfs.mkdir(webhdfs.join(root, os.path.dirname(name)))
        webhdfs.put(str(path), webhdfs.join(root, name))
    with pytest.raises(IOError):
        webhdfs.put(str(tmp_path / "a-part-00000"), root + "/a/part-00000")  # no overwrite

    # each `hadoop fs` call is a JVM (seconds): a few telling cases
    for glob in (root, root + "/*/part-0000[1]"):
        assert list(webhdfs.ls(glob)) == list(hadoop.ls(glob)), glob
    assert not webhdfs.exists(root + "/*/nothing*") and not hadoop.exists(root + "/*/nothing*")
    assert webhdfs.du(root) == hadoop.du(root)
    assert b"".join(webhdfs.cat(root + "/a/part-*")) == b"".join(hadoop.cat(root + "/a/part-*"))
    assert b"".join(webhdfs.cat(root + "/b/deep/x.gz")) == b"zipped\n"

    # the Storage the driver uses, over it: no JVM for any of this
    storage = Storage(webhdfs_url=webhdfs_url_from_conf())
    assert storage.webhdfs is not None
    assert [line for line in storage.iter_lines(root + "/a")] == [b"one\n", b"two\n", b"three\n"]
    storage.write_bytes(root + "/c/_SUCCESS", b"")
    assert storage.is_complete(root + "/c") and storage.list_directories(root) == ["a", "b", "c"]
    uri = storage.put_once(str(tmp_path / "a-part-00001"), root + "/code/123/code.zip")
    assert storage.put_once(str(tmp_path / "a-part-00000"), uri) == uri  # there already: kept
    assert storage.read_bytes(uri) == b"three\n"
    assert [path for path in webhdfs.ls(root + "/code")] == [uri]  # no temporary copy left
    storage.clear(root)
    assert not hadoop.exists(root)
