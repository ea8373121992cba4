"""Fuzzing the parser with mutated real mail (../shared/data, tests/fixtures/mail):
bit flips, truncation, header and boundary damage, charset and
transfer-encoding lies, message/rfc822 nesting, containers (mbox, gzip, bz2,
tar, damaged too). ``jeeves.features.mailformats.iter_found`` and
``jeeves.features.parsing.outcome_of`` must never raise, every input must be
accounted (at least one item; n whole messages of a container are n items),
no message may become a ``parse_error``, and every record must be valid
text. Fixed seed; the example budget is JEEVES_FUZZ_EXAMPLES (default 60 a
test, a few seconds): ``JEEVES_FUZZ_EXAMPLES=20000 pytest
tests/features/test_fuzz_parsing.py`` is the long run without atheris
(tools/fuzz_parse.py is the coverage-guided one, docs/records.md)."""

import bz2
import functools
import gzip
import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jeeves.features.mailformats import iter_found
from jeeves.features.parsing import outcome_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EXAMPLES = int(os.environ.get("JEEVES_FUZZ_EXAMPLES", "60"))
FUZZ = settings(derandomize=True, max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

CHARSET_LIES = ["utf-16", "utf-16-be", "utf-32", "utf-7", "gb2312", "big5", "shift_jis",
                "iso-2022-jp", "unicode-escape", "raw-unicode-escape", "hex", "rot13",
                "base64", "idna", "punycode", "x-unknown", "", '"', "utf-8\x00", "utf-8'en'"]
ENCODING_LIES = [b"base64", b"quoted-printable", b"8bit", b"binary", b"x-uuencode",
                 b"uuencode", b"7bit", b"garbage", b"", b"base64\x00"]


@functools.lru_cache(maxsize=None)
def seed_messages():
    """Real messages of each corpus (a few dozen) plus the hand-written fixtures."""
    seeds = [path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))]
    if DATA.is_dir():
        for group in ("easy-ham-1", "hard-ham-1", "spam-1", "spam-2"):
            seeds += [path.read_bytes() for path in
                      sorted((DATA / "spamassassin" / group).glob("*.txt"))[:8]]
        seeds += [path.read_bytes() for path in
                  sorted((DATA / "enron-berkeley" / "1").glob("*.txt"))[:8]]
        mbox = DATA / "enron-mbox" / "allen-p.inbox.mbox.gz"
        if mbox.exists():
            content = gzip.decompress(mbox.read_bytes())[:200_000]
            seeds += [b"From " + part for part in content.split(b"\nFrom ")[1:8]]
    return tuple(seeds)


def seeds():
    return st.sampled_from(seed_messages())


def header_block(message):
    split = re.search(rb"\r?\n\r?\n", message)
    return (message, b"") if split is None else (message[:split.start()], message[split.start():])


