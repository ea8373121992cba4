"""jeeves.storage's WebHDFS file system without a cluster: which URIs it takes,
and the hand-over to ``hadoop fs`` when WebHDFS does not answer.

(tests/engines/test_driver_io.py compares it with ``hadoop fs`` on the real
local cluster.)
"""

import os
import socket
import stat

import pytest

from jeeves.storage import Storage, WebHdfsFilesystem, WebHdfsUnavailable, default_namenode


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_takes_the_configured_clusters_hdfs_uris_only():
    fs = WebHdfsFilesystem("http://127.0.0.1:9870/", namenode="nn:8020", user="me")
    assert fs.can_handle_path("hdfs:///user/me/out")
    assert fs.can_handle_path("hdfs://nn:8020/user/me/out/part-*")
    assert not fs.can_handle_path("hdfs://other:8020/user/me/out")  # another cluster
    assert not fs.can_handle_path("hdfs:///user/me/{a,b}")  # Hadoop's brace globs
    assert not fs.can_handle_path("s3://bucket/key")
    assert not fs.can_handle_path("/local/path")
    assert fs.join("hdfs:///user/me", "out", "part-0") == "hdfs:///user/me/out/part-0"
    assert fs._url("/user/me/a b", "OPEN") == \
        "http://127.0.0.1:9870/webhdfs/v1/user/me/a%20b?op=OPEN&user.name=me"


def test_the_default_namenode_comes_from_the_client_configuration(tmp_path):
    (tmp_path / "core-site.xml").write_text(
        "<configuration><property><name>fs.defaultFS</name>"
        "<value>hdfs://nn.example:8020</value></property></configuration>")
    assert default_namenode(str(tmp_path)) == "nn.example:8020"
    assert default_namenode(str(tmp_path / "missing")) is None


def test_without_an_answer_the_calls_go_to_hadoop_fs(tmp_path, caplog):
    # a `hadoop` that records its arguments and finds nothing
    calls = tmp_path / "calls"
    hadoop = tmp_path / "hadoop"
    hadoop.write_text("#!/bin/sh\necho \"$@\" >> %s\n"
                      "case \"$1\" in version) echo 'Hadoop 3.5.0';; "
                      "*) echo 'ls: `x`: No such file or directory' >&2; exit 1;; esac\n" % calls)
    hadoop.chmod(hadoop.stat().st_mode | stat.S_IXUSR)
    storage = Storage({"hadoop_bin": [str(hadoop)]},
                      webhdfs_url="http://127.0.0.1:%d" % closed_port())
    assert storage.webhdfs is not None
    assert not storage.exists("hdfs:///user/me/nothing")
    assert storage.webhdfs is None  # it stopped answering: not asked again
    assert calls.read_text().splitlines() == ["fs -ls hdfs:///user/me/nothing"]
    # the Hadoop runners' file system shares it, and `hadoop fs`
    runner_fs = storage.runner_filesystem()
    assert not runner_fs.exists("hdfs:///user/me/other")
    assert runner_fs.hadoop is storage.fs.hadoop
    # said once, in one line
    warnings = [record.getMessage() for record in caplog.records
                if record.levelname == "WARNING" and record.name == "jeeves.storage"]
    assert len(warnings) == 1 and "using `hadoop fs` instead" in warnings[0], warnings
    with pytest.raises(WebHdfsUnavailable):
        WebHdfsFilesystem("http://127.0.0.1:%d" % closed_port()).mkdir("hdfs:///x")


def test_put_once_needs_webhdfs(tmp_path):
    path = tmp_path / "code.zip"
    path.write_bytes(b"zip")
    with pytest.raises(ValueError):
        Storage().put_once(str(path), "hdfs:///user/me/code.zip")
    assert os.path.exists(path)
