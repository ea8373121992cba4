import contextlib
import gzip
import json
import mailbox
import os
import shutil
import subprocess
import sys
from collections import Counter
from email.utils import getaddresses

import pytest

from jeeves import cli
from jeeves.features.parts import part_files
from jeeves.jobs.mr_parse_emails import MRParseEmails
from jeeves.runjob import run_job

ENRON = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "enron-mbox")
# small folders of four users (about 240 messages)
ENRON_FILES = [
    "arora-h.sent_items.mbox.gz",
    "baughman-d.enron_power.miso.mbox.gz",
    "mckay-b.all_documents.mbox.gz",
    "mckay-b.discussion_threads.mbox.gz",
    "blair-l._sent_mail.mbox.gz",
]


def record(message_id, sender, to=(), cc=(), bcc=(), date="2001-05-14T23:39:00+00:00"):
    return json.dumps({
        "schema_version": 1, "message_id": message_id, "date": date,
        "from": {"address": sender, "name": ""},
        "to": list(to), "cc": list(cc), "bcc": list(bcc)})


def write_messages(directory, lines):
    messages = directory / "messages"
    messages.mkdir()
    (messages / "part-00000").write_text("\n".join(lines) + "\n")
    return messages


def read_jsonl(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle]


TEXTBOOK = [record("m%d" % n, "A", to=[recipient])
            for n, recipient in enumerate(["B", "C", "Z", "W"])] + [
    record("m9", "B", to=["A"], cc=["C"])]


def test_graph_writes_every_output(tmp_path, capsys):
    messages = write_messages(tmp_path, TEXTBOOK)
    out = tmp_path / "out"
    assert cli.main(["graph", "--input", str(messages), "--output", str(out)]) == 0
    graph = out / "graph"
    assert sorted(os.listdir(graph)) == sorted([
        "contacts.jsonl", "contacts.tsv", "followers.jsonl", "followers.tsv",
        "totals.jsonl", "message_features.jsonl", "suggestions.jsonl",
        "suggestions.tsv", "hubs.jsonl", "_SUCCESS"])
    assert (graph / "contacts.tsv").read_text() == "A\t[B, C, W, Z]\nB\t[A, C]\n"
    assert (graph / "followers.tsv").read_text() == (
        "A\t[B]\nB\t[A]\nC\t[A, B]\nW\t[A]\nZ\t[A]\n")
    totals = read_jsonl(graph / "totals.jsonl")
    assert [t["address"] for t in totals] == ["A", "B", "C", "W", "Z"]
    assert totals[0] == {"address": "A", "sent": 4, "received": 1, "contacts_out": 4,
                         "contacts_in": 1, "reciprocal_contacts": 1}
    features = read_jsonl(graph / "message_features.jsonl")
    assert [f["message_id"] for f in features] == ["m0", "m1", "m2", "m3", "m9"]
    # C is a contact of A and B, who are connected: C's suggestions are W, Z via A
    assert (graph / "suggestions.tsv").read_text().splitlines()[1] == "C\t[W, Z]"
    assert (graph / "hubs.jsonl").read_text() == ""
    printed = capsys.readouterr().out
    assert "5 messages" in printed and "0 hubs over --max-degree 1000" in printed
    assert sorted(os.listdir(out)) == ["graph", "summary.json"]
    stage = json.loads((out / "summary.json").read_text())["stages"]["graph"]
    assert stage["messages"] == 5 and stage["addresses"] == 5
    assert stage["files"]["contacts.tsv"] == 2


def test_rerun_replaces_the_graph_directory(tmp_path):
    messages = write_messages(tmp_path, TEXTBOOK)
    out = tmp_path / "out"
    (out / "graph").mkdir(parents=True)
    (out / "graph" / "stale.txt").write_text("old run")
    assert cli.main(["graph", "--input", str(messages), "--output", str(out)]) == 0
    assert not (out / "graph" / "stale.txt").exists()


def test_hub_is_reported(tmp_path, capsys):
    recipients = ["r%05d" % n for n in range(10000)]
    messages = write_messages(tmp_path, [record("b", "hub", to=recipients),
                                         record("m", "x", to=["r00001", "r00002"])])
    out = tmp_path / "out"
    assert cli.main(["graph", "--input", str(messages), "--output", str(out),
                     "--max-degree", "500", "--max-list", "50"]) == 0
    printed = capsys.readouterr().out
    assert "1 lists truncated at --max-list 50" in printed
    assert "1 hubs over --max-degree 500" in printed
    assert read_jsonl(out / "graph" / "hubs.jsonl") == [{"address": "hub", "degree": 10000}]
    stage = json.loads((out / "summary.json").read_text())["stages"]["graph"]
    assert stage["hubs_skipped"] == 1 and stage["truncated_lists"] == 1
    hub_line = (out / "graph" / "contacts.tsv").read_text().splitlines()[0]
    assert hub_line.startswith("hub\t[r00000, r00001, r00002, r00003")
    assert hub_line.count(",") == 49


