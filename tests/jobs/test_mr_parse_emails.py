"""jobs/mr_parse_emails.py: formats, dedupe, quarantine, reconciliation, runners."""

import bz2
import collections
import glob
import gzip
import json
import mailbox
import os
import random
from pathlib import Path

import pytest

from jeeves.jobs.mr_parse_emails import BareMessagesProtocol, MRParseEmails
from jeeves.jobs.protocols import EncodedJSON
from jeeves.pipeline.parse_inputs import plan_inputs
from jeeves.runjob import run_job
from tests import helpers
from tests.helpers import canonical, run_both

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SPAMASSASSIN_GROUPS = {
    "easy-ham-1": 2500, "easy-ham-2": 1400, "hard-ham-1": 250, "spam-1": 500, "spam-2": 1396}


def by_kind(pairs):
    kinds = collections.defaultdict(list)
    for key, value in pairs:
        kinds[key].append(value)
    return kinds


def run_counted(inputs, tmp_path, args=(), runner="inline", **plan_options):
    """Run on the input plan through the driver helper, as jeeves parse does:
    (messages, quarantine, counters)."""
    output = tmp_path / ("out-" + runner)
    scratch = tmp_path / ("plan-" + runner)
    scratch.mkdir(parents=True)
    plan = plan_inputs([str(path) for path in inputs], str(scratch), runner, **plan_options)
    result = run_job(MRParseEmails, plan.work_list_paths, str(output),
                     args=list(args) + plan.job_args, runner=runner)
    kinds = by_kind(
        (json.loads(key), json.loads(value))
        for part in sorted(output.glob("part-*"))
        for key, value in (line.split("\t", 1) for line in part.read_text().splitlines())
    )
    return kinds["message"], kinds["quarantine"], result.counters


def assert_reconciles(counters, messages, quarantine):
    parse = collections.Counter(counters.get("parse", {}))
    assert parse["messages_found"] == parse["records"] + parse["quarantined"] + parse["duplicates"]
    assert parse["records"] == len(messages)
    assert parse["quarantined"] == len(quarantine)
    assert sum(counters.get("quarantine", {}).values()) == len(quarantine)
    return parse


