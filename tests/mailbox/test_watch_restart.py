"""`jeeves watch` running (not --once): it survives a restart of its IMAP server,
and polls a server without IDLE.

Each test has a Dovecot of its own (the session's server stays up for the
other tests); `jeeves watch` runs in a child process; waits are bounded, the
child is stopped at the end.
"""

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading

import pytest

from tests.mailbox import dovecot
from tests.mailbox.conftest import MailServer, spam_messages
from tests.mailbox.test_watch import expected_flags

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WAIT_SECONDS = 120


@pytest.fixture
def own_server(mailserver, request):
    """A Dovecot of the test's own; ``request.param``: extra configuration lines."""
    root = tempfile.mkdtemp(prefix="jeeves-dovecot-")
    server = dovecot.Dovecot(root, getattr(request, "param", ""))
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


class Lines:
    """The child's output, line by line, read by a thread (bounded waits)."""

    def __init__(self, stream):
        self.queue, self.seen = queue.Queue(), []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def until(self, predicate):
        while not predicate(self.seen):
            line = self.queue.get(timeout=WAIT_SECONDS)
            assert line is not None, "jeeves watch ended: %s" % "\n".join(self.seen)
            self.seen.append(line)


def scored(lines):
    return sum(" uid=" in line for line in lines)


def start_watch(server, bundle, webhook, tmp_path, *extra):
    env = dict(os.environ, JEEVES_IMAP_PASSWORD=dovecot.PASSWORD, PYTHONPATH=REPO)
    return subprocess.Popen(
        [sys.executable, "-m", "jeeves.cli", "watch", "--imap", server.url,
         "--cafile", server.cafile, "--model", bundle, "--notify", webhook.url,
         "--state", str(tmp_path / "watch.json")] + list(extra),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def test_watch_survives_a_server_restart(own_server, spam_bundle, webhook, tmp_path, capsys):
    mail = MailServer(own_server, {})
    first, later = spam_messages(2, skip=170), spam_messages(2, skip=175)
    expected = expected_flags(spam_bundle, first + later, tmp_path, capsys)
    mail.append("INBOX", [(raw, []) for raw in first], create=False)
    child = start_watch(own_server, spam_bundle, webhook, tmp_path)
    try:
        lines = Lines(child.stdout)
        lines.until(lambda seen: scored(seen) == 2)
        own_server.restart()
        lines.until(lambda seen: any("lost" in line for line in seen))
        mail.append("INBOX", [(raw, []) for raw in later], create=False)
        lines.until(lambda seen: scored(seen) == 4)
    finally:
        child.terminate()
        child.wait(timeout=30)
    print("\n".join(lines.seen))  # the session's log, for the record
    assert sorted(webhook.flagged_ids()) == sorted(
        message_id for message_id, label in expected.items() if label == 1)


@pytest.mark.parametrize("own_server", ["imap_capability = IMAP4rev1 LITERAL+ UIDPLUS\n"],
                         ids=["no-idle"], indirect=True)
def test_watch_polls_a_server_without_idle(own_server, spam_bundle, webhook, tmp_path, capsys):
    client = MailServer(own_server, {}).client()
    try:
        assert not client.has_capability("IDLE")
    finally:
        client.logout()
    mail = MailServer(own_server, {})
    messages = spam_messages(2, skip=180)
    expected = expected_flags(spam_bundle, messages, tmp_path, capsys)
    child = start_watch(own_server, spam_bundle, webhook, tmp_path, "--interval", "0.5")
    try:
        lines = Lines(child.stdout)
        for number, raw in enumerate(messages, 1):
            mail.append("INBOX", [(raw, [])], create=False)
            lines.until(lambda seen, number=number: scored(seen) == number)
    finally:
        child.terminate()
        child.wait(timeout=30)
    assert sorted(webhook.flagged_ids()) == sorted(
        message_id for message_id, label in expected.items() if label == 1)
