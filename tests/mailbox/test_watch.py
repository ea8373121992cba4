"""`jeeves watch` against the session's Dovecot, notifying a webhook server of the test."""

import json

import pytest

from jeeves import cli
from tests.mailbox.conftest import berkeley_messages, spam_messages
from tests.mailbox.dovecot import free_port

TAG = "JeevesMeeting"


@pytest.fixture
def bundle(spam_bundle):
    return spam_bundle


def expected_flags(bundle, messages, tmp_path, capsys):
    """message_id -> label by `jeeves predict` on the same messages as files."""
    paths = []
    for number, raw in enumerate(messages):
        path = tmp_path / ("new-%d.eml" % number)
        path.write_bytes(raw)
        paths.append(str(path))
    capsys.readouterr()
    assert cli.main(["predict", "--model", bundle] + paths) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {row["message_id"]: row["label"] for row in rows}


def watch(imap_env, bundle, webhook, state, folder, *extra):
    return cli.main(["watch", "--imap", imap_env.url, "--cafile", imap_env.cafile,
                     "--model", bundle, "--notify", webhook.url, "--folder", folder,
                     "--state", str(state), "--once"] + list(extra))


def test_watch_once_notifies_each_flagged_message_once_and_tags_it(
        imap_env, bundle, webhook, tmp_path, capsys):
    _, other = berkeley_messages(4, skip=12)
    messages = [raw for pair in zip(spam_messages(4, skip=130), other) for raw in pair]
    expected = expected_flags(bundle, messages, tmp_path, capsys)
    flagged = sorted(message_id for message_id, label in expected.items() if label == 1)
    assert flagged and len(flagged) < len(messages)
    imap_env.append("Watched", [(raw, []) for raw in messages])
    state = tmp_path / "watch.json"

    assert watch(imap_env, bundle, webhook, state, "Watched", "--tag", TAG) == 0
    log = capsys.readouterr().out.splitlines()
    assert len(log) == len(messages)
    assert sum("FLAGGED" in line for line in log) == len(flagged)
    assert sorted(webhook.flagged_ids()) == flagged
    assert len(webhook.posts) == len(flagged)

    assert watch(imap_env, bundle, webhook, state, "Watched", "--tag", TAG) == 0
    assert sorted(webhook.flagged_ids()) == flagged
    assert capsys.readouterr().out == ""

    client = imap_env.client()
    try:
        client.select_folder("Watched", readonly=True)
        tagged = client.search(["KEYWORD", TAG])
        headers = client.fetch(tagged, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    finally:
        client.logout()
    tagged_ids = sorted(data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split("<", 1)[1]
                        .split(">", 1)[0] for data in headers.values())
    assert tagged_ids == flagged


def test_watch_scores_only_mail_that_arrives_later(imap_env, bundle, webhook, tmp_path,
                                                   capsys):
    meeting = spam_messages(3, skip=140)
    imap_env.append("Later", [(meeting[0], [])])
    state = tmp_path / "watch.json"
    assert watch(imap_env, bundle, webhook, state, "Later", "--new-only") == 0
    assert capsys.readouterr().out == "" and webhook.posts == []
    imap_env.append("Later", [(raw, []) for raw in meeting[1:]])
    expected = expected_flags(bundle, meeting[1:], tmp_path, capsys)
    assert watch(imap_env, bundle, webhook, state, "Later") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert sorted(webhook.flagged_ids()) == sorted(
        message_id for message_id, label in expected.items() if label == 1)


def test_watch_on_a_folder_that_does_not_exist(imap_env, bundle, webhook, tmp_path, capsys):
    status = watch(imap_env, bundle, webhook, tmp_path / "s.json", "Nowhere")
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and "Nowhere" in error
    assert not (tmp_path / "s.json").exists()


def test_a_failing_webhook_leaves_the_message_for_the_next_run(imap_env, bundle, webhook,
                                                               tmp_path, capsys):
    meeting = spam_messages(4, skip=150)
    expected = expected_flags(bundle, meeting, tmp_path, capsys)
    flagged = [raw for raw, label in zip(meeting, expected.values()) if label == 1]
    assert flagged, "the model flags none of four spam messages"
    imap_env.append("Retry", [(flagged[0], [])])
    state = tmp_path / "watch.json"
    nobody = "http://127.0.0.1:%d/hook" % free_port()  # nothing listens there
    status = cli.main(["watch", "--imap", imap_env.url, "--cafile", imap_env.cafile,
                       "--model", bundle, "--notify", nobody, "--folder", "Retry",
                       "--state", str(state), "--once"])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and "notifying" in error
    assert json.loads(state.read_text())["folders"]["Retry"]["last_uid"] == 0
    assert watch(imap_env, bundle, webhook, state, "Retry") == 0
    assert len(webhook.flagged_ids()) == 1


def test_a_recreated_folder_is_taken_as_scored(imap_env, bundle, webhook, tmp_path, capsys):
    messages = spam_messages(2, skip=190)
    imap_env.append("Recreated", [(messages[0], [])])
    state = tmp_path / "watch.json"
    assert watch(imap_env, bundle, webhook, state, "Recreated") == 0
    posts = len(webhook.posts)
    client = imap_env.client()
    try:
        client.delete_folder("Recreated")
    finally:
        client.logout()
    imap_env.append("Recreated", [(raw, []) for raw in messages])
    capsys.readouterr()
    assert watch(imap_env, bundle, webhook, state, "Recreated") == 0
    log = capsys.readouterr().out.splitlines()
    assert len(log) == 1 and "UIDVALIDITY changed" in log[0] and "2 messages" in log[0]
    assert len(webhook.posts) == posts
    saved = json.loads(state.read_text())["folders"]["Recreated"]
    assert saved["last_uid"] == 2