@st.composite
def bit_flips(draw):
    data = bytearray(draw(seeds()))
    for _ in range(draw(st.integers(1, 12))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


@st.composite
def truncations(draw):
    data = draw(seeds())
    return data[:draw(st.integers(0, len(data)))]


@st.composite
def header_damage(draw):
    head, body = header_block(draw(seeds()))
    lines = head.split(b"\n")
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "duplicate", "garble", "fold", "nul", "8bit",
                                       "long", "colon"]))
        line = lines[position]
        if action == "drop" and len(lines) > 1:
            del lines[position]
        elif action == "duplicate":
            lines.insert(position, line)
        elif action == "garble":
            lines[position] = draw(st.binary(max_size=40))
        elif action == "fold":
            lines[position:position + 1] = [line[:len(line) // 2], b" " + line[len(line) // 2:]]
        elif action == "nul":
            lines[position] = line.replace(b":", b"\x00:", 1)
        elif action == "8bit":
            lines[position] = line + bytes(draw(st.lists(st.integers(128, 255), max_size=8)))
        elif action == "long":
            lines[position] = line + b" " + b"x" * draw(st.integers(1000, 20000))
        else:
            lines[position] = line.replace(b":", b"", 1) if b":" in line else line + b":"
    if draw(st.booleans()):
        body = body.lstrip(b"\r\n")  # the blank line after the headers is gone
    return b"\n".join(lines) + body


@st.composite
def boundary_damage(draw):
    message = draw(seeds())
    boundaries = re.findall(rb'boundary="?([^";\r\n]+)"?', message, re.IGNORECASE)
    if not boundaries:
        boundary = b"==fuzz=="
        head, body = header_block(message)
        message = (head + b"\nContent-Type: multipart/mixed; boundary=\"" + boundary + b"\""
                   + b"\n\n--" + boundary + b"\n" + message + b"\n--" + boundary + b"--\n")
        boundaries = [boundary]
    boundary = draw(st.sampled_from(boundaries))
    action = draw(st.sampled_from(["drop_close", "rename", "duplicate", "empty", "truncate",
                                   "unclosed_nest"]))
    if action == "drop_close":
        return message.replace(b"--" + boundary + b"--", b"")
    if action == "rename":
        return message.replace(b"boundary=", b"boundary=x", 1)
    if action == "duplicate":
        return message.replace(b"--" + boundary, b"--" + boundary + b"\n--" + boundary, 2)
    if action == "empty":
        return message.replace(boundary, b"", 1)
    if action == "truncate":
        cut = message.rfind(b"--" + boundary)
        return message[:max(cut, 0) + draw(st.integers(0, 8))]
    return message.replace(b"--" + boundary, b"--" + boundary + b"\nContent-Type: "
                           b"multipart/mixed; boundary=\"" + boundary + b"\"\n", 1)


@st.composite
def encoding_lies(draw):
    message = draw(seeds())
    head, body = header_block(message)
    charset = draw(st.sampled_from(CHARSET_LIES)).encode("latin-1")
    encoding = draw(st.sampled_from(ENCODING_LIES))
    head = re.sub(rb"(?im)^content-type:.*$", b"", head)
    head = re.sub(rb"(?im)^content-transfer-encoding:.*$", b"", head)
    kind = draw(st.sampled_from([b"text/plain", b"text/html", b"multipart/alternative",
                                 b"message/rfc822", b"application/octet-stream"]))
    head += b"\nContent-Type: " + kind + b"; charset=" + charset
    head += b"\nContent-Transfer-Encoding: " + encoding
    if draw(st.booleans()):
        head += b"\nContent-Disposition: attachment; filename*=" + charset + b"''%FF%FE%00%D8"
    if draw(st.booleans()):
        head += b"\nSubject: =?" + charset + b"?b?" + draw(st.sampled_from(
            [b"//4A2A==", b"2D3eAA==", b"!!!", b"", b"w6k="])) + b"?="
    return head + body


@st.composite
def nested(draw):
    message = draw(seeds())
    depth = draw(st.integers(1, 70))
    kind = draw(st.sampled_from([b"message/rfc822", b"multipart/mixed"]))
    for level in range(depth):
        if kind == b"message/rfc822":
            message = (b"Message-ID: <nest-%d@example.com>\nSubject: level %d\n"
                       b"Content-Type: message/rfc822\n\n" % (level, level)) + message
        else:
            boundary = b"b%d" % level
            message = (b"Content-Type: multipart/mixed; boundary=\"" + boundary + b"\"\n\n--"
                       + boundary + b"\n" + message + b"\n--" + boundary + b"--\n")
    return message


any_message = st.one_of(bit_flips(), truncations(), header_damage(), boundary_damage(),
                        encoding_lies(), nested())


def tar_of(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for number, data in enumerate(members):
            info = tarfile.TarInfo("fuzz/%03d.eml" % number)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def mbox_of(members):
    return b"".join(b"From fuzz@example.com Mon Jan  1 00:00:00 2001\n"
                    + member.replace(b"\nFrom ", b"\n>From ").rstrip(b"\n") + b"\n\n"
                    for member in members)


@st.composite
def containers(draw):
    members = draw(st.lists(any_message, min_size=1, max_size=5))
    kind = draw(st.sampled_from(["mbox", "tar", "gzip-mbox", "bz2-tar", "gzip-tar"]))
    data = {"mbox": lambda: mbox_of(members), "tar": lambda: tar_of(members),
            "gzip-mbox": lambda: gzip.compress(mbox_of(members), mtime=0),
            "bz2-tar": lambda: bz2.compress(tar_of(members)),
            "gzip-tar": lambda: gzip.compress(tar_of(members), mtime=0)}[kind]()
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip", "append"]))
    if damage == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif damage == "flip":
        position = draw(st.integers(0, len(data) - 1))
        data = data[:position] + bytes([data[position] ^ 0x55]) + data[position + 1:]
    elif damage == "append":
        data += draw(st.binary(max_size=64))
    return kind, damage, len(members), data


def outcomes(data, relpath="fuzz/input.eml"):
    """(items, outcomes) with the checks every input must pass."""
    items = list(iter_found(data, "file:///fuzz/input", relpath))
    assert items, "an input must be accounted"
    results = [outcome_of(found) for found in items]
    for kind, record, warnings in results:
        assert kind in ("message", "quarantine")
        json.dumps(record, ensure_ascii=False).encode("utf-8")  # valid text everywhere
        if kind == "quarantine":
            assert record["reason"] != "parse_error", record["detail"]
        else:
            assert all(isinstance(warning, str) for warning in warnings)
    return items, results


needs_seeds = pytest.mark.skipif(
    not DATA.is_dir(), reason="../shared/data is absent: the fuzz seeds are real messages")


@needs_seeds
@FUZZ
@given(bit_flips())
def test_bit_flips(data):
    outcomes(data)


@needs_seeds
@FUZZ
@given(truncations())
def test_truncation(data):
    outcomes(data)


@needs_seeds
@FUZZ
@given(header_damage())
def test_header_damage(data):
    outcomes(data)


@needs_seeds
@FUZZ
@given(boundary_damage())
def test_boundary_damage(data):
    outcomes(data)


@needs_seeds
@FUZZ
@given(encoding_lies())
def test_charset_and_transfer_encoding_lies(data):
    outcomes(data)


@needs_seeds
@FUZZ
@given(nested())
def test_nesting(data):
    items, results = outcomes(data)
    assert [kind for kind, _, _ in results] == ["message"]


@needs_seeds
@FUZZ
@given(containers())
def test_containers(container):
    kind, damage, members, data = container
    items, results = outcomes(data, "fuzz/input." + kind.split("-")[-1])
    if damage == "none":
        # every member accounted, one item each (a mutated member may hold a
        # From_ line of its own and split, or be quarantined)
        assert len(items) >= members


# What the coverage-guided run (tools/fuzz_parse.py) found, reduced by hand.
FOUND = {
    # the email generator cannot write an attached message holding a
    # multipart without boundary and 8-bit text (UnicodeEncodeError)
    "attached_multipart_without_boundary": b'Content-Type:multipart/;boundary="OUTER"\n'
    b"--OUTER\nContent-Type:message/\n\nContent-Type:multipart/\n\n\xe4",
    # nor one whose header value holds a line that looks like a header
    # (HeaderParseError: "header value appears to contain an embedded header")
    "attached_header_with_embedded_header": b'Content-Type:multipart/;boundary="OUTER"\n'
    b"--OUTER\nContent-Type:message/\n0:\x0bt:",
}


def nested_messages(depth):
    message = b"Message-ID: <inner@example.com>\n\nbody\n"
    for level in range(depth):
        message = (b"Message-ID: <n%d@example.com>\nContent-Type: message/rfc822\n\n" % level
                   + message)
    return message


def nested_multiparts(depth):
    message = b"x\n"
    for level in range(depth):
        boundary = b"b%d" % level
        message = (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\n\n--'
                   + boundary + b"\n" + message + b"\n--" + boundary + b"--\n")
    return b"Message-ID: <deep@example.com>\n" + message


def test_found_inputs_parse():
    for name, data in FOUND.items():
        _, results = outcomes(data)
        assert [kind for kind, _, _ in results] == ["message"], name


def test_deep_attached_messages_are_sized_without_recursion():
    # the email generator recurses per level: 300 attached messages deep
    # went past the recursion limit while sizing the attachment
    _, [(kind, record, _)] = outcomes(nested_messages(300))
    assert kind == "message"
    assert record["attachments"][0]["type"] == "message/rfc822"


def test_parts_nested_past_the_parsers_recursion_are_nested_too_deep():
    [found] = iter_found(nested_multiparts(1200), "file:///deep", "deep.eml")
    kind, record, _ = outcome_of(found)
    assert (kind, record["reason"]) == ("quarantine", "nested_too_deep")
