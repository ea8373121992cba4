"""jeeves.features.parsing.parse_message, the stdlib's message_from_bytes built
faster for plain messages, against the stdlib itself: the same object, attribute
for attribute, on real mail (../shared/data), on the fuzzer's damaged messages
and on header blocks with every kind of line ending and control character."""

import gzip
from email import message_from_bytes
from email.utils import getaddresses
from pathlib import Path

import pytest
import ujson
from hypothesis import given, settings
from hypothesis import strategies as st

from jeeves.features import mailformats, parsing
from jeeves.features.parsing import (
    encoded_outcome_of,
    message_record,
    outcome_of,
    parse_message,
)
from tests.features.test_fuzz_parsing import (
    FUZZ,
    boundary_damage,
    encoding_lies,
    header_damage,
    truncations,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def state(message):
    """Everything a parsed Message holds, nested parts included."""
    values = {}
    for name, value in vars(message).items():
        if name == "defects":
            value = [(type(defect).__name__, str(defect)) for defect in value]
        elif name == "_payload" and isinstance(value, list):
            value = [state(part) for part in value]
        elif name == "policy":
            value = repr(value)
        values[name] = value
    return values


def assert_same(raw):
    assert state(parse_message(raw)) == state(message_from_bytes(raw))


def corpus_messages():
    messages = [path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))]
    for group in sorted((DATA / "spamassassin").glob("*")):
        messages += [path.read_bytes() for path in sorted(group.glob("*"))]
    messages += [path.read_bytes() for path in sorted((DATA / "enron-berkeley").glob("*/*.txt"))]
    for mbox in sorted((DATA / "enron-mbox").glob("*.mbox.gz"))[:12]:
        content = gzip.decompress(mbox.read_bytes())
        messages += [part.partition(b"\n")[2] for part in content.split(b"\nFrom ")[1:]]
    return messages


@pytest.mark.skipif(not (DATA / "spamassassin").is_dir(),
                    reason="../shared/data (SpamAssassin, Enron) is absent")
def test_equal_to_the_stdlib_on_the_shared_corpora():
    messages = corpus_messages()
    plain = 0
    for raw in messages:
        assert_same(raw)
        plain += not message_from_bytes(raw).is_multipart()
    # the fast path was taken for most of them, and the stdlib's for the rest
    assert len(messages) > 5000 and 0 < plain < len(messages)


def test_message_records_are_unchanged(monkeypatch):
    import jeeves.features.parsing as parsing

    source = {"uri": "file:///x.eml", "index": 0, "offset": 0}
    messages = [path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))]
    fast = [message_record(raw, source, ["x"]) for raw in messages]
    monkeypatch.setattr(parsing, "parse_message", message_from_bytes)
    assert [message_record(raw, source, ["x"]) for raw in messages] == fast


LINE_ENDS = [b"\n", b"\r\n", b"\r", b"\n\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e",
             b"\x85", b"\xe2\x80\xa8", b""]
HEADER_LINES = [b"Subject: hello", b"From: a@example.com", b"To: b@example.com, c@x.org",
                b"Content-Type: text/plain; charset=utf-8", b"Content-Type: multipart/mixed",
                b"Content-Type: message/rfc822", b"MIME-Version: 1.0", b" folded",
                b"\tfolded", b"From someone Mon Jan  1 00:00:00 2001", b"no colon here",
                b"X-8bit: \xe9\xff", b": empty name", b"", b"Subject:", b"X\x00: nul"]


@st.composite
def header_blocks(draw):
    lines = draw(st.lists(st.tuples(st.sampled_from(HEADER_LINES), st.sampled_from(LINE_ENDS)),
                          max_size=12))
    head = b"".join(line + end for line, end in lines)
    separator = draw(st.sampled_from([b"\n\n", b"\r\n\r\n", b"\n\r\n", b"\r\r", b"\n", b""]))
    body = draw(st.binary(max_size=200)) + draw(st.sampled_from([b"", b"\nline\r\n\n", b"\r"]))
    return head + separator + body


@settings(derandomize=True, max_examples=500, deadline=None)
@given(header_blocks())
def test_equal_on_generated_header_blocks(raw):
    assert_same(raw)


