"""features/mailformats.py salvage: damaged gzip, bz2, tar and mbox give every
message read whole before the damage, plus one quarantine record; text with a
byte-order mark is decoded. Damaged archives are built here from real messages
(../shared/data) and from tests/fixtures/mail."""

import bz2
import codecs
import gzip
import io
import tarfile
import zlib
from pathlib import Path

import pytest

from jeeves.features.mailformats import decompress_salvaging, iter_found, split_mbox
from jeeves.features.parsing import outcome_of
from tests.jobs.test_mr_parse_emails import assert_reconciles, run_counted

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ENRON_MBOX = DATA / "enron-mbox" / "allen-p.inbox.mbox.gz"
SPAMASSASSIN = DATA / "spamassassin" / "spam-1"

needs_data = pytest.mark.skipif(
    not ENRON_MBOX.exists() or not SPAMASSASSIN.is_dir(),
    reason="../shared/data (enron-mbox, spamassassin) is absent")


def messages_of(items):
    return [item.data for item in items if item.kind == "rfc822"]


def problems_of(items):
    return [item for item in items if item.kind == "problem"]


def spamassassin_files(count):
    return sorted(SPAMASSASSIN.glob("*.txt"))[:count]


def message_in(path):
    """A one-message file's message as found (SpamAssassin's From_ line dropped)."""
    [(_, message)] = split_mbox(path.read_bytes())
    return message


def mbox_of(raw_messages):
    """An mbox of raw messages, each with its From_ line and a final blank line."""
    parts = []
    for raw in raw_messages:
        body = raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw
        parts.append(b"From sender@example.com Mon Jan  1 00:00:00 2001\n" + body.rstrip(b"\n")
                     + b"\n\n")
    return b"".join(parts)


def flushed_gzip(raw_messages):
    """(gzip bytes, compressed offset after each message): a full flush after
    every message, so a cut past a message's offset leaves it decompressible."""
    compressor = zlib.compressobj(wbits=31)
    chunks, ends = [], []
    for message in raw_messages:
        chunks.append(compressor.compress(message))
        chunks.append(compressor.flush(zlib.Z_FULL_FLUSH))
        ends.append(sum(map(len, chunks)))
    chunks.append(compressor.flush())
    return b"".join(chunks), ends


def assert_prefix(found_messages, originals):
    """The messages found are the first ones of ``originals``, byte for byte."""
    assert found_messages == originals[:len(found_messages)]


@needs_data
def test_truncated_gzip_mbox_keeps_every_message_before_the_cut():
    mbox = mbox_of(path.read_bytes() for path in spamassassin_files(40))
    originals = [message for _, message in split_mbox(mbox)]
    starts = [offset for offset, _ in split_mbox(mbox)]
    data, ends = flushed_gzip([mbox[start:end] for start, end in
                               zip(starts, starts[1:] + [len(mbox)])])
    for cut in (ends[0] + 5, ends[9], ends[9] + 1, ends[25] + 300, len(data) - 4):
        items = list(iter_found(data[:cut], "file:///a.mbox.gz", "mail/a.mbox.gz"))
        whole = sum(1 for end in ends if end <= cut)
        found = messages_of(items)
        # the message after the last whole one is in progress; the last whole
        # one too when the next From_ line has not arrived
        assert whole - 1 <= len(found) <= whole
        assert_prefix(found, originals)
        problems = problems_of(items)
        assert [problem.reason for problem in problems] == ["truncated_gzip"]
        assert len(items) == len(found) + 1
        assert problems[0].offset == starts[len(found)]
        assert "byte %d" % cut in problems[0].detail


