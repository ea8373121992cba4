"""OUT on S3 (moto, in this process; no AWS): with nothing quarantined the
parse job's output becomes messages/ by a server-side copy
(Storage.move_tree), with no job to select the records; its lines are those
a local OUT gets. tests/engines/test_parse_split_hadoop.py checks the HDFS
rename on the cluster."""

import contextlib
import io
from pathlib import Path

import pytest

from jeeves import cli
from jeeves.storage import Storage
from tests.helpers import record_jobs, s3_in_moto

moto = pytest.importorskip("moto")
BUCKET = "jeeves-move"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


@pytest.fixture
def s3(monkeypatch):
    yield from s3_in_moto(monkeypatch, BUCKET)


def keys(client, prefix):
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", ())
    return sorted(item["Key"] for item in listed)


def test_move_tree_copies_every_object_and_removes_the_source(s3):
    # one object past boto3's 8 MB multipart threshold: a multipart copy
    large = b"x" * (9 * 1024 * 1024)
    for name, body in (("part-00000", b"a\n"), ("part-00001", large), ("sub/part-0", b"c\n")):
        s3.put_object(Bucket=BUCKET, Key="out/_work/parse/" + name, Body=body)
    s3.put_object(Bucket=BUCKET, Key="out/_work/parsed", Body=b"a sibling, not under it")
    storage = Storage()
    assert storage.move_tree("s3://%s/out/_work/parse" % BUCKET, "s3://%s/out/messages" % BUCKET)
    assert keys(s3, "out/messages/") == ["out/messages/part-00000", "out/messages/part-00001",
                                         "out/messages/sub/part-0"]
    assert s3.get_object(Bucket=BUCKET, Key="out/messages/part-00001")["Body"].read() == large
    assert keys(s3, "out/_work/") == ["out/_work/parsed"]
    # a destination that exists: nothing moves
    s3.put_object(Bucket=BUCKET, Key="out/other/part-00000", Body=b"b\n")
    assert not storage.move_tree("s3://%s/out/other" % BUCKET, "s3://%s/out/messages" % BUCKET)
    assert keys(s3, "out/other/") == ["out/other/part-00000"]


def test_a_clean_corpus_parsed_into_s3_moves_the_records_with_no_select_job(s3, tmp_path,
                                                                          monkeypatch):
    ran = record_jobs(monkeypatch)
    for output in ("s3://%s/out" % BUCKET, str(tmp_path / "out")):
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            status = cli.main(["parse", "--input", str(FIXTURES), "--output", output])
        assert status == 0, printed.getvalue()
    assert ran == ["MRParseEmails", "MRParseEmails"]
    moved = [key for key in keys(s3, "out/messages/") if "/part-" in key]
    lines = b"".join(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in moved)
    local = b"".join(path.read_bytes() for path in sorted((tmp_path / "out" / "messages")
                                                             .glob("part-*")))
    assert sorted(lines.splitlines()) == sorted(local.splitlines()) and len(local) > 1000
    assert "out/messages/_SUCCESS" in keys(s3, "out/messages/")
    assert keys(s3, "out/quarantine/") == ["out/quarantine/_SUCCESS",
                                           "out/quarantine/part-00000"]
    assert keys(s3, "out/_work/") == []
