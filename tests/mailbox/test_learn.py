"""`jeeves learn` against the session's Dovecot: labels from folder moves and keywords,
retraining after --min-new labels, a worse candidate refused.

Each test files mail into folders of its own, with INTERNALDATEs set on APPEND
(days in the past, one per message) so that the time order of the labels is
the test's."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from jeeves import cli, scoring
from jeeves.models import versions
from tests.mailbox.conftest import berkeley_messages

TRAINING = ["--models", "logistic_regression", "--folds", "2"]
START = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)


def append(mail, folder, messages, start=0):
    """APPEND [(raw, keywords)] to ``folder``, the n-th arriving on day ``start + n``."""
    client = mail.client()
    try:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for number, (raw, keywords) in enumerate(messages):
            client.append(folder, raw, flags=keywords,
                          msg_time=START + timedelta(days=start + number))
    finally:
        client.logout()


def uids_by_id(mail, folder):
    """{Message-ID without brackets: UID} in ``folder``."""
    client = mail.client()
    try:
        client.select_folder(folder, readonly=True)
        fetched = client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    finally:
        client.logout()
    return {data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split("<", 1)[1]
            .split(">", 1)[0]: uid for uid, data in fetched.items()}


def move(mail, source, target, message_ids):
    uids = uids_by_id(mail, source)
    client = mail.client()
    try:
        client.select_folder(source)
        client.move([uids[message_id] for message_id in message_ids], target)
    finally:
        client.logout()


def message_id(raw):
    from jeeves.features.parsing import message_record

    return message_record(raw, {}, [])[0]["message_id"]


def learn(mail, model, labels, folder, *extra):
    return cli.main(["learn", "--imap", mail.url, "--cafile", mail.cafile, "--model", str(model),
                     "--labels", labels, "--folder", folder, "--once"] + TRAINING + list(extra))


def log_entries(model):
    path = model / "learn" / "labels.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def current_labels(model):
    labels = {}
    for entry in log_entries(model):
        labels[entry["message_id"]] = entry["label"]
    return labels


def test_moves_into_and_out_of_the_label_folder(imap_env, tmp_path, capsys):
    meeting, other = berkeley_messages(4, skip=100)
    inbox, label = "LearnMoves/Inbox", "LearnMoves/Meetings"
    append(imap_env, label, [(raw, []) for raw in meeting[:3]])
    append(imap_env, inbox, [(raw, []) for raw in other[:3]])
    # arrived just now: not taken as negative before it settles
    client = imap_env.client()
    try:
        client.append(inbox, other[3], msg_time=datetime.now(timezone.utc))
    finally:
        client.logout()
    model = tmp_path / "model"
    ids = {"meeting": [message_id(raw) for raw in meeting], "other": [message_id(raw)
                                                                     for raw in other]}

    assert learn(imap_env, model, "folder:" + label, inbox,
                 "--min-labels", "50") == 0
    assert current_labels(model) == dict([(i, 1) for i in ids["meeting"][:3]]
                                         + [(i, 0) for i in ids["other"][:3]])
    assert "cold start" in capsys.readouterr().out
    assert not (model / versions.CURRENT_FILE).exists()

    move(imap_env, label, inbox, ids["meeting"][:1])
    move(imap_env, inbox, label, ids["other"][1:2])
    assert learn(imap_env, model, "folder:" + label, inbox, "--min-labels", "50") == 0
    new = log_entries(model)[6:]
    assert [(entry["message_id"], entry["label"]) for entry in new] == [
        (ids["other"][1], 1), (ids["meeting"][0], 0)]
    assert "no longer in folder LearnMoves/Meetings" in new[1]["why"]

    assert learn(imap_env, model, "folder:" + label, inbox, "--min-labels", "50") == 0
    assert len(log_entries(model)) == 8  # nothing changed, nothing logged
    assert learn(imap_env, model, "folder:" + label, inbox, "--min-labels", "50",
                 "--settle", "0") == 0
    assert log_entries(model)[8:] and log_entries(model)[8]["message_id"] == ids["other"][3]
    entries = log_entries(model)
    assert [entry["seq"] for entry in entries] == list(range(1, len(entries) + 1))


def test_keyword_labels_follow_flag_changes(imap_env, tmp_path, capsys):
    meeting, other = berkeley_messages(3, skip=110)
    folder = "LearnKeywords"
    append(imap_env, folder, [(raw, [b"Meet"]) for raw in meeting]
           + [(raw, []) for raw in other])
    model = tmp_path / "model"
    assert learn(imap_env, model, "label:Meet", folder, "--min-labels", "50") == 0
    expected = {message_id(raw): 1 for raw in meeting}
    expected.update({message_id(raw): 0 for raw in other})
    assert current_labels(model) == expected

    uids = uids_by_id(imap_env, folder)
    client = imap_env.client()
    try:
        client.select_folder(folder)
        client.remove_flags([uids[message_id(meeting[0])]], [b"Meet"])
        client.add_flags([uids[message_id(other[0])]], [b"Meet"])
    finally:
        client.logout()
    assert learn(imap_env, model, "label:Meet", folder, "--min-labels", "50") == 0
    assert [(entry["message_id"], entry["label"]) for entry in log_entries(model)[6:]] == [
        (message_id(other[0]), 1), (message_id(meeting[0]), 0)]
    # Dovecot has CONDSTORE: the state keeps HIGHESTMODSEQ, the second pass read the flags
    # changed since (SEARCH MODSEQ)
    state = json.loads((model / "learn" / "state.json").read_text())
    assert state["folders"][folder]["modseq"] > 0


def test_retrains_after_min_new_and_refuses_a_worse_model(imap_env, tmp_path, capsys):
    meeting, other = berkeley_messages(16, skip=120)
    inbox, label = "LearnRetrain/Inbox", "LearnRetrain/Meetings"
    model = tmp_path / "model"
    # filed the wrong way round at first: the first model learns the opposite
    first = [(other[n], meeting[n]) for n in range(10)]
    append(imap_env, label, [(pair[0], []) for pair in first], start=0)
    append(imap_env, inbox, [(pair[1], []) for pair in first], start=0)
    assert learn(imap_env, model, "folder:" + label, inbox, "--min-labels", "10") == 0
    assert versions.version_id(model) == "v000001"
    assert versions.read_metrics(versions.resolve(model))["held_out"] is None
    capsys.readouterr()

    # fewer than --min-new new labels: no retraining
    append(imap_env, label, [(raw, []) for raw in meeting[10:12]], start=20)
    assert learn(imap_env, model, "folder:" + label, inbox, "--min-new", "20") == 0
    assert versions.version_id(model) == "v000001"
    assert "2 new labels since v000001; retraining needs 20" in capsys.readouterr().out

    # the user corrects the filing: the candidate is better on the newest fifth
    move(imap_env, label, inbox, [message_id(raw) for raw, _ in first])
    move(imap_env, inbox, label, [message_id(raw) for _, raw in first])
    append(imap_env, label, [(raw, []) for raw in meeting[12:16]], start=22)
    append(imap_env, inbox, [(raw, []) for raw in other[10:16]], start=22)
    assert learn(imap_env, model, "folder:" + label, inbox, "--min-new", "20") == 0
    out = capsys.readouterr().out
    assert versions.version_id(model) == "v000002", out
    metrics = versions.read_metrics(versions.resolve(model))
    held = metrics["held_out"]
    assert held["deployed_version"] == "v000001" and held["deploy"]
    assert held["candidate"]["average_precision"] >= held["deployed"]["average_precision"]
    assert metrics["label_seq"] == len(log_entries(model))
    assert metrics["labels"] == {"positive": 16, "negative": 16}

    # noise in the older labels: the candidate is worse than v000002 and refused
    older = [raw for raw in meeting[:10]]
    move(imap_env, label, inbox, [message_id(raw) for raw in older])
    move(imap_env, inbox, label, [message_id(raw) for raw in other[:10]])
    assert learn(imap_env, model, "folder:" + label, inbox, "--min-new", "20") == 0
    out = capsys.readouterr().out
    assert "worse, not deployed" in out, out
    assert versions.version_id(model) == "v000002"
    assert versions.versions(model) == ["v000001", "v000002"]
    # and the refused labels do not trigger a retraining again on the next pass
    assert learn(imap_env, model, "folder:" + label, inbox, "--min-new", "20") == 0
    assert "0 new labels since v000002" in capsys.readouterr().out


def test_learn_refuses_other_label_specs_in_one_line(imap_env, tmp_path, capsys):
    status = learn(imap_env, tmp_path / "m", "spam*=1,*ham*=0", "INBOX")
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and "folder:NAME or label:NAME" in error


@pytest.mark.parametrize("settle", ["-1d", "soon"])
def test_bad_settle_is_one_line(imap_env, tmp_path, capsys, settle):
    status = learn(imap_env, tmp_path / "m", "folder:Meetings", "INBOX", "--settle=" + settle)
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1


def wait_for(condition, process, what):
    """Poll ``condition()`` while ``process`` runs (the process ending first fails)."""
    while not condition():
        assert process.poll() is None, "the process ended before " + what
        time.sleep(0.02)


def test_learn_killed_midway_loses_and_doubles_no_label(imap_env, tmp_path):
    meeting, other = berkeley_messages(60, skip=140)
    inbox, label = "LearnKilled/Inbox", "LearnKilled/Meetings"
    append(imap_env, label, [(raw, []) for raw in meeting])
    append(imap_env, inbox, [(raw, []) for raw in other])
    model = tmp_path / "model"
    command = [sys.executable, "-m", "jeeves.cli", "learn", "--imap", imap_env.url,
               "--cafile", imap_env.cafile, "--model", str(model), "--labels", "folder:" + label,
               "--folder", inbox, "--once", "--min-labels", "1000"]
    mail = model / "learn" / "mail"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # killed while it stores the messages, before it logs their labels
        wait_for(lambda: mail.is_dir() and len(list(mail.iterdir())) >= 30, process,
                 "it stored 30 messages")
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    stored = [path for path in mail.iterdir() if path.suffix == ".mbox"]
    assert len(stored) < 120  # killed midway

    assert learn(imap_env, model, "folder:" + label, inbox, "--min-labels", "1000") == 0
    assert not [path for path in mail.iterdir() if path.name.startswith(".tmp-")]
    assert learn(imap_env, model, "folder:" + label, inbox, "--min-labels", "1000") == 0
    entries = log_entries(model)
    assert [entry["seq"] for entry in entries] == list(range(1, 121))
    assert sorted((entry["message_id"], entry["label"]) for entry in entries) == sorted(
        [(message_id(raw), 1) for raw in meeting] + [(message_id(raw), 0) for raw in other])


WRITER = """
import sys
from jeeves.mailbox.labellog import Change, LabelLog

