"""Large mbox files split into byte ranges: same records as a whole-file parse.

A single mbox of about 20 MB made of the shared Enron files (decompressed
and concatenated into a temporary file; skipped when ../shared/data is
absent) is parsed by `jeeves parse` with a split size of 2 MB on the inline
and local runners: at least 8 map tasks ran (summary.json), and the
messages and quarantine files are the bytes of the whole-file parse. The
same on S3, against a moto server on loopback, with ranged GetObject reads.
"""

import gzip
import json
import os
from pathlib import Path

import pytest

from jeeves.cli import main
from jeeves.pipeline.parse_inputs import plan_inputs
from jeeves.storage import Storage
from tests.emr.conftest import client, moto_endpoint  # noqa: F401 (a fixture)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
SPLIT = 2 * 1024 * 1024
TARGET_BYTES = 20 * 1024 * 1024


def build_enron_mbox(path, target_bytes=TARGET_BYTES):
    """Concatenate decompressed Enron mbox files (in name order) into ``path``
    until it holds ``target_bytes``; skip the test without the corpus."""
    root = DATA / "enron-mbox"
    if not root.is_dir():
        pytest.skip("%s not found (real corpora live in ../shared/data)" % root)
    written = 0
    with open(path, "wb") as out:
        for source in sorted(root.glob("*.mbox.gz")):
            data = gzip.decompress(source.read_bytes())
            out.write(data if data.endswith(b"\n") else data + b"\n")
            written += len(data)
            if written >= target_bytes:
                break
    return path


def parse(inputs, output, runner="inline", split_size=None):
    """`jeeves parse` -> (exit status, its summary's parse stage)."""
    argv = ["parse", "--input", *map(str, inputs), "--output", str(output), "--runner", runner]
    if split_size is not None:
        argv += ["--split-size", str(split_size)]
    status = main(argv)
    stage = json.loads((Path(output) / "summary.json").read_text())["stages"]["parse"]
    return status, stage


def output_bytes(output):
    return {kind: b"".join(part.read_bytes() for part in sorted((output / kind).glob("part-*")))
            for kind in ("messages", "quarantine")}


@pytest.fixture(scope="module")
def enron_mbox(tmp_path_factory):
    return build_enron_mbox(tmp_path_factory.mktemp("enron") / "enron.mbox")


@pytest.fixture(scope="module")
def whole_parse(enron_mbox, tmp_path_factory):
    output = tmp_path_factory.mktemp("whole")
    status, stage = parse([enron_mbox], output)
    assert status == 0 and stage["tasks"]["map"] == 1
    return output_bytes(output), stage


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["inline", "local"])
def test_a_20_mb_mbox_split_at_2_mb_gives_the_whole_file_records(
        runner, enron_mbox, whole_parse, tmp_path, capsys):
    whole, whole_stage = whole_parse
    status, stage = parse([enron_mbox], tmp_path, runner, SPLIT)
    assert status == 0 and stage["reconciled"]
    assert stage["tasks"]["map"] >= 8
    assert stage["tasks"]["map"] == -(-enron_mbox.stat().st_size // SPLIT)
    assert stage["read"] == whole_stage["read"] > 5000
    assert output_bytes(tmp_path) == whole


def test_a_big_gzip_file_is_one_task_with_a_hint(tmp_path):
    mbox = (FIXTURES / "sample.mbox").read_bytes() * 20
    (tmp_path / "big.mbox.gz").write_bytes(gzip.compress(mbox, compresslevel=0))
    (tmp_path / "plan").mkdir()
    plan = plan_inputs([str(tmp_path / "big.mbox.gz")], str(tmp_path / "plan"), split_size=1000)
    assert plan.items == 1 and plan.ranges == 0
    [hint] = plan.hints
    assert "big.mbox.gz" in hint and "cannot be split" in hint


@pytest.fixture
def s3_mail(monkeypatch, moto_endpoint):  # noqa: F811
    """A bucket holding a few mbox files, boto3 pointed at moto by the
    environment as the tasks would be (AWS_ENDPOINT_URL)."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", moto_endpoint)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3 = client("s3", moto_endpoint)
    bucket = "jeeves-split-%d" % os.getpid()
    s3.create_bucket(Bucket=bucket)
    sample = (FIXTURES / "sample.mbox").read_bytes()
    s3.put_object(Bucket=bucket, Key="mail/a/sample.mbox", Body=sample)
    crlf = sample.replace(b"mbox-", b"crlf-").replace(b"\n", b"\r\n")
    s3.put_object(Bucket=bucket, Key="mail/b/crlf.mbox", Body=crlf)
    s3.put_object(Bucket=bucket, Key="mail/b/one.eml",
                  Body=(FIXTURES / "on_wrote.eml").read_bytes())
    s3.put_object(Bucket=bucket, Key="other/x.eml", Body=b"not under mail/")
    yield "s3://%s/mail" % bucket
    for item in s3.list_objects_v2(Bucket=bucket)["Contents"]:
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def test_s3_ranges_are_ranged_reads(s3_mail):
    storage = Storage()
    files = dict(storage.list_files(s3_mail))
    assert sorted(files) == [s3_mail + "/a/sample.mbox", s3_mail + "/b/crlf.mbox",
                             s3_mail + "/b/one.eml"]
    uri = s3_mail + "/a/sample.mbox"
    assert storage.size(uri) == files[uri]
    whole = storage.read_all(uri)
    assert storage.read_range(uri, 100, 50) == whole[100:150]
    assert storage.read_range(uri, len(whole) - 3, 10) == whole[-3:]
    assert storage.bytes_read == len(whole) + 50 + 3


@pytest.mark.parametrize("runner", ["inline", pytest.param("local", marks=pytest.mark.slow)])
def test_s3_input_split_gives_the_whole_file_records(runner, s3_mail, tmp_path, capsys):
    status, whole = parse([s3_mail], tmp_path / "whole")
    assert status == 0 and whole["tasks"]["map"] == 1
    status, split = parse([s3_mail], tmp_path / "split", runner, 200)
    assert status == 0 and split["tasks"]["map"] >= 8  # ranges of the two mbox files, one.eml
    assert output_bytes(tmp_path / "split") == output_bytes(tmp_path / "whole")
    uris = {json.loads(line)["source"]["uri"]
            for line in output_bytes(tmp_path / "whole")["messages"].splitlines()}
    assert uris == {s3_mail + "/a/sample.mbox", s3_mail + "/b/crlf.mbox", s3_mail + "/b/one.eml"}
