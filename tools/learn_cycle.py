"""One learn-then-watch cycle on a throwaway Dovecot, printed as a transcript.

    sudo .venv/bin/python -m tools.learn_cycle [--keep DIR]

Needs what the mailbox tests need (root, dovecot-imapd; tests/mailbox/dovecot.py)
and ../shared/data/enron-berkeley. The story, with Berkeley Enron mail
(category 1,4, meeting scheduling, against the rest), one message a day:

1. INBOX holds 16 other messages and 16 meeting requests; the user has filed
   the 10 oldest requests in Meetings, the 6 newest are still in INBOX.
   `jeeves learn --once` finds 32 labels (10 positive) and deploys v000001
   (cold start: --min-labels 10).
2. `jeeves watch` starts on INBOX (``--new-only``); a meeting request arrives and
   is scored by v000001.
3. The user files the 6 requests left in INBOX into Meetings.
   `jeeves learn --once --min-new 5` logs 6 new labels, fits a candidate on
   the older four fifths, compares it with v000001 on the newest fifth, and
   deploys v000002 when it is no worse.
4. Another meeting request arrives: watch switches to v000002 (one log line)
   and scores it with it.

Every command is run as a user would (``python -m jeeves.cli``), its output
printed under a ``$`` line.
"""

import argparse
import glob
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

from jeeves.features.parsing import message_record
from tests.mailbox import conftest, dovecot

START = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
TRAINING = ["--models", "logistic_regression", "--folds", "2"]


def say(text=""):
    print(text, flush=True)


class Session:
    def __init__(self, server, root):
        self.server, self.root = server, root
        self.model = os.path.join(root, "model")
        self.env = dict(os.environ, JEEVES_IMAP_PASSWORD=dovecot.PASSWORD)
        self.mail = conftest.MailServer(server, {})

    def jeeves(self, *arguments):
        """Run one jeeves command, print it and its output."""
        command = ["jeeves"] + list(arguments)
        say("$ " + " ".join(self.shown(command)))
        result = subprocess.run([sys.executable, "-m", "jeeves.cli"] + list(arguments),
                                env=self.env, capture_output=True, text=True)
        for line in (result.stdout + result.stderr).splitlines():
            if not line.startswith("["):  # the pipeline's per-stage progress
                say("  " + line.replace(self.root, "$DIR"))
        if result.returncode:
            raise SystemExit("exit status %d" % result.returncode)

    def shown(self, command):
        return [argument.replace(self.root, "$DIR") for argument in command]

    def common(self):
        return ["--imap", self.server.url, "--cafile", self.server.cafile]

    def append(self, folder, raws, day):
        client = self.mail.client()
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for number, raw in enumerate(raws):
                when = START + timedelta(days=day + number) if day is not None else None
                client.append(folder, raw, msg_time=when)
        finally:
            client.logout()

    def move(self, source, target, raws):
        """Move the messages ``raws`` (found by Message-ID) -> how many were moved."""
        client = self.mail.client()
        try:
            client.select_folder(source)
            uids = []
            for raw in raws:
                message_id = message_record(raw, {}, [])[0]["message_id"]
                uids += client.search(["HEADER", "Message-ID", "<%s>" % message_id])
            client.move(uids, target)
        finally:
            client.logout()
        return len(uids)


class Watch:
    """`jeeves watch` in the background; its lines on a queue."""

    def __init__(self, session):
        arguments = ["watch"] + session.common() + [
            "--model", session.model, "--folder", "INBOX", "--new-only",
            "--state", os.path.join(session.root, "watch.json")]
        say("$ " + " ".join(session.shown(["jeeves"] + arguments)) + " &")
        self.process = subprocess.Popen([sys.executable, "-m", "jeeves.cli"] + arguments,
                                        env=session.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.root = session.root
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def until_scored(self, seconds=120):
        """Print watch's lines until one scores a message."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    raise SystemExit("watch ended with status %d"
                                     % self.process.returncode) from None
                continue
            say("  [watch] " + line.replace(self.root, "$DIR"))
            if " uid=" in line:
                return line
        raise SystemExit("watch scored nothing in %d s" % seconds)

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def cycle(session):
    meeting, other = conftest.berkeley_messages(20, skip=300)
    say("# 1. INBOX: 16 other messages and 16 meeting requests, one a day; "
        "the 10 oldest requests filed in Meetings")
    for day in range(32):
        pair = day // 2
        if day % 2:
            session.append("INBOX", [other[pair]], day)
        else:
            session.append("Meetings" if pair < 10 else "INBOX", [meeting[pair]], day)
    session.jeeves("learn", *session.common(), "--labels", "folder:Meetings", "--model",
                   session.model, "--once", "--min-labels", "10", *TRAINING)
    say()
    say("# 2. watch starts; a meeting request arrives")
    watch = Watch(session)
    time.sleep(3)  # its first pass: nothing new (--new-only)
    try:
        session.append("INBOX", meeting[16:17], None)
        watch.until_scored()
        say()
        say("# 3. the user files the 6 requests left in INBOX into Meetings")
        say("  (%d messages moved)" % session.move("INBOX", "Meetings", meeting[10:16]))
        session.jeeves("learn", *session.common(), "--labels", "folder:Meetings", "--model",
                       session.model, "--once", "--min-new", "5", *TRAINING)
        say()
        say("# 4. another meeting request arrives")
        session.append("INBOX", meeting[17:18], None)
        watch.until_scored()
    finally:
        watch.stop()
    say()
    say("# 5. both versions on the two requests that arrived, by `jeeves predict`")
    paths = []
    for number, raw in enumerate(meeting[16:18]):
        paths.append(os.path.join(session.root, "arrived-%d.eml" % (number + 1)))
        with open(paths[-1], "wb") as handle:
            handle.write(raw)
    for version in ("v000001", "v000002"):
        session.jeeves("predict", "--model", os.path.join(session.model, version), *paths)
    say()
    say("$ cat $DIR/model/CURRENT; ls $DIR/model")
    with open(os.path.join(session.model, "CURRENT")) as handle:
        say("  " + handle.read().strip())
    say("  " + " ".join(sorted(os.listdir(session.model))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args(argv)
    reason = dovecot.unavailable()
    if reason:
        raise SystemExit("cannot run Dovecot here: " + reason)
    if not glob.glob(os.path.join(conftest.BERKELEY, "*", "*.txt")):
        raise SystemExit("../shared/data/enron-berkeley not found")
    root = args.keep or tempfile.mkdtemp(prefix="jeeves-learn-cycle-")
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)  # Dovecot's processes (the dovecot user) go through it
    server = dovecot.Dovecot(os.path.join(root, "dovecot")).start()
    try:
        cycle(Session(server, root))
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
