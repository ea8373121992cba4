"""Bad input to `jeeves fetch`: one line, a non-zero exit, no traceback, the state unchanged."""

import os
import shutil
import subprocess
import sys

import pytest

from jeeves import cli
from tests.mailbox import dovecot
from tests.mailbox.conftest import fetch
from tests.mailbox.proxy import DroppingProxy

REPO = os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.fixture
def fetched(imap_env, tmp_path):
    """An output that a first fetch filled, and its state file's bytes."""
    out = tmp_path / "mail"
    assert fetch(imap_env, out, "--folder", "Spam") == 0
    state = str(out) + ".fetch-state.json"
    with open(state, "rb") as handle:
        return out, state, handle.read()


def assert_one_line(capsys, status, *words):
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1 and error.startswith("jeeves fetch: error: "), error
    assert "Traceback" not in error
    for word in words:
        assert word in error, error


def unchanged(fetched):
    out, state, before = fetched
    with open(state, "rb") as handle:
        return handle.read() == before and sorted(os.listdir(out)) == ["Spam.mbox"]


def test_wrong_password(imap_env, fetched, monkeypatch, capsys):
    monkeypatch.setenv("JEEVES_IMAP_PASSWORD", "wrong")
    # from 127.0.0.2: Dovecot slows down later logins from an address that failed one
    with DroppingProxy(imap_env.server.port, source_ip="127.0.0.2") as proxy:
        url = "imaps://%s@127.0.0.1:%d" % (dovecot.USER, proxy.port)
        status = cli.main(["fetch", "--imap", url, "--cafile", imap_env.cafile,
                           "--folder", "Spam", "--output", str(fetched[0])])
    assert_one_line(capsys, status, "wrong", "password")
    assert unchanged(fetched)


def test_no_password_anywhere(imap_env, fetched, monkeypatch, capsys):
    monkeypatch.delenv("JEEVES_IMAP_PASSWORD")
    assert_one_line(capsys, fetch(imap_env, fetched[0]), "JEEVES_IMAP_PASSWORD", ".netrc")
    assert unchanged(fetched)


def test_password_from_netrc(imap_env, fetched, monkeypatch, tmp_path):
    monkeypatch.delenv("JEEVES_IMAP_PASSWORD")
    netrc = tmp_path / ".netrc"  # HOME is tmp_path (imap_env)
    netrc.write_text("machine 127.0.0.1 login %s password %s\n" % (dovecot.USER,
                                                                    dovecot.PASSWORD))
    netrc.chmod(0o600)
    assert fetch(imap_env, fetched[0], "--folder", "Spam") == 0


def test_certificate_that_does_not_verify(imap_env, fetched, capsys):
    status = cli.main(["fetch", "--imap", imap_env.url, "--output", str(fetched[0])])
    assert_one_line(capsys, status, "certificate", "does not verify", "--cafile")
    assert unchanged(fetched)


def test_insecure_connects_with_a_warning(imap_env, fetched, capsys):
    status = cli.main(["fetch", "--imap", imap_env.url, "--insecure", "--folder", "Spam",
                       "--output", str(fetched[0])])
    assert status == 0
    assert "warning: --insecure" in capsys.readouterr().err


def test_folder_that_does_not_exist(imap_env, fetched, capsys):
    status = fetch(imap_env, fetched[0], "--folder", "Spam", "--folder", "No Such Folder")
    assert_one_line(capsys, status, "No Such Folder")
    assert unchanged(fetched)


def test_bad_url(imap_env, fetched, capsys):
    status = cli.main(["fetch", "--imap", "imap://x@127.0.0.1", "--output", str(fetched[0])])
    assert_one_line(capsys, status, "imaps://USER@HOST")
    assert unchanged(fetched)


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="an unknown host is tried in a network namespace of its own "
                    "(unshare as root), so that no name lookup leaves the machine")
def test_unknown_host(imap_env, fetched):
    out, state, _ = fetched
    env = dict(os.environ, PYTHONPATH=os.path.abspath(REPO))
    result = subprocess.run(
        ["unshare", "--net", sys.executable, "-m", "jeeves.cli", "fetch",
         "--imap", "imaps://jeeves@mail.example.invalid", "--output", str(out)],
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "mail.example.invalid" in result.stderr
    assert "Traceback" not in result.stderr
    assert unchanged(fetched)
