"""One real Dovecot for the session, seeded with real mail from ../shared/data.

Seeded over ONE logged-in connection (APPEND): ``Meetings`` holds Berkeley
Enron messages of category 1,4 (meeting scheduling), ``INBOX`` other Berkeley
messages, ``Spam`` SpamAssassin spam. Some messages carry IMAP keywords
(``Work``, ``Important``). Tests that change the server use folders of their
own. The password reaches the commands through the environment of each test
only (monkeypatch), never a file.
"""

import glob
import json
import os
import shutil
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import imapclient
import pytest

from jeeves import cli
from tests.mailbox import dovecot

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
BERKELEY = os.path.join(DATA, "enron-berkeley")
SPAMASSASSIN = os.path.join(DATA, "spamassassin")
PER_FOLDER = 12
SPAM = 12


def _has_category(txt_path, category=("1", "4")):
    with open(txt_path[:-len(".txt")] + ".cats", encoding="ascii", errors="replace") as handle:
        return any(tuple(field.strip() for field in line.split(",")[:2]) == category
                   for line in handle)


def berkeley_messages(count=PER_FOLDER, skip=0):
    """(meeting, other) raw messages, in name order, ``count`` each after ``skip``."""
    meeting, other = [], []
    for path in sorted(glob.glob(os.path.join(BERKELEY, "*", "*.txt"))):
        bucket = meeting if _has_category(path) else other
        if len(bucket) < skip + count:
            with open(path, "rb") as handle:
                bucket.append(handle.read())
        if len(meeting) == len(other) == skip + count:
            break
    return meeting[skip:], other[skip:]


def spam_messages(count=SPAM, skip=0):
    paths = sorted(glob.glob(os.path.join(SPAMASSASSIN, "spam-1", "*")))[skip:skip + count]
    messages = []
    for path in paths:
        with open(path, "rb") as handle:
            messages.append(handle.read())
    return messages


def keywords_for(index):
    """The keywords seeded on the index-th message of a folder."""
    return [b"Work"] * (index % 2 == 0) + [b"Important"] * (index % 3 == 0)


class MailServer:
    def __init__(self, server, seeded):
        self.server = server
        self.url = server.url
        self.cafile = server.cafile
        self.seeded = seeded  # folder -> [(raw, keywords)]

    def client_context(self):
        return ssl.create_default_context(cafile=self.cafile)

    def client(self):
        client = imapclient.IMAPClient("127.0.0.1", port=self.server.port, ssl=True,
                                       ssl_context=self.client_context(), timeout=30)
        client.login(dovecot.USER, dovecot.PASSWORD)
        return client

    def append(self, folder, messages, create=True):
        """APPEND [(raw, keywords)] to ``folder`` over one connection."""
        client = self.client()
        try:
            if create and not client.folder_exists(folder):
                client.create_folder(folder)
            for raw, keywords in messages:
                client.append(folder, raw, flags=keywords)
        finally:
            client.logout()


@pytest.fixture(scope="session")
def mailserver():
    """The session's Dovecot on 127.0.0.1, seeded; stopped after the session."""
    reason = dovecot.unavailable()
    if reason:
        pytest.skip("no IMAP server for the mailbox tests: " + reason)
    if not (os.path.isdir(BERKELEY) and os.path.isdir(SPAMASSASSIN)):
        pytest.skip("../shared/data/enron-berkeley or spamassassin not found")
    root = tempfile.mkdtemp(prefix="jeeves-dovecot-")
    server = dovecot.Dovecot(root).start()
    meeting, other = berkeley_messages()
    seeded = {folder: [(raw, keywords_for(index)) for index, raw in enumerate(messages)]
              for folder, messages in (("Meetings", meeting), ("INBOX", other),
                                       ("Spam", spam_messages()))}
    try:
        mail = MailServer(server, seeded)
        client = mail.client()
        try:
            for folder, messages in seeded.items():
                if not client.folder_exists(folder):
                    client.create_folder(folder)
                for raw, keywords in messages:
                    client.append(folder, raw, flags=keywords)
        finally:
            client.logout()
        yield mail
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_env(monkeypatch, mailserver, tmp_path):
    """The test user's password in this test's environment; HOME without a .netrc."""
    monkeypatch.setenv("JEEVES_IMAP_PASSWORD", dovecot.PASSWORD)
    monkeypatch.setenv("HOME", str(tmp_path))
    return mailserver


def fetch(mailserver, output, *extra):
    """`jeeves fetch` against the session's server -> exit status."""
    return cli.main(["fetch", "--imap", mailserver.url, "--cafile", mailserver.cafile,
                     "--output", str(output)] + list(extra))


def _train_on_fetched(mailserver, root, folders, labels):
    """`jeeves run --labels LABELS` on a fetch of ``folders`` -> (exit status, OUT)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JEEVES_IMAP_PASSWORD", dovecot.PASSWORD)
        arguments = []
        for folder in folders:
            arguments += ["--folder", folder]
        assert fetch(mailserver, root / "fetched", *arguments) == 0
    status = cli.main(["run", "--input", str(root / "fetched"), "--output", str(root / "out"),
                       "--labels", labels, "--models", "logistic_regression",
                       "--folds", "2", "--no-graph"])
    return status, root / "out"


@pytest.fixture(scope="session")
def meeting_bundle(mailserver, tmp_path_factory):
    """`jeeves run --labels folder:Meetings` on a fetch of Meetings and INBOX."""
    return _train_on_fetched(mailserver, tmp_path_factory.mktemp("meetings"),
                             ["Meetings", "INBOX"], "folder:Meetings")


@pytest.fixture(scope="session")
def spam_bundle(mailserver, tmp_path_factory):
    """A model bundle from `jeeves run --labels folder:Spam` on a fetch of Spam and INBOX:
    it flags some new mail and not the rest, which the watch tests need."""
    status, out = _train_on_fetched(mailserver, tmp_path_factory.mktemp("spam"),
                                    ["Spam", "INBOX"], "folder:Spam")
    assert status == 0
    return str(out / "model")


class Webhook:
    """An HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    def __init__(self):
        self.posts = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def flagged_ids(self):
        return [row["message_id"] for post in self.posts for row in post["flagged"]]


@pytest.fixture
def webhook():
    hook = Webhook()
    hook.thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()
    hook.thread.join(timeout=10)


@pytest.fixture(autouse=True)
def batch_process_caches():
    """`jeeves watch` run in this process (``cli.main(["watch", ...])``) bounds
    the process's caches for a long run (jeeves.scoring.bound_memory_for_long_runs:
    the lemma memo limit, the parser's memos): put back a batch process's after
    each test, so the tests that run later in this worker see what a batch
    job sees."""
    from jeeves.features import parsing, text

    limit = text.LEMMA_MEMO_LIMIT
    memos = {name: value for name, value in vars(parsing).items()
             if callable(getattr(value, "cache_info", None))}
    yield
    text.LEMMA_MEMO_LIMIT = limit
    for name, memo in memos.items():
        setattr(parsing, name, memo)
