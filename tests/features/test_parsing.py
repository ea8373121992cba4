"""jeeves.features.parsing: one raw message -> one record, on hand-written fixtures."""

import email
import email.policy
import hashlib
import random
from email.utils import getaddresses
from pathlib import Path

import pytest

from jeeves.features import parsing
from jeeves.features.parsing import (
    decode_bytes,
    decode_header_value,
    escape_head,
    message_record,
    parse_addresses,
    quarantine_record,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
SOURCE = {"uri": "file:///fixture", "index": 0, "offset": 0}


def parse(name_or_bytes, **options):
    raw = name_or_bytes
    if not isinstance(raw, bytes):
        raw = (FIXTURES / name_or_bytes).read_bytes()
    return message_record(raw, SOURCE, ["folder"], **options)


def test_headers_addresses_and_threading():
    record, warnings = parse("reply_with_signature.eml")
    assert warnings == []
    assert record["schema_version"] == 1
    assert record["message_id"] == "reply-1@example.com"
    assert record["message_id_generated"] is False
    assert record["in_reply_to"] == "root-1@example.com"
    assert record["references"] == ["root-1@example.com", "middle-1@example.com"]
    assert record["thread_id"] == "root-1@example.com"
    assert record["date"] == "2001-05-15T14:30:00+00:00"
    assert record["from"] == {"address": "alice.smith@example.com", "name": "Alice Smith"}
    assert record["to"] == ["bob@example.com", "carol@example.com"]
    assert record["cc"] == ["dave@example.com"]
    assert record["bcc"] == ["eve@example.com"]
    assert record["subject"] == "Re: lunch meeting"
    assert record["source"] == SOURCE
    assert record["folder"] == ["folder"]
    assert record["size"] == len((FIXTURES / "reply_with_signature.eml").read_bytes())
    assert record["truncated"] is False


def test_reply_split_into_new_text_quotes_and_signature():
    record, _ = parse("reply_with_signature.eml")
    assert record["body"] == "Sounds good, let's meet at noon."
    assert record["signature"] == "Alice Smith\nExample Corp"
    assert record["quoted"].startswith("> Are you free for lunch on Friday?")
    assert "-----Original Message-----" in record["quoted"]
    assert "Monday, May 14" in record["quoted"]


def test_on_wrote_over_two_lines_starts_the_quote():
    record, _ = parse("on_wrote.eml")
    assert record["body"] == "Here are the numbers you asked for."
    assert record["quoted"].startswith("On Tue, May 15, 2001")
    assert "> Can you send the numbers?" in record["quoted"]


def test_lotus_notes_forward_is_quoted():
    record, _ = parse("forwarded_notes.eml")
    assert record["body"] == "FYI"
    assert "Forwarded by Phillip K Allen" in record["quoted"]
    assert "test server is ready" in record["quoted"]


def test_multipart_alternative_prefers_plain_text_and_decodes_subject():
    record, _ = parse("multipart_alternative.eml")
    assert record["body"] == "Plain version: caf\u00e9 opens at nine."
    assert record["subject"] == "Caf\u00e9 news"
    assert record["attachments"] == []


def test_html_only_is_converted_to_text():
    record, _ = parse("html_only.eml")
    assert record["body"] == "Big sale & more\n\nSecond line"
    assert "alert" not in record["body"] and "color" not in record["body"]


def test_nested_message_is_forward_history_and_attachments_listed():
    record, _ = parse("nested_rfc822.eml")
    assert record["body"] == "See the attached message and report."
    assert "The quarterly report is final." in record["quoted"]
    assert "Subject: quarterly report" in record["quoted"]
    types = [attachment["type"] for attachment in record["attachments"]]
    assert types == ["message/rfc822", "application/pdf"]
    pdf = record["attachments"][1]
    assert pdf["name"] == "report.pdf"
    assert pdf["size"] == len(b"%PDF-1.4\n")


def test_unknown_charset_falls_back_without_raising():
    record, warnings = parse("bad_charset.eml")
    assert record["body"] == "na\u00efve caf\u00e9"
    assert "charset_fallback" in warnings


def test_wrong_declared_charset_falls_back():
    raw = b"Message-ID: <x@y>\nContent-Type: text/plain; charset=utf-8\n\n\x93quoted\x94\n"
    record, warnings = parse(raw)
    assert record["body"] == "\u201cquoted\u201d"
    assert "charset_fallback" in warnings


def test_broken_base64_keeps_a_body_and_warns():
    record, warnings = parse("broken_base64.eml")
    assert record["message_id"] == "b64-1@example.com"
    assert isinstance(record["body"], str)
    assert "payload_defect" in warnings


def test_broken_quoted_printable_decodes_what_it_can():
    record, _ = parse("broken_qp.eml")
    assert record["body"].startswith("Price = 10 =ZZ euros")


def test_missing_headers_get_nulls_and_a_stable_generated_id():
    raw = (FIXTURES / "missing_headers.eml").read_bytes()
    record, warnings = parse(raw)
    assert record["message_id"] == "sha1:" + hashlib.sha1(raw).hexdigest()
    assert record["message_id_generated"] is True
    assert record["thread_id"] == record["message_id"]
    assert record["from"] is None
    assert record["date"] is None
    assert record["to"] == ["someone@example.com"]
    assert {"message_id_generated", "date_missing"} <= set(warnings)


def test_broken_encoded_words_and_bad_date_do_not_raise():
    record, warnings = parse("broken_rfc2047.eml")
    assert record["from"] == {"address": "judy@example.com", "name": "Judy"}
    assert record["subject"].startswith("Y2FmZ and caf")
    assert record["date"] is None
    assert {"date_unparseable", "header_undecodable"} <= set(warnings)


def test_multipart_without_boundary_keeps_its_text():
    record, warnings = parse("missing_boundary.eml")
    assert record["body"] == "The text of a multipart without a boundary."
    assert "multipart_without_boundary" in warnings


def test_crlf_line_ends_parse_like_lf():
    lf_record, _ = parse("reply_with_signature.eml")
    crlf = (FIXTURES / "reply_with_signature.eml").read_bytes().replace(b"\n", b"\r\n")
    crlf_record, _ = parse(crlf)
    for field in ("message_id", "from", "to", "date", "subject", "body", "quoted", "signature"):
        assert crlf_record[field] == lf_record[field], field


def test_nul_bytes_are_removed_from_text():
    raw = b"Message-ID: <nul@x>\nSubject: a\x00b\n\nbody\x00text\n"
    record, _ = parse(raw)
    assert record["subject"] == "ab"
    assert record["body"] == "bodytext"


def test_8bit_header_bytes_are_decoded():
    record, _ = parse("Message-ID: <h@x>\nSubject: caf\u00e9\n\nx\n".encode("utf-8"))
    assert record["subject"] == "caf\u00e9"


def test_subject_body_format():
    record, warnings = parse(
        (FIXTURES / "spam" / "enron_spam.txt").read_bytes(), subject_body=True)
    assert record["subject"] == "cheap meds online"
    assert record["body"] == "buy now and save\nvisit our site today"
    assert record["message_id_generated"] is True
    assert warnings == ["message_id_generated"]


def test_oversized_message_is_truncated_and_flagged():
    raw = b"Message-ID: <big@x>\nSubject: big\n\n" + b"word " * 1000
    record, warnings = parse(raw, max_message_bytes=200)
    assert record["truncated"] is True
    assert record["size"] == len(raw)
    assert record["message_id"] == "big@x"
    assert len(record["body"]) < 200
    assert "truncated" in warnings


def test_addresses_agree_with_policy_default():
    raw = (FIXTURES / "reply_with_signature.eml").read_bytes()
    reference = email.message_from_bytes(raw, policy=email.policy.default)
    expected = []
    for address in reference["to"].addresses:
        if address.addr_spec.lower() not in expected:
            expected.append(address.addr_spec.lower())
    assert parse(raw)[0]["to"] == expected


def test_parse_addresses_deduplicates_across_headers():
    assert parse_addresses(["A@x.com, b@x.com", "a@X.com", None]) == ["a@x.com", "b@x.com"]


@pytest.mark.parametrize("data, charset, expected, fell_back", [
    (b"caf\xc3\xa9", "utf-8", "caf\u00e9", False),
    (b"caf\xe9", "latin-1", "caf\u00e9", False),
    (b"caf\xc3\xa9", None, "caf\u00e9", False),
    (b"caf\xe9", None, "caf\u00e9", True),
    (b"caf\xe9", "no-such-charset", "caf\u00e9", True),
    (b"\x81\x8d", "utf-8", "\ufffd\ufffd", True),
])
def test_decode_bytes_never_raises(data, charset, expected, fell_back):
    assert decode_bytes(data, charset) == (expected, fell_back)


def test_decode_header_value_folds_whitespace():
    assert decode_header_value("Re:\n\t=?utf-8?q?caf=C3=A9?=  news") == "Re: caf\u00e9 news"


def test_quarantine_record_escapes_the_head():
    record = quarantine_record(SOURCE, "not_email", "detail", b"\x00\xffabc\n" + b"x" * 500)
    assert record["reason"] == "not_email"
    assert record["head"].startswith("\\x00\\xffabc\\n")
    assert escape_head(b"y" * 300) == "y" * 200


def test_mangled_fixtures_never_raise():
    rng = random.Random(11)
    fixtures = sorted(path for path in FIXTURES.rglob("*") if path.is_file())
    for path in fixtures:
        raw = path.read_bytes()
        for _ in range(100):
            mangled = bytearray(raw[:rng.randrange(1, len(raw) + 1)])
            for _ in range(rng.randrange(1, 8)):
                mangled[rng.randrange(len(mangled))] = rng.choice(b"\x00\xff\n=?<>:;\"'\\-")
            record, warnings = parse(bytes(mangled))
            assert isinstance(record["body"], str) and isinstance(warnings, list)


def test_simple_address_lists_parse_as_getaddresses_does():
    # the split fast path must give getaddresses' pairs whenever it applies
    rng = random.Random(7)
    pieces = ["a", "b.c", "x_y", "z+1", "q-r", "m..k", "/o=e/cn=r", "h'.'l", "@", ".", ",",
              " ", ", ", "\n\t", "\r\n ", "enron.com", "..", "\"", "<", ">", "(", ")", "'",
              ";", ":", "[", "\x0b", "\xa0", "\u00e9"]
    values = ["a@b.com", "a@b.com, c@d.org", " a@b.com ,\n\tc.d@e-f.com ", "a@b.com,",
              "a@b.com, ", ",a@b.com", "a@b.com,,c@d.com", "a..b@c.com", ".a@b.com", "a@b..com",
              "a@b.com.", "a@-b.com", "A.B@Enron.COM", "e-mail <.andy@enron.com>, b@c.com",
              "John  Doe\n\t<j@d.com>", "x<y@z.com>", "a@b.com\x0b, c@d.com", "Al. B <a@b.com>"]
    for _ in range(20000):
        addresses = []
        for _ in range(rng.randint(1, 4)):
            address = ("".join(rng.choice(pieces[:8]) for _ in range(rng.randint(1, 3)))
                       + rng.choice(["@enron.com", "@b.c", "@x-y.org", "@", ".@q.com"]))
            if rng.random() < 0.3:
                address = rng.choice(["e-mail ", "Jo Doe", "x\n\ty ", "A.B ", ""]) + \
                    "<" + address + ">"
            addresses.append(address)
        value = rng.choice([",", ", ", ",\n\t", " , "]).join(addresses)
        if rng.random() < 0.5:  # mangle one character
            at = rng.randrange(len(value) + 1)
            value = value[:at] + rng.choice(pieces) + value[at:]
        values.append(value)
    fast = [value for value in values if parsing._SIMPLE_ADDRESS_LIST.match(value)]
    assert len(fast) > 1000 and sum("<" in value for value in fast) > 300
    for value in values:
        assert parsing._address_pairs.__wrapped__(value) == tuple(getaddresses([value])), value
