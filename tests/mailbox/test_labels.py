"""Mailbox labels without a server: the parser's `labels` field, folder:/label: specs,
and the headers `jeeves fetch` writes (Gmail's X-GM-LABELS through a small fake of
imapclient's fetch, since Dovecot has no X-GM-EXT-1)."""

import datetime

import pytest

from jeeves.features.parsing import message_record
from jeeves.mailbox.fetch import fetch_messages, label_headers, mbox_entry
from jeeves.models.labels import labeller_from_spec

SOURCE = {"uri": "file:///x", "index": 0, "offset": 0}


def parsed(raw, folder=("mail",)):
    return message_record(raw, SOURCE, list(folder))[0]


def test_takeout_labels_are_split_sorted_and_deduplicated():
    raw = (b'Message-ID: <a@x>\nX-Gmail-Labels: Meetings,Inbox, "Work, 2001",Inbox\n'
           b"Subject: s\n\nbody\n")
    assert parsed(raw)["labels"] == ["Inbox", "Meetings", "Work, 2001"]


def test_keywords_and_gmail_labels_join():
    raw = b"Message-ID: <a@x>\nX-Keywords: Work $Important,Later\nX-Gmail-Labels: Trip\n\nb\n"
    assert parsed(raw)["labels"] == ["$Important", "Later", "Trip", "Work"]


def test_no_label_headers_no_labels():
    assert parsed(b"Message-ID: <a@x>\nSubject: s\n\nbody\n")["labels"] == []


def test_folder_and_label_specs():
    meeting = {"folder": ["fetched", "Work", "Meetings"], "labels": ["Important"]}
    other = {"folder": ["fetched", "INBOX"], "labels": []}
    assert labeller_from_spec("folder:Meetings")(meeting) == 1
    assert labeller_from_spec("folder:Work/Meetings")(meeting) == 1
    assert labeller_from_spec("folder:Meetings")(other) == 0
    assert labeller_from_spec("folder:Work")(meeting) == 0
    assert labeller_from_spec("label:Important")(meeting) == 1
    assert labeller_from_spec("label:Important")(other) == 0
    assert labeller_from_spec("label:Important")({"folder": []}) == 0


@pytest.mark.parametrize("spec", ["folder:", "label: ", "folder:/"])
def test_empty_folder_or_label_spec_is_refused(spec):
    with pytest.raises(ValueError, match="expected"):
        labeller_from_spec(spec)


class FakeGmail:
    """Stands in for imapclient.IMAPClient.fetch on a Gmail server: the response
    shape imapclient gives for BODY[], FLAGS, INTERNALDATE and X-GM-LABELS."""

    def __init__(self, messages):
        self.messages = messages
        self.asked = None

    def fetch(self, uids, items):
        self.asked = list(items)
        return {uid: self.messages[uid] for uid in uids}


def test_gmail_labels_become_a_takeout_header_the_parser_reads():
    raw = b"Message-ID: <g@x>\r\nSubject: lunch?\r\n\r\nCan we meet at noon?\r\n"
    client = FakeGmail({7: {
        b"BODY[]": raw, b"FLAGS": (b"\\Seen", b"$Forwarded"),
        b"INTERNALDATE": datetime.datetime(2026, 11, 30, 9, 0, 0),
        b"X-GM-LABELS": (b"\\Inbox", b"\\Important", b"Meetings", b"&AMk-t&AOk-"),
    }})
    [(uid, body, when, keywords, labels)] = fetch_messages(client, [7], gmail=True)
    assert b"X-GM-LABELS" in client.asked
    assert (uid, keywords) == (7, ["$Forwarded"])
    assert labels == ["Important", "Inbox", "Meetings", "\u00c9t\u00e9"]
    entry = mbox_entry(body, when, label_headers(keywords, labels))
    assert entry.startswith(b"From MAILER-DAEMON Mon Nov 30 09:00:00 2026\n")
    message = entry.split(b"\n", 1)[1]
    record = parsed(message)
    assert record["labels"] == ["$Forwarded", "Important", "Inbox", "Meetings", "\u00c9t\u00e9"]
    assert record["body"] == "Can we meet at noon?"


def test_mbox_entry_escapes_from_lines():
    entry = mbox_entry(b"Subject: s\r\n\r\nFrom here on\r\n>From there\r\n", None)
    assert b"\n>From here on\n>>From there\n" in entry