def test_pseudonymized_outputs_hold_no_address_and_no_key(tmp_path, monkeypatch):
    monkeypatch.setenv("JEEVES_PSEUDONYM_KEY", "s3cret-key")
    messages = write_messages(tmp_path, [
        record("m1", "ann@corp.com", to=["bob@corp.com"], cc=["cy@corp.com"]),
        record("m2", "bob@corp.com", to=["ann@corp.com"])])
    out = tmp_path / "out"
    assert cli.main(["graph", "--input", str(messages), "--output", str(out),
                     "--pseudonymize"]) == 0
    written = [out / "graph" / name for name in os.listdir(out / "graph")]
    for path in written + [out / "summary.json"]:
        text = path.read_text()
        assert "corp.com" not in text and "s3cret" not in text, path
    totals = read_jsonl(out / "graph" / "totals.jsonl")
    assert sorted(t["sent"] for t in totals) == [0, 1, 1]
    assert all(len(t["address"]) == 16 for t in totals)


def test_pseudonymize_without_key_is_one_error_line(tmp_path):
    messages = write_messages(tmp_path, TEXTBOOK)
    env = dict(os.environ)
    env.pop("JEEVES_PSEUDONYM_KEY", None)
    jeeves = os.path.join(os.path.dirname(sys.executable), "jeeves")
    result = subprocess.run(
        [jeeves, "graph", "--input", str(messages),
         "--output", str(tmp_path / "out"), "--pseudonymize"],
        capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "jeeves graph: error: JEEVES_PSEUDONYM_KEY is not set; "
        "--pseudonymize needs a secret key there"]
    assert not (tmp_path / "out" / "graph").exists()


@pytest.mark.parametrize("argv, message", [
    (["--input", "/no/such/messages"], "input not found: /no/such/messages"),
    # the settings' own check (jeeves.settings), as argparse reports it
    (["--top-k", "0"],
     "argument --top-k: must be at least 1, not 0 (see jeeves graph --help)"),
    (["--max-degree", "-1"],
     "argument --max-degree: must be at least 1, not -1 (see jeeves graph --help)"),
])
def test_bad_arguments_are_user_errors(tmp_path, capsys, argv, message):
    messages = write_messages(tmp_path, TEXTBOOK)
    args = ["graph", "--input", str(messages), "--output", str(tmp_path / "out")] + argv
    with pytest.raises(SystemExit) if "argument" in message else contextlib.nullcontext():
        assert cli.main(args) == 2
    assert capsys.readouterr().err == "jeeves graph: error: %s\n" % message


def independent_enron_count(paths, scratch):
    """Per-address sent/received and distinct contacts with the stdlib only:
    mailbox + getaddresses, deduplicated by Message-ID, sender not its own
    recipient (the rules docs/graph.md states)."""
    seen = set()
    read = 0
    sent, received = Counter(), Counter()
    edges = set()
    for path in paths:
        unpacked = scratch / os.path.basename(path)[:-len(".gz")]
        with gzip.open(path) as packed:
            unpacked.write_bytes(packed.read())
        for message in mailbox.mbox(str(unpacked)):
            read += 1
            message_id = message["Message-ID"].strip().strip("<>")
            if message_id in seen:
                continue
            seen.add(message_id)
            senders = [address.lower() for _, address in
                       getaddresses(message.get_all("From", [])) if address]
            sender = senders[0]
            sent[sender] += 1
            recipients = {address.lower() for _, address in getaddresses(
                message.get_all("To", []) + message.get_all("Cc", [])
                + message.get_all("Bcc", [])) if address} - {sender}
            for recipient in recipients:
                received[recipient] += 1
                edges.add((sender, recipient))
    return read, seen, sent, received, edges


@pytest.mark.slow
def test_enron_totals_equal_an_independent_count(tmp_path):
    paths = [os.path.join(ENRON, name) for name in ENRON_FILES]
    if not all(os.path.exists(path) for path in paths):
        pytest.skip("Enron mbox files not found under ../shared/data/enron-mbox")
    # a second copy of one folder, as when a message sits in two folders:
    # all its messages are duplicates the parse job drops
    copy = tmp_path / "copy" / "mckay-b.copy_of_discussion_threads.mbox.gz"
    copy.parent.mkdir()
    shutil.copyfile(paths[3], copy)
    paths.append(str(copy))
    parsed = run_job(MRParseEmails, paths, str(tmp_path / "parse-output"))
    messages = tmp_path / "messages"
    messages.mkdir()
    with open(messages / "part-00000", "wb") as records:
        for part in part_files(parsed.output_dir):
            with open(part, "rb") as handle:
                for line in handle:
                    kind, _, value = line.partition(b"\t")
                    if json.loads(kind) == "message":
                        records.write(value)
    out = tmp_path / "out"
    assert cli.main(["graph", "--input", str(messages), "--output", str(out)]) == 0

    scratch = tmp_path / "mbox"
    scratch.mkdir()
    read, message_ids, sent, received, edges = independent_enron_count(paths, scratch)
    assert read - len(message_ids) >= 30
    assert parsed.counter("parse", "duplicates") == read - len(message_ids)
    totals = {t["address"]: t for t in read_jsonl(out / "graph" / "totals.jsonl")}
    assert {a: t["sent"] for a, t in totals.items() if t["sent"]} == dict(sent)
    assert {a: t["received"] for a, t in totals.items() if t["received"]} == dict(received)
    assert {a: t["contacts_out"] for a, t in totals.items() if t["contacts_out"]} == dict(
        Counter(sender for sender, _ in edges))
    assert {a: t["contacts_in"] for a, t in totals.items() if t["contacts_in"]} == dict(
        Counter(recipient for _, recipient in edges))
    features = read_jsonl(out / "graph" / "message_features.jsonl")
    assert {f["message_id"] for f in features} == message_ids
    assert sum(f["recipients"] for f in features) == sum(received.values())
