"""`jeeves fetch` against the session's Dovecot: copies, increments, resyncs, resumes."""

import json
import os

import imapclient

from jeeves import cli
from jeeves.features.mailformats import expand_inputs, iter_found
from jeeves.features.parsing import outcome_of
from tests.mailbox import dovecot
from tests.mailbox.conftest import fetch, spam_messages
from tests.mailbox.proxy import DroppingProxy


def parse_raw(raw):
    kind, record, _ = outcome_of(next(iter_found(raw, "file:///seed", "seed/one.eml")))
    assert kind == "message"
    return record


def parse_output(path):
    """Parsed records of every message under ``path``, as `jeeves parse` finds them."""
    records = []
    for file_path, uri, relpath in expand_inputs([str(path)]):
        with open(file_path, "rb") as handle:
            for found in iter_found(handle.read(), uri, relpath):
                kind, record, _ = outcome_of(found)
                assert kind == "message", record
                records.append(record)
    return records


def content(records):
    return sorted((record["message_id"], record["body"]) for record in records)


def state_of(output):
    with open(str(output) + ".fetch-state.json") as handle:
        return json.load(handle)


def test_fetch_equals_the_seeded_messages_folder_by_folder(imap_env, tmp_path, capsys):
    out = tmp_path / "mail"
    assert fetch(imap_env, out, "--folder", "Meetings", "--folder", "INBOX",
                 "--folder", "Spam") == 0
    printed = capsys.readouterr().out
    for folder, seeded in imap_env.seeded.items():
        records = parse_output(out / (folder + ".mbox"))
        assert content(records) == content(parse_raw(raw) for raw, _ in seeded), folder
        assert "%s: %d new messages" % (folder, len(seeded)) in printed
        assert {tuple(record["folder"]) for record in records} == {("mail", folder)}
        by_id = {record["message_id"]: record["labels"] for record in records}
        assert by_id == {parse_raw(raw)["message_id"]: sorted(k.decode() for k in keywords)
                         for raw, keywords in seeded}
    assert any(labels for labels in by_id.values())
    state = state_of(out)
    assert state["folders"]["Spam"]["last_uid"] == len(imap_env.seeded["Spam"])
    assert dovecot.PASSWORD not in json.dumps(state)


def test_every_folder_by_default(imap_env, tmp_path):
    out = tmp_path / "all"
    assert fetch(imap_env, out) == 0
    for folder in imap_env.seeded:
        assert (out / (folder + ".mbox")).exists()


def test_a_second_fetch_gets_only_the_new_mail(imap_env, tmp_path, capsys):
    first, later = spam_messages(4, skip=20), spam_messages(3, skip=30)
    imap_env.append("Incremental", [(raw, []) for raw in first])
    out = tmp_path / "mail"
    assert fetch(imap_env, out, "--folder", "Incremental") == 0
    imap_env.append("Incremental", [(raw, []) for raw in later])
    capsys.readouterr()
    assert fetch(imap_env, out, "--folder", "Incremental") == 0
    assert "Incremental: 3 new messages" in capsys.readouterr().out
    records = parse_output(out)
    assert content(records) == content(parse_raw(raw) for raw in first + later)
    assert fetch(imap_env, out, "--folder", "Incremental") == 0
    assert "Incremental: 0 new messages" in capsys.readouterr().out
    assert len(parse_output(out)) == len(first + later)


def test_a_changed_uidvalidity_resyncs_without_duplicates(imap_env, tmp_path, capsys):
    messages, extra = spam_messages(4, skip=40), spam_messages(2, skip=50)
    imap_env.append("Renumbered", [(raw, []) for raw in messages])
    out = tmp_path / "mail"
    assert fetch(imap_env, out, "--folder", "Renumbered") == 0
    before = state_of(out)["folders"]["Renumbered"]["uidvalidity"]
    client = imap_env.client()
    try:
        client.delete_folder("Renumbered")
        client.create_folder("Renumbered")
        uidvalidity = client.select_folder("Renumbered")[b"UIDVALIDITY"]
    finally:
        client.logout()
    assert uidvalidity != before
    imap_env.append("Renumbered", [(raw, []) for raw in extra + messages], create=False)
    capsys.readouterr()
    assert fetch(imap_env, out, "--folder", "Renumbered") == 0
    assert "Renumbered: 2 new messages" in capsys.readouterr().out
    assert content(parse_output(out)) == content(parse_raw(raw) for raw in messages + extra)
    assert state_of(out)["folders"]["Renumbered"]["uidvalidity"] == uidvalidity


def test_a_connection_dropped_mid_fetch_resumes_without_loss(imap_env, tmp_path, capsys):
    messages = spam_messages(10, skip=60)
    imap_env.append("Dropped", [(raw, []) for raw in messages])
    # bytes the server sends for the TLS handshake, the login and the folder list
    with DroppingProxy(imap_env.server.port) as counter:
        client = imapclient.IMAPClient("127.0.0.1", port=counter.port, ssl=True, timeout=30,
                                       ssl_context=imap_env.client_context())
        client.login(dovecot.USER, dovecot.PASSWORD)
        client.list_folders()
        client.select_folder("Dropped", readonly=True)
        client.logout()
    drop_after = counter.downstream + sum(len(raw) for raw in messages) // 2
    out = tmp_path / "mail"
    with DroppingProxy(imap_env.server.port, drop_after=drop_after) as proxy:
        url = "imaps://%s@127.0.0.1:%d" % (dovecot.USER, proxy.port)
        status = cli.main(["fetch", "--imap", url, "--cafile", imap_env.cafile,
                           "--folder", "Dropped", "--output", str(out), "--batch-size", "2"])
    assert proxy.dropped.is_set()
    assert status == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "lost" in error and "Traceback" not in error
    done = state_of(out)["folders"]["Dropped"]["last_uid"]
    assert 0 < done < len(messages)
    assert len(parse_output(out)) == done
    assert fetch(imap_env, out, "--folder", "Dropped") == 0
    assert content(parse_output(out)) == content(parse_raw(raw) for raw in messages)


def test_a_batch_appended_before_its_state_advanced_is_cut(imap_env, tmp_path):
    messages = spam_messages(3, skip=80)
    imap_env.append("Interrupted", [(raw, []) for raw in messages])
    out = tmp_path / "mail"
    assert fetch(imap_env, out, "--folder", "Interrupted") == 0
    state_path = str(out) + ".fetch-state.json"
    with open(state_path) as handle:
        committed = handle.read()
    more = spam_messages(2, skip=90)
    imap_env.append("Interrupted", [(raw, []) for raw in more])
    assert fetch(imap_env, out, "--folder", "Interrupted") == 0
    # as if the second run died after appending its batch, before saving the state
    with open(state_path, "w") as handle:
        handle.write(committed)
    assert fetch(imap_env, out, "--folder", "Interrupted") == 0
    assert content(parse_output(out)) == content(parse_raw(raw) for raw in messages + more)


def test_state_and_mail_live_beside_each_other_not_inside(imap_env, tmp_path):
    out = tmp_path / "mail"
    assert fetch(imap_env, out, "--folder", "Spam") == 0
    assert sorted(os.listdir(out)) == ["Spam.mbox"]
    assert os.path.exists(str(out) + ".fetch-state.json")