@FUZZ
@given(st.one_of(header_damage(), truncations(), boundary_damage(), encoding_lies()))
def test_equal_on_damaged_real_messages(raw):
    assert_same(raw)


# --- the record's fast paths against the stdlib's, on whole records ----------

def reference_headers(message):
    """parsing._headers before its fast path: every header, lowercased."""
    headers = {}
    for name, value in message.raw_items():
        headers.setdefault(name.lower(), []).append(value)
    return headers


def reference_separator_starts(data):
    return [match.start() for match in mailformats.MBOX_SEPARATOR.finditer(data)]


def stdlib_paths(monkeypatch):
    """Every fast path of a record replaced by the stdlib reference it stands for."""
    monkeypatch.setattr(parsing, "parse_message", message_from_bytes)
    monkeypatch.setattr(parsing, "_headers", reference_headers)
    monkeypatch.setattr(parsing, "_address_pairs", lambda value: tuple(
        getaddresses([parsing._unescape_surrogates(value)])))
    monkeypatch.setattr(parsing, "_unique_addresses", parsing._unique_addresses.__wrapped__)
    monkeypatch.setattr(parsing, "_date_of", parsing._date_of.__wrapped__)
    monkeypatch.setattr(parsing, "_content_charset", lambda part: part.get_content_charset())
    monkeypatch.setattr(mailformats, "separator_starts", reference_separator_starts)


def corpus_outcomes(files):
    outcomes = []
    for path in files:
        for found in mailformats.iter_found(path.read_bytes(), path.as_uri(), path.name):
            outcomes.append(outcome_of(found))
    return outcomes


@pytest.mark.skipif(not (DATA / "enron-mbox").is_dir() or not (DATA / "spamassassin").is_dir(),
                    reason="../shared/data (Enron mbox, SpamAssassin) is absent")
def test_records_equal_to_the_stdlib_paths_on_the_shared_corpora(monkeypatch):
    # Enron mailboxes (long recipient lists, "e-mail <.name@enron.com>") and
    # SpamAssassin's hard ham (names, quotes, MIME)
    files = sorted((DATA / "enron-mbox").glob("*.mbox.gz"))[:40:4]
    files += sorted((DATA / "spamassassin" / "hard-ham-1").glob("*"))[:120]
    parsing._address_pairs.cache_clear()
    fast = corpus_outcomes(files)
    stdlib_paths(monkeypatch)
    assert corpus_outcomes(files) == fast
    assert len(fast) > 1000
    # the parse job's lines: the protocol's encoding of the same records
    found = [found for path in files[:3] + files[-40:]
             for found in mailformats.iter_found(path.read_bytes(), path.as_uri(), path.name)]
    found += [mailformats.Found("rfc822", raw, "file:///x", 0, 0, [], None, None) for raw in (
        "Subject: caf\u00e9 \U0001f600\n\nbody \u00e9\n".encode("utf-8"),
        b"Subject: caf\xe9\nContent-Type: text/plain; charset=unicode-escape\n\n"
        b"a lone surrogate: \\ud800\n")]
    encoded = [encoded_outcome_of(item, encode=True) for item in found]
    assert [outcome[:3] for outcome in encoded] == [outcome_of(item) for item in found]
    lines = [(record, line) for kind, record, _, line in encoded if kind == "message"]
    assert len(lines) > 100 and all(line is not None for _, line in lines)
    assert [line for _, line in lines] == [ujson.dumps(record).encode("utf-8")
                                           for record, _ in lines]
    assert any(not line.isascii() or b"\\u" in line for _, line in lines)
    assert any("surrogates_replaced" in warnings for _, _, warnings, _ in encoded)


MBOX_LINES = [b"From a@b Mon Jan  1 00:00:00 2001", b"From x Tue 12:34", b"From nobody",
              b">From a@b Mon Jan  1 00:00:00 2001", b"text", b"", b"From  Sun 1:00 99:99",
              b"From a Fri\r12:00"]


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(MBOX_LINES),
                          st.sampled_from([b"\n", b"\r\n", b"\r", b""])), max_size=12))
def test_separator_starts_equal_finditer(lines):
    data = b"".join(line + end for line, end in lines)
    assert mailformats.separator_starts(data) == reference_separator_starts(data)
