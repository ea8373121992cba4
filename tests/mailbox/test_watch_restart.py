"""`jeeves watch` (not --once) survives a restart of its IMAP server.

A Dovecot of this test's own (the session's server stays up for the other
tests), restarted on the same port while `jeeves watch` runs in a child
process; waits are bounded, the child is stopped at the end.
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
def own_server(mailserver):
    root = tempfile.mkdtemp(prefix="jeeves-dovecot-")
    server = dovecot.Dovecot(root)
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


def test_watch_survives_a_server_restart(own_server, spam_bundle, webhook, tmp_path, capsys):
    mail = MailServer(own_server, {})
    first, later = spam_messages(2, skip=170), spam_messages(2, skip=175)
    expected = expected_flags(spam_bundle, first + later, tmp_path, capsys)
    mail.append("INBOX", [(raw, []) for raw in first], create=False)
    env = dict(os.environ, JEEVES_IMAP_PASSWORD=dovecot.PASSWORD, PYTHONPATH=REPO)
    child = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "watch", "--imap", own_server.url,
         "--cafile", own_server.cafile, "--model", spam_bundle, "--notify", webhook.url,
         "--state", str(tmp_path / "watch.json")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
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
