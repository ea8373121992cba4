"""`jeeves predict -` as a mail filter: stdin, --add-header, --exit-code."""

import io
import json
import os
import subprocess
import sys

import pytest

from jeeves import cli
from jeeves.mailbox.filter import add_headers
from tests.fixtures.tiny_corpus import write_corpus

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MEETING = (b"From: boss@example.com\r\nTo: me@example.com\r\nSubject: Can we meet Tuesday?\r\n"
           b"Message-ID: <new-meeting@example.com>\r\n\r\nCould we meet on Tuesday at 3pm in "
           b"the conference room to discuss the budget? Let me know when you are free.\r\n")
OTHER = (b"From: desk@example.com\nTo: me@example.com\nSubject: Gas prices report\n"
         b"Message-ID: <new-report@example.com>\n\nAttached is the daily report of gas "
         b"prices at Henry Hub. Prices rose two percent.\n")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle")
    write_corpus(str(root / "corpus"))
    assert cli.main(["run", "--input", str(root / "corpus"), "--output", str(root / "out"),
                     "--labels", "meeting*=1,other*=0", "--models", "logistic_regression",
                     "--folds", "2", "--target-recall", "0.9", "--no-graph"]) == 0
    return str(root / "out" / "model")


def scored_files(bundle, tmp_path, capsys, *messages):
    """{message_id: (score, label)} from `jeeves predict FILE...`, the reference."""
    paths = []
    for number, raw in enumerate(messages):
        path = tmp_path / ("%d.eml" % number)
        path.write_bytes(raw)
        paths.append(str(path))
    capsys.readouterr()
    assert cli.main(["predict", "--model", bundle] + paths) == 0
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in (out.decode() if isinstance(out, bytes) else out)
            .splitlines()]
    return {row["message_id"]: (row["score"], row["label"]) for row in rows}


def run_with_stdin(monkeypatch, capsysbinary, data, *args):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    status = cli.main(["predict"] + list(args))
    captured = capsysbinary.readouterr()
    return status, captured.out, captured.err.decode()


def without_jeeves_headers(data):
    return b"".join(line for line in data.splitlines(keepends=True)
                    if not line.startswith((b"X-Jeeves-Score:", b"X-Jeeves-Flag:")))


def test_a_piped_message_comes_back_with_its_score(bundle, tmp_path, capsys):
    [(score, label)] = scored_files(bundle, tmp_path, capsys, MEETING).values()
    result = subprocess.run(
        [sys.executable, "-m", "jeeves.cli", "predict", "--model", bundle, "--add-header",
         "--exit-code", "-"], input=MEETING, capture_output=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == label, result.stderr
    head = result.stdout.split(b"\r\n")[:2]
    assert head == [b"X-Jeeves-Score: %.4f" % score,
                    b"X-Jeeves-Flag: %s" % (b"YES" if label else b"NO")]
    assert without_jeeves_headers(result.stdout) == MEETING


def test_an_mbox_on_stdin_gets_headers_in_every_message(bundle, tmp_path, monkeypatch,
                                                        capsysbinary):
    reference = scored_files(bundle, tmp_path, capsysbinary, MEETING, OTHER)
    assert sorted(label for _, label in reference.values()) == [0, 1]
    mbox = (b"From a@example.com Mon Oct  1 09:00:00 2001\n" + MEETING.replace(b"\r\n", b"\n")
            + b"\nFrom b@example.com Mon Oct  1 10:00:00 2001\n" + OTHER + b"\n")
    status, out, _ = run_with_stdin(monkeypatch, capsysbinary, mbox, "--model", bundle,
                                    "--add-header", "-")
    assert status == 0  # flagged or not, without --exit-code
    assert without_jeeves_headers(out) == mbox
    entries = out.split(b"\nFrom b@example.com")
    for entry, message_id in zip(entries, ["new-meeting@example.com", "new-report@example.com"]):
        score, label = reference[message_id]
        assert b"X-Jeeves-Score: %.4f\n" % score in entry
        assert b"X-Jeeves-Flag: %s\n" % (b"YES" if label else b"NO") in entry


def test_json_lines_from_stdin_equal_those_of_the_file(bundle, tmp_path, monkeypatch,
                                                       capsysbinary):
    reference = scored_files(bundle, tmp_path, capsysbinary, OTHER)
    status, out, _ = run_with_stdin(monkeypatch, capsysbinary, OTHER, "--model", bundle, "-")
    [row] = [json.loads(line) for line in out.splitlines()]
    assert status == 0
    assert {row["message_id"]: (row["score"], row["label"])} == reference
    assert row["source"]["uri"] == "stdin:"


def test_a_second_pass_replaces_the_headers(bundle, monkeypatch, capsysbinary):
    _, once, _ = run_with_stdin(monkeypatch, capsysbinary, OTHER, "--model", bundle,
                                "--add-header", "-")
    _, twice, _ = run_with_stdin(monkeypatch, capsysbinary, once, "--model", bundle,
                                 "--add-header", "-")
    assert twice == once


def test_input_that_is_not_mail_passes_through_unchanged(bundle, monkeypatch, capsysbinary):
    data = b"\x00\x01 not an email at all\n"
    status, out, err = run_with_stdin(monkeypatch, capsysbinary, data, "--model", bundle,
                                      "--add-header", "--exit-code", "-")
    assert (status, out) == (0, data)
    assert "not scored: stdin:" in err


def test_add_header_wants_stdin_only(bundle, tmp_path, capsys):
    path = tmp_path / "m.eml"
    path.write_bytes(OTHER)
    assert cli.main(["predict", "--model", bundle, "--add-header", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "standard input" in error


def test_add_headers_keeps_crlf_and_the_from_line():
    data = b"From x Mon Oct  1 09:00:00 2001\r\nSubject: a\r\nX-Jeeves-Flag: YES\r\n\r\nbody\r\n"
    assert add_headers(data, {0: (0.25, False)}) == (
        b"From x Mon Oct  1 09:00:00 2001\r\nX-Jeeves-Score: 0.2500\r\nX-Jeeves-Flag: NO\r\n"
        b"Subject: a\r\n\r\nbody\r\n")
