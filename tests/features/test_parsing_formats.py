"""jeeves.features.mailformats: finding messages in files of every format."""

import bz2
import gzip
import json
import os
import random
import tarfile
from pathlib import Path

from jeeves.features.mailformats import (
    expand_inputs,
    folder_of,
    iter_found,
    pack_files,
    relpath_of_uri,
    split_mbox,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def found_in(data, relpath="dir/file"):
    return list(iter_found(data, "file:///" + relpath, relpath))


def kinds(found):
    return [(item.kind, item.reason) for item in found]


def test_mbox_is_split_and_unescaped():
    data = (FIXTURES / "sample.mbox").read_bytes()
    found = found_in(data, "mail/sample.mbox")
    assert kinds(found) == [("rfc822", None)] * 3
    # index is the message's byte offset (a range of a split file knows it)
    assert [item.index for item in found] == [item.offset for item in found] == [0, 240, 487]
    for item in found:
        assert data[item.offset:].startswith(b"From MAILER-DAEMON")
    assert b"\nFrom the archive: this line was escaped." in found[0].data
    assert b">From" not in found[0].data
    # a From line without a date stays inside its message
    assert b"From the start of a line" in found[1].data
    assert found[0].folder == ["mail", "sample"]


def test_split_mbox_agrees_with_stdlib_mailbox(tmp_path):
    import mailbox

    path = tmp_path / "one.mbox"
    path.write_bytes((FIXTURES / "sample.mbox").read_bytes().replace(
        b"From the start of a line", b"from the start of a line"))
    expected = [message["Message-ID"] for message in mailbox.mbox(str(path))]
    found = [
        msg.split(b"Message-ID: ")[1].split(b"\n")[0].decode()
        for _, msg in split_mbox(path.read_bytes())
    ]
    assert found == expected


def test_gzip_and_bz2_are_detected_by_content_not_name():
    data = (FIXTURES / "sample.mbox").read_bytes()
    plain = found_in(data, "mail/sample.mbox")
    for compressed in (gzip.compress(data), bz2.compress(data)):
        found = found_in(compressed, "mail/sample.mbox.gz")
        assert [item.data for item in found] == [item.data for item in plain]
        assert found[0].folder == ["mail", "sample"]


def test_single_message_formats():
    assert kinds(found_in((FIXTURES / "reply_with_signature.eml").read_bytes())) == [
        ("rfc822", None)]
    assert kinds(found_in((FIXTURES / "spam" / "enron_spam.txt").read_bytes())) == [
        ("subject_body", None)]
    assert kinds(found_in((FIXTURES / "missing_headers.eml").read_bytes())) == [
        ("rfc822", None)]
    one_message_with_from_line = b"From a@b Mon Jan  1 00:00:00 2001\nSubject: x\n\nbody\n"
    found = found_in(one_message_with_from_line, "spam/0001.txt")
    assert kinds(found) == [("rfc822", None)] and found[0].folder == ["spam"]
    assert found_in(one_message_with_from_line, "box/inbox.mbox")[0].folder == ["box", "inbox"]


def test_problems_are_found_not_raised():
    rng = random.Random(7)
    random_bytes = bytes(rng.randrange(256) for _ in range(4096))
    assert kinds(found_in(b"")) == [("problem", "empty_file")]
    assert kinds(found_in(b" \n\n")) == [("problem", "empty_file")]
    assert kinds(found_in(random_bytes)) == [("problem", "not_email")]
    assert kinds(found_in(b"# README\n\nNot mail: just notes.\n")) == [("problem", "not_email")]
    cut_gzip = gzip.compress(b"From x Mon Jan  1 00:00:00 2001\n")[:12]
    assert kinds(found_in(cut_gzip)) == [("problem", "truncated_gzip")]
    # the deflate block type 3 does not exist
    corrupt_gzip = cut_gzip[:10] + b"\xff" * 20
    assert kinds(found_in(corrupt_gzip)) == [("problem", "corrupt_gzip")]
    assert kinds(found_in(b"BZh9" + b"\x00" * 40)) == [("problem", "corrupt_bz2")]


def test_json_lines_pass_records_through():
    record = {"schema_version": 1, "message_id": "a@b", "body": "x"}
    quarantined = {"source": {"uri": "u"}, "reason": "not_email", "detail": "", "head": ""}
    data = "\n".join([json.dumps(record), json.dumps(quarantined), "[1, 2]", "{bad json"])
    found = found_in(data.encode())
    assert kinds(found) == [("record", None), ("quarantine_record", None),
                            ("problem", "not_a_record"), ("problem", "bad_json")]
    assert found[0].data == record
    assert found[3].offset == len(data) - len("{bad json")


def test_pretty_printed_json_document_is_one_problem():
    found = found_in(json.dumps({"stages": {"parse": {"read": 1}}}, indent=2).encode())
    assert kinds(found) == [("problem", "not_a_record")]


def test_folder_of():
    assert folder_of("spamassassin/easy-ham-1/0001.txt", False) == ["spamassassin", "easy-ham-1"]
    assert folder_of("enron-mbox/allen-p.sent.mbox.gz", True) == ["enron-mbox", "allen-p.sent"]
    assert folder_of("file.eml", False) == []


def test_relpath_of_uri():
    assert relpath_of_uri("file:///data/spam%20box/1.txt") == "spam box/1.txt"
    assert relpath_of_uri("/data/x.mbox") == "data/x.mbox"


def test_expand_inputs_walks_directories(tmp_path):
    (tmp_path / "top" / "a" / "b").mkdir(parents=True)
    (tmp_path / "top" / "a" / "b" / "m1").write_bytes(b"x")
    (tmp_path / "top" / "m0").write_bytes(b"y")
    (tmp_path / "loose.eml").write_bytes(b"z")
    files = expand_inputs([str(tmp_path / "top"), str(tmp_path / "loose.eml")])
    assert [relpath for _, _, relpath in files] == [
        "top/m0", "top/a/b/m1", tmp_path.name + "/loose.eml"]
    assert files[0][1] == (tmp_path / "top" / "m0").as_uri()


def test_packed_containers_keep_each_file_uri_and_folder(tmp_path):
    source = tmp_path / "mail"
    source.mkdir()
    mbox = (FIXTURES / "sample.mbox").read_bytes()
    (source / "a.mbox.gz").write_bytes(gzip.compress(mbox))
    (source / "b.eml").write_bytes((FIXTURES / "on_wrote.eml").read_bytes())
    (source / "c.bin").write_bytes(b"")
    packed = tmp_path / "packed"
    packed.mkdir()
    containers, unreadable = pack_files(expand_inputs([str(source)]), str(packed), 1 << 20)
    assert unreadable == [] and len(containers) == 1
    assert tarfile.is_tarfile(containers[0])
    found = found_in(Path(containers[0]).read_bytes(), "container-00000.tar")
    assert [(item.kind, item.uri) for item in found] == (
        [("rfc822", (source / "a.mbox.gz").as_uri())] * 3
        + [("rfc822", (source / "b.eml").as_uri()), ("problem", (source / "c.bin").as_uri())])
    assert found[0].folder == ["mail", "a"]
    assert found[3].folder == ["mail"]


def test_pack_files_splits_by_size(tmp_path):
    files = []
    for number in range(5):
        path = tmp_path / ("m%d" % number)
        path.write_bytes(b"z" * 400)
        files.append((str(path), path.as_uri(), path.name))
    out = tmp_path / "out"
    out.mkdir()
    containers, _ = pack_files(files, str(out), 1000)
    assert len(containers) == 3
    members = [name for c in containers for name in tarfile.open(c).getnames()]
    assert members == ["m0", "m1", "m2", "m3", "m4"]
    assert all(os.path.dirname(c) == str(out) for c in containers)