@needs_data
def test_real_gzip_mbox_cut_in_half():
    data = ENRON_MBOX.read_bytes()
    originals = [message for _, message in split_mbox(gzip.decompress(data))]
    items = list(iter_found(data[:len(data) // 2], "file:///inbox.mbox.gz", "enron/x.mbox.gz"))
    found = messages_of(items)
    assert 0.3 * len(originals) < len(found) < 0.7 * len(originals)
    assert_prefix(found, originals)
    assert [problem.reason for problem in problems_of(items)] == ["truncated_gzip"]
    lost = problems_of(items)[0]
    # the record of the lost part shows the start of the message in progress
    assert lost.data == originals[len(found)][:len(lost.data)]


@needs_data
def test_corrupt_gzip_keeps_what_decompressed_before_the_bad_byte():
    mbox = mbox_of(path.read_bytes() for path in spamassassin_files(40))
    originals = [message for _, message in split_mbox(mbox)]
    starts = [offset for offset, _ in split_mbox(mbox)]
    data, ends = flushed_gzip([mbox[start:end] for start, end in
                               zip(starts, starts[1:] + [len(mbox)])])
    for segment in (3, 20, 35):
        damaged = bytearray(data)
        middle = (ends[segment - 1] + ends[segment]) // 2
        damaged[middle:middle + 8] = b"\xff" * 8
        items = list(iter_found(bytes(damaged), "file:///a.mbox.gz", "mail/a.mbox.gz"))
        found = messages_of(items)
        assert [problem.reason for problem in problems_of(items)] == ["corrupt_gzip"]
        assert len(items) == len(found) + 1
        # the messages wholly before the bad byte are found intact; zlib may
        # notice bad data some way after it, so later ones can hold garbage
        assert len(found) >= segment - 1
        assert_prefix(found[:segment - 1], originals)
        content, damage = decompress_salvaging(bytes(damaged), "gzip")
        assert damage.reason == "corrupt_gzip" and damage.offset >= middle
        assert content[:starts[segment]] == mbox[:starts[segment]]


def test_gzip_with_trailing_garbage_keeps_all_and_quarantines_the_garbage():
    mbox = (FIXTURES / "sample.mbox").read_bytes()
    items = list(iter_found(gzip.compress(mbox) + b"not gzip", "file:///s.gz", "mail/s.mbox.gz"))
    assert messages_of(items) == [message for _, message in split_mbox(mbox)]
    assert [problem.reason for problem in problems_of(items)] == ["corrupt_gzip"]


def test_concatenated_gzip_members_and_zero_padding_are_whole():
    mbox = (FIXTURES / "sample.mbox").read_bytes()
    data = gzip.compress(mbox) + gzip.compress(mbox) + b"\x00" * 100
    items = list(iter_found(data, "file:///s.gz", "mail/s.mbox.gz"))
    assert len(messages_of(items)) == 6 and not problems_of(items)


@needs_data
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_bz2_keeps_the_blocks_before_the_damage(damage):
    mbox = gzip.decompress(ENRON_MBOX.read_bytes())[:600_000]
    mbox = mbox[:[offset for offset, _ in split_mbox(mbox)][-1]]  # whole messages only
    originals = [message for _, message in split_mbox(mbox)]
    data = bytearray(bz2.compress(mbox, compresslevel=1))  # 100 kB blocks
    at = int(len(data) * 0.8)
    if damage == "truncated":
        data = data[:at]
    else:
        data[at:at + 16] = b"\x00" * 16
    items = list(iter_found(bytes(data), "file:///a.mbox.bz2", "mail/a.mbox.bz2"))
    found = messages_of(items)
    # bz2 gives out whole blocks: 4 of the 6 come before the damage
    assert len(found) > 0.5 * len(originals)
    assert len(found) < len(originals)
    assert_prefix(found, originals)
    assert [problem.reason for problem in problems_of(items)] == [damage + "_bz2"]


def tar_of(paths):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in paths:
            archive.add(str(path), arcname="spam/" + path.name)
    return buffer.getvalue()


def member_offsets(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return [(member.offset_data, member.size) for member in archive.getmembers()]


@needs_data
def test_truncated_tar_keeps_whole_members():
    paths = spamassassin_files(12)
    data = tar_of(paths)
    offsets = member_offsets(data)
    data_start, size = offsets[7]
    for cut in (data_start + size // 2, data_start - 100, offsets[8][0] - 512):
        items = list(iter_found(data[:cut], "file:///c.tar", "c.tar"))
        found = messages_of(items)
        whole = sum(1 for start, length in offsets if start + length <= cut)
        assert len(found) == whole
        assert found == [message_in(path) for path in paths[:whole]]
        assert [item.uri for item in items[:2]] == [
            "file:///c.tar#spam/" + path.name for path in paths[:2]]
        assert [problem.reason for problem in problems_of(items)] == ["truncated_tar"]


@needs_data
def test_corrupt_tar_header_stops_with_one_problem():
    paths = spamassassin_files(6)
    data = bytearray(tar_of(paths))
    header = member_offsets(bytes(data))[3][0] - 512
    data[header + 148:header + 156] = b"garbage!"  # the header checksum
    items = list(iter_found(bytes(data), "file:///c.tar", "c.tar"))
    assert messages_of(items) == [message_in(path) for path in paths[:3]]
    assert [problem.reason for problem in problems_of(items)] == ["corrupt_tar"]


@needs_data
def test_truncated_tar_gz_is_one_problem():
    paths = spamassassin_files(12)
    data = gzip.compress(tar_of(paths))
    items = list(iter_found(data[:len(data) // 2], "file:///c.tar.gz", "c.tar.gz"))
    found = messages_of(items)
    assert 0 < len(found) < len(paths)
    assert found == [message_in(path) for path in paths[:len(found)]]
    assert [problem.reason for problem in problems_of(items)] == ["truncated_gzip"]


def test_plain_mbox_whose_last_message_is_cut():
    mbox = (FIXTURES / "sample.mbox").read_bytes()
    originals = [message for _, message in split_mbox(mbox)]
    items = list(iter_found(mbox[:-7], "file:///s.mbox", "mail/s.mbox"))
    assert messages_of(items) == originals[:-1]
    assert [problem.reason for problem in problems_of(items)] == ["truncated_mbox"]
    assert problems_of(items)[0].offset == [offset for offset, _ in split_mbox(mbox)][-1]
    # a whole mbox ends with a newline: nothing is cut
    assert not problems_of(iter_found(mbox, "file:///s.mbox", "mail/s.mbox"))


@pytest.mark.parametrize("encoding, warning", [
    ("utf-16-le", "decoded_from_utf16"), ("utf-16-be", "decoded_from_utf16"),
    ("utf-32-le", "decoded_from_utf32"), ("utf-32-be", "decoded_from_utf32"),
    ("utf-8", "utf8_mark_dropped")])
def test_text_with_a_byte_order_mark_is_decoded(encoding, warning):
    original = (FIXTURES / "reply_with_signature.eml").read_bytes()
    mark = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
            "utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE,
            "utf-8": codecs.BOM_UTF8}[encoding]
    data = mark + original.decode("utf-8").encode(encoding)
    [found] = iter_found(data, "file:///r.eml", "mail/r.eml")
    kind, record, warnings = outcome_of(found)
    [expected_kind, expected, _] = outcome_of(iter_found(original, "file:///r.eml", "mail/r.eml")
                                              .__next__())
    assert kind == expected_kind == "message"
    assert warning in warnings
    assert {key: record[key] for key in ("subject", "body", "from", "message_id")} == {
        key: expected[key] for key in ("subject", "body", "from", "message_id")}


@needs_data
def test_parse_job_counts_reconcile_on_damaged_archives(tmp_path):
    paths = spamassassin_files(30)
    mbox = mbox_of(path.read_bytes() for path in paths)
    inputs = tmp_path / "damaged"
    inputs.mkdir()
    gz = gzip.compress(mbox)
    (inputs / "cut.mbox.gz").write_bytes(gz[:len(gz) // 2])
    (inputs / "cut.mbox.bz2").write_bytes(bz2.compress(mbox)[:-30])
    (inputs / "cut.tar").write_bytes(tar_of(paths[:10])[:8000])
    (inputs / "cut.mbox").write_bytes(mbox[:-3])
    (inputs / "utf16.eml").write_bytes(
        (FIXTURES / "html_only.eml").read_bytes().decode("utf-8").encode("utf-16"))
    messages, quarantine, counters = run_counted([inputs], tmp_path)
    parse = assert_reconciles(counters, messages, quarantine)
    reasons = sorted(record["reason"] for record in quarantine)
    assert reasons == ["truncated_bz2", "truncated_gzip", "truncated_mbox", "truncated_tar"]
    assert counters["warnings"]["decoded_from_utf16"] == 1
    assert parse["records"] + parse["duplicates"] > 30
