"""`jeeves watch --model DIR` on a versioned model directory (jeeves.models.versions):
a version deployed while it runs is picked up without a restart, the switch is
logged, and no message is notified twice across it.

`jeeves watch` runs in a child process against the session's Dovecot; waits
are bounded; the child is stopped at the end.
"""

import json
import os
import subprocess
import sys
import time

from jeeves.models import versions
from jeeves.models.bundle import load_bundle, save_bundle
from tests.mailbox import dovecot
from tests.mailbox.conftest import spam_messages
from tests.mailbox.test_watch_restart import REPO, WAIT_SECONDS, Lines, scored

FOLDER = "Versions"


def deploy_with_threshold(model_dir, bundle_dir, threshold):
    """A new version of ``model_dir``: the bundle of ``bundle_dir`` at another
    threshold (2: flags nothing, -1: flags everything)."""
    bundle = load_bundle(bundle_dir)

    def write(directory):
        save_bundle(directory, bundle.estimator, threshold, bundle.analyzer_config,
                    bundle.vocabulary_path, bundle.model["model_name"],
                    bundle.model["n_features"], extra=bundle.model["extra"])

    return versions.deploy(model_dir, write, {"threshold": threshold})


def watch_command(mailserver, model_dir, webhook, state, *extra):
    return [sys.executable, "-m", "jeeves.cli", "watch", "--imap", mailserver.url,
            "--cafile", mailserver.cafile, "--model", str(model_dir), "--notify", webhook.url,
            "--folder", FOLDER, "--state", str(state)] + list(extra)


def message_ids(raws):
    ids = []
    for raw in raws:
        header = next(line for line in raw.splitlines() if line.lower().startswith(b"message-id:"))
        ids.append(header.split(b"<", 1)[1].split(b">", 1)[0].decode())
    return ids


def test_watch_switches_to_a_new_version_without_a_restart(mailserver, spam_bundle, webhook,
                                                            tmp_path):
    model = tmp_path / "model"
    deploy_with_threshold(model, spam_bundle, 2.0)
    first, later = spam_messages(2, skip=200), spam_messages(3, skip=205)
    mailserver.append(FOLDER, [(raw, []) for raw in first])
    state = tmp_path / "watch.json"
    env = dict(os.environ, JEEVES_IMAP_PASSWORD=dovecot.PASSWORD, PYTHONPATH=REPO,
               HOME=str(tmp_path))
    child = subprocess.Popen(watch_command(mailserver, model, webhook, state),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env)
    try:
        lines = Lines(child.stdout)
        lines.until(lambda seen: scored(seen) == 2)
        assert all(" ok " in line and "model=v000001" in line
                   for line in lines.seen if " uid=" in line)
        assert webhook.posts == []

        deploy_with_threshold(model, spam_bundle, -1.0)
        mailserver.append(FOLDER, [(raw, []) for raw in later])
        lines.until(lambda seen: scored(seen) == 5)
        # the state records a UID just after its log line: wait for it before stopping
        deadline = time.monotonic() + WAIT_SECONDS
        while json.loads(state.read_text())["folders"][FOLDER]["scored"] < 5:
            assert time.monotonic() < deadline, "the state never recorded the 5th message"
            time.sleep(0.05)
    finally:
        child.terminate()
        child.wait(timeout=60)
    log = lines.seen
    switch = [number for number, line in enumerate(log) if "model switched" in line]
    assert len(switch) == 1 and "from v000001 to v000002" in log[switch[0]]
    after = [line for line in log[switch[0]:] if " uid=" in line]
    assert len(after) == 3
    assert all("FLAGGED" in line and "model=v000002" in line for line in after)
    assert all(" top: " in line for line in after)  # the top contributing terms
    assert sorted(webhook.flagged_ids()) == sorted(message_ids(later))
    saved = json.loads(state.read_text())["folders"][FOLDER]
    assert saved["scored"] == 5 and saved["flagged"] == 3

    # a restart on the same state scores and notifies nothing again
    again = subprocess.run(watch_command(mailserver, model, webhook, state, "--once"),
                           capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0 and again.stdout == "", again.stderr
    assert len(webhook.posts) == 3


def test_a_broken_new_version_is_logged_once_and_the_old_one_goes_on(
        mailserver, spam_bundle, webhook, tmp_path):
    from jeeves.mailbox.connection import MailboxURL
    from jeeves.mailbox.watch import Watcher, WatchSettings

    model = tmp_path / "model"
    deploy_with_threshold(model, spam_bundle, 2.0)
    log = []
    watcher = Watcher(MailboxURL.parse(mailserver.url), str(model), [], tmp_path / "w.json",
                      WatchSettings(folder=FOLDER, once=True), log=log.append)
    (model / "CURRENT").write_text("v000009\n")  # names a version that is not there
    assert watcher.check_version() is False
    assert watcher.check_version() is False
    assert len(log) == 1 and "v000001 goes on scoring" in log[0] and "v000009" in log[0]
    (model / "CURRENT").write_text("v000001\n")
    assert watcher.check_version() is False and len(log) == 1
