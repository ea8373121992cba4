"""`jeeves parse`: output layout, reconciliation line, summary.json, user errors."""

import json
import re
from pathlib import Path

from jeeves.cli import main
from jeeves.pipeline.storage import merge_stage_summary
from jeeves.storage import Storage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def read_lines(directory):
    return [json.loads(line) for part in sorted(directory.glob("part-*"))
            for line in part.read_text().splitlines()]


def parse_into(tmp_path, name, runner, *inputs):
    output = tmp_path / name
    status = main(["parse", "--input", *map(str, inputs), "--output", str(output),
                   "--runner", runner])
    return status, output


def test_parse_writes_messages_quarantine_and_summary(tmp_path, capsys):
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01 not mail")
    (tmp_path / "summary.json").write_text(json.dumps({"runner": "x", "stages": {"old": {}}}))
    status, output = parse_into(tmp_path, ".", "inline", FIXTURES, tmp_path / "junk.bin")
    assert status == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    found, records, quarantined, duplicates = map(int, re.match(
        r"parse: found (\d+) = (\d+) records \+ (\d+) quarantined \+ (\d+) duplicates$",
        line).groups())
    messages = read_lines(output / "messages")
    quarantine = read_lines(output / "quarantine")
    assert (records, quarantined, duplicates) == (len(messages), len(quarantine), 1)
    assert found == records + quarantined + duplicates
    ids = [record["message_id"] for record in messages]
    assert ids == sorted(ids) and "mbox-1@example.com" in ids
    assert [record["reason"] for record in quarantine] == ["not_email"]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["runner"] == "x" and summary["stages"]["old"] == {}
    stage = summary["stages"]["parse"]
    assert (stage["read"], stage["parsed"], stage["quarantined"], stage["duplicates"]) == (
        found, records, quarantined, duplicates)
    assert stage["runner"] == "inline" and stage["seconds"] >= 0
    assert not list(output.glob(".parse-job-*"))


def test_inline_and_local_write_identical_files(tmp_path, capsys):
    inputs = [FIXTURES / "sample.mbox", FIXTURES / "nested_rfc822.eml", FIXTURES / "spam"]
    for runner in ("inline", "local"):
        assert parse_into(tmp_path, runner, runner, *inputs)[0] == 0
    for kind in ("messages", "quarantine"):
        inline = (tmp_path / "inline" / kind / "part-00000").read_bytes()
        assert inline == (tmp_path / "local" / kind / "part-00000").read_bytes()
    assert len(read_lines(tmp_path / "inline" / "messages")) == 4


def test_dedupe_by_content_option(tmp_path, capsys):
    status = main(["parse", "--input", str(FIXTURES / "sample.mbox"), str(FIXTURES / "sample.mbox"),
                   "--output", str(tmp_path / "out"), "--dedupe-by", "content"])
    assert status == 0
    assert capsys.readouterr().out.strip().endswith(
        "found 6 = 3 records + 0 quarantined + 3 duplicates")


def test_rerun_replaces_previous_output(tmp_path, capsys):
    parse_into(tmp_path, "out", "inline", FIXTURES / "sample.mbox")
    parse_into(tmp_path, "out", "inline", FIXTURES / "on_wrote.eml")
    assert [r["message_id"] for r in read_lines(tmp_path / "out" / "messages")] == [
        "wrote-1@example.com"]


def test_missing_input_is_one_line_error(tmp_path, capsys):
    status, _ = parse_into(tmp_path, "out", "inline", tmp_path / "nope")
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "input not found" in err and "Traceback" not in err


def test_unreachable_remote_input_is_one_line_error(tmp_path, capsys):
    status, _ = parse_into(tmp_path, "out", "spark", "hdfs:///user/x/mail")
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "hdfs:///user/x/mail" in err and "Traceback" not in err


def test_merge_summary_creates_and_updates(tmp_path):
    storage = Storage()
    merge_stage_summary(storage, str(tmp_path), "parse", {"read": 1})
    merge_stage_summary(storage, str(tmp_path), "tfidf", {"read": 2})
    assert json.loads((tmp_path / "summary.json").read_text()) == {
        "stages": {"parse": {"read": 1}, "tfidf": {"read": 2}}}


def test_restart_from_parsed_output(tmp_path, capsys):
    (tmp_path / "junk.txt").write_text("not mail\n")
    parse_into(tmp_path, "first", "inline", FIXTURES, tmp_path / "junk.txt")
    status, output = parse_into(tmp_path, "again", "inline", tmp_path / "first")
    assert status == 0
    assert read_lines(output / "messages") == read_lines(tmp_path / "first" / "messages")
    quarantine = read_lines(output / "quarantine")
    assert sorted(record["reason"] for record in quarantine) == ["not_a_record", "not_email"]
    assert any(record["source"]["uri"].endswith("summary.json") for record in quarantine)
