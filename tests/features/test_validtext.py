"""features/validtext.py and its uses: every string of a record encodes to
UTF-8, whatever the mail held; records and lines read back are repaired."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from jeeves.features.mailformats import Found
from jeeves.features.parsing import message_record, outcome_of, quarantine_record
from jeeves.features.validtext import valid_json_bytes, valid_json_text, valid_strings, valid_text
from jeeves.jobs.protocols import ValidBytesValueProtocol, ValidTextValueProtocol


def encodes(value):
    json.dumps(value, ensure_ascii=False).encode("utf-8")
    return True


def test_valid_text_replaces_lone_surrogates_and_joins_pairs():
    assert valid_text("plain") == "plain"
    assert valid_text("café 😀") == "café 😀"
    assert valid_text("a\ud800b\udce9") == "a\ufffdb\ufffd"
    assert valid_text("\ud83d\ude00") == "😀"  # a pair left by a UTF-16 decode


def test_valid_strings_repairs_keys_and_nested_values_without_copying_good_ones():
    good = {"a": ["x", {"b": ("y",)}]}
    assert valid_strings(good) == (good, False)
    assert valid_strings(good)[0] is good
    repaired, changed = valid_strings({"k\udc80": ["ok", ("\udcff",)], "n": 1})
    assert changed and repaired == {"k\ufffd": ["ok", ("\ufffd",)], "n": 1}


def test_valid_json_text_keeps_pairs_and_escaped_backslashes():
    assert valid_json_text('"a\\ud800b"') == ('"a\\ufffdb"', True)
    assert valid_json_text('"\\ud83d\\ude00"') == ('"\\ud83d\\ude00"', False)
    assert valid_json_text('"\\\\ud800"') == ('"\\\\ud800"', False)  # text, not an escape
    assert valid_json_text('"\\\\\\ud800"') == ('"\\\\\\ufffd"', True)
    assert valid_json_text('"\\uDC00\\uD800x"') == ('"\\ufffd\\ufffdx"', True)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.characters(codec=None), st.sampled_from(
    ["\\", "\\\\", '"', "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\uD8FF", "u", "d8"])),
    max_size=30))
def test_valid_json_text_always_decodes_to_valid_text(pieces):
    text = json.dumps("".join(pieces))
    # the raw pieces, escapes included, as JSON string content
    raw = '"%s"' % "".join(piece.replace('"', '\\"') if len(piece) == 1 else piece
                           for piece in pieces)
    for line in (text, raw):
        repaired, _ = valid_json_text(line)
        try:
            value = json.loads(repaired)
        except ValueError:
            continue  # not JSON to begin with: the job counts it invalid
        assert encodes(value)


def test_valid_json_bytes_repairs_invalid_utf8_and_escapes():
    assert valid_json_bytes(b'{"a": "ok"}') == (b'{"a": "ok"}', False)
    line, changed = valid_json_bytes(b'{"a": "\xed\xa0\x80 \\ud800 \xff caf\xc3\xa9"}')
    assert changed
    assert json.loads(line) == {"a": "\ufffd\ufffd\ufffd \ufffd \ufffd café"}


def test_protocols_repair_and_say_so():
    text = ValidTextValueProtocol()
    assert text.read(b'{"s": "ok"}') == (None, '{"s": "ok"}')
    assert text.read(b'{"s": "\\ud800"}') == ("surrogates_replaced", '{"s": "\\ufffd"}')
    assert text.write(None, "bad \ud800 line") == "bad \ufffd line".encode("utf-8")
    raw = ValidBytesValueProtocol()
    assert raw.read(b'{"s": "\xed\xa0\x80"}')[0] == "surrogates_replaced"
    assert raw.read(b'{"s": "ok"}') == (None, b'{"s": "ok"}')


def record_of(raw):
    record, warnings = message_record(raw, {"uri": "file:///m", "index": 0, "offset": 0},
                                      ["mail"])
    assert encodes(record)
    return record, warnings


def test_surrogates_from_mail_are_replaced_at_parse_time():
    raw = (b"Message-ID: <id\xe9@example.com>\n"
           b"From: =?utf-8?q?J=E9r=F4me?= <j@example.com>\n"
           b"Subject: =?utf-8?q?caf=E9?= \xff\xfe r\xe9sum\xe9\n"
           b"Content-Type: text/plain; charset=unicode-escape\n\n"
           b"an escape that decodes to a lone surrogate: \\ud800\n")
    record, warnings = record_of(raw)
    assert record["message_id"] == "idé@example.com"  # 8-bit header bytes decoded (cp1252)
    assert "résumé" in record["subject"]
    assert record["body"].startswith("an escape that decodes to a lone surrogate: \ufffd")
    assert warnings.count("surrogates_replaced") == 1


def test_clean_mail_has_no_replacement_warning():
    record, warnings = record_of(b"Message-ID: <a@b>\nSubject: =?utf-8?q?caf=C3=A9?=\n\nok\n")
    assert record["subject"] == "café"
    assert "surrogates_replaced" not in warnings


def test_a_bytes_to_bytes_codec_as_charset_is_an_unknown_charset():
    for charset in ("hex", "rot13", "base64", "zlib"):
        raw = ("Message-ID: <a@b>\nContent-Type: text/plain; charset=%s\n\nhello\n"
               % charset).encode()
        record, warnings = record_of(raw)
        assert record["body"].strip() == "hello"
        assert "charset_fallback" in warnings


def test_records_read_back_are_repaired_and_counted():
    found = Found("record", {"schema_version": 1, "message_id": "m\ud800", "subject": "ok"},
                  "file:///r.jsonl", 0, 0, None, None, None)
    kind, record, warnings = outcome_of(found)
    assert (kind, record["message_id"], warnings) == ("message", "m\ufffd",
                                                      ["surrogates_replaced"])
    clean = found._replace(data={"schema_version": 1, "message_id": "m"})
    assert outcome_of(clean)[2] == []


def test_quarantine_records_hold_valid_text():
    record = quarantine_record({"uri": "file:///bad\udcff"}, "not_email", "detail \ud800",
                               b"\xff\xfe")
    assert encodes(record)
    assert record["source"]["uri"] == "file:///bad\ufffd"
