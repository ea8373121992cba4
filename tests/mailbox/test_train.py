"""Training on the user's own folders and labels: fetched mail, and a Google Takeout export."""

import json

from jeeves import cli
from tests.mailbox.conftest import PER_FOLDER, fetch
from tests.mailbox.test_fetch import parse_output


def test_run_with_folder_labels_on_fetched_mail_trains(meeting_bundle):
    status, out = meeting_bundle
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stages"]["labels"]["positive"] == PER_FOLDER
    assert summary["stages"]["labels"]["negative"] == PER_FOLDER
    assert (out / "model" / "metadata.json").exists()


def takeout_mbox(messages):
    """An mbox as Google Takeout writes it: X-GM-THRID and X-Gmail-Labels before the headers."""
    entries = []
    for number, (raw, keywords) in enumerate(messages):
        labels = ",".join(keyword.decode() for keyword in keywords)
        entries.append(b"From 17%08d@xxx Mon Oct 01 09:00:00 +0000 2001\n" % number
                       + b"X-GM-THRID: 17%08d\n" % number
                       + (b"X-Gmail-Labels: " + labels.encode() + b"\n" if labels else b"")
                       + raw.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n")
    return b"".join(entries)


def test_a_takeout_export_gives_the_labels_of_the_imap_fetch(imap_env, tmp_path, capsys):
    seeded = imap_env.seeded["INBOX"]
    assert fetch(imap_env, tmp_path / "fetched", "--folder", "INBOX") == 0
    export = tmp_path / "takeout" / "All mail Including Spam and Trash.mbox"
    export.parent.mkdir()
    export.write_bytes(takeout_mbox(seeded))
    fetched = {record["message_id"]: record["labels"]
               for record in parse_output(tmp_path / "fetched")}
    exported = {record["message_id"]: record["labels"] for record in parse_output(export)}
    assert exported == fetched
    assert sum("Work" in labels for labels in fetched.values()) == sum(
        b"Work" in keywords for _, keywords in seeded)

    status = cli.main(["run", "--input", str(export), "--output", str(tmp_path / "out"),
                       "--labels", "label:Work", "--models", "logistic_regression",
                       "--folds", "2", "--no-graph"])
    assert status == 0
    labels = json.loads((tmp_path / "out" / "summary.json").read_text())["stages"]["labels"]
    assert labels["positive"] == sum("Work" in labels for labels in fetched.values())
    assert labels["positive"] + labels["negative"] == len(seeded)