def bad_inputs(directory):
    """Broken files written for the test: gzip'd and bz2'd mbox, a gzip cut short,
    random bytes, an empty file, NUL bytes in a message."""
    mbox = (FIXTURES / "sample.mbox").read_bytes()
    files = {
        "archive.mbox.gz": gzip.compress(mbox.replace(b"mbox-", b"gz-")),
        "archive.mbox.bz2": bz2.compress(mbox.replace(b"mbox-", b"bz2-")),
        "corrupt.mbox.gz": gzip.compress(mbox)[:40],
        "random.bin": bytes(random.Random(3).randrange(256) for _ in range(2000)),
        "empty.eml": b"",
        "nul.eml": b"Message-ID: <nul@example.com>\nSubject: nul\n\nbody\x00with nul\n",
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def test_empty_input_file_is_quarantined(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    messages, quarantine, counters = run_counted([tmp_path / "empty"], tmp_path)
    assert messages == []
    assert [record["reason"] for record in quarantine] == ["empty_file"]
    assert quarantine[0]["source"]["uri"] == (tmp_path / "empty").as_uri()
    assert assert_reconciles(counters, messages, quarantine)["messages_found"] == 1


def test_fixtures_parse_dedupe_and_quarantine(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    messages, quarantine, counters = run_counted([FIXTURES, bad_inputs(bad)], tmp_path)
    parse = assert_reconciles(counters, messages, quarantine)
    ids = [record["message_id"] for record in messages]
    assert len(ids) == len(set(ids))
    # sample.mbox holds mbox-1 twice; its gzip and bz2 copies each hold their own ids
    assert parse["duplicates"] == 3
    for prefix in ("mbox", "gz", "bz2"):
        assert {prefix + "-1@example.com", prefix + "-2@example.com"} <= set(ids)
    kept = next(record for record in messages if record["message_id"] == "mbox-1@example.com")
    assert kept["source"]["index"] == kept["source"]["offset"] == 0  # the first copy wins
    assert kept["folder"] == ["mail", "sample"]
    reasons = sorted(record["reason"] for record in quarantine)
    assert reasons == ["empty_file", "not_email", "truncated_gzip"]
    assert counters["quarantine"] == {"empty_file": 1, "not_email": 1, "truncated_gzip": 1}
    corrupt = next(record for record in quarantine if record["reason"] == "truncated_gzip")
    assert corrupt["source"]["uri"] == (bad / "corrupt.mbox.gz").as_uri()
    assert "ends at byte 40" in corrupt["detail"]
    nul = next(record for record in messages if record["message_id"] == "nul@example.com")
    assert nul["body"] == "bodywith nul"
    maildir = next(record for record in messages if record["message_id"] == "maildir-1@example.com")
    assert maildir["folder"] == ["mail", "maildir", "cur"]
    assert counters["warnings"]["message_id_generated"] == 2


def test_bare_messages_are_the_keyed_records_lines_without_their_key(tmp_path):
    # what jeeves parse runs where OUT is remote: the records' lines as
    # OUT/messages/ holds them, the quarantine rows keyed as before
    bad = tmp_path / "bad"
    bad.mkdir()
    inputs = [str(FIXTURES), str(bad_inputs(bad))]
    lines = {}
    for bare in (False, True):
        scratch = tmp_path / ("plan-%s" % bare)
        scratch.mkdir()
        plan = plan_inputs(inputs, str(scratch), "local")
        output = tmp_path / ("out-%s" % bare)
        run_job(MRParseEmails, plan.work_list_paths, str(output),
                args=plan.job_args + (["--bare-messages"] if bare else []), runner="local")
        lines[bare] = [line for part in sorted(output.glob("part-*"))
                       for line in part.read_bytes().splitlines()]
    keyed = [line.split(b"\t", 1) for line in lines[False]]
    assert lines[True] == [value if key == b'"message"' else key + b"\t" + value
                           for key, value in keyed]
    assert sum(b"\t" not in line for line in lines[True]) == sum(
        key == b'"message"' for key, _ in keyed) > 10
    assert sum(line.startswith(b'"quarantine"\t') for line in lines[True]) == 3


def test_the_bare_messages_protocol_reads_back_what_it_writes():
    protocol = BareMessagesProtocol()
    record = {"message_id": "<a@x>", "body": "tab\there"}
    line = protocol.write("message", record)
    assert b"\t" not in line and json.loads(line) == record
    assert protocol.write("message", EncodedJSON(line)) == line
    assert protocol.read(line) == ("message", record)
    keyed = protocol.write("quarantine", {"reason": "not_email"})
    assert keyed.startswith(b'"quarantine"\t')
    assert protocol.read(keyed) == ("quarantine", {"reason": "not_email"})


def test_inline_and_local_runners_agree(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    plan = plan_inputs([str(FIXTURES), str(bad_inputs(bad))], str(tmp_path),
                       container_bytes=2000)
    assert plan.items > 1
    pairs = run_both(MRParseEmails, [Path(path) for path in plan.work_list_paths],
                     plan.job_args)
    kinds = by_kind(pairs)
    assert len(kinds["message"]) == 21 and len(kinds["quarantine"]) == 3
    # the raw files, each whole to a mapper (the job run by hand), give the same
    assert canonical(pairs) == canonical(helpers.run_job(MRParseEmails, [FIXTURES, bad]))


def test_dedupe_by_content_collapses_copies_with_their_own_ids(tmp_path):
    copy = (FIXTURES / "on_wrote.eml").read_bytes()
    (tmp_path / "inbox").mkdir()
    (tmp_path / "archive").mkdir()
    (tmp_path / "inbox" / "1.eml").write_bytes(copy)
    (tmp_path / "archive" / "1.eml").write_bytes(
        copy.replace(b"<wrote-1@", b"<other-id@").replace(b"Subject:", b"X-Folder: a\nSubject:"))
    (tmp_path / "archive" / "2.eml").write_bytes(
        copy.replace(b"<wrote-1@", b"<third@").replace(b"numbers you", b"figures you"))
    by_id, _, _ = run_counted([tmp_path / "inbox", tmp_path / "archive"], tmp_path / "a")
    by_content, _, counters = run_counted(
        [tmp_path / "inbox", tmp_path / "archive"], tmp_path / "b", args=["--dedupe-by", "content"])
    assert len(by_id) == 3
    assert len(by_content) == 2 and counters["parse"]["duplicates"] == 1
    kept = {record["source"]["uri"] for record in by_content}
    assert (tmp_path / "archive" / "1.eml").as_uri() in kept  # archive/ sorts before inbox/
    assert (tmp_path / "archive" / "2.eml").as_uri() in kept


def test_oversized_message_is_truncated_not_dropped(tmp_path):
    big = tmp_path / "big.eml"
    big.write_bytes(b"Message-ID: <big@example.com>\nSubject: big\n\n" + b"long line\n" * 500)
    messages, quarantine, counters = run_counted(
        [big], tmp_path, args=["--max-message-bytes", "1000"])
    assert quarantine == []
    assert messages[0]["truncated"] is True
    assert messages[0]["size"] == big.stat().st_size
    assert counters["warnings"]["truncated"] == 1


def test_parsed_records_pass_through_for_a_restart(tmp_path):
    first, first_quarantine, _ = run_counted([FIXTURES], tmp_path)
    parsed = tmp_path / "parsed.jsonl"
    parsed.write_text("".join(json.dumps(record) + "\n" for record in first))
    again, quarantine, counters = run_counted([parsed], tmp_path / "again")
    assert first_quarantine == [] and quarantine == []
    key = lambda record: record["message_id"]  # noqa: E731
    assert sorted(again, key=key) == sorted(first, key=key)
    assert counters["parse"]["records"] == len(first)


def test_local_inputs_are_grouped_into_few_items_one_task_each(tmp_path):
    """Small local files become items naming the files (no copy), one task each."""
    mail = tmp_path / "mail"
    mail.mkdir()
    for number in range(30):
        (mail / ("m%02d.eml" % number)).write_bytes(
            b"Message-ID: <m%d@x>\nSubject: s\n\nbody\n" % number)
    (tmp_path / "plan").mkdir()
    plan = plan_inputs([str(mail)], str(tmp_path / "plan"), container_bytes=400)
    assert 1 < plan.items < 30 and len(plan.work_list_paths) == plan.items
    assert plan.job_args == ["--work-list"]
    pieces = [piece for path in plan.work_list_paths
              for piece in json.loads(Path(path).read_text())["pieces"]]
    assert sorted(piece["read"] for piece in pieces) == sorted(
        str(path) for path in mail.iterdir())
    messages, _, counters = run_counted([mail], tmp_path / "run", container_bytes=400)
    assert counters["tasks"]["map"] == plan.items
    assert sorted(record["message_id"] for record in messages) == sorted(
        "m%d@x" % number for number in range(30))
    assert {record["source"]["uri"] for record in messages} == {
        (mail / ("m%02d.eml" % number)).as_uri() for number in range(30)}


def test_on_the_local_runner_every_core_gets_items(tmp_path, monkeypatch):
    """However large the container size, the local runner gets an item per
    core at least (30 files of one size: one item each, one wave)."""
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    mail = tmp_path / "mail"
    mail.mkdir()
    for number in range(30):
        (mail / ("m%02d.eml" % number)).write_bytes(
            b"Message-ID: <m%d@x>\nSubject: s\n\nbody\n" % number)
    (tmp_path / "plan").mkdir()
    plan = plan_inputs([str(mail)], str(tmp_path / "plan"), "local")
    assert plan.items == 3
    assert plan_inputs([str(mail)], str(tmp_path / "plan"), "inline").items == 1


def test_on_cluster_runners_local_files_are_shipped_with_the_job(tmp_path):
    """The plan for Spark (no spark-submit here): containers and files to split
    go as --shipped-file arguments, items name them by file name; the same
    arguments give the raw input's records on inline and local, where mrjob
    puts shipped files in the task's working directory too."""
    bad = tmp_path / "bad"
    bad.mkdir()
    inputs = [FIXTURES, bad_inputs(bad)]
    (tmp_path / "plan").mkdir()
    plan = plan_inputs([str(path) for path in inputs], str(tmp_path / "plan"), "spark",
                       split_size=300, container_bytes=2000)
    shipped = plan.job_args[plan.job_args.index("--shipped-file"):]
    assert shipped[::2] == ["--shipped-file"] * (len(shipped) // 2) and len(shipped) > 2
    names = {os.path.basename(path) for path in shipped[1::2]}
    assert all(name.endswith(".pack") or name.startswith("split-") for name in names)
    pieces = [piece for path in plan.work_list_paths
              for piece in json.loads(Path(path).read_text())["pieces"]]
    assert {piece["read"] for piece in pieces} <= names
    assert plan.ranges > 1  # sample.mbox is over 300 bytes
    from_plan = run_both(MRParseEmails, [Path(path) for path in plan.work_list_paths],
                         plan.job_args)
    assert canonical(from_plan) == canonical(helpers.run_job(MRParseEmails, inputs))
    assert len(by_kind(from_plan)["message"]) == 21


def test_on_spark_raw_input_is_refused_with_the_way_out():
    job = MRParseEmails(args=["-r", "spark", str(FIXTURES)])
    with pytest.raises(ValueError, match="work lists.*plan_inputs"):
        job.make_runner()


def test_a_bad_work_item_and_an_unreadable_piece_are_quarantined(tmp_path):
    work = tmp_path / "work.json"
    work.write_text("not json\n" + json.dumps({"pieces": [
        {"read": str(tmp_path / "gone"), "uri": "file:///gone", "relpath": "x/gone"},
        {"uri": "file:///no-read-field"}]}) + "\n")
    pairs = run_both(MRParseEmails, [work], ["--work-list"])
    reasons = sorted(value["reason"] for key, value in pairs)
    assert reasons == ["unreadable_file"] * 3


def test_mapper_expands_a_directory_it_is_handed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.eml").write_bytes((FIXTURES / "on_wrote.eml").read_bytes())
    job = MRParseEmails(args=[])
    job.sandbox()
    job.mapper_init()
    pairs = list(job.mapper_find_messages(str(tmp_path), str(tmp_path)))
    assert [key for key, _ in pairs] == [["message", "wrote-1@example.com"]]
    # a parsed message's value is its JSON line already (the protocol writes it as is)
    assert isinstance(pairs[0][1], EncodedJSON)
    assert json.loads(pairs[0][1])["folder"] == [tmp_path.name, "sub"]


def test_a_local_file_handed_whole_keeps_its_file_uri(tmp_path):
    path = tmp_path / "a.eml"
    path.write_bytes((FIXTURES / "on_wrote.eml").read_bytes())
    [(key, record)] = helpers.run_job(MRParseEmails, [path])
    assert record["source"]["uri"] == path.as_uri()
    assert record["folder"] == [tmp_path.name]


def _need(path):
    if not path.is_dir():
        pytest.skip("%s not found (real corpora live in ../shared/data)" % path)
    return path


@pytest.mark.slow
def test_spamassassin_all_messages_accounted_for_with_folder(tmp_path):
    root = _need(DATA / "spamassassin")
    messages, quarantine, counters = run_counted([root], tmp_path)
    parse = assert_reconciles(counters, messages, quarantine)
    assert sorted(Path(record["source"]["uri"]).name for record in quarantine) == [
        "LICENSE-NOTE.md", "NOTICE"]
    assert parse["records"] + parse["duplicates"] == sum(SPAMASSASSIN_GROUPS.values())
    per_folder = collections.Counter(tuple(record["folder"]) for record in messages)
    assert set(per_folder) == {("spamassassin", group) for group in SPAMASSASSIN_GROUPS}
    if parse["duplicates"] == 0:
        for group, count in SPAMASSASSIN_GROUPS.items():
            assert per_folder[("spamassassin", group)] == count


@pytest.mark.slow
def test_berkeley_messages_parse_and_join_their_labels(tmp_path):
    root = _need(DATA / "enron-berkeley")
    message_files = sorted(glob.glob(str(root / "*" / "*.txt")))
    messages, quarantine, counters = run_counted(message_files, tmp_path)
    parse = assert_reconciles(counters, messages, quarantine)
    assert quarantine == []
    assert parse["records"] + parse["duplicates"] == len(message_files)
    sources = {record["source"]["uri"] for record in messages}
    assert len(sources) == parse["records"]
    joined_positive = 0
    for record in messages:
        cats = Path(record["source"]["uri"][len("file://"):]).with_suffix(".cats")
        labels = {tuple(line.split(",")[:2]) for line in cats.read_text().split()}
        joined_positive += ("1", "4") in labels
        assert record["folder"][-1] == cats.parent.name
    independent = sum(
        ("1", "4") in {tuple(line.split(",")[:2]) for line in Path(path).read_text().split()}
        for path in glob.glob(str(root / "*" / "*.cats")))
    if parse["duplicates"] == 0:
        assert joined_positive == independent
    assert joined_positive > 0


@pytest.mark.slow
def test_enron_dedupe_matches_distinct_message_ids(tmp_path):
    root = _need(DATA / "enron-mbox")
    files = sorted(root.glob("allen-p.*.mbox.gz"))
    distinct = set()
    for path in files:
        plain = tmp_path / path.stem
        plain.write_bytes(gzip.decompress(path.read_bytes()))
        distinct.update(message["Message-ID"].strip() for message in mailbox.mbox(str(plain)))
        os.remove(plain)
    messages, quarantine, counters = run_counted(files, tmp_path)
    assert_reconciles(counters, messages, quarantine)
    assert quarantine == []
    assert len(messages) == len(distinct)
    assert {"<%s>" % record["message_id"] for record in messages} == distinct
    assert {record["folder"][0] for record in messages} == {"enron-mbox"}


@pytest.mark.slow
def test_enron_folder_copies_collapse_by_content(tmp_path):
    """Enron gives each folder's copy of a message its own Message-ID: copies
    are counted here, independently, by their headers and raw payload."""
    root = _need(DATA / "enron-mbox")
    files = sorted(root.glob("allen-p.*.mbox.gz"))
    distinct, total = set(), 0
    for path in files:
        plain = tmp_path / path.stem
        plain.write_bytes(gzip.decompress(path.read_bytes()))
        for message in mailbox.mbox(str(plain)):
            total += 1
            distinct.add(tuple(message[name] for name in ("From", "Date", "Subject", "To", "Cc"))
                         + (message.get_payload(),))
        os.remove(plain)
    messages, quarantine, counters = run_counted(files, tmp_path, args=["--dedupe-by", "content"])
    parse = assert_reconciles(counters, messages, quarantine)
    assert len(messages) == len(distinct) < total
    assert parse["duplicates"] == total - len(distinct)



def test_the_preferred_duplicate_is_untruncated_then_by_source_then_by_content():
    import itertools
    import json as json_module

    from jeeves.jobs.mr_parse_emails import _preference, preferred

    def record(uri, index=0, offset=0, body="b", truncated=False):
        return {"message_id": "<m>", "body": body, "truncated": truncated,
                "source": {"uri": uri, "index": index, "offset": offset}}

    groups = [
        [record("file:///b"), record("file:///a")],
        [record("file:///a", truncated=True), record("file:///z")],
        [record("file:///a", 2), record("file:///a", 1, 9)],
        # the same source: the content decides
        [record("file:///a", body="y"), record("file:///a", body="x"), record("file:///b")],
        [{"message_id": "<m>"}, {"message_id": "<m>", "body": "a"}],
    ]
    for group in groups:
        expected = min(group, key=_preference)
        for order in itertools.permutations(group):
            assert preferred(list(order)) == expected
            assert preferred([json_module.dumps(item).encode() for item in order]) == expected
    assert preferred(groups[3])["body"] == "x"
