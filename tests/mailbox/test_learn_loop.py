"""The correction loop against the session's Dovecot, before any retraining:

- a label posted to `jeeves serve`'s /learn reaches `jeeves learn`'s label log
  exactly once (``why: serve``), also when learn is run again from the state a
  kill after the log's fsync leaves, and a label for a message not fetched yet
  waits for it;
- a correction `learn` finds in the mailbox reaches the online model that
  `serve` and `watch` score with (``--scorer online``) through the copy learn
  publishes, while the deployed version stays the same.

The daemon runs in a thread of the test (tests/scripts/test_serve.py's Running).
"""

import json

import pytest

from jeeves import cli, scoring
from jeeves.models import versions
from tests.mailbox.conftest import berkeley_messages
from tests.mailbox.test_learn import append, learn, log_entries, message_id, move
from tests.scripts.test_serve import Running


def deployed(mail, tmp_path, name, skip):
    """v000001 with an online model, fitted by learn on 6 meetings and 6 others
    -> (model dir, inbox, label folder, meeting, other messages: 8 each)."""
    pytest.importorskip("jeeves.models.online")
    meeting, other = berkeley_messages(8, skip=skip)
    inbox, label = name + "/Inbox", name + "/Meetings"
    append(mail, label, [(raw, []) for raw in meeting[:6]])
    append(mail, inbox, [(raw, []) for raw in other[:6]])
    model = tmp_path / "model"
    assert learn(mail, model, "folder:" + label, inbox, "--min-labels", "6", "--online") == 0
    assert versions.version_id(model) == "v000001"
    return model, inbox, label, meeting, other


@pytest.fixture
def daemon():
    started = []

    def start(model, **options):
        started.append(Running(model, **options))
        return started[-1]

    yield start
    for running in started:
        running.stop()


def served_entries(model):
    return [entry for entry in log_entries(model) if entry["why"] == scoring.SERVE_WHY]


def test_a_label_posted_to_serve_reaches_the_label_log_exactly_once(imap_env, tmp_path,
                                                                    daemon):
    model, inbox, label, meeting, other = deployed(imap_env, tmp_path, "LoopServe", 240)
    client = daemon(model, scorer="online").client()
    client.score(other[6])  # scored alone: the daemon keeps the message for /learn
    client.learn(1, message_id=message_id(other[6]))
    client.learn(1, message=meeting[6].decode("utf-8", "surrogateescape"))
    client.learn(1, message_id=message_id(other[7]))  # never seen: no message to learn from
    lines = (model / scoring.SERVE_LABELS).read_bytes().splitlines(keepends=True)
    offsets = [sum(len(line) for line in lines[:number]) for number in range(len(lines))]

    state = model / "learn" / "state.json"
    before = state.read_bytes()
    assert learn(imap_env, model, "folder:" + label, inbox) == 0
    expected = [(message_id(other[6]), 1, "serve:%d" % offsets[0]),
                (message_id(meeting[6]), 1, "serve:%d" % offsets[1])]
    assert [(entry["message_id"], entry["label"], entry["key"])
            for entry in served_entries(model)] == expected
    assert versions.version_id(model) == "v000001"  # 2 new labels: no retraining

    # a learn killed after the log's fsync, before its state was saved: run again
    after = state.read_bytes()
    state.write_bytes(before)
    assert learn(imap_env, model, "folder:" + label, inbox) == 0
    assert len(served_entries(model)) == 2
    assert json.loads(state.read_bytes())["serve"] == json.loads(after)["serve"]

    # the third label waited for its message; the mailbox brings it (a negative there)
    append(imap_env, inbox, [(other[7], [])], start=30)
    assert learn(imap_env, model, "folder:" + label, inbox) == 0
    entries = [(entry["message_id"], entry["label"], entry["why"])
               for entry in log_entries(model) if entry["message_id"] == message_id(other[7])]
    assert [(label_, why) for _, label_, why in entries] == [(0, entries[0][2]), (1, "serve")]
    assert len(served_entries(model)) == 3
    # the daemon's label is newer than where the message lies: it holds
    assert learn(imap_env, model, "folder:" + label, inbox) == 0
    assert log_entries(model)[-1]["why"] == "serve" and len(served_entries(model)) == 3
    seqs = [entry["seq"] for entry in log_entries(model)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_mailbox_correction_reaches_serve_and_watch_before_retraining(imap_env, tmp_path,
                                                                         daemon, capsys):
    from jeeves.models.online import OnlineModel

    model, inbox, label, meeting, other = deployed(imap_env, tmp_path, "LoopMailbox", 250)
    running = daemon(model, scorer="online")
    client = running.client()
    wrong = other[0]  # a meeting request the user had left in the inbox
    before = client.score(wrong)
    assert before["scorer"] == "online" and before["version"] == "v000001"

    move(imap_env, inbox, label, [message_id(wrong)])
    assert learn(imap_env, model, "folder:" + label, inbox) == 0
    assert versions.version_id(model) == "v000001"
    _, published = scoring.read_published(model)
    assert published["version"] == "v000001" and published["label_seq"] == 13
    after = client.score(wrong)
    assert after["version"] == "v000001" and after["score"] > before["score"]
    copy = OnlineModel.load(str(model / "learn" / published["directory"]))
    record = running.daemon.parse(wrong)[0]
    assert after["score"] == pytest.approx(float(copy.score([record])[0]), abs=1e-9)
    assert [line for line in running.log if "updated to label 13" in line]

    watched = "LoopMailbox/Watched"
    append(imap_env, watched, [(wrong, [])])
    capsys.readouterr()
    assert cli.main(["watch", "--imap", imap_env.url, "--cafile", imap_env.cafile,
                     "--model", str(model), "--folder", watched, "--once",
                     "--state", str(tmp_path / "watch.json"), "--scorer", "online"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if " uid=" in line)
    assert "model=v000001/online@13" in line
    assert "score=%.4f " % after["score"] in line
