"""The parse stage's split of the job's output (scripts/pipeline/parse.py): a
message's sort key read natively from its JSON text (jeeves_kernel's
``message_sort_key``) equals the key of the decoded record, and the files
written are the same with and without the native module."""

import json
import os

import pytest
import ujson

from jeeves.features import kernel
from jeeves.pipeline.parse import _sort_key, split_job_output

needs_native = pytest.mark.skipif(
    not kernel.native_available(),
    reason="the native kernel (features/native) is not built: `make setup` builds it with cargo")

# records the native reader keys, the way the decoded record is keyed
KEYED = [
    {"message_id": "<a@x>", "body": "hi \"there\"\n", "source": {"uri": "file:///m", "index": 3,
                                                              "offset": 120}},
    {"source": {"offset": None, "uri": "s3://b/k", "extra": [1, {"a": 2}]}, "message_id": "<b>"},
    {"message_id": "<c>"},
    {"message_id": "<d>", "source": None},
    {"message_id": "<e>", "source": {}},
    {"message_id": "", "source": {"uri": None, "index": 0, "offset": -5}},
    {"message_id": "<\u00e9t\u00e9@x>", "subject": "\u2603", "source": {"uri": "file:///\u00e9",
                                                                         "index": 2 ** 62}},
]
# texts only the decoded record keys (or cannot): the caller decodes them
NOT_KEYED = [
    '{"message_id": 5}',
    '{"body": "no id"}',
    '{"message_id": "<a>", "source": "file:///m"}',
    '{"message_id": "<a>", "source": {"uri": 7}}',
    '{"message_id": "<a>", "source": {"uri": "u", "index": 1.5}}',
    '{"message_id": "<a>", "source": {"uri": "u", "offset": true}}',
    '{"message_id": "<a>", "source": {"uri": "u", "index": 18446744073709551615}}',
    '{"message_id": "<a>", "message_id": "<b>"}',
    '{"message_id": "<a>", "source": {"uri": "u", "uri": "v"}}',
    '{"message_id": "<a>", "source": false}',
    '["message_id"]',
    '{"message_id": "<a>"} x',
    '{"message_id": "\\ud800"}',
]


@needs_native
def test_the_native_key_is_the_decoded_records_key():
    for record in KEYED:
        for text in (json.dumps(record), ujson.dumps(record), json.dumps(record, indent=1)):
            assert kernel.message_sort_key(text.encode("utf-8")) \
                == _sort_key("message", json.loads(text)), text


@needs_native
def test_what_the_native_reader_leaves_to_the_decoded_record():
    for text in NOT_KEYED:
        assert kernel.message_sort_key(text.encode("utf-8")) is None, text
    assert kernel.message_sort_key(b'{"message_id": "\xff"}') is None


def _job_output(tmp_path):
    lines = ['"message"\t%s\n' % ujson.dumps(record) for record in reversed(KEYED)]
    # and those the decoded record keys (not a source that is a str: that fails)
    lines += ['"message"\t%s\n' % text for text in NOT_KEYED[:7] if '"file:///m"}' not in text]
    lines += ['"quarantine"\t%s\n' % ujson.dumps({"reason": "no_body", "detail": "d",
                                                  "source": {"uri": "file:///q", "index": i}})
              for i in (2, 1)]
    parts = []
    for number in range(2):
        path = tmp_path / ("part-%05d" % number)
        path.write_text("".join(lines[number::2]), encoding="utf-8")
        parts.append(str(path))
    return parts


def _written(directory):
    return {kind: "".join(open(os.path.join(directory, kind, name), encoding="utf-8").read()
                          for name in sorted(os.listdir(os.path.join(directory, kind))))
            for kind in ("messages", "quarantine")}


def test_the_split_is_the_same_with_and_without_the_native_module(tmp_path, monkeypatch):
    parts = _job_output(tmp_path)
    native_counts = split_job_output(parts, str(tmp_path / "native"))
    monkeypatch.setattr(kernel, "_native_module", [None])
    assert kernel.message_sort_key(b'{"message_id": "<a>"}') is None
    python_counts = split_job_output(parts, str(tmp_path / "python"))
    assert native_counts == python_counts == {"message": len(KEYED) + 6, "quarantine": 2}
    written = _written(str(tmp_path / "native"))
    assert written == _written(str(tmp_path / "python"))
    ids = [str(json.loads(line).get("message_id")) for line in written["messages"].splitlines()]
    assert ids == sorted(ids)


def _mail_files(directory):
    def message(number, body, subject="s"):
        return ("From a@x Mon Jan  1 00:00:00 2001\nMessage-ID: <%s@x>\nFrom: a@x\n"
                "Subject: %s\n\n%s\n\n" % (number, subject, body))
    (directory / "a.mbox").write_text(message(1, "one") + message(2, "two") + message(3, "three"))
    # <2@x> again with another body (content differs), <3@x> twice more as it was
    (directory / "b.mbox").write_text(message(2, "two, again") + message(3, "three")
                                      + message(4, "four") + message(3, "three"))
    (directory / "c.eml").write_text("Message-ID: <1@x>\nFrom: b@x\nSubject: other\n\nbody\n")
    (directory / "junk.bin").write_bytes(b"\x00\x01 not mail")
    return [str(directory / name) for name in ("a.mbox", "b.mbox", "c.eml", "junk.bin")]


