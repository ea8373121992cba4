"""A moto server on loopback standing in for AWS (S3, EMR, SNS), for the whole session.

Credentials are dummies set in the environment of each test that needs them
(monkeypatch), never written to a file.
"""

import socket

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from jeeves import cli
from tests.fixtures.tiny_corpus import write_corpus

REGION = "us-east-1"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint():
    """http://127.0.0.1:PORT of a moto server, stopped after the session."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield "http://127.0.0.1:%d" % port
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, moto_endpoint):
    """Dummy credentials and region in this test's environment only."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return moto_endpoint


def client(service, endpoint):
    """A boto3 client of `service` talking to the moto server."""
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=Config(s3={"addressing_style": "path"}))


@pytest.fixture
def s3(aws_env):
    return client("s3", aws_env)


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    """A tiny model bundle trained by `jeeves run` on the hand-written meeting corpus."""
    root = tmp_path_factory.mktemp("bundle")
    write_corpus(str(root / "corpus"))
    status = cli.main(["run", "--input", str(root / "corpus"), "--output", str(root / "out"),
                       "--labels", "meeting*=1,other*=0", "--models", "logistic_regression",
                       "--folds", "2", "--target-recall", "0.9", "--no-graph"])
    assert status == 0
    return str(root / "out" / "model")