log = LabelLog.open(sys.argv[1])
for number in range(int(sys.argv[2])):
    log.append([Change("m%05d@test" % number, number % 2, "test", "2026-01-01T00:00:00Z")])
log.close()
"""


def test_label_log_killed_while_appending_keeps_a_prefix_and_completes(tmp_path):
    from jeeves.mailbox.labellog import LabelLog

    path, total = tmp_path / "labels.jsonl", 600
    expected = [("m%05d@test" % number, number % 2) for number in range(total)]
    for round_number in range(3):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(total)])
        try:
            size = 5000 * (round_number + 1)
            wait_for(lambda: path.exists() and path.stat().st_size > size,  # noqa: B023
                     process, "it wrote enough")
        finally:
            process.kill()
            process.wait()
        with LabelLog.open(str(path)) as log:
            got = [(entry["message_id"], entry["label"]) for entry in log.entries]
            assert [entry["seq"] for entry in log.entries] == list(range(1, len(got) + 1))
            assert got == expected[:len(got)] and 0 < len(got) < total
    subprocess.run([sys.executable, "-c", WRITER, str(path), str(total)], check=True)
    with LabelLog.open(str(path)) as log:
        assert [(entry["message_id"], entry["label"]) for entry in log.entries] == expected


def test_a_torn_last_line_is_cut_off_and_a_bad_line_before_it_refused(tmp_path):
    from jeeves.mailbox.labellog import Change, LabelLog, LabelLogError

    path = tmp_path / "labels.jsonl"
    with LabelLog.open(str(path)) as log:
        log.append([Change("a@x", 1, "test"), Change("b@x", 0, "test")])
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"seq": 3, "message_id": "c@x", "lab')
    with LabelLog.open(str(path)) as log:
        assert log.last_seq == 2 and path.read_bytes() == whole
        assert log.append([Change("a@x", 1, "again"), Change("c@x", 1, "test")])[0]["seq"] == 3
        with pytest.raises(LabelLogError, match="in use"):
            LabelLog.open(str(path))
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([lines[0], b"not json"] + lines[1:]))
    with pytest.raises(LabelLogError, match=":2 is not a JSON line"):
        LabelLog.open(str(path))


class FakeGmail:
    """What the Scanner asks of a Gmail server before any folder is selected."""

    def has_capability(self, name):
        name = name.decode() if isinstance(name, bytes) else name
        return name in ("X-GM-EXT-1", "CONDSTORE")

    def enable(self, *capabilities):
        self.enabled = capabilities


def test_a_gmail_label_or_a_keyword_makes_a_positive():
    from jeeves.mailbox.learn import LabelSpec, LearnSettings, Scanner

    settings = LearnSettings(labels=LabelSpec.parse("label:Meetings"),
                             folder="[Gmail]/All Mail")
    scanner = Scanner(FakeGmail(), settings, store=None, log=print)
    assert scanner.client.enabled == ("CONDSTORE",)
    assert scanner._flag_items() == [b"FLAGS", b"X-GM-LABELS"]
    assert scanner._labelled({b"FLAGS": (b"\\Seen",), b"X-GM-LABELS": (b"\\Inbox", b"Meetings")})
    assert scanner._labelled({b"FLAGS": (b"Meetings",), b"X-GM-LABELS": ()})
    assert not scanner._labelled({b"FLAGS": (b"\\Seen",), b"X-GM-LABELS": (b"\\Important",)})


def test_online_model_fitted_at_deploy_and_learning_between_retrainings(imap_env, tmp_path):
    from jeeves.models.online import OnlineModel

    meeting, other = berkeley_messages(7, skip=220)
    inbox, label = "LearnOnline/Inbox", "LearnOnline/Meetings"
    append(imap_env, label, [(raw, []) for raw in meeting[:6]])
    append(imap_env, inbox, [(raw, []) for raw in other[:6]])
    model = tmp_path / "model"
    assert learn(imap_env, model, "folder:" + label, inbox, "--min-labels", "6", "--online") == 0
    version = versions.resolve(model)
    assert OnlineModel.load(os.path.join(version, "online")).n_seen == [6, 6]
    assert scoring.read_published(model) == (None, None)  # nothing learnt since

    append(imap_env, label, [(meeting[6], [])], start=10)
    append(imap_env, inbox, [(other[6], [])], start=10)
    assert learn(imap_env, model, "folder:" + label, inbox, "--online") == 0
    assert versions.resolve(model) == version
    # the version stays as deployed; the copy published in DIR/learn/ learns what came after
    assert OnlineModel.load(os.path.join(version, "online")).n_seen == [6, 6]
    _, published = scoring.read_published(model)
    assert published["version"] == "v000001" and published["label_seq"] == 14
    assert OnlineModel.load(str(model / "learn" / published["directory"])).n_seen == [7, 7]