@pytest.mark.parametrize("dedupe_by", ["message_id", "content"])
def test_the_driver_dedupes_a_map_only_job_as_its_reducer_does(tmp_path, dedupe_by):
    """The parse job without its reducer (--map-only, what jeeves parse runs on
    the inline and local runners), its rows deduped by the driver's split,
    gives the files and counts of the job with its reducer."""
    from jeeves.jobs.mr_parse_emails import MRParseEmails
    from jeeves.runjob import run_job

    (tmp_path / "mail").mkdir()
    inputs = _mail_files(tmp_path / "mail")
    args = ["--dedupe-by", dedupe_by]
    reduced = run_job(MRParseEmails, inputs, str(tmp_path / "reduced-job"), args)
    mapped = run_job(MRParseEmails, inputs, str(tmp_path / "mapped-job"), args + ["--map-only"])
    assert "records" not in mapped.counters.get("parse", {})
    parts = sorted(str(path) for path in (tmp_path / "reduced-job").glob("part-*"))
    counts = split_job_output(parts, str(tmp_path / "reduced"))
    parts = sorted(str(path) for path in (tmp_path / "mapped-job").glob("part-*"))
    assert any(line.startswith('["message"') for path in parts for line in open(path))
    mapped_counts, duplicates = split_job_output(parts, str(tmp_path / "mapped"),
                                                 with_duplicates=True)
    assert mapped_counts == counts
    assert counts["message"] == reduced.counter("parse", "records")
    assert duplicates == reduced.counter("parse", "duplicates") > 0
    written = _written(str(tmp_path / "mapped"))
    assert written == _written(str(tmp_path / "reduced"))
    assert written["quarantine"]


def test_lines_are_cut_as_the_split_reads_them():
    """The split finds lines in the mapped part file: blank ones skipped, the
    key up to the first tab, a line without its end, a line without a tab."""
    from jeeves.pipeline.parse import _lines

    data = b'"a"\t{"x": 1}\n\n \t \n"b"\t{"y": "\t"}\r\n\t"c"\tv\n"k"\n"d"\tlast'
    cut = [(data[start:value_start], key, data[value_start:value_end])
           for start, key, value_start, value_end in _lines(data)]
    assert cut == [(b'"a"\t', b'"a"', b'{"x": 1}'), (b'"b"\t', b'"b"', b'{"y": "\t"}\r'),
                   (b'\t', b'', b'"c"\tv'), (b'"k"', b'"k"', b''), (b'"d"\t', b'"d"', b'last')]
    assert list(_lines(b"")) == list(_lines(b"\n \n")) == []


def test_the_native_index_cuts_and_keys_lines_as_python(tmp_path, monkeypatch):
    """jeeves_kernel.index_lines (the split's index, read natively) gives the
    lines _lines cuts, with message_sort_key's key for message rows only."""
    from jeeves.pipeline.parse import _indexed_lines

    record = b'{"message_id": "<m@x>", "source": {"uri": "u", "index": 2, "offset": 9}}'
    data = (b'["message","k1"]\t' + record + b'\n\n \x0b\x0c\r\n"message"\t' + record
            + b'\n["quarantine","r"]\t' + record + b'\n["message","k2"]\t{"message_id": 1}\n'
            + b'\t"c"\tv\n"k"\n\xff\t\xfe\n["message","k3"]\t' + record)
    path = tmp_path / "part-00000"
    path.write_bytes(data)
    native = _indexed_lines(str(path), data)
    assert [key for key, _, _, _ in native] == [
        b'["message","k1"]', b'"message"', b'["quarantine","r"]', b'["message","k2"]', b"",
        b'"k"', b"\xff", b'["message","k3"]']
    key = ("<m@x>", "u", 2, 9)
    assert [sort_key for _, _, _, sort_key in native] == [key, key, None, None, None, None,
                                                          None, key]
    # cut in Python, a message's key still read natively
    from jeeves.pipeline import parse

    with monkeypatch.context() as patched:
        patched.setattr(parse, "index_lines", lambda data: None)
        assert _indexed_lines(str(path), data) == native
    monkeypatch.setattr(kernel, "_native_module", [None])
    assert _indexed_lines(str(path), data) == [(key_, start, end, None)
                                               for key_, start, end, _ in native]
    assert _indexed_lines(str(path), b"") == []


def test_records_past_a_part_files_size_go_on_in_the_next(tmp_path, monkeypatch):
    from jeeves.pipeline import parse

    parts = _job_output(tmp_path)
    split_job_output(parts, str(tmp_path / "whole"))
    whole = _written(str(tmp_path / "whole"))
    monkeypatch.setattr(parse, "PART_BYTES", 100)
    split_job_output(parts, str(tmp_path / "small"))
    names = sorted(os.listdir(str(tmp_path / "small" / "messages")))
    assert len(names) > 2 and names[0] == "part-00000"
    assert _written(str(tmp_path / "small")) == whole
