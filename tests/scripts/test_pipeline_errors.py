"""User errors of the cluster data path: one line and a non-zero exit, no traceback.

- ``--runner hadoop`` with no ``hadoop`` on PATH and no HADOOP_* home set;
- an ``s3://`` output without credentials (the endpoint is a closed port on
  loopback, so nothing leaves this machine even if a request were sent);
- an ``hdfs://`` output the driver cannot reach (no ``hadoop`` to talk to HDFS).
"""

import os

import pytest

from jeeves import cli
from jeeves.runjob import HADOOP_HOME_VARIABLES
from tests.fixtures.tiny_corpus import write_corpus


@pytest.fixture
def corpus(tmp_path):
    write_corpus(str(tmp_path / "corpus"))
    return str(tmp_path / "corpus")


@pytest.fixture
def no_hadoop(monkeypatch):
    for name in HADOOP_HOME_VARIABLES + ("HADOOP_CONF_DIR",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", os.pathsep.join(
        directory for directory in os.environ["PATH"].split(os.pathsep)
        if not os.path.exists(os.path.join(directory, "hadoop"))))


def one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


def test_hadoop_runner_without_hadoop_is_one_line(corpus, tmp_path, no_hadoop, capsys):
    status = cli.main(["run", "--input", corpus, "--output", str(tmp_path / "out"),
                       "--runner", "hadoop"])
    assert status != 0
    one_line_error(capsys, "--runner hadoop", "HADOOP_HOME")
    assert not (tmp_path / "out" / "messages").exists()


def test_s3_output_without_credentials_is_one_line(corpus, monkeypatch, tmp_path, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    status = cli.main(["parse", "--input", corpus, "--output", "s3://jeeves-no-such/out"])
    assert status != 0
    one_line_error(capsys, "s3://jeeves-no-such/out")


def test_unreachable_hdfs_output_is_one_line(corpus, no_hadoop, capsys):
    status = cli.main(["parse", "--input", corpus, "--output", "hdfs:///jeeves/out"])
    assert status != 0
    one_line_error(capsys, "hdfs:///jeeves/out")
